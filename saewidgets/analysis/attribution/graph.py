"""`AttributionGraph`: nodes (features, errors, tokens, targets) and sparse weighted edges.

Edges point from a source to the target whose value it changes: ``weight`` is how much the
target (a feature's pre-activation, or a demeaned logit) would drop if the source were zeroed
in the frozen replacement model. Node order is fixed: features, errors, tokens, targets.

The graph is plain data (no torch, no model). A graph built by `sw.attribute` also carries a
`ReplacementContext` in ``graph.context``, a handle to the live model that is never serialised;
`assemble.py` builds graphs from the engine's rows and `neuronpedia.py` converts them to and
from JSON.
"""

from __future__ import annotations

import os

import numpy as np
import pandas as pd

from saewidgets.analysis.attribution import graph_json
from saewidgets.analysis.attribution import prune as _prune
from saewidgets.analysis.attribution.prune import GraphError
from saewidgets.analysis.attribution.validate import (
    InterventionResult,
    ValidationError,
    check_request,
)
from saewidgets.core.aliases import renamed

NODE_TYPES = ("feature", "error", "token", "logit", "feature_target")
TARGET_TYPES = ("logit", "feature_target")


class AttributionGraph:
    """An attribution graph. ``nodes`` is a DataFrame (one row per node); edges are COO arrays.

    - ``graph.nodes``: node_id, type, site, layer, stream, pos, feature, token_id, activation,
      value, prob, weight, label, influence (cumulative-share rank: small = important).
    - ``graph.edges_frame()``: source, target, weight as node ids.
    - ``graph.prune(node_threshold, edge_threshold)``: a smaller graph.
    - ``graph.scores()``: replacement and completeness.
    - ``graph.intervene(nodes, multiplier)``: predicted vs actual effect in the real model
      (through ``graph.context``).
    - ``graph.to_json(path)`` / ``sw.load_graph(path)``: the Neuronpedia graph format.

    ``graph.context`` is the `ReplacementContext` of a graph built by `sw.attribute` (the model,
    the frozen replacement model and the dictionaries, for interventions), or None for a graph
    loaded from JSON or built by hand. It is a handle, not part of the graph's data: `to_json`
    leaves it out and pruned graphs share it.
    """

    def to_json(self, path: str | os.PathLike | None = None, **kwargs) -> dict:
        """The graph as Neuronpedia / circuit-tracer JSON (a dict; written to ``path`` when
        given). Options are those of `graph_json.to_json`."""
        return graph_json.to_json(self, path, **kwargs)

    @renamed(ctx="context")
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
        context=None,
    ) -> None:
        missing = {"node_id", "type", "pos", "weight"} - set(nodes.columns)
        if missing:
            raise GraphError(f"graph nodes lack columns {sorted(missing)}")
        bad = set(nodes["type"]) - set(NODE_TYPES)
        if bad:
            raise GraphError(f"unknown node types {sorted(bad)}; allowed: {NODE_TYPES}")
        if nodes["node_id"].duplicated().any():
            dup = nodes["node_id"][nodes["node_id"].duplicated()].iloc[0]
            raise GraphError(f"node ids must be unique; {dup!r} repeats")
        self.nodes = nodes.reset_index(drop=True)
        self.edges = edges
        self.prompt = prompt
        self.tokens = list(tokens)
        self.metadata = dict(metadata or {})
        self.qparams = dict(qparams or {})
        self.extra = dict(extra or {})  # unknown top-level JSON fields, kept for re-export
        self.context = context  # ReplacementContext or None; never serialised
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

    def __contains__(self, node_id) -> bool:
        return node_id in self._index

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
            raise GraphError(f"{self.nodes['node_id'].iloc[i]!r} is not a target node")
        w[i] = 1.0
        return w

    def influence(self, target=None) -> np.ndarray:
        return _prune.influence(self.edges, self.target_weights(target))

    def total_effects(self, target=None) -> np.ndarray:
        """Per node, how much the target's value changes when that node's whole contribution
        is removed (minus `predict(node, 0)` at the target, for every node in one sweep).

        ``target``: a target node (id or index); default the most probable logit. Computed
        backwards: a node's effect is the sum over its edges of the edge weight times the
        effect per unit of the node it feeds (1 at the target; a feature's effect divided by
        its activation, since its outgoing edges scale with it)."""
        if target is None:
            logits = np.nonzero(self.mask("logit"))[0]
            if not len(logits):
                raise GraphError("this graph has no logit target; name a target node")
            target = int(logits[np.argmax(self.nodes["prob"].to_numpy()[logits])])
        t = self.index(target)
        if self.nodes["type"].iloc[t] not in TARGET_TYPES:
            raise GraphError(f"{self.nodes['node_id'].iloc[t]!r} is not a target node")
        e, n = self.edges, self.n_nodes
        act = np.nan_to_num(self.nodes["activation"].to_numpy(dtype=np.float64))
        relay = self.mask("feature") & (act > 0)
        relay[t] = False
        per_unit = np.zeros(n)
        per_unit[t] = 1.0
        effect = np.zeros(n)
        for _ in range(int(self.nodes["stream"].max()) + 2):
            effect = np.bincount(e.source, e.weight * per_unit[e.target], minlength=n)
            new = np.zeros(n)
            new[relay] = effect[relay] / act[relay]
            new[t] = 1.0
            if np.allclose(new, per_unit):
                break
            per_unit = new
        return effect

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
            context=self.context,
        )

    def subgraph(self, nodes) -> AttributionGraph:
        """The given nodes (ids or rows) and the edges among them, as a graph of their own."""
        if isinstance(nodes, str):
            raise TypeError("nodes must be a list of node ids, not one string")
        mask = np.zeros(self.n_nodes, dtype=bool)
        mask[[self.index(n) for n in nodes]] = True
        edges = mask[self.edges.source] & mask[self.edges.target]
        return self._subgraph(mask, edges, {"pinned": True})

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

    # -- validation -------------------------------------------------------------------------

    def predict(self, nodes, multiplier: float = 0.0, *, propagate: bool = True) -> np.ndarray:
        """The change of every node's value this graph predicts when the given source nodes'
        contributions are scaled by ``multiplier``: the edit pushed linearly along the edges.

        With ``propagate``, a feature whose pre-activation moves by Δh moves its own outgoing
        edges by Δh / activation, and so on downstream; without it, only the direct effects.
        """
        if isinstance(nodes, (str, int, np.integer)):
            nodes = [nodes]
        idx = [self.index(n) for n in nodes]
        e = self.edges
        n = self.n_nodes
        f = np.zeros(n)
        fixed = np.zeros(n, dtype=bool)
        fixed[idx] = True
        f[idx] = multiplier - 1.0
        act = self.nodes["activation"].to_numpy(dtype=np.float64)
        is_feature = self.mask("feature") & (np.nan_to_num(act) > 0)
        dh = np.zeros(n)
        for _ in range(int(self.nodes["stream"].max()) + 2):
            dh = np.bincount(e.target, e.weight * f[e.source], minlength=n)
            if not propagate:
                break
            new = np.where(
                is_feature & ~fixed, np.divide(dh, act, out=np.zeros(n), where=is_feature), 0.0
            )
            new[fixed] = multiplier - 1.0
            if np.allclose(new, f):
                break
            f = new
        return dh

    def intervene(
        self, nodes, multiplier: float = 0.0, *, mode: str = "free"
    ) -> InterventionResult:
        """Scale the given nodes' contributions by ``multiplier`` (0 ablates, −2 inverts) in the
        real model (``mode="free"``) or the frozen replacement model (``"frozen"``, ``"direct"``),
        and compare each target's and feature's actual change with what this graph predicts.

        Runs on ``graph.context``; ``context.intervene(graph, ...)`` is the same call."""
        check_request(multiplier, mode)
        if self.context is None:
            raise ValidationError(
                "this graph was loaded from a file and has no live model; rebuild it with "
                "sw.attribute(model, prompt, saes) to run interventions"
            )
        return self.context.intervene(self, nodes, multiplier, mode=mode)
