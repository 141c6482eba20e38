"""Module paths from before the layer packages still import, with one warning each."""

import importlib
import sys

import pytest

import saewidgets as sw
from saewidgets.core import aliases

NEW_ATTRIBUTION = "saewidgets.analysis.attribution"


@pytest.mark.parametrize(
    ("old", "new", "name"),
    [
        ("saewidgets.stats", "saewidgets.analysis.stats", "FeatureStats"),
        ("saewidgets.attribution.graph", f"{NEW_ATTRIBUTION}.graph", "AttributionGraph"),
        ("saewidgets.sae.train", "saewidgets.training.trainer", "TrainConfig"),
        ("saewidgets.widgets.packing", "saewidgets.widgets.serialization", "pack"),
    ],
)
def test_old_module_paths_import_the_new_modules(old, new, name):
    sys.modules.pop(old, None)
    aliases._warned.discard((f"the module {old}", new))
    with pytest.warns(DeprecationWarning, match=f"the module {old} is deprecated; use {new}"):
        module = importlib.import_module(old)
    assert module is importlib.import_module(new)
    assert getattr(module, name) is getattr(importlib.import_module(new), name)


def test_old_top_level_attributes():
    aliases._warned.discard(("saewidgets.explain", "saewidgets.analysis.labels"))
    with pytest.warns(DeprecationWarning, match="saewidgets.explain is deprecated"):
        assert sw.explain.Labels is sw.Labels
    with pytest.raises(AttributeError, match="no attribute 'nonsense'"):
        sw.nonsense  # noqa: B018
