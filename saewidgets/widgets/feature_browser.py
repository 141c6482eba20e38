"""`sw.FeatureBrowser`: find features by typed text, label or token, then open their dashboard."""

from __future__ import annotations

import os

import numpy as np
import traitlets

from saewidgets.analysis.inputs import SAEInput
from saewidgets.analysis.search import SEARCH_TOKENS, feature_tokens
from saewidgets.analysis.stats import FeatureStats
from saewidgets.model.model import Model
from saewidgets.widgets.base import STATIC
from saewidgets.widgets.features import FeatureView
from saewidgets.widgets.serialization import pack


class FeatureBrowser(FeatureView):
    """Search an SAE's features and open their dashboards in the same widget.

    - type text: the features that fire on it most, overall and per token (hover a token);
    - search by words in the label, the tokens it fires on most or the tokens it promotes,
      or by id (`sw.search_features`'s rule, with the match shown), sort by best match,
      density, maximum or id;
    - click a feature: its dashboard replaces the list ("back" returns).

    ``selected_feature`` is shared with `TokenHeatmap` through `sw.link`.
    """

    _bundle = "browser"
    _esm = STATIC / "browser.js"
    _css = STATIC / "browser.css"

    _catalog = traitlets.Dict().tag(sync=True)

    def __init__(
        self,
        model: Model | None,
        sae: SAEInput | None,
        stats: FeatureStats,
        *,
        labels="auto",
        feature: int | None = None,
        **kwargs,
    ) -> None:
        super().__init__(stats, model=model, sae=sae, labels=labels, feature=feature, **kwargs)
        # The search fields of js/src/lib/search.js, the same as `analysis/search.py` reads:
        # token texts once in a table, each feature's tokens as rows of indices (-1: none).
        top, promoted = feature_tokens(stats)
        table: dict[str, int] = {}
        rows = [
            [[table.setdefault(t, len(table)) for t in tokens] for tokens in field]
            for field in (top, promoted)
        ]
        detection, twins = _label_quality(self._labels, stats.d_sae)
        self._catalog = {
            "density": pack(np.asarray(stats.density), "float32"),
            "detection": pack(detection, "float32"),  # NaN: unscored
            "twins": pack(twins, "int8"),  # 1: another feature's label reads the same
            "max": pack(np.asarray(stats.max_activation), "float32"),
            "labels": [self._lookup(f)[0] for f in range(stats.d_sae)],
            "tokens": list(table),
            "top_tokens": _token_rows(rows[0], len(table)),
            "promoted": _token_rows(rows[1], len(table)),
        }

    def _export_features(self) -> list[int]:
        chosen = super()._export_features()
        chosen += [row[0] for row in self._probe.get("top", [])]
        if len(chosen) < 2:  # nothing typed or selected yet: the most frequent features
            chosen += np.argsort(-np.asarray(self._stats.density))[:24].tolist()
        return chosen

    def to_html(
        self,
        path: str | os.PathLike | None = None,
        *,
        title: str = "saewidgets feature browser",
        features: list[int] | None = None,
    ) -> str:
        """A self-contained page listing ``features`` with their dashboards (default: the
        shown feature, its relatives and the features of the last typed text). The last typed
        text's result is kept; typing new text needs a kernel."""
        return super().to_html(path, title=title, features=features)


def _label_quality(labels, d_sae: int) -> tuple[np.ndarray, np.ndarray]:
    """Per feature: its label's detection score (NaN when unscored) and whether another
    feature's label reads the same. Full statistics are scored here (seconds per thousand
    features), so the list can be sorted and filtered by score."""
    from saewidgets.analysis.label_scores import duplicate_labels
    from saewidgets.analysis.labels import Labels

    if isinstance(labels, Labels):
        labels.ensure_scores()
        texts = [labels[f] for f in range(d_sae)]
        detection = labels.current_scores("detection")
    else:
        table = dict(labels or {})
        texts = [str(table.get(f, "")) for f in range(d_sae)]
        detection = np.full(d_sae, np.nan)
    twins = np.zeros(d_sae, np.int8)
    twins[list(duplicate_labels(texts))] = 1
    return detection.astype(np.float32), twins


def _token_rows(rows: list[list[int]], n_tokens: int) -> dict:
    """Rows of token-table indices as one packed [d_sae, SEARCH_TOKENS] array, -1 padded."""
    out = np.full((len(rows), SEARCH_TOKENS), -1, np.int32)
    for f, row in enumerate(rows):
        out[f, : len(row)] = row
    return pack(out, "int16" if n_tokens < 1 << 15 else "int32")
