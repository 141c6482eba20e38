"""Per-document evaluation, and the shipped SAEs against the prose bar on held-out prose."""

from __future__ import annotations

import itertools

import pytest
import torch

import saewidgets as sw
from saewidgets.corpus.broad import broad

SITES = [f"blocks.{layer}.hook_resid_post" for layer in (3, 9, 15, 21, 27)]
# The bar of the issue "Features worth looking at": per held-out prose document, averaged.
EV_BAR, CE_BAR = 0.70, 0.92


def test_explained_variance_is_against_each_documents_own_mean(embedded_model):
    model = embedded_model
    sae = sw.load_sae("embedded", site=SITES[1])
    texts = [
        "The rain kept falling over the harbour while the fishermen mended their nets and "
        "talked about the price of bread, the storm of last winter and the new lighthouse.",
        "def add(a, b):\n    return a + b\n\nprint(add(2, 3))\n# prints five, as expected",
    ]
    report = sw.evaluate_documents(
        model, {SITES[1]: sae}, sw.corpus.from_texts(texts), progress=False
    )
    frame = report.documents
    assert list(frame["document"]) == [0, 1] and (frame["site"] == SITES[1]).all()
    # recompute the first document by hand
    ids = torch.tensor([model.tokenizer(texts[0], add_special_tokens=True)["input_ids"]])
    _, acts = model.run(ids, torch.ones_like(ids), read=[SITES[1]])
    keep = model.content_mask(ids)[0]
    x = acts[SITES[1]][0][keep].double()
    _, x_hat = sae.encode_decode(acts[SITES[1]])
    x_hat = x_hat[0][keep].double()
    expected = 1 - (x - x_hat).pow(2).sum() / (x - x.mean(0)).pow(2).sum()
    assert frame["explained_variance"].iloc[0] == pytest.approx(float(expected), abs=1e-4)
    assert frame["tokens"].iloc[0] == int(keep.sum())
    assert ((frame["ce_loss_recovered"] > 0) & (frame["ce_loss_recovered"] <= 1.2)).all()
    summary = report.summary()
    assert summary["documents"].iloc[0] == 2
    assert summary["explained_variance"].iloc[0] == pytest.approx(
        frame["explained_variance"].mean()
    )


def test_bad_arguments_say_what_is_allowed(embedded_model):
    sae = sw.load_sae("embedded", site=SITES[0])
    corpus = sw.corpus.from_texts(["short"])
    with pytest.raises(ValueError, match="n_documents must be a positive integer"):
        sw.evaluate_documents(embedded_model, [sae], corpus, n_documents=0)
    with pytest.raises(ValueError, match="max_tokens must be between 16"):
        sw.evaluate_documents(embedded_model, [sae], corpus, max_tokens=4)
    with pytest.raises(ValueError, match="16\\+ tokens"):
        sw.evaluate_documents(embedded_model, [sae], corpus, progress=False)


def test_shipped_saes_meet_the_prose_bar_on_held_out_prose(embedded_model):
    # Twelve held-out prose documents from sources never trained on (interleaved, so several
    # sources), first 128 tokens each; the bar is per document, averaged.
    docs = list(itertools.islice(broad("heldout"), 12))
    assert len({d.source for d in docs}) >= 4
    corpus = sw.corpus.from_texts([d.text for d in docs])
    saes = {site: sw.load_sae("embedded", site=site) for site in SITES}
    summary = sw.evaluate_documents(embedded_model, saes, corpus, progress=False).summary()
    by_site = summary.set_index("site")
    misses = [
        f"{site}: explained variance {row.explained_variance:.3f}, "
        f"CE-loss recovered {row.ce_loss_recovered:.3f}"
        for site, row in by_site.iterrows()
        if row.explained_variance < EV_BAR or row.ce_loss_recovered < CE_BAR
    ]
    assert not misses, "below the prose bar: " + "; ".join(misses)
    assert (by_site["l0"] <= 64.5).all()
