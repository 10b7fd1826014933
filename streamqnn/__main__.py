import sys

from streamqnn.cli import main

sys.exit(main())
