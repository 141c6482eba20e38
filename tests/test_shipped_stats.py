"""Compact statistics and labels shipped beside the SAEs: the same examples as the full
statistics, a file round trip, the lookup that skips the model, fallbacks, and the views'
default labels. Everything runs on the tiny model, with a temporary folder as the shipped one."""

import gzip
import json
import zipfile

import numpy as np
import pytest
import torch
from tiny import tiny_model

import saewidgets as sw
import saewidgets.corpus
from saewidgets.analysis import shipped
from saewidgets.analysis.inputs import labels_for_site, site_labels
from saewidgets.analysis.labels import labels_document, shipped_labels
from saewidgets.analysis.ship import same_examples, ship_site, ship_stats
from saewidgets.analysis.shipped import (
    LABELS_FILE,
    STATS_FILE,
    VOCAB_FILE,
    ShippedFileError,
    write_json,
)
from saewidgets.analysis.stats import (
    CARD_BINS,
    CARD_PER_BIN,
    CompactStatsError,
    FeatureStats,
    feature_stats,
    sae_fingerprint,
    shipped_stats,
)
from saewidgets.sae.load import shipped_sites
from saewidgets.widgets.cards import feature_card

SITE = "blocks.1.hook_resid_post"
DEAD = 7
CORPUS = sw.corpus.from_texts(
    [
        f"Item {i}: the {['red', 'blue', 'green'][i % 3]} box holds {i % 11} stones."
        for i in range(120)
    ]
)
# enough windows for the default 100,000 tokens (a pass over it never starts: no forward)
BIG = sw.corpus.from_texts([f"Item {i}: the box holds {i % 11} stones." for i in range(3500)])
OPTS = {"n_tokens": 1500, "window": 32, "batch_windows": 4, "progress": False}


class RanTheModel(Exception):
    """Raised by a model whose forward pass must not be needed."""


def _no_forward(*args, **kwargs):
    raise RanTheModel


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    model = tiny_model("llama", seed=5)
    sae = sw.SAE(32, 40, "topk", k=5, site=SITE, seed=2)
    with torch.no_grad():  # a feature that never fires
        sae.W_enc[:, DEAD] = 0
        sae.b_enc[DEAD] = -1e4
    full = feature_stats(model, sae, CORPUS, cache=False, **OPTS)
    labels = sw.auto_labels(full, model.tokenizer)
    root = tmp_path_factory.mktemp("saes")
    compact = full.compacted()
    compact.save_npz(root / SITE / STATS_FILE, vocab_file=root / VOCAB_FILE)
    write_json(root / SITE / LABELS_FILE, labels_document(labels, full.sae_hash, SITE))
    return model, sae, full, labels, compact, root


@pytest.fixture
def as_shipped(setup, tmp_path, monkeypatch):
    """The fixture's folder stands in for the package's shipped SAEs; user files go to tmp."""
    root = setup[5]
    monkeypatch.setattr(shipped, "shipped_root", lambda: root)
    monkeypatch.setenv("SAEWIDGETS_CACHE", str(tmp_path / "cache"))
    return root


def _card_lookup(labels):
    return labels_for_site(labels, SITE, len(labels.auto))


def test_compact_examples_are_exactly_the_full_ones(setup):
    _, _, full, labels, compact, _ = setup
    assert 0 < len(compact.indices) < len(full.indices)
    assert compact.is_compact and not full.is_compact
    lookup = _card_lookup(labels)
    for f in range(full.d_sae):
        assert compact.top_examples(f) == full.top_examples(f)  # default contexts fit inside
        assert feature_card(compact, f, lookup) == feature_card(full, f, lookup)
    assert same_examples(full, compact, range(full.d_sae))
    assert compact.quantile_examples(DEAD, CARD_BINS, CARD_PER_BIN) == []
    # every per-feature array is kept as it was
    for name in ("density", "max_activation", "hist_counts", "top_positions", "cooccur_ids"):
        np.testing.assert_array_equal(getattr(compact, name), getattr(full, name))


