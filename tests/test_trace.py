"""sw.trace on tiny models: batching, chunking, queries and bad input."""

import numpy as np
import pytest
import torch
from tiny import tiny_model

import saewidgets as sw

SITE = "blocks.1.hook_resid_post"
DOCS = ["Hello there, world!", "A", "Tabs\tand\nnewlines <script>alert(1)</script>"]


@pytest.fixture(scope="module")
def model():
    return tiny_model("llama")


@pytest.fixture(scope="module")
def sae():
    return sw.SAE(32, 96, "topk", k=6, site=SITE, seed=0)


def test_batched_equals_one_at_a_time(model, sae):
    together = sw.trace(model, DOCS, sae, batch_size=3)
    for i, text in enumerate(DOCS):
        alone = sw.trace(model, text, sae)
        np.testing.assert_allclose(together.dense(i), alone.dense(0), rtol=1e-4, atol=1e-4)
        np.testing.assert_allclose(together.error_norm(i), alone.error_norm(0), rtol=1e-4)


def test_matches_a_direct_encode_of_the_site(model, sae):
    tr = sw.trace(model, DOCS[0], {SITE: sae})
    ids = torch.tensor([model.encode(DOCS[0])])
    x = model.read_sites(ids, torch.ones_like(ids), [SITE])[SITE][0]
    np.testing.assert_allclose(tr.dense(0), sae.encode(x).detach().numpy(), rtol=1e-5, atol=1e-5)
    err = (x - sae(x)).norm(dim=-1).detach().numpy()
    np.testing.assert_allclose(tr.error_norm(0), err, rtol=1e-5)
    assert tr.site_features[SITE].indptr[-1] == 6 * len(ids[0])  # exactly k per token


def test_long_documents_are_split_into_windows(model, sae):
    text = "abcdefghijklmnopqrstuvwxyz" * 3  # 78 byte tokens, context is 64
    tr = sw.trace(model, text, sae)
    assert len(tr.tokens[0]) == 78 and tr.window == 64
    tr5 = sw.trace(model, text, sae, window=5)
    head = sw.trace(model, text[:5], sae)
    np.testing.assert_allclose(tr5.dense(0)[:5], head.dense(0), rtol=1e-4, atol=1e-4)
    second = sw.trace(model, text[5:10], sae)  # each window starts fresh
    np.testing.assert_allclose(tr5.dense(0)[5:10], second.dense(0), rtol=1e-4, atol=1e-4)


def test_queries_agree_with_the_dense_matrix(model, sae):
    tr = sw.trace(model, DOCS, sae)
    dense = [tr.dense(i) for i in range(len(DOCS))]
    # a single token
    top = tr.top_features(doc=2, pos=4, k=3)
    row = dense[2][4]
    assert list(top.feature) == list(np.argsort(-row, kind="stable")[:3])
    np.testing.assert_allclose(top.activation, np.sort(row)[::-1][:3], rtol=1e-6)
    # a document: maximum over its tokens
    top_doc = tr.top_features(doc=0, k=4, content_only=False)
    best = dense[0].max(axis=0)
    assert set(top_doc.feature) == set(np.argsort(-best)[:4])
    for f, pos in zip(top_doc.feature, top_doc.pos, strict=True):
        assert dense[0][pos, f] == best[f]
    # everything
    top_all = tr.top_features(k=5, content_only=False)
    everything = np.concatenate(dense).max(axis=0)
    np.testing.assert_allclose(np.sort(top_all.activation)[::-1], np.sort(everything)[::-1][:5])
    for f, d, pos, n in top_all[["feature", "doc", "pos", "n_tokens"]].itertuples(index=False):
        assert dense[d][pos, f] == everything[f]
        assert n == sum(int((m[:, f] > 0).sum()) for m in dense)
    # one feature everywhere
    f = int(top_all.feature[0])
    for i, column in enumerate(tr.feature(f)):
        np.testing.assert_array_equal(column, dense[i][:, f])
    frame = tr.to_pandas()
    assert len(frame) == sum(int((m > 0).sum()) for m in dense)
    assert set(frame.columns) >= {"doc", "pos", "token", "feature", "activation"}


def test_tokens_keep_text_and_show_whitespace(model, sae):
    tr = sw.trace(model, DOCS[2], sae)
    assert "".join(tr.token_texts[0]) == DOCS[2]
    assert "⇥" in tr.tokens[0] and "↵" in tr.tokens[0]
    assert "<" in tr.tokens[0]  # markup stays text; escaping is the renderer's job


