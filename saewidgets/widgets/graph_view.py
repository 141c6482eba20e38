"""`sw.GraphView`: an attribution graph laid out by layer × token, explored and tested inline."""

from __future__ import annotations

import os
import re
import warnings
from collections.abc import Mapping

import numpy as np
import traitlets

from saewidgets.analysis.attribution.engine import SAE_HASHES
from saewidgets.analysis.attribution.graph import AttributionGraph, GraphError
from saewidgets.analysis.attribution.replacement import ReplacementContext
from saewidgets.analysis.inputs import label_lookup, labels_for_site, site_labels, stats_by_site
from saewidgets.analysis.stats import FeatureStats, StatsMismatch
from saewidgets.widgets.base import STATIC, SAEWidget
from saewidgets.widgets.cards import feature_card, light_card
from saewidgets.widgets.serialization import pack

MAX_EDGES = 30_000  # edges sent to the browser, strongest by influence-weighted score
EXPORT_CARDS = 40
MULTIPLIERS = (-2.0, -1.0, 0.0, 0.5, 2.0, 4.0)


def _graph_saes(context: ReplacementContext | None) -> dict | None:
    """The SAE behind each site of a graph built here (a transcoder under both its sites)."""
    if context is None:
        return None
    out = {}
    for d in context.dictionaries:
        out[d.read.name] = d.sae
        out[d.write.name] = d.sae
    return out


def _check_covers(graph: AttributionGraph, stats: dict[str, FeatureStats]) -> None:
    """A loaded graph has no SAEs to check statistics against; it carries their hashes when
    saewidgets made it, and at least its feature ids must fit the statistics."""
    hashes = graph.metadata.get(SAE_HASHES) or {}
    nodes = graph.nodes
    for site, st in stats.items():
        if hashes.get(site) and hashes[site] != st.sae_hash:
            raise StatsMismatch(
                f"these statistics of {site} were built for a different SAE (hash "
                f"{st.sae_hash}) than the graph's ({hashes[site]})"
            )
        at = nodes[(nodes.get("site") == site) & nodes["type"].isin(["feature", "feature_target"])]
        if len(at) and int(at["feature"].max()) >= st.d_sae:
            raise StatsMismatch(
                f"the graph has feature {int(at['feature'].max())} at {site}, but these "
                f"statistics cover features 0..{st.d_sae - 1}: they are of another SAE"
            )


