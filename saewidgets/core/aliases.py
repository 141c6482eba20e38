"""Renamed keyword arguments keep their old spelling for a while, with one warning each."""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable
from typing import TypeVar

F = TypeVar("F", bound=Callable)
_warned: set[tuple[str, str]] = set()


def renamed(**old_to_new: str) -> Callable[[F], F]:
    """Accept ``old=`` as a deprecated spelling of ``new=`` (a DeprecationWarning, once).

    ``@renamed(max_length="window")`` on ``def trace(..., window=None)``. Passing both
    spellings is an error, so a value is never silently dropped.
    """

    def wrap(fn: F) -> F:
        @functools.wraps(fn)
        def inner(*args, **kwargs):
            for old, new in old_to_new.items():
                if old not in kwargs:
                    continue
                if new in kwargs:
                    raise TypeError(
                        f"{fn.__name__}() got both {old}= and {new}=; {old}= is the old name "
                        f"of {new}=, pass only {new}="
                    )
                warn_renamed(f"{_shown(fn)}({old}=...)", f"{new}=", key=(fn.__qualname__, old))
                kwargs[new] = kwargs.pop(old)
            return fn(*args, **kwargs)

        return inner  # type: ignore[return-value]

    return wrap


def warn_renamed(old: str, new: str, key: tuple[str, str] | None = None) -> None:
    """One DeprecationWarning per old name and process: "``old`` is deprecated; use ``new``"."""
    key = key or (old, new)
    if key not in _warned:
        _warned.add(key)
        # 1 is this function, 2 the wrapper or property, 3 the user's call
        warnings.warn(f"{old} is deprecated; use {new}", DeprecationWarning, stacklevel=3)


def _shown(fn: Callable) -> str:
    """How a user calls ``fn``: ``SteeringPanel`` for its ``__init__``, ``Corpus.take``."""
    qualname = fn.__qualname__
    return qualname.removesuffix(".__init__")
