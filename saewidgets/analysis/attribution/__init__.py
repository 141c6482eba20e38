"""Attribution graphs over SAE features.

``engine`` (`attribute`) computes edge rows on the frozen replacement model (``frozen``) and
``assemble`` turns them into an `AttributionGraph` (``graph``: plain data, pruning and scores
via ``prune``) with its `ReplacementContext` (``replacement``: the live model, interventions,
reported as in ``validate``); ``neuronpedia`` converts graphs to and from JSON.
"""

from saewidgets.analysis.attribution.contrast import Contrast, contrast
from saewidgets.analysis.attribution.engine import AttributionError, attribute, attribution_memory
from saewidgets.analysis.attribution.graph import AttributionGraph
from saewidgets.analysis.attribution.neuronpedia import GraphFormatError, load_graph
from saewidgets.analysis.attribution.prune import GraphError
from saewidgets.analysis.attribution.replacement import ReplacementContext
from saewidgets.analysis.attribution.targets import TargetError
from saewidgets.analysis.attribution.validate import InterventionResult, ValidationError

__all__ = [
    "AttributionError",
    "AttributionGraph",
    "Contrast",
    "GraphError",
    "GraphFormatError",
    "InterventionResult",
    "ReplacementContext",
    "TargetError",
    "ValidationError",
    "attribute",
    "attribution_memory",
    "contrast",
    "load_graph",
]
