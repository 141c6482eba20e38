"""Notebook views (anywidget). Each one also exports itself to a self-contained HTML file."""

from saewidgets.widgets.base import SAEWidget, link
from saewidgets.widgets.dashboard import FeatureDashboard
from saewidgets.widgets.explore import Workspace, WorkspaceStateError, explore
from saewidgets.widgets.feature_browser import FeatureBrowser
from saewidgets.widgets.graph_view import GraphView
from saewidgets.widgets.heatmap import TokenHeatmap
from saewidgets.widgets.steering import SteeringPanel

__all__ = [
    "FeatureBrowser",
    "FeatureDashboard",
    "GraphView",
    "SAEWidget",
    "SteeringPanel",
    "TokenHeatmap",
    "Workspace",
    "WorkspaceStateError",
    "explore",
    "link",
]
