"""`sw.TokenHeatmap`: documents shaded token by token by one feature, with hover details."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import traitlets

from saewidgets.analysis.inputs import (
    LabelsError,
    label_table,
    labels_for_site,
    site_keyed,
    site_labels,
)
from saewidgets.analysis.labels import Labels
from saewidgets.analysis.trace import FeatureTrace
from saewidgets.widgets.base import STATIC, SAEWidget
from saewidgets.widgets.serialization import pack, pack_site_features

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


def _default_feature(summaries: Mapping, site: str) -> int:
    """The feature a site opens on (the front end's ``defaultFeature`` is the same rule)."""
    rows = summaries.get(site) or []
    return int(rows[0][0]) if rows else -1


class TokenHeatmap(SAEWidget):
    """Token-level feature heatmap of a `FeatureTrace`.

    Hover a token to see its strongest features, click a feature (in the strip, the tooltip,
    or by typing an id or label) to shade every token by it. ``labels`` maps feature ids to
    short names, per site (``{site: {id: label}}``) or for the shown site (``{id: label}``);
    the default, "auto", shows the labels shipped with the package's SAEs wherever the trace
    used one (and none elsewhere: a heatmap has no statistics to label from).
    """

    _bundle = "heatmap"
    _esm = STATIC / "heatmap.js"
    _css = STATIC / "heatmap.css"

    tokens = traitlets.List(traitlets.List(traitlets.Unicode())).tag(sync=True)
    site = traitlets.Unicode().tag(sync=True)
    labels = traitlets.Dict().tag(sync=True)
    _doc_offsets = traitlets.Dict().tag(sync=True)
    # flat indices of each window's first position and BOS tokens (attention sinks)
    _sinks = traitlets.List(traitlets.Int()).tag(sync=True)
    _sites = traitlets.Dict().tag(sync=True)
    _summary = traitlets.Dict().tag(sync=True)
    _message = traitlets.Unicode("").tag(sync=True)

    def __init__(
        self,
        trace: FeatureTrace,
        *,
        site: str | None = None,
        feature: int | None = None,
        labels: Labels | Mapping | str | None = "auto",
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
            feature = _default_feature(summaries, site)
        super().__init__(
            tokens=[list(doc) for doc in trace.token_texts],
            site=site,
            labels=_labels_by_site(labels, trace, site),
            _doc_offsets=pack(trace.doc_offsets, "int32"),
            _sinks=[] if trace.content is None else np.nonzero(~trace.content)[0].tolist(),
            _sites={s: pack_site_features(trace.site_features[s]) for s in trace.sites},
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

    @traitlets.observe("site")
    def _open_site_on_its_default(self, change) -> None:
        # A feature id means something else at another site (the view sends the same choice
        # along with the switch, so this is a no-op for a switch made in the browser).
        if change["old"]:
            self.selected_feature = _default_feature(self._summary, change["new"])

    @traitlets.validate("selected_token")
    def _check_token(self, proposal):
        value = list(proposal["value"])
        if value:
            if len(value) != 2:
                raise traitlets.TraitError("selected_token is [doc, pos] or []")
            self._trace._token(*value)  # raises IndexError with the valid range
        return value


def _labels_by_site(labels, trace: FeatureTrace, shown: str) -> dict[str, dict[str, str]]:
    """``{site: {"id": text}}`` for the browser; flat labels (a mapping or `Labels`) are for
    ``shown``. Each site's value goes through the same normalisation as every other view."""
    if labels is None:
        return {}
    if labels == "auto":  # the shipped labels, where the trace used a shipped SAE
        found = {s: _shipped(trace, s) for s in trace.sites}
        return {s: table for s, table in found.items() if table is not None}
    if isinstance(labels, str):
        site_labels(labels, shown)  # the usual message for a string that is not "auto"
    if isinstance(labels, Mapping) and site_keyed(labels):
        labels = dict(labels)
        for site, value in labels.items():
            if value == "auto" and site in trace.site_features:
                table = _shipped(trace, site)
                if table is None:
                    raise LabelsError(
                        f'labels="auto" for {site} needs statistics, which a heatmap does not '
                        "have, or the SAE shipped for that site; pass sw.auto_labels(stats, "
                        "model.tokenizer), a {feature: text} dict or {site: labels}"
                    )
                labels[site] = {int(k): v for k, v in table.items()}
    if not (isinstance(labels, Mapping) and site_keyed(labels)):
        labels = {shown: labels}
    out = {}
    for site in labels:
        if site not in trace.site_features:
            raise LabelsError(f"labels for {site!r}, which is not in this trace: {trace.sites}")
        d_sae = trace.site_features[site].d_sae
        out[site] = label_table(labels_for_site(labels, site, d_sae), d_sae)
    return out


def _shipped(trace: FeatureTrace, site: str) -> dict[str, str] | None:
    """The browser's label table of the labels shipped for the SAE a trace used at ``site``."""
    sf = trace.site_features[site]
    labels = site_labels("auto", site, sae_hash=sf.sae_hash) if sf.sae_hash else None
    return (
        None if labels is None else label_table(labels_for_site(labels, site, sf.d_sae), sf.d_sae)
    )