class GraphView(SAEWidget):
    """An attribution graph in the notebook.

    - nodes by layer (rows) × token (columns), sized by influence; edges coloured by sign;
    - hover: a node's neighbourhood; click: its feature card (with ``stats=``), "full card"
      opens the whole dashboard inside the view. In a live notebook, the first click on a
      site without statistics (a transcoder layer, say) shows a light card at once and
      computes that site's statistics in the background over ``card_tokens`` held-out
      tokens (0: never), after which its cards are full;
    - pin nodes (shift-click or the card's button), group pinned nodes into labelled
      supernodes; ``pinned`` and ``supernodes`` are Python-side lists too;
    - the pruning slider (``node_threshold``) and the target picker (``target``);
    - "intervene": scale the pinned nodes in the real model and show the actual change of each
      target next to the graph's prediction. It runs on ``context``: the `ReplacementContext`
      given, else the graph's own (a graph built by `sw.attribute` has one); without either
      (a graph loaded from JSON) the view works, but without interventions.
    """

    _bundle = "graphview"
    _esm = STATIC / "graphview.js"
    _css = STATIC / "graphview.css"

    node_threshold = traitlets.Float(0.8, help="show nodes within this cumulative influence").tag(
        sync=True
    )
    target = traitlets.Int(-1, help="index of the target to rank by (-1: all, by probability)").tag(
        sync=True
    )
    pinned = traitlets.List(traitlets.Unicode(), default_value=[]).tag(sync=True)
    supernodes = traitlets.List(traitlets.List(), default_value=[]).tag(sync=True)
    clicked = traitlets.Unicode("").tag(sync=True)
    multiplier = traitlets.Float(0.0).tag(sync=True)
    mode = traitlets.Unicode("free").tag(sync=True)
    _graph = traitlets.Dict().tag(sync=True)
    _card = traitlets.Dict().tag(sync=True)
    _cards = traitlets.Dict().tag(sync=True)
    _intervention = traitlets.Dict().tag(sync=True)
    _pinned_scores = traitlets.Dict().tag(sync=True)  # {pinned, replacement, completeness}
    # suggested supernodes ([label, id, ...], best first) among the shown, ungrouped features
    _suggestions = traitlets.List().tag(sync=True)
    _can_intervene = traitlets.Bool(False).tag(sync=True)

    def __init__(
        self,
        graph: AttributionGraph,
        *,
        stats=None,
        context: ReplacementContext | None = None,
        labels="auto",
        node_threshold: float = 0.8,
        card_tokens: int = 20_000,
        **kwargs,
    ) -> None:
        if not isinstance(graph, AttributionGraph):
            raise TypeError(
                "GraphView needs an AttributionGraph (from sw.attribute or sw.load_graph), "
                f"not {type(graph).__name__}"
            )
        if not 0 < node_threshold <= 1:
            raise GraphError(f"node_threshold must be in (0, 1], got {node_threshold}")
        if context is None:
            context = graph.context
        elif not isinstance(context, ReplacementContext):
            raise TypeError(
                "context must be a ReplacementContext (graph.context of a graph from "
                f"sw.attribute), not {type(context).__name__}"
            )
        if context is not None:
            context.check(graph)  # a context of another prompt is refused here, not on a click
        if isinstance(card_tokens, bool) or not isinstance(card_tokens, int) or card_tokens < 0:
            raise GraphError(f"card_tokens must be a whole number ≥ 0, got {card_tokens!r}")
        self.graph = graph
        self.context = context
        self._rejected: set[frozenset] = set()  # suggestions turned down, by member set
        self._card_tokens = card_tokens
        self._labels = labels
        model = context.model if context is not None else None
        self._stats = stats_by_site(stats, _graph_saes(context), model)
        if context is None:
            _check_covers(graph, self._stats)
        self._lookups = {
            site: labels_for_site(
                labels, site, st.d_sae, stats=st, model=model, n_sites=len(self._stats)
            )
            for site, st in self._stats.items()
        }
        # Sites without statistics still get the labels shipped for their SAE, if it is one of
        # the package's (the graph records each SAE's fingerprint).
        for site, sae_hash in (graph.metadata.get(SAE_HASHES) or {}).items():
            wanted = labels.get(site) if isinstance(labels, Mapping) else labels
            if site not in self._lookups and isinstance(wanted, str) and sae_hash:
                found = site_labels(wanted, site, sae_hash=sae_hash)
                if found is not None:
                    self._lookups[site] = label_lookup(found, len(found.auto))
        super().__init__(
            _graph=self._payload(),
            node_threshold=node_threshold,
            pinned=_known_pins(graph),
            supernodes=_known_supernodes(graph),
            _can_intervene=context is not None,
            **kwargs,
        )
        self._pinned_scores = self._scores_of(self.pinned)  # observers skip the initial value
        self._suggestions = self.suggest_supernodes()
        self.on_msg(self._on_message)

    # -- payload ------------------------------------------------------------------------------

    def _label(self, row) -> str:
        lookup = self._lookups.get(row["site"])
        if row["type"] in ("feature", "feature_target") and lookup is not None:
            text = lookup(int(row["feature"]))[0]
            if text:
                return text
        return str(row["label"] or "")

    def _payload(self) -> dict:
        g = self.graph
        nodes = g.nodes
        targets = np.nonzero(g.mask("logit", "feature_target"))[0]
        ranks = [g.ranks()] + [g.ranks(int(t)) for t in targets]
        # Edges worth drawing: score = |normalised weight| × influence of the target.
        infl = g.influence() + g.weights
        score = g.edges.normalised() * infl[g.edges.target]
        keep = np.argsort(-score, kind="stable")[:MAX_EDGES]
        keep = keep[score[keep] > 0]
        incoming = np.bincount(g.edges.target, np.abs(g.edges.weight), minlength=g.n_nodes)
        share = g.edges.weight[keep] / np.maximum(incoming[g.edges.target[keep]], 1e-30)
        streams = sorted(set(int(s) for s in nodes["stream"]))
        stream_names = {}
        for s in streams:
            rows = nodes[nodes["stream"] == s]
            kind = rows["type"].iloc[0]
            stream_names[s] = (
                "tokens"
                if kind == "token"
                else "targets"
                if kind == "logit"
                else str(rows["site"].iloc[0] or f"layer {rows['layer'].iloc[0]}")
            )
        replacement, completeness = g.scores()
        return {
            "ids": nodes["node_id"].astype(str).tolist(),
            "types": nodes["type"].tolist(),
            "labels": [self._label(r) for r in nodes.to_dict("records")],
            "sites": [s if isinstance(s, str) else "" for s in nodes["site"]],
            "places": [_place(r) for r in nodes[["type", "site", "layer"]].to_dict("records")],
            "stream": pack(nodes["stream"].to_numpy(), "int32"),
            "pos": pack(nodes["pos"].to_numpy(), "int32"),
            "feature": pack(nodes["feature"].to_numpy(), "int32"),
            "activation": pack(
                np.nan_to_num(nodes["activation"].to_numpy(dtype=np.float64)), "float32"
            ),
            "prob": pack(nodes["prob"].to_numpy(dtype=np.float64), "float32"),
            "ranks": [pack(r, "float32") for r in ranks],
            "targets": [int(t) for t in targets],
            "edge_src": pack(g.edges.source[keep], "int32"),
            "edge_tgt": pack(g.edges.target[keep], "int32"),
            "edge_w": pack(g.edges.weight[keep], "float32"),
            "edge_share": pack(share, "float32"),
            "n_edges_total": len(g.edges.weight),
            "tokens": g.tokens,
            "streams": [[s, stream_names[s]] for s in streams],
            "scores": {"replacement": replacement, "completeness": completeness},
            "prompt": g.prompt,
            "model": str(g.metadata.get("scan", "")),
            "multipliers": list(MULTIPLIERS),
            "has_stats": sorted(self._stats),
        }

    # -- cards ---------------------------------------------------------------------------------

    def card(self, node_id: str) -> dict:
        """The feature card of a node: from the statistics of its site; without them, a light
        card built from the graph's own SAE (what its decoder writes, its activation here);
        empty for other nodes, or a loaded graph's site without statistics."""
        i = self.graph.index(node_id)
        row = self.graph.nodes.iloc[i]
        if row["type"] not in ("feature", "feature_target"):
            return {}
        site, feature = row["site"], int(row["feature"])
        lookup = self._lookups.get(site, lambda f: ("", None))
        st = self._stats.get(site)
        sae = (_graph_saes(self.context) or {}).get(site)
        if st is not None:
            card = feature_card(st, feature, lookup)
        elif sae is not None:
            card = light_card(self.context.model, sae, site, feature, lookup)
            card["activation"] = float(np.nan_to_num(row["activation"]))
        else:
            return {}
        card["node_id"] = str(row["node_id"])
        return card

    @traitlets.observe("clicked")
    def _send_card(self, change) -> None:
        if not change["new"]:
            self._card = {}
            return
        try:
            self._card = self.card(change["new"])
        except (KeyError, ValueError) as error:
            self.tasks.fail("card", str(error))
            return
        if self._card.get("light"):
            self._fill_site(self._card["site"])

    def _fill_site(self, site: str) -> None:
        """Statistics for a site the view has none for (say a transcoder layer), computed in
        the background over ``card_tokens`` held-out tokens after its first click; from then
        on its cards are full (examples, histogram), this one included once they are ready."""
        sae = (_graph_saes(self.context) or {}).get(site)
        if sae is None or site in self._stats or not self._card_tokens:
            return
        from saewidgets.analysis.stats import feature_stats

        model, n = self.context.model, self._card_tokens

        def job(ctx):
            return feature_stats(
                model,
                sae,
                n_tokens=n,
                site=sae.site,
                progress=False,
                on_progress=lambda fraction: (ctx.check(), ctx.progress(fraction)),
            )

        def done(st: FeatureStats) -> None:
            self._stats[site] = st
            if site not in self._lookups:
                self._lookups[site] = labels_for_site(
                    self._labels, site, st.d_sae, stats=st, model=model, n_sites=len(self._stats)
                )
            if self.clicked:
                self._card = self.card(self.clicked)

        place = _place({"type": "feature", "site": site, "layer": None})
        self.tasks.submit(
            "feature statistics",
            job,
            done=done,
            message=f"examples for {place} features ({n:,} tokens)…",
        )

    def suggest_supernodes(self, min_cosine: float = 0.6, max_groups: int = 8) -> list[list]:
        """Groups of the shown, not yet grouped features that likely stand for one thing:
        the same label anywhere, or decoder directions alike (cosine ≥ ``min_cosine``) at the
        same token; ``[label, id, ...]`` each, best first. The view lists them with "accept"
        (it becomes a supernode) and "reject" (it is not suggested again)."""
        from saewidgets.analysis.attribution.supernodes import group_label, suggest_groups

        g = self.graph
        if getattr(self, "_all_ranks", None) is None:  # a slider drag re-asks: rank once
            self._all_ranks = g.ranks()
        ranks = self._all_ranks
        grouped = {n for group in self.supernodes for n in group[1:]}
        ids = g.nodes["node_id"].astype(str).to_numpy()
        shown = g.mask("feature") & (ranks <= self.node_threshold)
        candidates = np.array(
            [i for i in np.nonzero(shown)[0] if ids[i] not in grouped], dtype=np.int64
        )
        labels = [
            self._label(r) if r["type"] == "feature" else "" for r in g.nodes.to_dict("records")
        ]
        saes = _graph_saes(self.context)
        directions = None
        if saes is not None and len(candidates):
            rows = g.nodes.iloc[candidates]
            directions = np.stack(
                [
                    saes[site].W_dec.detach()[int(f)].float().numpy()
                    for site, f in zip(rows["site"], rows["feature"], strict=True)
                ]
            )
        identities = [
            f"{site}#{feature}" if kind == "feature" else ""
            for kind, site, feature in zip(
                g.nodes["type"], g.nodes["site"], g.nodes["feature"], strict=True
            )
        ]
        groups = suggest_groups(
            candidates,
            labels,
            g.nodes["pos"].to_numpy(),
            ranks,
            directions,
            identities=identities,
            min_cosine=min_cosine,
            max_groups=max_groups + len(self._rejected),
        )
        groups = [m for m in groups if frozenset(ids[m]) not in self._rejected][:max_groups]
        place = g.nodes["site"].to_numpy()

        def name_of(i: int) -> str:
            where = _place({"type": "feature", "site": place[i], "layer": None})
            return f"#{int(g.nodes['feature'].iloc[i])} ({where})"

        return [[group_label(m, labels, name_of), *ids[m].tolist()] for m in groups]

    def reject_suggestion(self, index: int) -> None:
        """Drop suggestion ``index`` (of ``_suggestions``) for good."""
        if not 0 <= index < len(self._suggestions):
            raise GraphError(f"no suggestion {index}; there are {len(self._suggestions)}")
        self._rejected.add(frozenset(self._suggestions[index][1:]))
        self._suggestions = self.suggest_supernodes()

    def accept_suggestion(self, index: int) -> None:
        """Make suggestion ``index`` a supernode (under its suggested label)."""
        if not 0 <= index < len(self._suggestions):
            raise GraphError(f"no suggestion {index}; there are {len(self._suggestions)}")
        label, *members = self._suggestions[index]
        self.group(label, members)

    @traitlets.observe("supernodes", "node_threshold")
    def _refresh_suggestions(self, change) -> None:
        self._suggestions = self.suggest_supernodes()

    @traitlets.observe("pinned")
    def _score_pins(self, change) -> None:
        self._pinned_scores = self._scores_of(change["new"])

    def _scores_of(self, pinned: list[str]) -> dict:
        if not pinned:
            return {}
        replacement, completeness = self.graph.scores(pinned)
        return {"pinned": list(pinned), "replacement": replacement, "completeness": completeness}

    @traitlets.validate("node_threshold")
    def _check_threshold(self, proposal):
        value = proposal["value"]
        if not 0 < value <= 1:
            raise traitlets.TraitError(f"node_threshold must be in (0, 1], got {value}")
        return value

    @traitlets.validate("target")
    def _check_target(self, proposal):
        value = proposal["value"]
        n = len(self._graph.get("targets", [])) if self._graph else 1 << 30
        if not -1 <= value < n:
            raise traitlets.TraitError(f"target must be -1 (all) or 0..{n - 1}, got {value}")
        return value

    @traitlets.validate("pinned")
    def _check_pinned(self, proposal):
        for nid in proposal["value"]:
            self.graph.index(nid)  # KeyError names the bad id
        return list(dict.fromkeys(proposal["value"]))

    # -- Python-side editing ----------------------------------------------------------------

    def pin(self, *node_ids: str) -> None:
        self.pinned = [*self.pinned, *node_ids]

    def unpin(self, *node_ids: str) -> None:
        self.pinned = [n for n in self.pinned if n not in node_ids]

    def group(self, label: str, node_ids=None) -> None:
        """Make a supernode from ``node_ids`` (default: the pinned nodes not yet grouped)."""
        grouped = {n for s in self.supernodes for n in s[1:]}
        members = (
            list(node_ids) if node_ids is not None else [n for n in self.pinned if n not in grouped]
        )
        if not members:
            raise GraphError("a supernode needs at least one node; pin some first")
        for n in members:
            self.graph.index(n)
        if not isinstance(label, str) or not label.strip():
            raise GraphError("a supernode needs a non-empty label")
        self.supernodes = [
            *(s for s in self.supernodes if not set(s[1:]) & set(members)),
            [label.strip(), *members],
        ]

    def intervene(self, nodes=None, multiplier: float | None = None, mode: str | None = None):
        """Run the validation on ``nodes`` (default: pinned), show it in the view and return it.

        From Python this runs here and now; a click in the view runs the same on the view's
        task runner."""
        nodes, multiplier, mode = self._intervention_args(nodes, multiplier, mode)
        result = self._run_intervention(nodes, multiplier, mode)
        self._show_intervention(result)
        return result

    def _intervention_args(self, nodes, multiplier, mode) -> tuple:
        nodes = list(nodes if nodes is not None else self.pinned)
        multiplier = float(self.multiplier if multiplier is None else multiplier)
        return nodes, multiplier, self.mode if mode is None else mode

    def _run_intervention(self, nodes, multiplier, mode):
        if self.context is None:
            return self.graph.intervene(nodes, multiplier, mode=mode)  # says why not
        return self.context.intervene(self.graph, nodes, multiplier, mode=mode)

    def _show_intervention(self, result) -> None:
        payload = result.to_dict()
        payload["run"] = int(self._intervention.get("run", 0)) + 1
        self._intervention = payload

    def subgraph(self) -> AttributionGraph:
        """The pinned nodes (and the edges among them) as a graph of their own."""
        return self.graph.subgraph(self.pinned)

    def _on_message(self, widget, content, buffers) -> None:
        if not isinstance(content, dict):
            return
        if content.get("type") in ("accept_suggestion", "reject_suggestion"):
            index = content.get("index")
            try:
                if not isinstance(index, int):
                    raise GraphError(f"a suggestion index must be a whole number, got {index!r}")
                getattr(self, content["type"])(index)
            except GraphError as error:
                self.tasks.fail("suggestion", str(error))
            return
        if content.get("type") != "intervene":
            return
        try:
            nodes, multiplier, mode = self._intervention_args(
                content.get("nodes") or None, content.get("multiplier"), content.get("mode") or None
            )
        except (TypeError, ValueError) as error:
            self.tasks.fail("intervene", str(error))
            return
        self.tasks.submit(
            "intervene",
            lambda ctx: self._run_intervention(nodes, multiplier, mode),
            done=self._show_intervention,
            message="running the intervention…",
        )

    # -- export --------------------------------------------------------------------------------

    def _state_for_export(self, cards: int = EXPORT_CARDS) -> dict:
        state = super()._state_for_export()
        state["_can_intervene"] = False
        g = self.graph
        order = np.argsort(g.nodes["influence"].to_numpy())
        chosen = [
            g.nodes["node_id"].iloc[i] for i in order if g.nodes["type"].iloc[i] == "feature"
        ][:cards]
        chosen += [n for n in self.pinned if n not in chosen]
        out = {}
        for nid in chosen:
            card = self.card(nid)
            if card:
                out[nid] = card
        state["_cards"] = out
        return state

    def to_html(
        self,
        path: str | os.PathLike | None = None,
        *,
        title: str = "saewidgets attribution graph",
        cards: int = EXPORT_CARDS,
    ) -> str:
        """A self-contained page of the graph: hover, click, pin, group, the slider and target
        picker all work offline; feature cards are included for the ``cards`` most influential
        features and the pinned ones; interventions need a kernel."""
        return super().to_html(path, title=title, cards=cards)


