"""The model layer: loading (embedded, hub id, local folder, NDIF), site names, reading sites.

Knows nothing of SAEs or widgets.
"""

from saewidgets.model.embedded import EmbeddedModelMissing
from saewidgets.model.model import Model, ModelLoadError, RemoteUnavailable, load_model
from saewidgets.model.sites import SiteError, UnsupportedArchitecture

__all__ = [
    "EmbeddedModelMissing",
    "Model",
    "ModelLoadError",
    "RemoteUnavailable",
    "SiteError",
    "UnsupportedArchitecture",
    "load_model",
]
