"""`sw.TokenHeatmap`: documents shaded token by token by one feature, with hover details."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import traitlets

from saewidgets.analysis.trace import FeatureTrace
from saewidgets.widgets.base import STATIC, SAEWidget
from saewidgets.widgets.serialization import index_dtype, pack

SUMMARY_SIZE = 24


def _summary(trace: FeatureTrace, site: str) -> list[list]:
    sf = trace.site_features[site]
    if len(sf.indices) == 0:
        return []
    top = trace.top_features(k=SUMMARY_SIZE, site=site)
    return [
        [int(f), float(a), int(n)]
        for f, a, n in zip(top.feature, top.activation, top.n_tokens, strict=True)
    ]


def _site_payload(trace: FeatureTrace, site: str) -> dict:
    sf = trace.site_features[site]
    return {
        "d_sae": sf.d_sae,
        "indptr": pack(sf.indptr, "int32"),
        "indices": pack(sf.indices, index_dtype(sf.d_sae)),
        # float16 keeps three significant digits, plenty for shading and tooltips.
        "values": pack(sf.values, "float16"),
        # Per-feature maxima up front, so the first frame needs no pass over all values.
        "feature_max": pack(_feature_max(sf), "float32"),
    }


def _feature_max(sf) -> np.ndarray:
    out = np.zeros(sf.d_sae, dtype=np.float32)
    np.maximum.at(out, sf.indices, sf.values.astype(np.float16).astype(np.float32))
    return out


class TokenHeatmap(SAEWidget):
    """Token-level feature heatmap of a `FeatureTrace`.

    Hover a token to see its strongest features, click a feature (in the strip, the tooltip,
    or by typing an id or label) to shade every token by it. ``labels`` maps feature ids to
    short names, per site (``{site: {id: label}}``) or for the shown site (``{id: label}``).
    """

    _bundle = "heatmap"
    _esm = STATIC / "heatmap.js"
    _css = STATIC / "heatmap.css"

    tokens = traitlets.List(traitlets.List(traitlets.Unicode())).tag(sync=True)
    site = traitlets.Unicode().tag(sync=True)
    labels = traitlets.Dict().tag(sync=True)
    _doc_offsets = traitlets.Dict().tag(sync=True)
    _sites = traitlets.Dict().tag(sync=True)
    _summary = traitlets.Dict().tag(sync=True)
    _message = traitlets.Unicode("").tag(sync=True)

    def __init__(
        self,
        trace: FeatureTrace,
        *,
        site: str | None = None,
        feature: int | None = None,
        labels: Mapping | None = None,
        **kwargs,
    ) -> None:
        if not isinstance(trace, FeatureTrace):
            raise TypeError(
                f"TokenHeatmap needs a FeatureTrace (from sw.trace), got {type(trace).__name__}"
            )
        if trace.n_tokens == 0 or not trace.site_features:
            raise ValueError("this trace is empty: trace at least one non-empty text at one site")
        site = site or trace.sites[0]
        if site not in trace.site_features:
            raise ValueError(
                f"site {site!r} is not in this trace; it has: {', '.join(trace.sites)}"
            )
        self._trace = trace
        summaries = {s: _summary(trace, s) for s in trace.sites}
        message = ""
        if not summaries[site]:
            message = (
                f"No feature of the SAE at {site} fires on these documents; the text is shown "
                "unshaded. (A fresh, untrained SAE or a wrong site can cause this.)"
            )
        if feature is None:
            feature = summaries[site][0][0] if summaries[site] else -1
        super().__init__(
            tokens=[list(doc) for doc in trace.token_texts],
            site=site,
            labels=_normalise_labels(labels, site),
            _doc_offsets=pack(trace.doc_offsets, "int32"),
            _sites={s: _site_payload(trace, s) for s in trace.sites},
            _summary=summaries,
            _message=message,
            **kwargs,
        )
        self.selected_feature = feature

    @property
    def trace(self) -> FeatureTrace:
        return self._trace

    @traitlets.validate("selected_feature")
    def _check_feature(self, proposal):
        value = proposal["value"]
        d_sae = self._trace.site_features[self.site].d_sae if self.site else 0
        if value != -1 and not 0 <= value < d_sae:
            raise traitlets.TraitError(
                f"feature {value} is out of range: the SAE at {self.site} has features "
                f"0..{d_sae - 1} (or -1 for none)"
            )
        return value

    @traitlets.validate("site")
    def _check_site(self, proposal):
        value = proposal["value"]
        if value not in self._trace.site_features:
            raise traitlets.TraitError(
                f"site {value!r} is not in this trace; it has: {', '.join(self._trace.sites)}"
            )
        return value

    @traitlets.validate("selected_token")
    def _check_token(self, proposal):
        value = list(proposal["value"])
        if value:
            if len(value) != 2:
                raise traitlets.TraitError("selected_token is [doc, pos] or []")
            self._trace._token(*value)  # raises IndexError with the valid range
        return value


def _normalise_labels(labels: Mapping | None, site: str) -> dict:
    if not labels:
        return {}
    values = list(labels.values())
    if values and all(isinstance(v, Mapping) for v in values):
        return {str(s): {str(k): str(v) for k, v in m.items()} for s, m in labels.items()}
    return {site: {str(k): str(v) for k, v in labels.items()}}
