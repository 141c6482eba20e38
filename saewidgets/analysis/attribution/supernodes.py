"""Suggested supernodes: groups of a graph's features that likely stand for one thing.

Two features are joined when they are one feature at two positions, when they carry the same
label (wherever they sit), or when they sit
at the same token position and their decoder directions point the same way (cosine at least
``min_cosine``; residual SAEs and transcoders all write into the residual stream, so
directions of different layers compare). Groups are the connected components of those links,
strongest first (by the best influence rank among their members). Pure numpy: the view passes
labels and directions in.
"""

from __future__ import annotations

from collections import Counter

import numpy as np


def _find(parent: list[int], i: int) -> int:
    while parent[i] != i:
        parent[i] = parent[parent[i]]
        i = parent[i]
    return i


def suggest_groups(
    candidates: np.ndarray,
    labels: list[str],
    positions: np.ndarray,
    ranks: np.ndarray,
    directions: np.ndarray | None = None,
    *,
    identities: list[str] | None = None,
    min_cosine: float = 0.6,
    max_groups: int = 8,
) -> list[list[int]]:
    """Groups (lists of node indices, best first) among ``candidates`` (node indices).

    ``labels``, ``positions``, ``ranks``: per node of the graph; ``identities``: per node, a
    key naming the feature itself (one feature at several positions is one thing);
    ``directions``: one row per candidate (its decoder direction), or None to group by label
    and identity only."""
    n = len(candidates)
    parent = list(range(n))
    for keys in (labels, identities):
        if keys is None:
            continue
        first: dict[str, int] = {}
        for k, node in enumerate(candidates):
            text = (keys[node] or "").strip().lower()
            if not text:
                continue
            if text in first:
                parent[_find(parent, k)] = _find(parent, first[text])
            else:
                first[text] = k
    if directions is not None and n > 1:
        unit = directions / np.maximum(np.linalg.norm(directions, axis=1, keepdims=True), 1e-12)
        cos = unit @ unit.T
        pos = positions[candidates]
        close = (cos >= min_cosine) & (pos[:, None] == pos[None, :])
        for a, b in zip(*np.nonzero(np.triu(close, 1)), strict=True):
            parent[_find(parent, int(a))] = _find(parent, int(b))
    members: dict[int, list[int]] = {}
    for k in range(n):
        members.setdefault(_find(parent, k), []).append(int(candidates[k]))
    groups = [sorted(m, key=lambda i: ranks[i]) for m in members.values() if len(m) >= 2]
    groups.sort(key=lambda m: ranks[m[0]])
    return groups[:max_groups]


def group_label(members: list[int], labels: list[str], name_of) -> str:
    """The most common label among the members; else named after the strongest member."""
    texts = [labels[i].strip() for i in members if labels[i] and labels[i].strip()]
    if texts:
        return Counter(texts).most_common(1)[0][0]
    return f"{name_of(members[0])} and {len(members) - 1} alike"
