"""saewidgets: look inside language models from a notebook.

``import saewidgets as sw`` gives everything a notebook needs::

    model = sw.load_model()                       # embedded SmolLM2-135M-Instruct, offline
    sae = sw.SAE(d_in=576, d_sae=4608, architecture="topk", k=32)
    tr = sw.trace(model, "The Eiffel Tower is in Paris.", {"blocks.9.hook_resid_post": sae})
    tr.top_features(doc=0, pos=3)
"""

from saewidgets import _moved, corpus
from saewidgets.analysis.attribution import (
    AttributionError,
    AttributionGraph,
    GraphFormatError,
    ReplacementContext,
    TargetError,
    attribute,
    attribution_memory,
    load_graph,
)
from saewidgets.analysis.evaluate import EvalReport, evaluate, evaluate_many
from saewidgets.analysis.labels import Labels, auto_labels, explain_with
from saewidgets.analysis.stats import FeatureStats, StatsMismatch, feature_stats
from saewidgets.analysis.steering import (
    Intervention,
    SteeringError,
    SteeringResult,
    SweepResult,
    steer,
    steering_sweep,
)
from saewidgets.analysis.trace import FeatureTrace, SiteFeatures, trace
from saewidgets.core.errors import SAEWidgetsError
from saewidgets.core.version import VERSION
from saewidgets.model.model import Model, ModelLoadError, RemoteUnavailable, load_model
from saewidgets.model.sites import SiteError, UnsupportedArchitecture
from saewidgets.sae import SAE, SAEConfigError, SAEFormatError, load_sae, load_saes
from saewidgets.training.trainer import TrainConfig, TrainResult, train_sae, train_saes
from saewidgets.widgets import (
    FeatureBrowser,
    FeatureDashboard,
    GraphView,
    SteeringPanel,
    TokenHeatmap,
    link,
)

__version__ = VERSION

_moved.install()  # old module paths (saewidgets.stats, ...) keep importing, with a warning


def __getattr__(name: str):
    return _moved.attribute(name)


__all__ = [
    "SAE",
    "AttributionError",
    "AttributionGraph",
    "EvalReport",
    "FeatureBrowser",
    "FeatureDashboard",
    "FeatureStats",
    "FeatureTrace",
    "GraphFormatError",
    "GraphView",
    "Intervention",
    "Labels",
    "Model",
    "ModelLoadError",
    "RemoteUnavailable",
    "ReplacementContext",
    "SAEConfigError",
    "SAEFormatError",
    "SAEWidgetsError",
    "SiteError",
    "SiteFeatures",
    "StatsMismatch",
    "SteeringError",
    "SteeringPanel",
    "SteeringResult",
    "SweepResult",
    "TargetError",
    "TokenHeatmap",
    "TrainConfig",
    "TrainResult",
    "UnsupportedArchitecture",
    "__version__",
    "attribute",
    "attribution_memory",
    "auto_labels",
    "corpus",
    "evaluate",
    "evaluate_many",
    "explain_with",
    "feature_stats",
    "link",
    "load_graph",
    "load_model",
    "load_sae",
    "load_saes",
    "steer",
    "steering_sweep",
    "trace",
    "train_sae",
    "train_saes",
]
