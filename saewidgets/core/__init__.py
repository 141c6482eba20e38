"""The bottom layer: errors, the cache folder and atomic writes, progress, argument aliases.

Nothing here imports anything else of saewidgets.
"""

from saewidgets.core.errors import SAEWidgetsError

__all__ = ["SAEWidgetsError"]