def test_compact_refuses_examples_it_did_not_keep(setup):
    compact = setup[4]
    f = int(np.argmax(compact.density))
    with pytest.raises(CompactStatsError, match="compact"):
        compact.quantile_examples(f)  # per_bin=5: the card shows 4
    with pytest.raises(CompactStatsError, match="top 24"):
        compact.top_examples(f, n=25)
    with pytest.raises(CompactStatsError, match="left"):
        compact.top_examples(f, left=40)
    with pytest.raises(CompactStatsError, match="compact already"):
        compact.compacted()
    with pytest.raises(CompactStatsError, match="compact"):
        sw.auto_labels(compact, None, kinds=("token",))


def test_npz_round_trip(setup, tmp_path):
    _, _, full, _, compact, root = setup
    path = root / SITE / STATS_FILE
    with np.load(path, allow_pickle=False) as archive:  # plain arrays, no pickled objects
        assert all(archive[name].dtype != object for name in archive.files)
    back = FeatureStats.load_npz(path)
    assert back.source == str(path) and back.compact == compact.compact
    for name in ("site", "d_sae", "model_name", "sae_hash", "n_tokens", "vocab", "corpus_hash"):
        assert getattr(back, name) == getattr(compact, name)
    for name in ("token_ids", "indptr", "indices", "values", "top_positions", "hist_counts"):
        a, b = getattr(back, name), getattr(compact, name)
        assert a.dtype == b.dtype
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(back.quantile_positions, compact.quantile_positions)
    np.testing.assert_allclose(back.top_values, full.top_values, rtol=1e-3)  # float16 in file
    assert same_examples(full, back, range(full.d_sae))
    # a self-contained file (token texts inside) reads back the same
    alone = tmp_path / "alone" / STATS_FILE
    compact.save_npz(alone)
    assert FeatureStats.load_npz(alone).vocab == compact.vocab
    with pytest.raises(CompactStatsError, match="only compact"):
        full.save_npz(tmp_path / "full.npz")


def test_feature_stats_returns_the_shipped_ones_without_running_the_model(
    setup, as_shipped, monkeypatch
):
    model, sae, full, _, _, root = setup
    monkeypatch.setattr(model, "read_sites", _no_forward)
    found = feature_stats(model, sae)
    assert found.is_compact and found.source == str(root / SITE / STATS_FILE)
    assert (found.corpus_name, found.n_tokens) == (full.corpus_name, full.n_tokens)
    assert feature_stats(model, sae) is found  # read once
    assert shipped_stats(sae) is found  # no model given: the SAE alone decides
    # an explicit sample, another model or another SAE runs the pass
    with pytest.raises(RanTheModel):
        feature_stats(model, sae, n_tokens=500, cache=False)
    with pytest.raises(RanTheModel):
        feature_stats(model, sae, BIG, cache=False)
    monkeypatch.setattr(model, "name", "another model")
    assert shipped_stats(sae, model=model) is None
    other = sw.SAE(32, 40, "topk", k=5, site=SITE, seed=3)
    assert shipped_stats(other) is None


def test_shipped_stats_skip_the_model_check_for_the_same_name(setup, as_shipped, recwarn):
    model, sae, _, _, _, _ = setup
    found = shipped_stats(sae, model=model)
    found.check_sae(sae, model)  # even if the model's weights were another dtype
    assert not [w for w in recwarn if "another model" in str(w.message)]


def test_shipped_labels_with_user_labels_over_them(setup, as_shipped):
    model, sae, full, labels, _, _ = setup
    found = feature_stats(model, sae)
    shipped_one = sw.auto_labels(found, model.tokenizer)  # compact: the shipped labels
    assert shipped_one.auto == labels.auto and shipped_one.kind == labels.kind
    np.testing.assert_allclose(shipped_one.score, labels.score, atol=1e-4)
    assert set(labels.kind) <= {"token", "bigram", "next", "promotes"}
    f = int(np.argmax(labels.score))
    shipped_one.set(f, "mine")
    again = shipped_labels(full.sae_hash, site=SITE)
    g = (f + 1) % len(labels.auto)
    assert again[f] == "mine" and again[g] == labels[g]
    # "auto" needs no model with compact statistics, and finds the labels by the SAE alone
    assert site_labels("auto", SITE, stats=found)[f] == "mine"
    assert site_labels("auto", SITE, sae=sae)[f] == "mine"
    assert shipped_labels("another hash", site=SITE) is None


