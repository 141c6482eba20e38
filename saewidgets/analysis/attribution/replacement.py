"""`ReplacementContext`: the live side of an attribution graph.

A graph is plain data. What it takes to test one against the model — the model, the frozen
replacement model of the prompt, the dictionaries with their active features and write vectors,
the targets' read vectors, and the clean passes the comparisons start from — lives here, and so
do the operations on the live model: interventions in three modes (see `validate.py`).

`sw.attribute` builds one per graph and leaves it in ``graph.context``; `graph.intervene` and
`sw.GraphView` use it from there, or take one explicitly (``GraphView(graph, context=ctx)``),
which also works for a graph of the same build saved to JSON and loaded back.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch

from saewidgets.analysis.attribution.frozen import Dictionary, FrozenModel
from saewidgets.analysis.attribution.graph import AttributionGraph
from saewidgets.analysis.attribution.targets import FINAL, Target
from saewidgets.analysis.attribution.validate import (
    SOURCE_TYPES,
    InterventionResult,
    ValidationError,
    check_request,
)
from saewidgets.model.model import Model

# Graph metadata that must match for a context to serve a graph that is not its own object
# (e.g. the same graph saved and loaded back): the error nodes hold the features the budget
# folded into them, so another budget or other dictionaries would silently change them.
BUILD_KEYS = ("model", "sites", "generation_settings", "n_active_features", "n_feature_nodes")


@dataclass
class SiteNodes:
    """One dictionary's active features on this prompt and its error vectors."""

    dictionary: Dictionary
    pos: torch.Tensor  # [n] positions
    feat: torch.Tensor  # [n] feature ids
    act: torch.Tensor  # [n] activations
    pre: torch.Tensor  # [n] pre-activations (the value edges into a feature add up to)
    write_vecs: torch.Tensor  # [n, d] activation × decoder row, in model units
    read_vecs: torch.Tensor  # [n, d] encoder column, in model units
    error: torch.Tensor  # [seq, d] write value minus the SAE's reconstruction
    write_value: torch.Tensor  # [seq, d]


@dataclass
class NodeIndex:
    """How one graph's nodes map onto a context's tensors (made by `assemble.assemble`)."""

    feature_ref: dict[str, tuple[int, int]] = field(default_factory=dict)  # id → (site, row)
    target_ids: list[str] = field(default_factory=list)  # node id of each target, in order
    folded_errors: list[torch.Tensor] = field(default_factory=list)  # per site: [seq, d]
    visited: list[torch.Tensor] = field(default_factory=list)  # per site: bool mask of features


