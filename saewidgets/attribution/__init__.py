"""Attribution graphs over SAE features: engine, graph object, validation and interop."""

from saewidgets.attribution.engine import AttributionError, attribute, attribution_memory
from saewidgets.attribution.graph import AttributionGraph
from saewidgets.attribution.targets import TargetError

__all__ = ["AttributionError", "AttributionGraph", "TargetError", "attribute", "attribution_memory"]
