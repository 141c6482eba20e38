"""saewidgets: look inside language models from a notebook.

``import saewidgets as sw`` gives everything a notebook needs::

    model = sw.load_model()                       # embedded SmolLM2-135M-Instruct, offline
    sae = sw.SAE(d_in=576, d_sae=4608, architecture="topk", k=32)
    tr = sw.trace(model, "The Eiffel Tower is in Paris.", {"blocks.9.hook_resid_post": sae})
    tr.top_features(doc=0, pos=3)

Names load on first use (torch, transformers and nnsight take seconds to import), so
``import saewidgets`` and ``python -m saewidgets --help`` are quick.
"""

from __future__ import annotations

import importlib

from saewidgets import _moved
from saewidgets.core.errors import SAEWidgetsError as SAEWidgetsError
from saewidgets.core.version import VERSION

__version__ = VERSION

# public name -> the module that defines it ("" for a subpackage of that name)
_EXPORTS = {
    "corpus": "",
    "AttributionError": "saewidgets.analysis.attribution",
    "AttributionGraph": "saewidgets.analysis.attribution",
    "GraphFormatError": "saewidgets.analysis.attribution",
    "ReplacementContext": "saewidgets.analysis.attribution",
    "TargetError": "saewidgets.analysis.attribution",
    "attribute": "saewidgets.analysis.attribution",
    "contrast": "saewidgets.analysis.attribution",
    "Contrast": "saewidgets.analysis.attribution",
    "attribution_memory": "saewidgets.analysis.attribution",
    "load_graph": "saewidgets.analysis.attribution",
    "EvalReport": "saewidgets.analysis.evaluate",
    "evaluate": "saewidgets.analysis.evaluate",
    "evaluate_many": "saewidgets.analysis.evaluate",
    "evaluate_documents": "saewidgets.analysis.evaluate_documents",
    "evaluate_transcoders": "saewidgets.analysis.evaluate_transcoders",
    "TranscoderReport": "saewidgets.analysis.evaluate_transcoders",
    "themed": "saewidgets.core.plotting",
    "probe": "saewidgets.analysis.probing",
    "labelled_set": "saewidgets.analysis.probing",
    "LabelledSet": "saewidgets.analysis.probing",
    "ProbeResult": "saewidgets.analysis.probing",
    "ProbeError": "saewidgets.analysis.probing",
    "features_for_words": "saewidgets.analysis.concepts",
    "DocumentReport": "saewidgets.analysis.evaluate_documents",
    "Labels": "saewidgets.analysis.labels",
    "auto_labels": "saewidgets.analysis.labels",
    "explain_with": "saewidgets.analysis.labels",
    "score_labels": "saewidgets.analysis.labels",
    "absorption": "saewidgets.analysis.absorption",
    "AbsorptionResult": "saewidgets.analysis.absorption",
    "ChatEndpoint": "saewidgets.analysis.llm",
    "LLMSimulator": "saewidgets.analysis.llm",
    "LLMError": "saewidgets.analysis.llm",
    "RuleSimulator": "saewidgets.analysis.label_scores",
    "SearchHit": "saewidgets.analysis.search",
    "search_features": "saewidgets.analysis.search",
    "CompactStatsError": "saewidgets.analysis.stats",
    "FeatureStats": "saewidgets.analysis.stats",
    "StatsMismatch": "saewidgets.analysis.stats",
    "feature_stats": "saewidgets.analysis.stats",
    "Intervention": "saewidgets.analysis.steering",
    "SteeringError": "saewidgets.analysis.steering",
    "SteeringResult": "saewidgets.analysis.steering",
    "SweepResult": "saewidgets.analysis.steering",
    "steer": "saewidgets.analysis.steering",
    "steering_sweep": "saewidgets.analysis.steering",
    "find_steering_features": "saewidgets.analysis.steering",
    "FeatureTrace": "saewidgets.analysis.trace",
    "SiteFeatures": "saewidgets.analysis.trace",
    "trace": "saewidgets.analysis.trace",
    "Model": "saewidgets.model.model",
    "ModelLoadError": "saewidgets.model.model",
    "RemoteUnavailable": "saewidgets.model.model",
    "load_model": "saewidgets.model.model",
    "SiteError": "saewidgets.model.sites",
    "UnsupportedArchitecture": "saewidgets.model.sites",
    "SAE": "saewidgets.sae",
    "SAEConfigError": "saewidgets.sae",
    "SAEFormatError": "saewidgets.sae",
    "load_sae": "saewidgets.sae",
    "load_saes": "saewidgets.sae",
    "load_transcoders": "saewidgets.sae",
    "TrainConfig": "saewidgets.training.trainer",
    "TrainResult": "saewidgets.training.trainer",
    "train_sae": "saewidgets.training.trainer",
    "train_saes": "saewidgets.training.trainer",
    "TranscoderConfig": "saewidgets.training.transcoders",
    "train_transcoders": "saewidgets.training.transcoders",
    "FeatureBrowser": "saewidgets.widgets",
    "FeatureDashboard": "saewidgets.widgets",
    "GraphView": "saewidgets.widgets",
    "SteeringPanel": "saewidgets.widgets",
    "TokenHeatmap": "saewidgets.widgets",
    "link": "saewidgets.widgets",
    "explore": "saewidgets.widgets",
    "Workspace": "saewidgets.widgets",
    "WorkspaceStateError": "saewidgets.widgets",
}

__all__ = sorted(["SAEWidgetsError", "__version__", *_EXPORTS])

_moved.install()  # old module paths (saewidgets.stats, ...) keep importing, with a warning


def __getattr__(name: str):
    if name in _EXPORTS:
        where = _EXPORTS[name]
        if where:
            value = getattr(importlib.import_module(where), name)
        else:
            value = importlib.import_module(f"{__name__}.{name}")
        globals()[name] = value  # later uses skip this function
        return value
    return _moved.attribute(name)


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
