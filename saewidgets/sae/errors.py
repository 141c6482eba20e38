"""The errors of the SAE layer (both derive from `SAEWidgetsError` and from ``ValueError``)."""

from __future__ import annotations

from saewidgets.core.errors import SAEWidgetsError


class SAEConfigError(SAEWidgetsError, ValueError):
    """Parameters that do not describe a valid SAE (or a valid training run of one)."""


class SAEFormatError(SAEWidgetsError, ValueError):
    """A file or folder that cannot be read as an SAE; the message says what was wrong."""