def test_views_show_the_shipped_labels_by_default(setup, as_shipped):
    model, sae, _, labels, _, _ = setup
    stats = feature_stats(model, sae)
    f = int(np.argmax(stats.density))
    dash = sw.FeatureDashboard(stats, feature=f)  # no model: still labelled
    assert dash._card["label"] == labels[f]
    browser = sw.FeatureBrowser(model, sae, stats)
    assert browser._catalog["labels"][f] == labels[f]
    panel = sw.SteeringPanel(model, sae, features=[f], prompt="", run=False)  # no statistics
    assert panel.rows[0]["label"] == labels[f]
    heat = sw.TokenHeatmap(sw.trace(model, "the red box holds 3 stones", sae))
    assert heat.labels[SITE] and all(
        text == labels[int(k)] for k, text in heat.labels[SITE].items()
    )
    assert sw.TokenHeatmap(heat.trace, labels=None).labels == {}
    graph = sw.attribute(model, "the red box holds 3 stones", [sae], progress=False)
    view = sw.GraphView(graph)  # no statistics, no context: the graph's SAE hashes
    nodes = graph.nodes.to_dict("records")
    shown = [
        (view._graph["labels"][i], labels[int(n["feature"])])
        for i, n in enumerate(nodes)
        if n["type"] == "feature"
    ]
    assert shown and all(a == b for a, b in shown)


