"""Modules that load on first use: how a command-line process skips gymnax's rendering
imports (`rnnctl.cli.prepare`). Never done by `import rnnctl`: a library must not put
stand-ins into a user's `sys.modules`."""
from __future__ import annotations

import importlib
import importlib.machinery
import importlib.util
import sys
import types


class _LoadedOnFirstUse(types.ModuleType):
    """Stands in `sys.modules` for a module not loaded yet: the first attribute asked of
    it imports the real module (which then replaces it in `sys.modules`) and every
    attribute is read from that. (The standard library's `importlib.util.LazyLoader`
    cannot serve here: an `import` statement reads the module's `__spec__`, which
    loads it.)"""

    def __getattr__(self, attr):
        real = self.__dict__.get("_real_module")
        if real is None:
            if sys.modules.get(self.__name__) is self:
                del sys.modules[self.__name__]
            real = self.__dict__["_real_module"] = importlib.import_module(self.__name__)
        return getattr(real, attr)


def defer_imports(names: tuple[str, ...]) -> None:
    """Let each module of `names` that is installed and not yet imported load on first
    use instead of now.

    gymnax imports every environment it has, and two of them (Pong, Catch) import
    seaborn (which imports scipy.stats and pandas) and matplotlib.pyplot at module level,
    for rendering only, seconds of every process that imports `rnnctl.envs` on a small
    CPU. Deferred, they cost nothing until something uses them, and then load as usual.
    """
    for name in names:
        parent, _, child = name.rpartition(".")
        if name in sys.modules:
            continue
        try:
            installed = importlib.util.find_spec(name) is not None   # imports `parent`
        except (ImportError, ValueError):
            installed = False
        if not installed:
            continue            # let gymnax's own import say what is missing
        stand_in = _LoadedOnFirstUse(name)
        stand_in.__spec__ = importlib.machinery.ModuleSpec(name, None)
        sys.modules[name] = stand_in
        if parent:              # as an import would: matplotlib.pyplot is an attribute
            setattr(sys.modules[parent], child, stand_in)
