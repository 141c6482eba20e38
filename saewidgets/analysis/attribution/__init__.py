"""Attribution graphs over SAE features: engine, graph object, validation and interop."""

from saewidgets.analysis.attribution.engine import AttributionError, attribute, attribution_memory
from saewidgets.analysis.attribution.graph import AttributionGraph
from saewidgets.analysis.attribution.targets import TargetError

__all__ = ["AttributionError", "AttributionGraph", "TargetError", "attribute", "attribution_memory"]
