"""Where saewidgets keeps things it can rebuild (de-quantised models, statistics)."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
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


@contextlib.contextmanager
def atomic_folder(target: Path) -> Iterator[Path]:
    """Yield a temporary folder beside ``target``; on success it replaces ``target``.

    An interrupted write leaves ``target`` as it was, never half written."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}-"))
    try:
        yield tmp
        if target.exists():
            shutil.rmtree(target)
        tmp.rename(target)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def atomic_write(target: Path, data: bytes) -> None:
    """Write ``data`` to ``target`` through a private file beside it and a rename, so readers
    (and concurrent writers) never see a half-written file."""
    target = Path(target)
    handle, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}-")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
