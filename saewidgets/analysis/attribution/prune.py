"""Influence, pruning and graph scores over a sparse adjacency (COO arrays, rows = targets).

Influence follows the circuit-tracer definition: normalise each node's incoming |edges| to sum
to one, then push the target weights back through the graph (w Â + w Â² + …). Everything is an
O(edges) sweep with `np.bincount`, so graphs imported from elsewhere with many thousand nodes
prune without an N×N matrix.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from saewidgets.core.errors import SAEWidgetsError


class GraphError(SAEWidgetsError, ValueError):
    """A malformed graph, or a question about one that has no answer; the message says why."""


@dataclass(frozen=True)
class Edges:
    target: np.ndarray  # int64 row (node receiving the edge)
    source: np.ndarray  # int64 column
    weight: np.ndarray  # float32
    n_nodes: int

    def normalised(self) -> np.ndarray:
        """|w| divided by the target's total incoming |w| (rows sum to one)."""
        mag = np.abs(self.weight).astype(np.float64)
        total = np.bincount(self.target, mag, minlength=self.n_nodes)
        return np.divide(
            mag, total[self.target], out=np.zeros_like(mag), where=total[self.target] > 0
        )

    def subset(self, keep: np.ndarray) -> Edges:
        return Edges(self.target[keep], self.source[keep], self.weight[keep], self.n_nodes)


def influence(edges: Edges, weights: np.ndarray, max_steps: int = 256) -> np.ndarray:
    """Σ_k w Â^k for k ≥ 1: how much of the targets' weight flows through each node."""
    norm = edges.normalised()
    total = np.zeros(edges.n_nodes)
    current = np.asarray(weights, dtype=np.float64)
    for _ in range(max_steps):
        current = np.bincount(edges.source, current[edges.target] * norm, minlength=edges.n_nodes)
        if not current.any():
            return total
        total += current
    raise GraphError("the graph has a cycle: influence did not converge")


def cumulative_rank(scores: np.ndarray, candidates: np.ndarray) -> np.ndarray:
    """For each candidate node, the share of total score held by it and every node above it
    (0 = most important end, 1 = least); non-candidates get 0."""
    out = np.zeros(len(scores))
    idx = np.nonzero(candidates)[0]
    if len(idx) == 0:
        return out
    order = idx[np.argsort(-scores[idx], kind="stable")]
    values = np.clip(scores[order], 0, None)
    total = values.sum()
    out[order] = np.cumsum(values) / total if total > 0 else np.linspace(0, 1, len(order))
    return out


@dataclass(frozen=True)
class Pruned:
    node_mask: np.ndarray
    edge_mask: np.ndarray
    influence: np.ndarray  # per node, before pruning
    rank: np.ndarray  # cumulative-share rank in [0, 1]; 0 for always-kept nodes


def prune(
    edges: Edges,
    weights: np.ndarray,
    prunable: np.ndarray,
    node_threshold: float = 0.8,
    edge_threshold: float = 0.98,
) -> Pruned:
    """Keep the prunable nodes (features, errors) holding ``node_threshold`` of the influence,
    then the edges holding ``edge_threshold`` of the edge score, then drop what dangles.
    Nodes that are not prunable (tokens, targets) always stay."""
    for name, value in (("node_threshold", node_threshold), ("edge_threshold", edge_threshold)):
        if not 0.0 < value <= 1.0:
            raise GraphError(f"{name} must be in (0, 1], got {value!r}")
    infl = influence(edges, weights)
    rank = cumulative_rank(infl, prunable)
    # A node is kept while the share *before* it is below the threshold (the crossing node stays).
    share_before = rank - np.where(prunable, np.clip(infl, 0, None), 0) / max(
        float(np.clip(infl[prunable], 0, None).sum()), 1e-300
    )
    node_mask = ~prunable | (share_before < node_threshold)
    alive = node_mask[edges.target] & node_mask[edges.source]
    kept = edges.subset(alive)
    infl_kept = influence(kept, weights) + weights
    score = kept.normalised() * infl_kept[kept.target]
    order = np.argsort(-score, kind="stable")
    total = score.sum()
    keep_sorted = (np.cumsum(score[order]) - score[order]) < edge_threshold * total
    edge_keep = np.zeros(len(score), dtype=bool)
    edge_keep[order[keep_sorted]] = True
    if total == 0:
        edge_keep[:] = False
    edge_mask = np.zeros(len(edges.weight), dtype=bool)
    edge_mask[np.nonzero(alive)[0][edge_keep]] = True
    # Drop prunable nodes left without outgoing edges (errors, features) or, for features,
    # without any way in; repeat until stable.
    while True:
        has_out = np.bincount(edges.source[edge_mask], minlength=edges.n_nodes) > 0
        new_mask = node_mask & (~prunable | has_out)
        edge_mask &= new_mask[edges.target] & new_mask[edges.source]
        if (new_mask == node_mask).all():
            break
        node_mask = new_mask
    return Pruned(node_mask, edge_mask, infl, rank)


def scores(edges: Edges, weights: np.ndarray, is_error: np.ndarray, is_token: np.ndarray):
    """(replacement, completeness) of a graph: how much of the targets' influence reaches the
    input tokens rather than error nodes, and how much of every node's input is explained."""
    infl = influence(edges, weights)
    tok, err = infl[is_token].sum(), infl[is_error].sum()
    replacement = float(tok / (tok + err)) if tok + err > 0 else float("nan")
    norm = edges.normalised()
    err_share = np.bincount(
        edges.target, np.where(is_error[edges.source], norm, 0.0), minlength=edges.n_nodes
    )
    has_input = np.bincount(edges.target, minlength=edges.n_nodes) > 0
    mass = (infl + weights) * has_input
    completeness = (
        float(((1 - err_share) * mass).sum() / mass.sum()) if mass.sum() > 0 else float("nan")
    )
    return replacement, completeness
