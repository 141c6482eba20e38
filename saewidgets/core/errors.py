"""The root of every error this package raises on purpose.

``except sw.SAEWidgetsError`` catches them all. Each subclass also derives from the built-in
type it always was (``ValueError`` for bad input, ``RuntimeError`` for a failing environment),
so code that caught those keeps working.
"""

from __future__ import annotations


class SAEWidgetsError(Exception):
    """Base class of the errors saewidgets raises; the message says what was wrong."""
