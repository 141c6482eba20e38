"""Live text probes: a typed text through the model and the SAE, every active feature per token."""

from __future__ import annotations

import numpy as np
import torch

from saewidgets.core.errors import SAEWidgetsError
from saewidgets.model.model import Model
from saewidgets.model.tokens import TokenDecoder
from saewidgets.sae.module import SAE
from saewidgets.widgets.serialization import index_dtype, pack

MAX_PROBE_TOKENS = 512
N_TOP = 24


class ProbeError(SAEWidgetsError, ValueError):
    """The typed text cannot be probed (empty, too long, ...); the message says why."""


def probe_text(model: Model, sae: SAE, site: str, text: str, decoder: TokenDecoder) -> dict:
    """Per-token activations of every feature for ``text`` (CSR, packed for the front end).

    The first position and BOS tokens are computed but reported as skipped with no
    activations: statistics and training leave them out too (an attention sink's activations
    would crowd out every real feature).
    """
    if not isinstance(text, str) or not text.strip():
        raise ProbeError("type some text to see which features fire on it")
    ids = model.encode(text)
    if len(ids) > MAX_PROBE_TOKENS:
        raise ProbeError(
            f"the text is {len(ids)} tokens long; the live box takes at most {MAX_PROBE_TOKENS} "
            "(use sw.trace and sw.TokenHeatmap for long documents)"
        )
    batch = torch.tensor([ids])
    acts = model.read_sites(batch, torch.ones_like(batch), [site])[site]
    with torch.no_grad():
        f = sae.encode(acts[0].to(device=sae.device, dtype=sae.dtype)).float().cpu()
    keep = model.content_mask(batch)[0]
    f[~keep] = 0
    rows, feats = (f > 0).nonzero(as_tuple=True)
    values = f[rows, feats].numpy()
    indptr = np.concatenate([[0], np.cumsum(np.bincount(rows.numpy(), minlength=len(ids)))])
    feats = feats.numpy()
    best = np.zeros(sae.d_sae, dtype=np.float32)
    np.maximum.at(best, feats, values)
    counts = np.bincount(feats, minlength=sae.d_sae)
    order = np.argsort(-best, kind="stable")[:N_TOP]
    return {
        "text": text,
        "tokens": decoder.texts(ids),
        "skipped": np.nonzero(~keep.numpy())[0].tolist(),
        "indptr": pack(indptr, "int32"),
        "indices": pack(feats, index_dtype(sae.d_sae)),
        "values": pack(values, "float32"),
        "top": [[int(g), float(best[g]), int(counts[g])] for g in order if best[g] > 0],
    }
