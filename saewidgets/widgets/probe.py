"""Live text probes: typed text through `sw.trace`, every active feature per token for the view."""

from __future__ import annotations

import numpy as np

from saewidgets.analysis.trace import trace
from saewidgets.core.errors import SAEWidgetsError
from saewidgets.model.model import Model
from saewidgets.sae.module import SAE
from saewidgets.widgets.serialization import pack_site_features

MAX_PROBE_TOKENS = 512
N_TOP = 24


class ProbeError(SAEWidgetsError, ValueError):
    """The typed text cannot be probed (empty, too long, ...); the message says why."""


def probe_text(model: Model, sae: SAE, site: str, text: str) -> dict:
    """The live box's payload: tokens, skipped positions, the CSR of activations, top features.

    The first position and BOS tokens are left out (``content_only``), as statistics and
    training leave them out: an attention sink's activations would crowd out every real
    feature.
    """
    if not isinstance(text, str) or not text.strip():
        raise ProbeError("type some text to see which features fire on it")
    n = len(model.encode(text))
    if n > MAX_PROBE_TOKENS:
        raise ProbeError(
            f"the text is {n} tokens long; the live box takes at most {MAX_PROBE_TOKENS} "
            "(use sw.trace and sw.TokenHeatmap for long documents)"
        )
    tr = trace(model, text, {site: sae}, content_only=True, progress=False)
    sf = tr.site_features[site]
    top = tr.top_features(doc=0, k=N_TOP, site=site) if len(sf.indices) else None
    rows = [] if top is None else top[top.activation > 0].itertuples()
    return {
        "text": text,
        "tokens": tr.token_texts[0],
        "skipped": np.nonzero(~tr.content)[0].tolist(),
        "csr": pack_site_features(sf),
        "top": [[int(r.feature), float(r.activation), int(r.n_tokens)] for r in rows],
    }