def _known_pins(graph) -> list[str]:
    """The imported file's pinned ids that name nodes of this graph; a stale one (a node the
    file does not hold, e.g. pruned away) is dropped with a warning naming it."""
    pins = [str(p) for p in graph.qparams.get("pinnedIds") or []]
    stale = [p for p in pins if p not in graph]
    if stale:
        warnings.warn(
            f"dropped pinned ids this graph has no node for: {', '.join(stale)}", stacklevel=3
        )
    return [p for p in pins if p in graph]


def _known_supernodes(graph) -> list[list]:
    """Imported supernodes (``[label, id, ...]``) without members the graph lacks; a group
    left with no member is dropped."""
    out, stale = [], []
    for group in graph.qparams.get("supernodes") or []:
        label, members = group[0], [str(m) for m in group[1:]]
        stale += [m for m in members if m not in graph]
        kept = [m for m in members if m in graph]
        if kept:
            out.append([label, *kept])
    if stale:
        warnings.warn(
            f"dropped supernode members this graph has no node for: {', '.join(stale)}",
            stacklevel=3,
        )
    return out


# what a site's name means, for node descriptions a person reads ("layer 12 MLP output")
_SITE_KINDS = {
    "hook_mlp_out": "MLP output",
    "ln2.hook_normalized": "MLP input",
    "hook_resid_post": "residual stream",
    "hook_resid_pre": "residual stream (before the block)",
    "hook_attn_out": "attention output",
}


def _place(row: dict) -> str:
    """Where a node sits, in words: "layer 12 MLP output", "layer 3 residual stream error",
    "input token", "output"."""
    kind = row["type"]
    if kind == "token":
        return "input token"
    if kind == "logit":
        return "output"
    site = row["site"] if isinstance(row["site"], str) else ""
    match = re.match(r"^blocks\.(\d+)\.(.+)$", site)
    where = (
        f"layer {match.group(1)} {_SITE_KINDS.get(match.group(2), match.group(2))}"
        if (match)
        else (site or f"layer {row['layer']}")
    )
    return f"{where} error" if kind == "error" else where