def test_several_sites_in_one_call(model):
    saes = {
        "blocks.0.hook_mlp_out": sw.SAE(32, 64, "relu", seed=1),
        "blocks.2.hook_resid_pre": sw.SAE(32, 64, "jumprelu", seed=2),
    }
    tr = sw.trace(model, DOCS[:2], saes)
    assert tr.sites == list(saes)
    single = sw.trace(model, DOCS[:2], {"blocks.2.hook_resid_pre": saes["blocks.2.hook_resid_pre"]})
    np.testing.assert_allclose(tr.dense(1, "blocks.2.hook_resid_pre"), single.dense(1), atol=1e-5)


@pytest.mark.parametrize(
    ("texts", "error", "message"),
    [
        ("", ValueError, "empty string"),
        ([], ValueError, "texts is empty"),
        (["ok", 3], TypeError, r"texts\[1\] is int"),
        (b"bytes", TypeError, "string or a list of strings"),
        (None, TypeError, "string or a list of strings"),
    ],
)
def test_bad_text(model, sae, texts, error, message):
    with pytest.raises(error, match=message):
        sw.trace(model, texts, sae)


def test_bad_sites_and_saes(model, sae):
    with pytest.raises(sw.SiteError, match=r"valid sites: blocks.\{0..2\}"):
        sw.trace(model, "hi", {"blocks.7.hook_resid_post": sae})
    with pytest.raises(sw.SAEConfigError, match="d_in=16, but that site .* 32 wide"):
        sw.trace(model, "hi", {SITE: sw.SAE(16, 32, "relu")})
    with pytest.raises(ValueError, match="has no site"):
        sw.trace(model, "hi", sw.SAE(32, 64, "relu"))
    with pytest.raises(TypeError, match="saes must be"):
        sw.trace(model, "hi", "blocks.1.hook_resid_post")


def test_bad_queries(model, sae):
    tr = sw.trace(model, DOCS[:2], sae)
    with pytest.raises(IndexError, match="feature 96 is out of range.*0..95"):
        tr.feature(96)
    with pytest.raises(IndexError, match="doc 5 is out of range: this trace has 2"):
        tr.top_features(doc=5)
    with pytest.raises(IndexError, match="pos 99 is out of range"):
        tr.top_features(doc=0, pos=99)
    with pytest.raises(ValueError, match="needs doc="):
        tr.top_features(pos=0)
    with pytest.raises(KeyError, match="not in this trace"):
        tr.dense(0, site="blocks.0.hook_resid_post")


def test_content_only_leaves_out_the_first_position_and_bos(model, sae):
    text = "abcdefghij" * 2  # 20 tokens; windows of 8 start at 0, 8 and 16
    every = sw.trace(model, text, sae, window=8)
    content = sw.trace(model, text, sae, window=8, content_only=True)
    assert every.content.tolist() == content.content.tolist()  # marked either way
    ids = torch.tensor(content.token_ids[0])
    expected = np.ones(len(ids), dtype=bool)
    expected[[0, 8, 16]] = False  # each window's first position
    expected &= (ids != model.tokenizer.bos_token_id).numpy()
    assert content.content.tolist() == expected.tolist()
    full, kept = every.dense(0), content.dense(0)
    assert not kept[~expected].any()  # nothing stored where positions were left out
    np.testing.assert_allclose(kept[expected], full[expected], rtol=1e-6)


def test_old_argument_name_warns_once_and_still_works(model, sae):
    import warnings

    from saewidgets.core import aliases

    aliases._warned.discard(("trace", "max_length"))
    message = r"trace\(max_length=...\) is deprecated; use window="
    with pytest.warns(DeprecationWarning, match=message) as record:
        old = sw.trace(model, DOCS[0], sae, max_length=5)
    assert record[0].filename == __file__  # points at the caller, so notebooks show it
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a second use is silent
        sw.trace(model, DOCS[0], sae, max_length=5)
    assert old.window == 5
    with pytest.raises(TypeError, match="both max_length= and window="):
        sw.trace(model, DOCS[0], sae, max_length=5, window=5)


def test_strongest_features_leave_out_the_first_position_by_default(model, sae):
    tr = sw.trace(model, DOCS, sae)
    dense = [tr.dense(i) for i in range(len(DOCS))]
    starts = tr.doc_offsets[:-1]
    assert not tr.content[starts].any()  # each document's first position is marked
    masked = [m[tr.content[a : a + len(m)]] for m, a in zip(dense, starts, strict=True)]
    top_all = tr.top_features(k=5)
    best = np.concatenate(masked).max(axis=0)
    np.testing.assert_allclose(top_all.activation, np.sort(best)[::-1][:5], rtol=1e-6)
    assert (top_all.pos > 0).all()
    top_doc = tr.top_features(doc=0, k=3)
    assert (top_doc.pos > 0).all()
    np.testing.assert_allclose(top_doc.activation, np.sort(masked[0].max(0))[::-1][:3])
    # a single token is shown whatever it is
    first = tr.top_features(doc=0, pos=0, k=2)
    assert list(first.activation) == sorted(dense[0][0], reverse=True)[:2]
