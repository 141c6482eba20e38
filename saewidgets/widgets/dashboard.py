"""`sw.FeatureDashboard`: every panel about one feature, with a live "test your text" box."""

from __future__ import annotations

import os

from saewidgets.widgets.base import STATIC
from saewidgets.widgets.features import FeatureView


class FeatureDashboard(FeatureView):
    """Dashboard of one feature from `FeatureStats`.

    Header (label, density, maximum), activation histogram, promoted and suppressed tokens
    with the logit-effect histogram, top examples and examples from ten activation ranges
    (hover a token for its value), nearest features by decoder direction and most co-active
    features (click one to show it). With ``model=`` and ``sae=`` the "test your text" box
    runs typed text through the model and shades it by this feature.

    ``labels``: "auto" (automatic labels: computed with the model's tokenizer, or for the
    shipped SAEs the labels shipped with them, model or not), a `sw.Labels`, a mapping
    ``{feature: label}`` or None. Select another feature with ``selected_feature``.
    """

    _bundle = "dashboard"
    _esm = STATIC / "dashboard.js"
    _css = STATIC / "dashboard.css"

    def to_html(
        self,
        path: str | os.PathLike | None = None,
        *,
        title: str = "saewidgets feature dashboard",
        features: list[int] | None = None,
    ) -> str:
        """A self-contained page with the cards of ``features`` (default: the shown feature,
        its nearest and its most co-active features); the others say they were left out."""
        return super().to_html(path, title=title, features=features)
