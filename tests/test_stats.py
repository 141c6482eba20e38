"""sw.feature_stats on a tiny model, checked against brute force on the same windows."""

import numpy as np
import pytest
import torch
from tiny import tiny_model

import saewidgets as sw
from saewidgets.analysis.stats import FeatureStats, StatsMismatch, feature_stats

SITE = "blocks.1.hook_resid_post"
CORPUS = sw.corpus.from_texts(
    [
        f"Item {i}: the {['red', 'blue', 'green'][i % 3]} box holds {i % 11} stones."
        for i in range(120)
    ]
)


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    model = tiny_model("llama", seed=5)
    sae = sw.SAE(32, 40, "topk", k=5, site=SITE, seed=2)
    stats = feature_stats(
        model,
        sae,
        CORPUS,
        n_tokens=1500,
        window=32,
        batch_windows=4,
        cache=tmp_path_factory.mktemp("stats"),
        progress=False,
    )
    ids = torch.from_numpy(stats.token_ids.astype(np.int64))
    acts = model.read_sites(ids, torch.ones_like(ids), [SITE])[SITE]
    dense = sae.encode(acts.reshape(-1, 32)).detach().numpy()
    dense[~model.content_mask(ids).reshape(-1).numpy()] = 0
    return model, sae, stats, dense


def test_counts_and_extremes_match_brute_force(setup):
    _, _, stats, dense = setup
    active = dense > 0
    n_content = stats.n_tokens
    np.testing.assert_allclose(stats.density, active.sum(0) / n_content, rtol=1e-6)
    np.testing.assert_allclose(stats.max_activation, dense.max(0), rtol=1e-5)
    mean = np.where(active.sum(0) > 0, dense.sum(0) / np.maximum(active.sum(0), 1), 0)
    np.testing.assert_allclose(stats.mean_active, mean, rtol=1e-4)
    assert (stats.hist_counts.sum(1) == active.sum(0)).all()


def test_top_examples_are_the_strongest_hits(setup):
    _, _, stats, dense = setup
    f = int(np.argmax(stats.density))
    order = np.argsort(-dense[:, f], kind="stable")
    expected = dense[order[: stats.top_positions.shape[1]], f]
    got = stats.top_values[f][: len(expected)]
    np.testing.assert_allclose(got, expected[expected > 0][: len(got)], rtol=1e-5)
    first = stats.top_examples(f, n=1)[0]
    assert first["values"][first["focus"]] == pytest.approx(dense[:, f].max(), rel=2e-3)
    row, col = divmod(int(stats.top_positions[f][0]), stats.window)
    assert first["token_ids"][first["focus"]] == int(stats.token_ids[row, col])


def test_quantile_examples_cover_the_range(setup):
    _, _, stats, dense = setup
    f = int(np.argmax(stats.density))
    groups = stats.quantile_examples(f, n_bins=5, per_bin=3)
    assert groups and groups[0]["bin"][1] == pytest.approx(float(dense[:, f].max()), rel=2e-3)
    assert sum(g["count"] for g in groups) == int((dense[:, f] > 0).sum())
    for g in groups:
        lo, hi = g["bin"]
        for ex in g["examples"]:
            assert lo - 1e-2 <= ex["values"][ex["focus"]] <= hi + 1e-2


def test_related_features(setup):
    _model, sae, stats, dense = setup
    active = (dense > 0).astype(np.float64)
    co = active.T @ active
    diag = np.diag(co)
    jac = co / np.maximum(diag[:, None] + diag[None, :] - co, 1)
    np.fill_diagonal(jac, -1)
    f = int(np.argmax(stats.density))
    np.testing.assert_allclose(stats.cooccur_values[f], np.sort(jac[f])[::-1][:12], rtol=1e-6)
    unit = sae.W_dec.detach() / sae.W_dec.detach().norm(dim=1, keepdim=True)
    cos = (unit @ unit.T).numpy()
    np.fill_diagonal(cos, -2)
    assert list(stats.neighbour_ids[f]) == list(np.argsort(-cos[f], kind="stable")[:12])


