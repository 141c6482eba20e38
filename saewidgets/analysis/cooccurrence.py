"""Which features fire on the same tokens: per feature, its most co-active features by Jaccard
index (tokens where both fire / tokens where either fires).

Two ways to count, chosen by SAE width, with the same result:

- up to `DENSE_LIMIT_BYTES` of int32 counts (d_sae ≲ 11k), a d × d table is filled batch by
  batch during the pass, one increment per unordered pair of features on a token;
- wider SAEs (Gemma Scope's 16k–1M) would need gigabytes for that table, so their pairs are
  counted after the pass from the per-token CSR, one block of features at a time, in memory
  bounded by `BLOCK_ENTRIES`. That counts each pair from both ends, so it is about twice the
  work, and only the wide SAEs pay it.
"""

from __future__ import annotations

import numpy as np
import torch

DENSE_LIMIT_BYTES = 512 * 2**20
BLOCK_ENTRIES = 2**24  # counts (and Jaccard values) held at once when working in blocks


class CooccurrenceCounter:
    """Feed it each batch's hits (`add`); ask for each feature's most co-active features
    (`related`) at the end with the per-token CSR of the whole pass."""

    def __init__(self, d_sae: int, dense_limit_bytes: int = DENSE_LIMIT_BYTES) -> None:
        self.d = d_sae
        self.dense = d_sae * d_sae * 4 <= dense_limit_bytes
        # Upper triangle only: the pair (a, b) with a < b is counted at a * d + b.
        self._pairs = torch.zeros(d_sae * d_sae if self.dense else 0, dtype=torch.int32)

    def add(self, rows: torch.Tensor, feats: torch.Tensor, per_row: torch.Tensor) -> None:
        """One batch's hits: ``rows`` (sorted), ``feats`` (ascending within each row) and the
        number of hits on each row of the batch."""
        if not self.dense or len(rows) == 0:
            return
        d, n_rows = self.d, len(per_row)
        width = int(per_row.max())
        slot = torch.arange(len(rows)) - (torch.cumsum(per_row, 0) - per_row)[rows]
        # Each token's features in a row, padded with d, which sorts after every real feature.
        table = torch.full((n_rows, width), d, dtype=torch.int32)  # d * d < 2**31 here
        table[rows, slot] = feats.to(torch.int32)
        first, second = torch.triu_indices(width, width, 1)
        low, high = table[:, first].reshape(-1), table[:, second].reshape(-1)
        real = high < d  # padding can only be the later element of a pair
        key = low[real] * d + high[real]
        self._pairs.index_add_(0, key, torch.ones_like(key))

    def related(
        self, indptr: np.ndarray, indices: np.ndarray, n_related: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """``[d, n_related]`` feature ids and Jaccard indices, strongest first."""
        d = self.d
        n = min(n_related, d - 1)
        fires = torch.bincount(torch.from_numpy(np.asarray(indices)).long(), minlength=d)
        fires = fires.double()
        ids = torch.empty(d, n, dtype=torch.int32)
        values = torch.empty(d, n, dtype=torch.float32)
        block = max(1, min(d, BLOCK_ENTRIES // d))
        counts = self._dense_rows if self.dense else _sparse_rows(indptr, indices, d)
        for start in range(0, d, block):
            stop = min(d, start + block)
            co = counts(start, stop)
            jaccard = co / (fires[start:stop, None] + fires[None, :] - co).clamp_min(1)
            jaccard[torch.arange(stop - start), torch.arange(start, stop)] = -1  # not itself
            top = torch.topk(jaccard, n, dim=1)
            ids[start:stop] = top.indices.to(torch.int32)
            values[start:stop] = top.values.float()
        return ids.numpy(), values.numpy()

    def _dense_rows(self, start: int, stop: int) -> torch.Tensor:
        table = self._pairs.view(self.d, self.d)
        # Row f's pairs are stored as (f, later) in row f and as (earlier, f) in column f.
        return (table[start:stop] + table[:, start:stop].T).double()


def _sparse_rows(indptr: np.ndarray, indices: np.ndarray, d: int):
    """Counts for a block of features from the CSR: for every hit of a feature in the block,
    one increment for each feature on the same token."""
    offsets = torch.from_numpy(np.asarray(indptr)).long()
    feats = torch.from_numpy(np.asarray(indices)).long()
    per_token = torch.diff(offsets)
    token_of_hit = torch.repeat_interleave(torch.arange(len(per_token)), per_token)
    order = torch.argsort(feats, stable=True)  # hits grouped by feature
    bounds = torch.searchsorted(feats[order], torch.arange(d + 1))
    widest = int(per_token.max()) if len(per_token) else 1
    chunk = max(1, BLOCK_ENTRIES // max(1, widest))

    def rows(start: int, stop: int) -> torch.Tensor:
        counts = torch.zeros((stop - start) * d, dtype=torch.int32)
        hits = order[bounds[start] : bounds[stop]]
        for a in range(0, len(hits), chunk):  # bounded memory for the expanded pairs
            hit = hits[a : a + chunk]
            token = token_of_hit[hit]
            length = per_token[token]
            owner = torch.repeat_interleave(feats[hit] - start, length)
            within = torch.arange(int(length.sum())) - torch.repeat_interleave(
                torch.cumsum(length, 0) - length, length
            )
            partner = feats[torch.repeat_interleave(offsets[token], length) + within]
            key = owner * d + partner
            counts.index_add_(0, key, torch.ones_like(key, dtype=torch.int32))
        return counts.view(stop - start, d).double()

    return rows
