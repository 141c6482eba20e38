"""Where saewidgets keeps things it can rebuild (de-quantised models, statistics)."""

from __future__ import annotations

import os
from pathlib import Path

CACHE_ENV = "SAEWIDGETS_CACHE"


def cache_dir(*parts: str) -> Path:
    """Return (and create) a folder under the user cache.

    ``$SAEWIDGETS_CACHE`` wins; otherwise ``$XDG_CACHE_HOME/saewidgets`` or ``~/.cache/saewidgets``.
    """
    root = os.environ.get(CACHE_ENV)
    if not root:
        base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        root = os.path.join(base, "saewidgets")
    path = Path(root, *parts)
    path.mkdir(parents=True, exist_ok=True)
    return path
