"""Mutual-information tokens: which tokens (at the position, or just after it) tell the most
about whether a feature fires, so that frequent tokens stop crowding out the telling ones.

For feature f and token t over the statistics sample, X = "f fires here" and Y = "the token here
(or next) is t" are two binary variables; their mutual information, in bits, is large when the
feature fires mostly on t *and* t is mostly where it fires. A token that merely co-occurs often
because it is everywhere (a space, "the") scores little. Only positively associated tokens are
kept (firing more often on t than elsewhere). One vectorised pass covers every feature: the
(feature, token) pairs of the sample's activations are counted with `np.unique`.
"""

from __future__ import annotations

import numpy as np

N_MI = 8  # tokens kept per feature and kind


def mutual_information_tokens(
    token_ids: np.ndarray, indptr: np.ndarray, indices: np.ndarray, d_sae: int, n: int = N_MI
) -> dict[str, np.ndarray]:
    """``{"mi_ids", "mi_values", "mi_next_ids", "mi_next_values"}``, each ``[d_sae, n]`` (ids
    -1 and values 0 past a feature's last token), from the windows and the CSR of activations
    over their flat positions (a window's first position is never content and is skipped)."""
    n_windows, window = token_ids.shape
    flat = token_ids.reshape(-1).astype(np.int64)
    col = np.tile(np.arange(window), n_windows)
    rows = np.repeat(np.arange(flat.size), np.diff(indptr))
    feats = indices.astype(np.int64)
    vocab = int(flat.max(initial=0)) + 1
    out = {}
    for kind, shift in (("mi", 0), ("mi_next", 1)):
        # positions that count: content (not a window's first) with a token at the shift
        valid = (col > 0) & (col + shift < window)
        tok = np.full(flat.size, -1, dtype=np.int64)
        tok[valid] = flat[np.nonzero(valid)[0] + shift]
        total = int(valid.sum())
        n_t = np.bincount(tok[valid], minlength=vocab).astype(np.float64)
        hit_ok = valid[rows]
        f, t = feats[hit_ok], tok[rows[hit_ok]]
        n_f = np.bincount(f, minlength=d_sae).astype(np.float64)
        keys, n_ft = np.unique(f * vocab + t, return_counts=True)
        pf, pt = keys // vocab, keys % vocab
        mi = _binary_mi(n_ft.astype(np.float64), n_f[pf], n_t[pt], max(total, 1))
        positive = n_ft * total > n_f[pf] * n_t[pt]  # fires more often on t than elsewhere
        pf, pt, mi = pf[positive], pt[positive], mi[positive]
        order = np.lexsort((-mi, pf))  # by feature, best first
        pf, pt, mi = pf[order], pt[order], mi[order]
        starts = np.searchsorted(pf, np.arange(d_sae))
        rank = np.arange(len(pf)) - starts[pf]
        take = rank < n
        ids = np.full((d_sae, n), -1, dtype=np.int32)
        values = np.zeros((d_sae, n), dtype=np.float32)
        ids[pf[take], rank[take]] = pt[take]
        values[pf[take], rank[take]] = mi[take]
        out[f"{kind}_ids"], out[f"{kind}_values"] = ids, values
    return out


def _binary_mi(n11: np.ndarray, n1_: np.ndarray, n_1: np.ndarray, total: int) -> np.ndarray:
    """Mutual information in bits of two binary variables from their joint and marginal counts."""
    n10, n01 = n1_ - n11, n_1 - n11
    n00 = total - n11 - n10 - n01
    mi = np.zeros_like(n11)
    for joint, a, b in (
        (n11, n1_, n_1),
        (n10, n1_, total - n_1),
        (n01, total - n1_, n_1),
        (n00, total - n1_, total - n_1),
    ):
        ok = joint > 0
        mi[ok] += joint[ok] / total * np.log2(joint[ok] * total / (a[ok] * b[ok]))
    return mi
