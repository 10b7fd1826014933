"""The catalog: every block configuration that the tests exercise and ``make lint`` checks.

Each block module in ``rtl_gen.blocks`` (subpackages included) that defines ``catalog_configs()`` (a list of block
instances with unique names) contributes its configurations; tests parametrize over
``configs(kind)``, so a configuration added there is simulated on both simulators and
linted. Nothing here needs editing when a block module is added.
"""

import importlib
import pkgutil

import rtl_gen.blocks


def _modules():
    """Block modules with ``catalog_configs``, ordered by module name (not package)."""
    found = [info.name for info in pkgutil.walk_packages(rtl_gen.blocks.__path__,
                                                          "rtl_gen.blocks.")
             if not info.ispkg and info.name != __name__]
    for name in sorted(found, key=lambda n: n.rsplit(".", 1)[-1]):
        mod = importlib.import_module(name)
        if hasattr(mod, "catalog_configs"):
            yield mod


def catalog():
    """Every catalog block instance, in a stable order."""
    seen = {}
    for mod in _modules():
        for blk in mod.catalog_configs():
            if blk.name in seen:
                raise ValueError(f"catalog: block name {blk.name!r} used twice "
                                 f"({seen[blk.name]} and {mod.__name__})")
            seen[blk.name] = mod.__name__
            yield blk


def configs(kind):
    """The catalog configurations of one block kind (``Block.kind``)."""
    found = [b for b in catalog() if b.kind == kind]
    if not found:
        raise KeyError(f"no catalog configurations of kind {kind!r}")
    return found