def test_vocab_projection(setup):
    model, sae, stats, _ = setup
    norm = model.hf_model.model.norm.weight.detach()
    logits = (sae.W_dec.detach() * norm) @ model.hf_model.lm_head.weight.detach().T
    f = 7
    assert list(stats.vocab_top_ids[f]) == list(torch.topk(logits[f], 12).indices.numpy())
    assert list(stats.vocab_bottom_ids[f]) == list(torch.topk(-logits[f], 12).indices.numpy())
    assert stats.logit_hist_counts[f].sum() == model.vocab_size


def test_cached_second_call_and_damaged_cache(setup, tmp_path):
    model, sae, _, _ = setup
    first = feature_stats(
        model, sae, CORPUS, n_tokens=600, window=32, cache=tmp_path, progress=False
    )
    stamp = (tmp_path / "density.npy").stat().st_mtime_ns
    again = feature_stats(
        model, sae, CORPUS, n_tokens=600, window=32, cache=tmp_path, progress=False
    )
    assert (tmp_path / "density.npy").stat().st_mtime_ns == stamp  # read, not rebuilt
    np.testing.assert_array_equal(again.density, first.density)
    (tmp_path / "indptr.npy").write_bytes(b"garbage")
    rebuilt = feature_stats(
        model, sae, CORPUS, n_tokens=600, window=32, cache=tmp_path, progress=False
    )
    np.testing.assert_array_equal(rebuilt.density, first.density)
    assert isinstance(FeatureStats.load(tmp_path), FeatureStats)


def test_bad_input(setup):
    model, sae, stats, _ = setup
    with pytest.raises(IndexError, match="feature 40 is out of range.*0..39"):
        stats.top_examples(40)
    stats.check_sae(sae)
    with pytest.raises(StatsMismatch, match="different SAE"):
        stats.check_sae(sw.SAE(32, 40, "topk", k=5, site=SITE, seed=3))
    with pytest.raises(ValueError, match="no site"):
        feature_stats(model, sw.SAE(32, 40, "relu"), CORPUS, n_tokens=100, cache=False)


def test_sae_fingerprint_follows_weight_changes():
    """The fingerprint is cached per SAE, but any edit of its weights must change it."""
    import torch

    from saewidgets.analysis.stats import sae_fingerprint

    sae = sw.SAE(16, 32, "topk", k=4, site="blocks.1.hook_resid_post", seed=0)
    first = sae_fingerprint(sae)
    assert sae_fingerprint(sae) == first
    with torch.no_grad():
        sae.W_dec[0, 0] += 1  # in place
    edited = sae_fingerprint(sae)
    assert edited != first
    sae.W_enc.data = sae.W_enc.data.clone() * 2  # a replaced tensor
    replaced = sae_fingerprint(sae)
    assert replaced not in (first, edited)
    sae.k = 8  # a setting, no weight change
    assert sae_fingerprint(sae) != replaced


def test_default_cache_is_keyed_by_content_not_names(setup, tmp_path, monkeypatch):
    """Two corpora with the same name, or two checkpoints of one architecture, must not share
    cached statistics: the key hashes the windows read and the model's weights."""
    monkeypatch.setenv("SAEWIDGETS_CACHE", str(tmp_path))
    model, sae, _, _ = setup
    run = lambda m, texts: feature_stats(  # noqa: E731
        m, sae, sw.corpus.from_texts(texts), n_tokens=300, window=32, progress=False
    )
    first = run(model, [f"alpha {i} beta gamma delta." for i in range(40)])
    other_text = run(model, [f"zeta {i}; eta theta iota!" for i in range(40)])
    assert first.corpus_name == other_text.corpus_name == "texts"
    assert first.corpus_hash != other_text.corpus_hash
    assert not np.array_equal(first.token_ids, other_text.token_ids)
    other_model = tiny_model("llama", seed=6)  # same name and config, other weights
    assert other_model.name == model.name and other_model.fingerprint() != model.fingerprint()
    retrained = run(other_model, [f"alpha {i} beta gamma delta." for i in range(40)])
    assert retrained.model_hash != first.model_hash
    assert not np.array_equal(retrained.density, first.density)
    again = run(model, [f"alpha {i} beta gamma delta." for i in range(40)])
    np.testing.assert_array_equal(again.density, first.density)
    assert len(list((tmp_path / "stats").iterdir())) == 3  # one entry per distinct input


