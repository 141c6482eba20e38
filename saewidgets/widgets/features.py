"""What the feature dashboard and the feature browser share: cards on demand, live text probes."""

from __future__ import annotations

import pandas as pd
import traitlets

from saewidgets.analysis.inputs import (
    SAEInput,
    label_lookup,
    saes_by_site,
    site_labels,
    stats_by_site,
)
from saewidgets.analysis.labels import Labels
from saewidgets.analysis.stats import FeatureStats
from saewidgets.model.model import Model
from saewidgets.sae.module import SAE, SAEConfigError
from saewidgets.widgets.base import SAEWidget
from saewidgets.widgets.cards import N_TOP_EXAMPLES, feature_card
from saewidgets.widgets.probe import ProbeError, probe_text


def _sae_at(site: str, saes: dict[str, SAE]) -> SAE:
    if site not in saes:
        raise SAEConfigError(
            f"these statistics are of {site}, but no SAE was given for it "
            f"(sites: {', '.join(saes)})"
        )
    return saes[site]


class FeatureView(SAEWidget):
    """Base of `FeatureDashboard` and `FeatureBrowser`.

    The kernel sends one feature card at a time (``_card``, rebuilt when ``selected_feature``
    changes) and answers typed text (``query``) with per-token activations (``_probe``).
    Exported pages carry a fixed set of cards instead (``_cards``) and no kernel.
    """

    site = traitlets.Unicode().tag(sync=True)
    d_sae = traitlets.Int().tag(sync=True)
    query = traitlets.Unicode("", help="text to run through the model (the live box)").tag(
        sync=True
    )
    _card = traitlets.Dict().tag(sync=True)
    _cards = traitlets.Dict().tag(sync=True)  # only filled in exported pages
    _probe = traitlets.Dict().tag(sync=True)
    _meta = traitlets.Dict().tag(sync=True)
    _can_steer = traitlets.Bool(False).tag(sync=True)  # a steering panel is connected
    # PruningMaxAct cores of the shown card's top examples ({"feature", "spans"}), computed in
    # the background after the card is sent (live views only)
    _pruned = traitlets.Dict().tag(sync=True)

    def __init__(
        self,
        stats: FeatureStats,
        *,
        model: Model | None = None,
        sae: SAEInput | None = None,
        labels: Labels | dict | str | None = "auto",
        feature: int | None = None,
        **kwargs,
    ) -> None:
        if not isinstance(stats, FeatureStats):
            raise TypeError(
                f"{type(self).__name__} needs FeatureStats (from sw.feature_stats), "
                f"got {type(stats).__name__}"
            )
        if (model is None) != (sae is None):
            raise ValueError("pass both model= and sae= for the live text box, or neither")
        if sae is not None:
            sae = _sae_at(stats.site, saes_by_site(sae, model))
            stats_by_site(stats, {stats.site: sae}, model)  # another SAE's stats: StatsMismatch
        labels = site_labels(labels, stats.site, stats=stats, model=model)
        self._stats = stats
        self._model = model
        self._sae = sae
        self._labels = labels
        self._lookup = label_lookup(labels, stats.d_sae)
        if feature is None:
            feature = int(stats.density.argmax())  # an informative first view, never a dead one
        super().__init__(
            site=stats.site,
            d_sae=stats.d_sae,
            _live=model is not None,
            _meta={
                "model": stats.model_name,
                "corpus": stats.corpus_name,
                "n_tokens": int(stats.n_tokens),
                "dead_fraction": float((stats.density == 0).mean()),
            },
            **kwargs,
        )
        self.selected_feature = stats.check_feature(feature)  # the observer sends its card
        self._steering = None
        self.on_msg(self._on_message)

    def steering_panel(self, panel=None, **kwargs):
        """A `SteeringPanel` with the shown feature added to it, and connect this view's
        "steer this feature" button to that panel.

        ``panel``: an existing panel over this SAE; otherwise a new one is made from this view's
        model, SAE and statistics (``kwargs`` go to `SteeringPanel`, e.g. ``prompt=``).
        """
        from saewidgets.widgets.steering import SteeringPanel

        if panel is None:
            if self._model is None:
                raise ValueError("a new steering panel needs model= and sae= on this view")
            kwargs.setdefault("labels", {self.site: self._labels} if self._labels else None)
            panel = SteeringPanel(self._model, self._sae, stats=self._stats, **kwargs)
        elif not isinstance(panel, SteeringPanel):
            raise TypeError(f"panel must be a SteeringPanel, got {type(panel).__name__}")
        if self.selected_feature >= 0:
            panel.add_feature(self.selected_feature, site=self.site)
        self._steering = panel
        self._can_steer = True
        return panel

    def _on_message(self, widget, content, buffers) -> None:
        if isinstance(content, dict) and content.get("type") == "steer" and self._steering:
            try:
                self._steering.add_feature(int(content["feature"]), site=self.site)
            except (KeyError, IndexError, TypeError, ValueError) as error:
                self.tasks.fail("steer", str(error))

    @property
    def stats(self) -> FeatureStats:
        return self._stats

    @property
    def labels(self):
        return self._labels

    def card(self, feature: int) -> dict:
        """The data the dashboard panels show for ``feature``."""
        return feature_card(self._stats, feature, self._lookup)

    @traitlets.validate("selected_feature")
    def _check_feature(self, proposal):
        value = proposal["value"]
        if value != -1 and not 0 <= value < self._stats.d_sae:
            raise traitlets.TraitError(
                f"feature {value} is out of range: this SAE has features "
                f"0..{self._stats.d_sae - 1} (or -1 for none)"
            )
        return value

    @traitlets.observe("selected_feature")
    def _send_card(self, change) -> None:
        feature = change["new"]
        self._card = self.card(feature) if feature >= 0 else {}
        if self._model is not None and feature >= 0 and not self._card.get("dead"):
            self._submit_pruning(feature)

    def _submit_pruning(self, feature: int) -> None:
        from saewidgets.analysis.pruning import prune_examples

        model, sae, stats = self._model, self._sae, self._stats
        self.lane("pruning").submit(
            "pruning",
            lambda ctx: prune_examples(model, sae, stats, feature, n=N_TOP_EXAMPLES),
            done=lambda spans: setattr(self, "_pruned", {"feature": feature, "spans": spans}),
        )

    def pruned(self, feature: int | None = None) -> list[dict]:
        """The PruningMaxAct cores of a feature's top examples (default: the shown one), as the
        dashboard highlights them: per example the core's length in tokens (ending at the
        maximum) and the share of the activation it keeps."""
        from saewidgets.analysis.pruning import prune_examples

        if self._model is None:
            raise ValueError("PruningMaxAct runs the model: pass model= and sae= to this view")
        feature = self.selected_feature if feature is None else self._stats.check_feature(feature)
        return prune_examples(self._model, self._sae, self._stats, feature, n=N_TOP_EXAMPLES)

    @traitlets.observe("query")
    def _run_query(self, change) -> None:
        self._submit_probe(change["new"])

    def _submit_probe(self, text: str) -> None:
        if self._model is None:
            self.tasks.fail("probe", "the live text box needs model= and sae= (and a kernel)")
            return
        model, sae, site = self._model, self._sae, self.site
        self.tasks.submit(
            "probe",
            lambda ctx: probe_text(model, sae, site, text),
            done=self._show_probe,  # an error keeps the last good result on screen
            message="running the model on your text…",
        )

    def _show_probe(self, probe: dict) -> None:
        self._probe = probe

    def probe(self, text: str) -> pd.DataFrame:
        """Run ``text`` through the model as the live box does (the widget shows the result
        too) and return its strongest features: feature, activation (max), n_tokens, label."""
        if self.query != text:
            self.query = text
        elif self._probe.get("text") != text:  # the same text, but its last run did not land
            self._submit_probe(text)
        self.wait()
        if self._probe.get("text") != text:
            raise ProbeError(self._task.get("message") or f"no result for {text!r}")
        rows = self._probe.get("top", [])
        return pd.DataFrame(
            {
                "feature": [r[0] for r in rows],
                "activation": [r[1] for r in rows],
                "n_tokens": [r[2] for r in rows],
                "label": [self._lookup(r[0])[0] for r in rows],
            }
        )

    # -- export --------------------------------------------------------------------------------

    def _export_features(self) -> list[int]:
        """Features whose cards an exported page carries by default."""
        chosen = [self.selected_feature] if self.selected_feature >= 0 else []
        card = self._card or {}
        chosen += [row[0] for row in card.get("neighbours", []) + card.get("cooccur", [])]
        return chosen

    def _state_for_export(self, features: list[int] | None = None) -> dict:
        state = super()._state_for_export()
        chosen = self._export_features() if features is None else list(features)
        for f in chosen:
            self._stats.check_feature(f)
        state["_cards"] = {str(f): self.card(f) for f in dict.fromkeys(int(f) for f in chosen)}
        state["_can_steer"] = False
        if state["_cards"] and self.selected_feature not in {int(f) for f in state["_cards"]}:
            state["selected_feature"] = int(next(iter(state["_cards"])))
            state["_card"] = state["_cards"][str(state["selected_feature"])]
        return state
