"""The ``streamqnn`` command line: the top of the module graph (it drives ``verif`` and
``rtl_gen``; neither imports it)."""
