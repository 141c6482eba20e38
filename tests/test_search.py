"""Feature search: whole words, ranked by field, the match reported (one rule, shared with JS)."""

import json
from pathlib import Path

import numpy as np
import pytest

import saewidgets as sw
from saewidgets.analysis.search import (
    MIN_PREFIX,
    SEARCH_TOKENS,
    SearchIndex,
    feature_tokens,
    query_words,
    search_features,
)
from saewidgets.analysis.stats import HIST_EDGES, LOGIT_BINS, N_LOGITS, N_RELATED, N_TOP

CASES = json.loads((Path(__file__).parent / "search_cases.json").read_text(encoding="utf-8"))
VOCAB = ["<bos>", " the", " comparison", " Paris", " recipe", " food", " than", " bake", " eat"]
ID = {text: i for i, text in enumerate(VOCAB)}
# what each feature fires on, and the tokens its decoder direction promotes
FIRES_ON = [" comparison", " Paris", " recipe", " food"]
PROMOTES = [[" than"], [" the"], [" bake"], [" eat", " the"]]
LABELS = {0: "comparison of things", 1: "'Paris'", 2: "foods and cooking"}
SITE = "blocks.0.hook_resid_post"


def _stats() -> sw.FeatureStats:
    """Statistics of four features over four windows, every array derived from the
    activations below (as `feature_stats` would), through the public constructor."""
    d = len(FIRES_ON)
    rng = np.random.default_rng(0)
    text = rng.choice([ID[t] for t in (*FIRES_ON, " the")], size=(4, 12))
    text[:, 0] = ID["<bos>"]
    flat = text.reshape(-1)
    acts = np.zeros((len(flat), d), np.float32)
    for f, token in enumerate(FIRES_ON):
        hit = flat == ID[token]
        acts[hit, f] = 1.0 + np.arange(hit.sum(), dtype=np.float32)  # distinct strengths
    rows, cols = np.nonzero(acts)
    order = np.argsort(-acts, axis=0, kind="stable")[:N_TOP].T  # strongest positions first
    top_values = np.take_along_axis(acts.T, order, axis=1)
    top_positions = np.where(top_values > 0, order, -1)
    promoted = np.full((d, N_LOGITS), ID[" the"], np.int32)
    for f, tokens in enumerate(PROMOTES):
        promoted[f, : len(tokens)] = [ID[t] for t in tokens]
    z = lambda *shape, dtype=np.float32: np.zeros(shape, dtype=dtype)  # noqa: E731
    return sw.FeatureStats(
        site=SITE,
        d_sae=d,
        model_name="words",
        sae_hash="h" * 24,
        corpus_name="words",
        n_tokens=len(flat),
        token_ids=text.astype(np.int32),
        indptr=np.concatenate([[0], np.cumsum(np.bincount(rows, minlength=len(flat)))]),
        indices=cols.astype(np.int32),
        values=acts[rows, cols].astype(np.float16),
        density=(acts > 0).mean(0).astype(np.float32),
        mean_active=z(d),
        max_activation=acts.max(0),
        hist_counts=z(d, len(HIST_EDGES) - 1, dtype=np.int32),
        top_positions=top_positions,
        top_values=top_values,
        vocab_top_ids=promoted,
        vocab_top_values=z(d, N_LOGITS),
        vocab_bottom_ids=z(d, N_LOGITS, dtype=np.int32),
        vocab_bottom_values=z(d, N_LOGITS),
        logit_hist_counts=z(d, LOGIT_BINS, dtype=np.int32),
        logit_hist_range=z(d, 2),
        neighbour_ids=z(d, N_RELATED, dtype=np.int32),
        neighbour_values=z(d, N_RELATED),
        cooccur_ids=z(d, N_RELATED, dtype=np.int32),
        cooccur_values=z(d, N_RELATED),
        vocab=VOCAB,
    )


@pytest.fixture(scope="module")
def stats():
    return _stats()


def _found(hits):
    return [(h.feature, h.match.field, h.match.word) for h in hits]


