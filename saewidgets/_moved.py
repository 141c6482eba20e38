"""Old module paths from before the layer packages, kept importable with a warning.

``import saewidgets.stats`` (or ``sw.stats``) still works and gives the module that now lives
at ``saewidgets.analysis.stats``, with one DeprecationWarning naming the new path.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys

from saewidgets.core.aliases import warn_renamed

# old prefix -> new prefix (a package maps its submodules too)
MOVED = {
    "saewidgets.cache": "saewidgets.core.cache",
    "saewidgets.progress": "saewidgets.core.progress",
    "saewidgets.sites": "saewidgets.model.sites",
    "saewidgets.embedded": "saewidgets.model.embedded",
    "saewidgets.tokens": "saewidgets.model.tokens",
    "saewidgets.sae.core": "saewidgets.sae.module",
    "saewidgets.sae.activations": "saewidgets.training.activations",
    "saewidgets.sae.train": "saewidgets.training.trainer",
    "saewidgets.sae.presets": "saewidgets.training.presets",
    "saewidgets.stats": "saewidgets.analysis.stats",
    "saewidgets.cooccurrence": "saewidgets.analysis.cooccurrence",
    "saewidgets.explain": "saewidgets.analysis.labels",
    "saewidgets.logit_lens": "saewidgets.analysis.logit_lens",
    "saewidgets.steering": "saewidgets.analysis.steering",
    "saewidgets.attribution": "saewidgets.analysis.attribution",
    "saewidgets.widgets.packing": "saewidgets.widgets.serialization",
}


def new_name(old: str) -> str | None:
    for prefix, target in MOVED.items():
        if old == prefix or old.startswith(prefix + "."):
            return target + old[len(prefix) :]
    return None


class _MovedModules(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    def find_spec(self, fullname, path=None, target=None):
        if new_name(fullname) is None:
            return None
        return importlib.util.spec_from_loader(fullname, self)

    def create_module(self, spec):
        target = new_name(spec.name)
        warn_renamed(f"the module {spec.name}", target)
        return importlib.import_module(target)

    def exec_module(self, module) -> None:
        pass  # the module behind the new name is already executed


def install() -> None:
    # First in line: under an old package name, the regular path finder would otherwise load a
    # second copy of each submodule (with classes that are not the package's own).
    if not any(isinstance(f, _MovedModules) for f in sys.meta_path):
        sys.meta_path.insert(0, _MovedModules())


def attribute(name: str):
    """``sw.<old module>`` for the top-level modules that moved (``sw.stats``, ...)."""
    target = new_name(f"saewidgets.{name}")
    if target is None:
        raise AttributeError(f"module 'saewidgets' has no attribute {name!r}")
    warn_renamed(f"saewidgets.{name}", target)
    return importlib.import_module(target)