def test_explicit_cache_folder_is_rebuilt_for_another_sae(setup, tmp_path):
    model, sae, _, _ = setup
    other = sw.SAE(32, 40, "topk", k=5, site=SITE, seed=9)
    kwargs = dict(n_tokens=300, window=32, cache=tmp_path, progress=False)
    feature_stats(model, sae, CORPUS, **kwargs)
    rebuilt = feature_stats(model, other, CORPUS, **kwargs)
    rebuilt.check_sae(other)
    assert FeatureStats.load(tmp_path).sae_hash == rebuilt.sae_hash
    with pytest.warns(UserWarning, match="another model"):
        rebuilt.check_sae(other, tiny_model("llama", seed=7))
    # A rebuild that fails (here: not enough text) leaves the saved statistics as they were.
    with pytest.raises(sw.corpus.CorpusTooSmall):
        feature_stats(model, sae, CORPUS, **{**kwargs, "n_tokens": 10**7})
    assert FeatureStats.load(tmp_path).sae_hash == rebuilt.sae_hash


def test_wide_sae_cooccurrence_path_matches_the_dense_table(setup, monkeypatch):
    """SAEs too wide for a d × d table count pairs from the CSR in blocks: same answer."""
    from saewidgets.analysis import cooccurrence

    _, _, stats, dense = setup
    monkeypatch.setattr(cooccurrence, "BLOCK_ENTRIES", 7 * stats.d_sae)  # several blocks, chunks
    counter = cooccurrence.CooccurrenceCounter(stats.d_sae, dense_limit_bytes=0)
    assert not counter.dense
    ids, values = counter.related(stats.indptr, stats.indices, 12)
    active = (dense > 0).astype(np.float64)
    co = active.T @ active
    diag = np.diag(co)
    jac = co / np.maximum(diag[:, None] + diag[None, :] - co, 1)
    np.fill_diagonal(jac, -1)
    np.testing.assert_allclose(values, -np.sort(-jac, axis=1)[:, :12], rtol=1e-6)
    np.testing.assert_array_equal(values, stats.cooccur_values)
    picked = np.take_along_axis(jac, ids.astype(np.int64), axis=1)
    np.testing.assert_allclose(picked, values, rtol=1e-6)  # ids point at those values


def test_a_corpus_without_identity_keys_on_the_windows_it_yields(setup, tmp_path, monkeypatch):
    """A hand-made Corpus (here an endless generator) cannot be hashed up front: statistics
    key on the windows actually read, so different text never shares an entry."""
    import itertools

    monkeypatch.setenv("SAEWIDGETS_CACHE", str(tmp_path))
    model, sae, _, _ = setup

    def endless(word):
        return sw.corpus.Corpus(
            lambda: (sw.corpus.Document(f"{word} {i}.", "gen") for i in itertools.count()),
            "generated",
        )

    run = lambda c: feature_stats(model, sae, c, n_tokens=300, window=32, progress=False)  # noqa: E731
    first, other = run(endless("alpha")), run(endless("omega"))
    assert first.corpus_name == other.corpus_name and first.corpus_hash != other.corpus_hash
    again = run(endless("alpha"))
    assert again.corpus_hash == first.corpus_hash
    assert len(list((tmp_path / "stats").iterdir())) == 2
