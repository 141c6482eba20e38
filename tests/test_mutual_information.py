"""Mutual-information tokens on hand-built activations: the telling token beats the frequent
one, next tokens are read one position on, first positions never count, and compact
statistics keep what full ones computed."""

from __future__ import annotations

import numpy as np
import pytest

from saewidgets.analysis.mutual_information import _binary_mi, mutual_information_tokens


def _csr(n_pos: int, hits: dict[int, list[int]]):
    """CSR over flat positions from {position: [features]}."""
    counts = np.zeros(n_pos, dtype=np.int64)
    cols = []
    for pos in range(n_pos):
        feats = hits.get(pos, [])
        counts[pos] = len(feats)
        cols += feats
    return np.concatenate([[0], np.cumsum(counts)]), np.array(cols, dtype=np.int32)


def test_binary_mi_matches_the_definition():
    # X and Y identical and balanced: one bit; independent: zero
    assert _binary_mi(np.array([50.0]), np.array([50.0]), np.array([50.0]), 100)[0] == (
        pytest.approx(1.0)
    )
    assert _binary_mi(np.array([25.0]), np.array([50.0]), np.array([50.0]), 100)[0] == (
        pytest.approx(0.0, abs=1e-12)
    )


def test_the_telling_token_beats_the_frequent_one():
    rng = np.random.default_rng(0)
    window, n_windows = 16, 200
    tokens = rng.integers(10, 60, size=(n_windows, window))
    tokens[:, 1::2] = 3  # token 3 is everywhere (every other position)
    flat = tokens.reshape(-1)
    col = np.tile(np.arange(window), n_windows)
    rare = np.nonzero((flat == 42) & (col > 0))[0]
    often = np.nonzero((flat == 3) & (col > 0))[0][: len(rare)]
    # feature 0 fires on every token 42 and on as many token-3 positions; feature 1 on the
    # position before each 42 (so 42 is its *next* token); the first positions never count
    hits = {int(p): [0] for p in np.concatenate([rare, often])}
    for p in rare:
        if p % window > 1:
            hits.setdefault(int(p) - 1, []).append(1)
    hits[0] = [0]  # a first position: ignored
    indptr, indices = _csr(flat.size, hits)
    out = mutual_information_tokens(tokens, indptr, indices, d_sae=3, n=4)
    assert out["mi_ids"][0, 0] == 42  # as many hits as token 3, but 42 tells more
    # token 3 got as many hits, but at its base rate (it is everywhere): not telling at all
    assert 3 not in out["mi_ids"][0] and out["mi_values"][0, 0] > 0
    assert out["mi_next_ids"][1, 0] == 42
    assert (out["mi_ids"][2] == -1).all() and (out["mi_values"][2] == 0).all()  # never fires
    assert out["mi_values"].dtype == np.float32 and out["mi_ids"].shape == (3, 4)


def test_compact_statistics_keep_the_mi_tokens(tmp_path):
    from tiny import tiny_model

    import saewidgets as sw
    from saewidgets.analysis.stats import FeatureStats

    model = tiny_model("llama", seed=5)
    sae = sw.SAE(32, 40, "topk", k=5, site="blocks.1.hook_resid_post", seed=2)
    texts = [f"Item {i}: the {['red', 'blue'][i % 2]} box holds {i % 7} stones." for i in range(80)]
    stats = sw.feature_stats(
        model,
        sae,
        sw.corpus.from_texts(texts),
        n_tokens=1000,
        window=32,
        cache=False,
        progress=False,
    )
    full = [stats.mi_tokens(f) for f in range(stats.d_sae)]
    assert any(full)
    compact = stats.compacted()
    assert [compact.mi_tokens(f) for f in range(stats.d_sae)] == full
    compact.save_npz(tmp_path / "stats.npz")
    reread = FeatureStats.load_npz(tmp_path / "stats.npz")
    for f in range(stats.d_sae):
        got = reread.mi_tokens(f)
        assert [t for t, _ in got] == [t for t, _ in full[f]]
        np.testing.assert_allclose([v for _, v in got], [v for _, v in full[f]], rtol=2e-3)
    # compact statistics written before MI tokens existed: none, said plainly, no crash
    old = compact.__class__(**{**compact.__dict__, "mi_ids": None, "mi_values": None})
    assert old.mi_tokens(0) == []
