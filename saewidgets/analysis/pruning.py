"""PruningMaxAct: the core of a top example, the shortest span ending at its strongest token
that still makes the feature fire at (by default) 80 % of what the whole window did.

A top example shows the tokens around the maximum, but most of them may not matter. Cutting
the window's start away until the activation drops says which do. The spans tried have
geometric lengths (2, 3, 4, 6, 8, 12, ... tokens, then the whole prefix), all the examples of one
feature and all their spans in a few batched forward passes; the shortest span that keeps the
activation wins. The first token of each span stands where the window's first token stood (an
attention sink), as in the statistics pass.
"""

from __future__ import annotations

import numpy as np
import torch

from saewidgets.analysis.stats import FeatureStats
from saewidgets.model.model import Model
from saewidgets.sae.module import SAE

KEEP = 0.8
LENGTHS = (2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 96)


@torch.no_grad()
def prune_examples(
    model: Model,
    sae: SAE,
    stats: FeatureStats,
    feature: int,
    n: int = 10,
    keep: float = KEEP,
    batch_size: int = 32,
) -> list[dict]:
    """For each of the feature's top ``n`` examples, in the order the dashboard shows them:
    ``{"length": tokens in the core (ending at the maximum), "kept": the core's activation
    as a fraction of the whole prefix's, "full": the whole prefix's activation}``."""
    if not 0 < keep <= 1:
        raise ValueError(f"keep must be a fraction in (0, 1], got {keep}")
    feature = stats.check_feature(feature)
    positions = [int(p) for p in stats.top_positions[feature] if p >= 0][:n]
    jobs = []  # (example, length, token ids ending at the maximum)
    for e, flat in enumerate(positions):
        row, col = divmod(flat, stats.window)
        prefix = stats.token_ids[row, : col + 1]
        lengths = [m for m in LENGTHS if m < len(prefix)] + [len(prefix)]
        jobs += [(e, m, prefix[len(prefix) - m :]) for m in lengths]
    values = _last_token_activations(model, sae, stats.site, feature, jobs, batch_size)
    out = []
    for e in range(len(positions)):
        tried = sorted((m, v) for (j, m, _), v in zip(jobs, values, strict=True) if j == e)
        full = tried[-1][1]
        length, kept = tried[-1][0], 1.0
        if full > 0:
            for m, v in tried:
                if v >= keep * full:
                    length, kept = m, v / full
                    break
        out.append({"length": int(length), "kept": round(float(kept), 3), "full": float(full)})
    return out


def _last_token_activations(model, sae, site, feature, jobs, batch_size) -> list[float]:
    """The feature's activation at the last token of each job's ids (shortest first, batched)."""
    order = sorted(range(len(jobs)), key=lambda i: len(jobs[i][2]))
    values = [0.0] * len(jobs)
    pad = model.tokenizer.pad_token_id or 0
    for start in range(0, len(order), batch_size):
        batch = order[start : start + batch_size]
        longest = max(len(jobs[i][2]) for i in batch)
        ids = torch.full((len(batch), longest), pad, dtype=torch.long)
        mask = torch.zeros_like(ids)
        for row, i in enumerate(batch):
            seq = torch.as_tensor(np.asarray(jobs[i][2], dtype=np.int64))
            ids[row, : len(seq)] = seq
            mask[row, : len(seq)] = 1
        acts = model.read_sites(ids, mask, [site])[site]
        last = mask.sum(1) - 1
        x = acts[torch.arange(len(batch)), last.to(acts.device)]
        f = sae.encode(x.to(sae.W_enc.dtype))[:, feature].float().cpu().tolist()
        for row, i in enumerate(batch):
            values[i] = f[row]
    return values
