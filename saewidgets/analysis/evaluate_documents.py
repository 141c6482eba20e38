"""`sw.evaluate_documents`: SAE quality measured one document at a time.

Pooled metrics over a mixed sample flatter explained variance: the spread *between* documents
(code next to fiction) counts as variance the SAE "explains" by reproducing each document's
average. Here every document is its own run, its explained variance is taken against its own
mean, and the figures are averaged over documents, which is what a user tracing one text sees.
Positions: the first position and BOS/pad are left out and never spliced (`Model.content_mask`).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import pandas as pd
import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from saewidgets.analysis.evaluate import ce_loss_recovered, spliced_and_zeroed
from saewidgets.analysis.inputs import SAEInput
from saewidgets.analysis.sae_inputs import saes_by_site
from saewidgets.corpus import Corpus
from saewidgets.model.model import Model

_MIN_TOKENS = 16  # shorter documents say little about a site's variance


@dataclass
class DocumentReport:
    """``documents``: one row per (site, document); ``summary()``: one row per site."""

    documents: pd.DataFrame

    def summary(self) -> pd.DataFrame:
        frame = self.documents
        grouped = frame.groupby("site", sort=False)
        out = grouped.agg(
            documents=("document", "nunique"),
            tokens=("tokens", "sum"),
            explained_variance=("explained_variance", "mean"),
            explained_variance_median=("explained_variance", "median"),
            ce_loss_recovered=("ce_loss_recovered", "mean"),
            l0=("l0", "mean"),
        )
        # Also the recovered fraction of the summed losses (less sensitive to easy documents).
        sums = grouped[["ce_clean", "ce_spliced", "ce_zero"]].sum()
        out["ce_loss_recovered_pooled"] = [
            ce_loss_recovered(r.ce_clean, r.ce_spliced, r.ce_zero) for r in sums.itertuples()
        ]
        return out.reset_index()

    def _repr_html_(self) -> str:
        return self.summary().to_html(index=False, float_format=lambda v: f"{v:.3f}")


def _next_token_nll(logits: torch.Tensor, ids: torch.Tensor) -> float:
    """Summed loss of the predictions made at positions ≥ 1 (where splicing acts)."""
    logp = F.log_softmax(logits[0, 1:-1].double(), -1)
    return float(-logp.gather(-1, ids[0, 2:].unsqueeze(-1)).sum())


def evaluate_documents(
    model: Model,
    saes: SAEInput,
    corpus: Corpus,
    *,
    n_documents: int = 64,
    max_tokens: int = 128,
    progress: bool = True,
) -> DocumentReport:
    """Evaluate each SAE of ``saes`` on the first ``n_documents`` documents of ``corpus`` (each
    cut to its first ``max_tokens`` tokens; documents under 16 tokens are skipped).

    Per document and site: explained variance against the document's own mean, L0, and
    CE-loss recovered (1 = splicing the SAE in costs nothing, 0 = as bad as zeroing the site).
    """
    if isinstance(n_documents, bool) or not isinstance(n_documents, int) or n_documents < 1:
        raise ValueError(f"n_documents must be a positive integer, got {n_documents!r}")
    if not _MIN_TOKENS <= max_tokens <= model.context_length:
        raise ValueError(
            f"max_tokens must be between {_MIN_TOKENS} and the model's context "
            f"({model.context_length}), got {max_tokens!r}"
        )
    by_site = saes_by_site(saes, model)
    reads = list(
        dict.fromkeys(s for site, sae in by_site.items() for s in (site, sae.site_out or site))
    )
    rows = []
    docs = itertools.islice(corpus, n_documents)
    for index, doc in enumerate(
        tqdm(docs, total=n_documents, desc="documents", disable=not progress)
    ):
        ids = model.tokenizer(doc.text, add_special_tokens=True)["input_ids"][:max_tokens]
        if len(ids) < _MIN_TOKENS:
            continue
        ids = torch.tensor([ids])
        mask = torch.ones_like(ids)
        clean, acts = model.run(ids, mask, read=reads)
        keep = model.content_mask(ids)[0].to(clean.device)
        ce_clean = _next_token_nll(clean, ids)
        for site, sae in by_site.items():
            rows.append(
                {"site": sae.site_out or site, "document": index, "source": doc.source,
                 "tokens": int(keep.sum()), "ce_clean": ce_clean,
                 **_site_scores(model, sae, site, acts, keep, ids, mask)}
            )  # fmt: skip
    if not rows:
        raise ValueError(f"none of the first {n_documents} documents has {_MIN_TOKENS}+ tokens")
    frame = pd.DataFrame(rows)
    frame["ce_loss_recovered"] = [
        ce_loss_recovered(r.ce_clean, r.ce_spliced, r.ce_zero) for r in frame.itertuples()
    ]
    return DocumentReport(frame)


def _site_scores(model, sae, site, acts, keep, ids, mask) -> dict:
    out_site = sae.site_out or site
    with torch.no_grad():
        features, x_hat = sae.encode_decode(acts[site])
    x = acts[out_site][0][keep].double()
    err = (x - x_hat[0][keep].double()).pow(2).sum()
    var = (x - x.mean(0)).pow(2).sum().clamp_min(1e-12)
    spliced, zeroed = spliced_and_zeroed(model, ids, mask, out_site, x_hat)
    return {
        "explained_variance": float(1 - err / var),
        "l0": float((features[0][keep] > 0).sum(-1).double().mean()),
        "ce_spliced": _next_token_nll(spliced, ids),
        "ce_zero": _next_token_nll(zeroed, ids),
    }