def test_missing_or_damaged_files_fall_back_with_a_warning(setup, tmp_path, monkeypatch):
    model, sae, _, _, compact, _ = setup
    root = tmp_path / "saes"
    monkeypatch.setattr(shipped, "shipped_root", lambda: root)
    monkeypatch.setenv("SAEWIDGETS_CACHE", str(tmp_path / "cache"))
    sae.save(root / SITE)
    ours = sw.load_sae(root / SITE)  # loaded from the shipped folder: its files are expected
    with pytest.warns(UserWarning, match="missing"):
        assert shipped_stats(ours) is None
    assert shipped_stats(sae) is None  # not loaded from there: nothing to say

    path = root / SITE / STATS_FILE
    compact.save_npz(path, vocab_file=root / VOCAB_FILE)
    (root / VOCAB_FILE).write_bytes(b"not gzip")
    with pytest.warns(UserWarning, match="cannot be read"):
        assert shipped_stats(ours) is None
    compact.save_npz(path, vocab_file=root / VOCAB_FILE)
    assert shipped_stats(ours) is not None
    data = bytearray(path.read_bytes())
    data[len(data) // 2 : len(data) // 2 + 64] = bytes(64)  # damage an array in the middle
    path.write_bytes(bytes(data))
    with pytest.warns(UserWarning, match="cannot be read"):
        assert shipped_stats(ours) is None
    path.write_bytes(b"garbage")
    with pytest.warns(UserWarning, match="cannot be read"):
        assert shipped_stats(ours) is None

    # feature_stats then runs its pass (here: on the default corpus, stood in for by BIG)
    class Default:
        def split(self, part):
            return BIG

    monkeypatch.setattr(saewidgets.corpus, "default", Default)
    monkeypatch.setattr(model, "read_sites", _no_forward)
    with pytest.warns(UserWarning, match="runs its pass"), pytest.raises(RanTheModel):
        feature_stats(model, ours)


def test_damaged_labels_leave_the_views_unlabelled(setup, tmp_path, monkeypatch):
    model, sae, _, _, compact, _ = setup
    root = tmp_path / "saes"
    monkeypatch.setattr(shipped, "shipped_root", lambda: root)
    monkeypatch.setenv("SAEWIDGETS_CACHE", str(tmp_path / "cache"))
    compact.save_npz(root / SITE / STATS_FILE, vocab_file=root / VOCAB_FILE)
    (root / SITE / LABELS_FILE).write_bytes(b"\x1f\x8b broken")
    stats = shipped_stats(sae)
    with pytest.warns(UserWarning) as caught:
        dash = sw.FeatureDashboard(stats, feature=0)
    said = " ".join(str(w.message) for w in caught)
    assert "cannot be read" in said and "no labels are shown" in said
    assert dash.labels is None and dash._card["label"] == ""
    write_json(root / SITE / LABELS_FILE, {"format": 1, "labels": ["a"], "scores": []})
    with pytest.warns(UserWarning, match="do not fit"):
        sw.SteeringPanel(model, sae, features=[0], prompt="", run=False)


def test_ship_site_writes_the_three_files(setup, tmp_path, monkeypatch):
    model, sae, _, _, _, _ = setup
    monkeypatch.setenv("SAEWIDGETS_CACHE", str(tmp_path / "cache"))
    root = tmp_path / "out"
    row = ship_site(model, sae, CORPUS, root, n_tokens=800, window=32, progress=False)
    assert row["site"] == SITE and 0 < row["kept_entries"] < row["full_entries"]
    assert row["stats_bytes"] == (root / SITE / STATS_FILE).stat().st_size
    document = json.loads(gzip.decompress((root / SITE / LABELS_FILE).read_bytes()))
    assert document["sae_hash"] == sae_fingerprint(sae)
    assert len(document["labels"]) == len(document["kinds"]) == sae.d_sae
    assert (root / VOCAB_FILE).is_file()
    assert zipfile.is_zipfile(root / SITE / STATS_FILE)
    assert shipped_stats(sae, root=root).n_tokens == row["n_tokens"]


def test_a_file_of_another_format_is_refused(setup, tmp_path):
    compact = setup[4]
    path = tmp_path / SITE / STATS_FILE
    compact.save_npz(path)
    with zipfile.ZipFile(path) as archive:
        meta = json.loads(bytes(np.load(archive.open("__meta__.npy"))).decode())
    assert meta["format"] == shipped.FILE_FORMAT
    meta["format"] = 999
    with np.load(path, allow_pickle=False) as archive:
        arrays = {name: archive[name] for name in archive.files}
    arrays["__meta__"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    np.savez_compressed(path, **arrays)
    with pytest.raises(ShippedFileError, match="another format"):
        FeatureStats.load_npz(path)


def test_cli_command_parses():
    from saewidgets.__main__ import _parser

    args = _parser().parse_args(["ship-stats", "--n-tokens", "8000", "--out", "/tmp/x"])
    assert (args.n_tokens, args.out, args.site) == (8000, "/tmp/x", None)
    assert args.func.__name__ == "ship_stats"


def test_ship_stats_of_a_shipped_sae_opens_without_the_model(embedded_model, tmp_path, monkeypatch):
    """The maintainer command on one shipped site (a small sample), then the lookup a fresh
    machine does: the embedded model's forward pass is never needed."""
    monkeypatch.setenv("SAEWIDGETS_CACHE", str(tmp_path / "cache"))
    site = shipped_sites()[0]
    root = tmp_path / "saes"
    (row,) = ship_stats(embedded_model, out=root, sites=[site], n_tokens=2048, progress=False)
    print(row)
    monkeypatch.setattr(shipped, "shipped_root", lambda: root)
    monkeypatch.setattr(embedded_model, "read_sites", _no_forward)
    sae = sw.load_sae("embedded", site=site)
    stats = feature_stats(embedded_model, sae)
    assert stats.is_compact and stats.corpus_name == "broad:dashboard-mix"
    labels = site_labels("auto", site, stats=stats)
    assert len(labels.auto) == sae.d_sae and labels.kind
    f = int(np.argmax(stats.density))
    assert sw.FeatureDashboard(stats, feature=f)._card["label"] == labels[f]
