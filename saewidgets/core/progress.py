"""Progress reporting shared by long-running calls."""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Iterator


@contextlib.contextmanager
def status(message: str) -> Iterator[None]:
    """Print what a slow step is doing and how long it took (for steps without a count)."""
    start = time.perf_counter()
    print(f"saewidgets: {message} ...", file=sys.stderr, flush=True)
    yield
    print(f"saewidgets: done in {time.perf_counter() - start:.1f} s", file=sys.stderr, flush=True)