def test_fields_come_from_the_statistics(stats):
    top, promoted = feature_tokens(stats)
    assert [t[0] for t in top] == FIRES_ON  # the token at each feature's strongest activation
    assert promoted[3] == (" eat", " the") and promoted[0] == (" than", " the")  # distinct
    assert all(len(t) <= SEARCH_TOKENS for t in (*top, *promoted))


def test_whole_words_not_substrings(stats):
    # "Paris" is inside "comparison" (feature 0's label and token) and must not find it
    assert _found(search_features("Paris", stats, LABELS)) == [(1, "label", "Paris")]
    assert search_features("pari", stats, LABELS)[0].match.word == "Paris"  # a word's prefix
    assert search_features("ari", stats, LABELS) == []


def test_food_finds_labels_and_tokens_label_first(stats):
    hits = search_features("food", stats, LABELS)
    assert _found(hits) == [(2, "label", "foods"), (3, "top_tokens", "food")]
    label, token = hits
    assert label.score > token.score and not label.match.exact and token.match.exact
    assert token.match.text == " food" and token.label == ""
    assert label.to_json()["matches"][0] == {
        "field": "label",
        "text": "foods and cooking",
        "start": 0,
        "end": 5,
        "query": "food",
        "exact": False,
    }


def test_promoted_tokens_and_more_words_first(stats):
    assert _found(search_features("bake", stats, LABELS)) == [(2, "promoted", "bake")]
    hits = search_features("eat comparison", stats, LABELS)
    assert [h.feature for h in hits] == [0, 3]
    both = search_features("food bake", stats, LABELS)[0]
    assert both.feature == 2 and both.words == 2 and len(both.matches) == 2


def test_ids(stats):
    for query in ("3", "#3", " #3 "):
        assert _found(search_features(query, stats, LABELS)) == [(3, "id", "3")]
    assert search_features("4", stats, LABELS) == []  # out of range: no such feature
    assert search_features("03", stats, LABELS) == []


def test_without_statistics_labels_and_ids_only():
    hits = search_features("food", labels=LABELS, d_sae=4)
    assert _found(hits) == [(2, "label", "foods")]
    assert _found(search_features("1", d_sae=4)) == [(1, "id", "1")]
    with pytest.raises(ValueError, match="stats= or d_sae="):
        search_features("food", labels=LABELS)


def test_bad_queries(stats):
    assert search_features("", stats) == [] and search_features(" ?! ", stats) == []
    with pytest.raises(TypeError, match="must be a string, got int"):
        search_features(3, stats)
    with pytest.raises(TypeError, match="FeatureStats"):
        search_features("food", "stats")
    with pytest.raises(ValueError, match="limit"):
        search_features("food", stats, limit=-1)
    assert query_words("Food, FOOD and  food!") == ["food", "and"]
    assert MIN_PREFIX == 3


def test_limit_and_ties(stats):
    labels = {f: "same" for f in range(4)}
    hits = search_features("same", stats, labels, limit=None)
    # equal words and score: the stronger feature first (max activations differ by count)
    maxima = stats.max_activation
    assert [h.feature for h in hits] == sorted(range(4), key=lambda f: (-maxima[f], f))
    assert len(search_features("same", stats, labels, limit=2)) == 2


@pytest.mark.parametrize("case", CASES["cases"], ids=lambda c: repr(c["query"]))
def test_shared_cases(case):
    """The cases js/test/search.test.js runs against the front end's copy of the rule."""
    f = CASES["features"]
    index = SearchIndex(f["labels"], f["top_tokens"], f["promoted"], f["max"])
    got = [[h.feature, h.match.field, h.match.word] for h in index.search(case["query"], None)]
    assert got == case["hits"]


def test_shared_offsets_count_utf16_units():
    f, want = CASES["features"], CASES["offsets"]
    index = SearchIndex(f["labels"], f["top_tokens"], f["promoted"], f["max"])
    hit = index.search(want["query"])[0]
    match = hit.to_json()["matches"][0]
    assert (hit.feature, match["text"]) == (want["feature"], want["text"])
    assert (match["start"], match["end"]) == (want["start"], want["end"])
    assert hit.match.word == "Zürich"  # Python's own offsets count code points


def test_public_names():
    assert sw.search_features is search_features
    hit = sw.search_features("1", d_sae=2)[0]
    assert isinstance(hit, sw.SearchHit)
