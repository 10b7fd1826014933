"""Make MyHDL elaboration fast: a cheap ``inspect.stack`` for MyHDL's call-site lookup.

MyHDL finds the function that creates each instance with ``inspect.stack()``, which
builds source context (file look-ups, module searches) for every frame of the stack on
every instance: for a large MVU that was 80 % of the generation time. MyHDL only uses
each record's frame (index 0) and function name (index 3), so ``fast_stack`` returns
records with those fields straight from the frame objects. Behaviour is unchanged;
``install()`` is idempotent and is called when ``rtl_gen.hdl.block`` is imported.
"""

import inspect as _inspect
import sys
import types


def fast_stack(context=1):
    """Like ``inspect.stack()`` minus the source context: (frame, filename, lineno,
    function, None, None) records, outermost last, starting at the caller."""
    frame = sys._getframe(1)
    records = []
    while frame is not None:
        code = frame.f_code
        records.append((frame, code.co_filename, frame.f_lineno, code.co_name, None, None))
        frame = frame.f_back
    return records


class _InspectProxy(types.ModuleType):
    def __init__(self):
        super().__init__("inspect")

    def __getattr__(self, name):
        return getattr(_inspect, name)

    stack = staticmethod(fast_stack)


_INSTALLED = False


def install():
    global _INSTALLED
    if _INSTALLED:
        return
    from myhdl import _block, _instance

    proxy = _InspectProxy()
    _block.inspect = proxy
    _instance.inspect = proxy
    _INSTALLED = True