class ReplacementContext:
    """The model, the prompt's frozen replacement model and the dictionaries behind a graph.

    - ``ctx.intervene(graph, nodes, multiplier, mode=...)``: scale source nodes in the real
      model (``"free"``) or the frozen replacement model (``"frozen"``, ``"direct"``) and compare
      the actual change of every target and feature with ``graph.predict``.
    - ``ctx.write_vector(graph, node)``: (write point, position, vector) a source node adds.
    - ``ctx.model``, ``ctx.tokenizer``, ``ctx.tokens``, ``ctx.dictionaries``, ``ctx.targets``.

    Made by `sw.attribute`; holds the model and tensors, so it is never serialised.
    """

    def __init__(
        self,
        model: Model,
        frozen: FrozenModel,
        sites: list[SiteNodes],
        ids: torch.Tensor,
        embed: torch.Tensor,
        targets: list[Target],
        node_index: NodeIndex,
        build: dict | None = None,
    ) -> None:
        self.model = model
        self.frozen = frozen
        self.sites = sites
        self.ids = ids
        self.embed = embed
        self.targets = targets
        self.node_index = node_index
        self.build = dict(build or {})  # the graph's BUILD_KEYS metadata
        self.tokens = [model.tokenizer.decode([i]) for i in ids[0].tolist()]
        self._clean: dict = {}  # unedited validation passes, by mode
        self._clean_lock = threading.Lock()

    def __repr__(self) -> str:
        sites = ", ".join(s.dictionary.write.name for s in self.sites)
        return f"ReplacementContext({self.model.name}, {len(self.tokens)} tokens; {sites})"

    @property
    def tokenizer(self):
        return self.model.tokenizer

    @property
    def dictionaries(self) -> list[Dictionary]:
        return [s.dictionary for s in self.sites]

    def check(self, graph: AttributionGraph) -> None:
        """Refuse a graph this context did not build: another prompt, other dictionaries or
        another budget (its nodes would not mean the same vectors)."""
        if not isinstance(graph, AttributionGraph):
            raise TypeError(f"expected an AttributionGraph, not {type(graph).__name__}")
        if graph.context is self:
            return
        if list(graph.tokens) != self.tokens:
            raise ValidationError(
                f"this context was built for the prompt {''.join(self.tokens)!r}, "
                f"not for the graph's {''.join(graph.tokens)!r}"
            )
        for key, value in self.build.items():
            if graph.metadata.get(key) != value:
                raise ValidationError(
                    f"this context was built with {key}={value!r}, the graph with "
                    f"{graph.metadata.get(key)!r}; use the context of the sw.attribute call "
                    "that made the graph"
                )

    # -- the edit ------------------------------------------------------------------------------

    def _site_index(self, site) -> int:
        names = [s.dictionary.write.name for s in self.sites]
        if site not in names:
            raise ValidationError(f"no dictionary of this context writes to {site!r}: {names}")
        return names.index(site)

    def _source(self, graph: AttributionGraph, i: int) -> tuple[str, int, torch.Tensor, tuple]:
        """(write point, position, vector, (site, row) of a feature or ()) of node row ``i``."""
        row = graph.nodes.iloc[i]
        kind, pos, node_id = row["type"], int(row["pos"]), row["node_id"]
        if kind not in SOURCE_TYPES:
            raise ValidationError(f"{node_id!r} is a {kind} node; intervene on {SOURCE_TYPES}")
        if kind == "token":
            return "embed", pos, self.embed[pos], ()
        k = self._site_index(row["site"])
        if kind == "error":
            return row["site"], pos, self.node_index.folded_errors[k][pos], ()
        if node_id not in self.node_index.feature_ref:
            raise ValidationError(
                f"{node_id!r} is not one of the feature nodes this context's graph has "
                "(a graph of another build?)"
            )
        k, r = self.node_index.feature_ref[node_id]
        return row["site"], pos, self.sites[k].write_vecs[r], (k, r)

    def write_vector(self, graph: AttributionGraph, node) -> tuple[str, int, torch.Tensor]:
        """What a source node adds to the residual stream: its write point ("embed" or a site),
        its position and the vector (a feature: activation × decoder row; an error node: the
        SAE error plus the features folded into it; a token: its embedding)."""
        self.check(graph)
        key, pos, vec, _ = self._source(graph, graph.index(node))
        return key, pos, vec

    def _edits(self, graph: AttributionGraph, nodes, multiplier) -> tuple[dict, list[int], dict]:
        """Per write point, the [seq, d] change; the node rows; {(site k, row i): factor}."""
        if isinstance(nodes, (str, int, np.integer)):
            nodes = [nodes]
        idx = [graph.index(n) for n in nodes]
        if not idx:
            raise ValidationError("choose at least one node to intervene on")
        seq, d = self.embed.shape
        deltas: dict[str, torch.Tensor] = {}
        clamped: dict[tuple[int, int], float] = {}
        factor = float(multiplier) - 1.0
        for i in idx:
            key, pos, vec, ref = self._source(graph, i)
            if ref:
                clamped[ref] = factor
            deltas.setdefault(key, torch.zeros(seq, d))
            deltas[key][pos] += factor * vec.detach().float().cpu()
        return deltas, idx, clamped

    # -- measuring -----------------------------------------------------------------------------

    def _measure(self, graph: AttributionGraph, reads: dict) -> np.ndarray:
        """Value (without bias terms) of every node that has a read vector; NaN elsewhere."""
        out = np.full(graph.n_nodes, np.nan)
        rows = np.nonzero(graph.mask("feature"))[0]
        ids = graph.nodes["node_id"].to_numpy()[rows]
        positions = graph.nodes["pos"].to_numpy()[rows]
        by_site: dict[int, list[tuple[int, int, int]]] = {}
        for i, node_id, pos in zip(rows, ids, positions, strict=True):
            ref = self.node_index.feature_ref.get(node_id)
            if ref is not None:
                by_site.setdefault(ref[0], []).append((int(i), ref[1], int(pos)))
        for k, items in by_site.items():
            s = self.sites[k]
            x = reads[s.dictionary.read.name][0].float().cpu()
            ii, rr, pp = (np.array(v) for v in zip(*items, strict=True))
            vecs = s.read_vecs.cpu()[torch.from_numpy(rr)]
            out[ii] = (x[torch.from_numpy(pp)] * vecs).sum(-1).numpy()
        for t, node_id in zip(self.targets, self.node_index.target_ids, strict=True):
            if node_id in graph:
                x = reads[t.read][0, t.pos].float().cpu()
                out[graph.index(node_id)] = float(x @ t.vector.float().cpu())
        return out

    def _frozen_pass(self, deltas: dict, clamped: dict, respond: bool) -> dict:
        reads: dict = {}
        leaves: dict = {"embed": self.embed + deltas.get("embed", 0)}
        for k, s in enumerate(self.sites):
            name = s.dictionary.write.name
            clean = s.write_value + deltas.get(name, 0)
            if not respond:
                leaves[name] = clean
                continue

            def respond_fn(value, k=k, s=s, clean=clean):
                sae = s.dictionary.sae
                scale = s.dictionary.scale
                now = sae.encode(reads[s.dictionary.read.name][0].to(sae.dtype)).float()
                vis = self.node_index.visited[k].to(s.pos.device)
                change = (now[s.pos, s.feat] - s.act) * vis
                for kk, r in clamped:
                    if kk == k:
                        change[r] = 0.0  # intervened features hold their set value (in deltas)
                out = clean.clone()
                out.index_add_(
                    0, s.pos, change[:, None] * sae.W_dec.detach()[s.feat].float() / scale
                )
                return out[None].to(value.dtype)

            leaves[name] = respond_fn
        with torch.no_grad():
            self.frozen.replay(
                self.ids, {k: v if callable(v) else v[None] for k, v in leaves.items()}, reads=reads
            )
        return reads

    def _free_pass(self, deltas: dict) -> tuple[dict, torch.Tensor]:
        """The real model with the edits added at their write points; reads and last logits."""
        model = self.model
        reads: dict = {}
        handles = []

        def add(name):
            def hook(module, args, out):
                delta = deltas.get(name)
                if delta is None:
                    return None
                first = out[0] if isinstance(out, tuple) else out
                new = first + delta.to(first.dtype).to(first.device)[None]
                return (new, *out[1:]) if isinstance(out, tuple) else new

            return hook

        def capture(name):
            def hook(module, args, out):
                reads[name] = (out[0] if isinstance(out, tuple) else out).detach()

            def pre(module, args, kwargs):
                reads[name] = (args[0] if args else kwargs["hidden_states"]).detach()

            return hook, pre

        try:
            handles.append(model.module(model.family.embed).register_forward_hook(add("embed")))
            for s in self.sites:
                d = s.dictionary
                hook, pre = capture(d.read.name)
                module = model.module(d.read.module)
                if d.read.attr == "input":
                    handles.append(module.register_forward_pre_hook(pre, with_kwargs=True))
                else:
                    handles.append(module.register_forward_hook(hook))
                # Registered after the read, so a same-site read sees the value before the edit.
                handles.append(
                    model.module(d.write.module).register_forward_hook(add(d.write.name))
                )
            hook, _ = capture(FINAL)
            handles.append(model.module(model.family.final_norm).register_forward_hook(hook))
            with torch.no_grad(), model.generation_lock:
                logits = (
                    model.hf_model(input_ids=self.ids, use_cache=False).logits[0, -1].float().cpu()
                )
        finally:
            for h in handles:
                h.remove()
        return reads, logits

    def _clean_pass(self, mode: str):
        """The unedited pass a comparison starts from (computed once per kind, then kept)."""
        kind = "free" if mode == "free" else "frozen"
        with self._clean_lock:
            if kind not in self._clean:
                self._clean[kind] = (
                    self._free_pass({}) if kind == "free" else self._frozen_pass({}, {}, False)
                )
            return self._clean[kind]

    # -- the intervention -----------------------------------------------------------------------

    def intervene(
        self, graph: AttributionGraph, nodes, multiplier: float = 0.0, *, mode: str = "free"
    ) -> InterventionResult:
        """Scale ``nodes`` of ``graph`` by ``multiplier`` (0 ablates, −2 inverts) in the real
        model (``mode="free"``), the frozen replacement model with downstream features
        responding (``"frozen"``) or with every site held (``"direct"``), and compare each
        target's and feature's actual change with ``graph.predict``."""
        check_request(multiplier, mode)
        self.check(graph)
        deltas, idx, clamped = self._edits(graph, nodes, multiplier)
        probs_before = probs_after = None
        if mode == "free":
            clean_reads, clean_logits = self._clean_pass(mode)
            new_reads, new_logits = self._free_pass(deltas)
            probs_before = torch.softmax(clean_logits, -1)
            probs_after = torch.softmax(new_logits, -1)
        else:
            clean_reads = self._clean_pass(mode)
            new_reads = self._frozen_pass(deltas, clamped, respond=mode == "frozen")
        before, after = self._measure(graph, clean_reads), self._measure(graph, new_reads)
        predicted = graph.predict(idx, float(multiplier), propagate=mode != "direct")
        frame = pd.DataFrame(
            {
                "node_id": graph.nodes["node_id"],
                "type": graph.nodes["type"],
                "label": graph.nodes["label"],
                "before": before,
                "predicted": predicted,
                "actual": after - before,
            }
        )
        has_input = np.bincount(graph.edges.target, minlength=graph.n_nodes) > 0
        targets = frame[graph.mask("logit", "feature_target")].copy()
        if probs_before is not None:
            ids = graph.nodes.loc[targets.index, "token_id"].to_numpy()
            targets["prob_before"] = [float(probs_before[t]) if t >= 0 else np.nan for t in ids]
            targets["prob_after"] = [float(probs_after[t]) if t >= 0 else np.nan for t in ids]
        features = frame[graph.mask("feature") & has_input].drop(index=idx, errors="ignore")
        features = features.reindex(features["actual"].abs().sort_values(ascending=False).index)
        return InterventionResult(
            targets.reset_index(drop=True),
            features.reset_index(drop=True),
            [graph.nodes["node_id"].iloc[i] for i in idx],
            float(multiplier),
            mode,
        )
