"""`AttributionGraph`: nodes (features, errors, tokens, targets) and sparse weighted edges.

Edges point from a source to the target whose value it changes: ``weight`` is how much the
target (a feature's pre-activation, or a demeaned logit) would drop if the source were zeroed
in the frozen replacement model. Node order is fixed: features, errors, tokens, targets.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch

from saewidgets.analysis.attribution import prune as _prune

NODE_TYPES = ("feature", "error", "token", "logit", "feature_target")
TARGET_TYPES = ("logit", "feature_target")


@dataclass
class GraphContext:
    """What a graph built here keeps to validate itself on the live model (never serialised)."""

    model: object
    dictionaries: list
    frozen: object
    ids: torch.Tensor
    sites: list
    embed: torch.Tensor
    targets: list
    folded_errors: list = field(default_factory=list)
    visited: list = field(default_factory=list)  # per site: bool mask over its active features
    feature_ref: dict = field(default_factory=dict)  # feature node id → (site index, row)
    target_ids: list = field(default_factory=list)  # node id of each target, in order
    clean: dict = field(default_factory=dict)  # unedited validation passes, by mode


def _layer_labels(dictionaries) -> list[str]:
    layers = [d.write.layer for d in dictionaries]
    if len(set(layers)) == len(layers):
        return [str(x) for x in layers]
    return [str(i + 1) for i in range(len(layers))]  # shared layers: number the sites instead


class AttributionGraph:
    """An attribution graph. ``nodes`` is a DataFrame (one row per node); edges are COO arrays.

    - ``graph.nodes``: node_id, type, site, layer, stream, pos, feature, token_id, activation,
      value, prob, weight, label, influence (cumulative-share rank: small = important).
    - ``graph.edges_frame()``: source, target, weight as node ids.
    - ``graph.prune(node_threshold, edge_threshold)``: a smaller graph.
    - ``graph.scores()``: replacement and completeness.
    - ``graph.intervene(nodes, multiplier)``: predicted vs actual effect in the real model.
    - ``graph.to_json(path)`` / ``sw.load_graph(path)``: the Neuronpedia graph format.
    """

    def __init__(
        self,
        nodes: pd.DataFrame,
        edges: _prune.Edges,
        *,
        prompt: str,
        tokens: list[str],
        metadata: dict | None = None,
        qparams: dict | None = None,
        extra: dict | None = None,
        ctx: GraphContext | None = None,
    ) -> None:
        missing = {"node_id", "type", "pos", "weight"} - set(nodes.columns)
        if missing:
            raise ValueError(f"graph nodes lack columns {sorted(missing)}")
        bad = set(nodes["type"]) - set(NODE_TYPES)
        if bad:
            raise ValueError(f"unknown node types {sorted(bad)}; allowed: {NODE_TYPES}")
        if nodes["node_id"].duplicated().any():
            dup = nodes["node_id"][nodes["node_id"].duplicated()].iloc[0]
            raise ValueError(f"node ids must be unique; {dup!r} repeats")
        self.nodes = nodes.reset_index(drop=True)
        self.edges = edges
        self.prompt = prompt
        self.tokens = list(tokens)
        self.metadata = dict(metadata or {})
        self.qparams = dict(qparams or {})
        self.extra = dict(extra or {})  # unknown top-level JSON fields, kept for re-export
        self._ctx = ctx
        self._index = {nid: i for i, nid in enumerate(self.nodes["node_id"])}
        if "influence" not in self.nodes.columns:
            self.nodes["influence"] = self.ranks()

    # -- basics ----------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self.nodes)

    def __repr__(self) -> str:
        counts = self.nodes["type"].value_counts().to_dict()
        parts = ", ".join(f"{counts.get(t, 0)} {t}" for t in NODE_TYPES if counts.get(t))
        return f"AttributionGraph({self.prompt!r}: {parts}; {len(self.edges.weight)} edges)"

    @property
    def n_nodes(self) -> int:
        return len(self.nodes)

    @property
    def weights(self) -> np.ndarray:
        return self.nodes["weight"].to_numpy(dtype=np.float64)

    def index(self, node) -> int:
        """Row of a node given its id (or its row number)."""
        if isinstance(node, (int, np.integer)) and not isinstance(node, bool):
            if not 0 <= node < self.n_nodes:
                raise KeyError(f"node index {node} is outside 0..{self.n_nodes - 1}")
            return int(node)
        if node not in self._index:
            raise KeyError(
                f"no node {node!r} in this graph (ids look like {self.nodes['node_id'].iloc[0]!r})"
            )
        return self._index[node]

    def mask(self, *types: str) -> np.ndarray:
        return self.nodes["type"].isin(types).to_numpy()

    def edges_frame(self) -> pd.DataFrame:
        ids = self.nodes["node_id"].to_numpy()
        return pd.DataFrame(
            {
                "source": ids[self.edges.source],
                "target": ids[self.edges.target],
                "weight": self.edges.weight,
            }
        )

    def adjacency(self) -> np.ndarray:
        """Dense [target, source] matrix (small graphs only: N² floats)."""
        if self.n_nodes > 20_000:
            raise MemoryError(f"{self.n_nodes} nodes is too many for a dense matrix; use .edges")
        a = np.zeros((self.n_nodes, self.n_nodes), dtype=np.float32)
        np.add.at(a, (self.edges.target, self.edges.source), self.edges.weight)
        return a

    def incoming(self, node) -> pd.DataFrame:
        """The edges into a node, strongest first."""
        i = self.index(node)
        sel = self.edges.target == i
        ids = self.nodes["node_id"].to_numpy()
        frame = pd.DataFrame(
            {"source": ids[self.edges.source[sel]], "weight": self.edges.weight[sel]}
        )
        return frame.reindex(frame["weight"].abs().sort_values(ascending=False).index).reset_index(
            drop=True
        )

    # -- influence, pruning, scores --------------------------------------------------------

    def target_weights(self, target=None) -> np.ndarray:
        """Weights on target nodes: all targets (by probability), or one target by id/index."""
        if target is None:
            return self.weights
        w = np.zeros(self.n_nodes)
        i = self.index(target)
        if self.nodes["type"].iloc[i] not in TARGET_TYPES:
            raise ValueError(f"{self.nodes['node_id'].iloc[i]!r} is not a target node")
        w[i] = 1.0
        return w

    def influence(self, target=None) -> np.ndarray:
        return _prune.influence(self.edges, self.target_weights(target))

    def ranks(self, target=None) -> np.ndarray:
        prunable = self.mask("feature", "error")
        return _prune.cumulative_rank(self.influence(target), prunable)

    def prune(
        self, node_threshold: float = 0.8, edge_threshold: float = 0.98, target=None
    ) -> AttributionGraph:
        """The nodes holding ``node_threshold`` of the influence on the targets and the edges
        holding ``edge_threshold`` of the edge score (tokens and targets always stay)."""
        result = _prune.prune(
            self.edges,
            self.target_weights(target),
            self.mask("feature", "error"),
            node_threshold,
            edge_threshold,
        )
        return self._subgraph(
            result.node_mask,
            result.edge_mask,
            {"node_threshold": node_threshold, "edge_threshold": edge_threshold},
        )

    def _subgraph(
        self, node_mask: np.ndarray, edge_mask: np.ndarray, pruning: dict
    ) -> AttributionGraph:
        new_index = np.full(self.n_nodes, -1)
        new_index[node_mask] = np.arange(int(node_mask.sum()))
        kept = _prune.Edges(
            new_index[self.edges.target[edge_mask]],
            new_index[self.edges.source[edge_mask]],
            self.edges.weight[edge_mask],
            int(node_mask.sum()),
        )
        meta = {**self.metadata, "pruning_settings": pruning}
        return AttributionGraph(
            self.nodes[node_mask].copy(),
            kept,
            prompt=self.prompt,
            tokens=self.tokens,
            metadata=meta,
            qparams=self.qparams,
            extra=self.extra,
            ctx=self._ctx,
        )

    def scores(self, nodes=None) -> tuple[float, float]:
        """(replacement, completeness): the share of target influence that reaches input tokens
        rather than error nodes, and the share of node inputs explained by non-error sources.

        With ``nodes`` (ids or rows, e.g. the pinned ones), the scores of the subgraph those
        features form: every other feature counts as unexplained, like an error node (its
        inputs are cut, so influence through it stops there). Tokens and targets always belong.
        """
        is_error = self.mask("error")
        if nodes is None:
            return _prune.scores(self.edges, self.weights, is_error, self.mask("token"))
        if isinstance(nodes, str):
            raise TypeError("nodes must be a list of node ids, not one string")
        keep = np.zeros(self.n_nodes, dtype=bool)
        keep[[self.index(n) for n in nodes]] = True
        outside = self.mask("feature") & ~keep
        edges = self.edges.subset(~outside[self.edges.target])
        return _prune.scores(edges, self.weights, is_error | outside, self.mask("token"))

    # -- building -------------------------------------------------------------------------

    @classmethod
    def from_rows(
        cls,
        ctx: GraphContext,
        prompt: str,
        rows: torch.Tensor,
        row_cols: list[int],
        rc,
        settings: dict,
    ):
        sites, targets = ctx.sites, ctx.targets
        model = ctx.model
        seq = ctx.ids.shape[1]
        n_t = len(targets)
        visited_cols = row_cols[n_t:]
        site_of = np.repeat(np.arange(len(sites)), np.diff(rc.feature_offsets))
        local = np.arange(rc.n_features) - rc.feature_offsets[site_of]
        pos_of = np.concatenate([s.pos.cpu().numpy() for s in sites]) if sites else np.zeros(0, int)
        feat_of = (
            np.concatenate([s.feat.cpu().numpy() for s in sites]) if sites else np.zeros(0, int)
        )
        order = sorted(visited_cols, key=lambda c: (site_of[c], pos_of[c], feat_of[c]))
        n_f = len(order)
        n_err = len(sites) * seq
        n_nodes = n_f + n_err + seq + n_t
        col_to_node = np.empty(rc.n_cols, dtype=np.int64)
        # Unvisited features join their (site, position) error node, so rows stay complete.
        col_to_node[: rc.n_features] = n_f + site_of * seq + pos_of
        col_to_node[np.array(order, dtype=np.int64)] = np.arange(n_f)
        col_to_node[rc.n_features :] = n_f + np.arange(n_err + seq)
        dense = torch.zeros(rows.shape[0], n_nodes)
        dense.index_add_(1, torch.from_numpy(col_to_node), rows)
        row_nodes = np.concatenate(
            [
                n_f + n_err + seq + np.arange(n_t),
                col_to_node[np.array(visited_cols, dtype=np.int64)],
            ]
        ).astype(np.int64)
        r, c = torch.nonzero(dense, as_tuple=True)
        edges = _prune.Edges(
            row_nodes[r.numpy()],
            c.numpy().astype(np.int64),
            dense[r, c].numpy().astype(np.float32),
            n_nodes,
        )
        # Folded error vectors, for interventions on error nodes.
        visited_mask = np.zeros(rc.n_features, dtype=bool)
        visited_mask[visited_cols] = True
        ctx.folded_errors, ctx.visited = [], []
        for k, s in enumerate(sites):
            lo, hi = rc.feature_offsets[k], rc.feature_offsets[k + 1]
            vis = torch.from_numpy(visited_mask[lo:hi])
            err = s.error.detach().cpu().clone()
            rest = ~vis
            if bool(rest.any()):
                err.index_add_(0, s.pos.cpu()[rest], s.write_vecs.cpu()[rest])
            ctx.folded_errors.append(err)
            ctx.visited.append(vis)
        layer_labels = _layer_labels(ctx.dictionaries)
        logit_layer = str(model.n_layers + 1)
        tok = model.tokenizer
        ids = ctx.ids[0].tolist()
        texts = [tok.decode([i]) for i in ids]
        records = []
        for c in order:
            k, i = int(site_of[c]), int(local[c])
            s = sites[k]
            p, f = int(s.pos[i]), int(s.feat[i])
            ctx.feature_ref[f"{layer_labels[k]}_{f}_{p}"] = (k, i)
            records.append(
                dict(
                    node_id=f"{layer_labels[k]}_{f}_{p}",
                    type="feature",
                    site=s.dictionary.write.name,
                    layer=layer_labels[k],
                    stream=k + 1,
                    pos=p,
                    feature=f,
                    token_id=-1,
                    activation=float(s.act[i]),
                    value=float(s.pre[i]),
                    prob=0.0,
                    weight=0.0,
                    label="",
                )
            )
        for k, s in enumerate(sites):
            norms = ctx.folded_errors[k].norm(dim=-1)
            for p in range(seq):
                records.append(
                    dict(
                        node_id=f"{layer_labels[k]}_-1_{p}",
                        type="error",
                        site=s.dictionary.write.name,
                        layer=layer_labels[k],
                        stream=k + 1,
                        pos=p,
                        feature=-1,
                        token_id=-1,
                        activation=float(norms[p]),
                        value=float("nan"),
                        prob=0.0,
                        weight=0.0,
                        label=f"error {s.dictionary.write.name} @ {texts[p]!r}",
                    )
                )
        for p in range(seq):
            records.append(
                dict(
                    node_id=f"E_{ids[p]}_{p}",
                    type="token",
                    site=None,
                    layer="E",
                    stream=0,
                    pos=p,
                    feature=-1,
                    token_id=ids[p],
                    activation=float("nan"),
                    value=float("nan"),
                    prob=0.0,
                    weight=0.0,
                    label=texts[p],
                )
            )
        for t in targets:
            if t.kind == "feature":
                k = [s.dictionary.write.name for s in sites].index(t.site)
                records.append(
                    dict(
                        node_id=f"{layer_labels[k]}_{t.feature}_{t.pos}",
                        type="feature_target",
                        site=t.site,
                        layer=layer_labels[k],
                        stream=k + 1,
                        pos=t.pos,
                        feature=t.feature,
                        token_id=-1,
                        activation=float("nan"),
                        value=t.value,
                        prob=0.0,
                        weight=t.weight,
                        label=f"target {t.label}",
                    )
                )
            else:
                tid = t.token_id if t.kind == "logit" else f"{t.token_id}-{t.other_id}"
                records.append(
                    dict(
                        node_id=f"{logit_layer}_{tid}_{t.pos}",
                        type="logit",
                        site=None,
                        layer=logit_layer,
                        stream=len(sites) + 1,
                        pos=t.pos,
                        feature=-1,
                        token_id=t.token_id,
                        activation=float("nan"),
                        value=t.value,
                        prob=t.prob,
                        weight=t.weight,
                        label=t.label,
                    )
                )
        nodes = pd.DataFrame.from_records(records)
        ctx.target_ids = nodes["node_id"].iloc[len(nodes) - n_t :].tolist()
        metadata = {
            "scan": model.name,
            "model": model.name,
            "prompt": prompt,
            "prompt_tokens": texts,
            "sites": [s.dictionary.write.name for s in sites],
            "generation_settings": settings,
            "n_active_features": int(rc.n_features),
            "n_feature_nodes": n_f,
            "n_folded_into_errors": int(rc.n_features - n_f),
        }
        return cls(nodes, edges, prompt=prompt, tokens=texts, metadata=metadata, ctx=ctx)

    # -- validation and interop ------------------------------------------------------------

    def intervene(self, nodes, multiplier: float = 0.0, *, mode: str = "free"):
        """Scale the given nodes' contributions by ``multiplier`` (0 ablates, −2 inverts) in the
        real model (``mode="free"``) or the frozen replacement model (``"frozen"``), and compare
        each target's and feature's actual change with what this graph predicts."""
        from saewidgets.analysis.attribution.validate import intervene

        return intervene(self, nodes, multiplier, mode=mode)

    def to_json(
        self,
        path: str | os.PathLike | None = None,
        *,
        slug: str | None = None,
        node_threshold: float | None = 0.8,
        edge_threshold: float = 0.98,
    ) -> dict:
        """The graph in the Neuronpedia / circuit-tracer JSON format (pruned with the given
        thresholds first unless ``node_threshold`` is None); written to ``path`` if given."""
        from saewidgets.analysis.attribution.neuronpedia import to_json

        return to_json(
            self, path, slug=slug, node_threshold=node_threshold, edge_threshold=edge_threshold
        )
