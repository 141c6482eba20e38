"""`sw.probe`: linear vs sparse probing on the embedded model with the shipped sets and SAEs,
the fold discipline (random labels stay at chance), and bad input."""

from __future__ import annotations

import numpy as np
import pytest

import saewidgets as sw
from saewidgets.analysis.probing import _fit, _stratified_folds

SITE = "blocks.21.hook_resid_post"


@pytest.fixture(scope="module")
def sae():
    return sw.load_sae("embedded", site=SITE)


def test_logistic_regression_recovers_a_separating_direction():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(400, 20))
    truth = np.zeros(20)
    truth[3], truth[7] = 2.0, -1.0
    y = (x @ truth + 0.3 * rng.normal(size=400) > 0).astype(np.int64)
    weights, bias = _fit(x, y)
    cosine = weights @ truth / np.linalg.norm(weights) / np.linalg.norm(truth)
    assert cosine > 0.95
    assert ((x @ weights + bias > 0) == y.astype(bool)).mean() > 0.95


def test_folds_are_stratified_and_cover_every_example_once():
    y = np.array([1] * 13 + [0] * 27)
    folds = _stratified_folds(y, 5, seed=3)
    joined = np.sort(np.concatenate(folds))
    np.testing.assert_array_equal(joined, np.arange(40))
    assert all(2 <= y[f].sum() <= 3 for f in folds)


def test_shipped_sets():
    sentiment = sw.labelled_set("sentiment")
    assert len(sentiment) == 120 and sum(sentiment.labels) == 60
    assert len(set(sentiment.texts)) == 120
    code = sw.labelled_set("code_vs_prose")
    assert len(code) == 200 and sum(code.labels) == 100
    looks_like_code = ["def " in t or "import" in t or " = " in t or "#" in t for t in code.texts]
    assert sum(looks_like_code[:100]) >= 80 and sum(looks_like_code[100:]) <= 20
    with pytest.raises(sw.ProbeError, match="'sentiment' and 'code_vs_prose'"):
        sw.labelled_set("movies")


def test_sentiment_reads_off_layer_21(embedded_model, sae):
    result = sw.probe(embedded_model, SITE, sw.labelled_set("sentiment"), sae=sae, progress=False)
    assert result.majority == 0.5 and result.n_texts == 120 and result.n_positive == 60
    assert result.linear >= 0.85
    assert list(result.sparse) == [1, 2, 5, 20]
    assert result.sparse[20] >= 0.75  # twenty features of 4,608 carry most of it
    assert max(result.sparse.values()) <= result.linear + 0.05
    assert len(result.features[20]) == 20 and result.features[20][:5] == result.features[5]
    import json

    assert json.loads(json.dumps(result.to_json()))["sparse"]["20"] == result.sparse[20]
    table = result.table
    assert table.probe.iloc[0].startswith("linear") and len(table) == 5
    fig = result.figure()
    assert fig.data[0].y == tuple(result.sparse[k] for k in (1, 2, 5, 20))
    # the linear direction separates the classes on the texts it was fitted on
    from saewidgets.analysis.probing import _pooled

    data = sw.labelled_set("sentiment")
    raw, _ = _pooled(embedded_model, SITE, data.texts, None, 128, 16, False)
    projection = raw @ result.direction
    labels = np.array(data.labels)
    assert projection[labels == 1].mean() > projection[labels == 0].mean()


def test_random_labels_stay_at_chance(embedded_model, sae):
    # Features are chosen on the training folds only: with labels that mean nothing, neither
    # probe may beat chance by much (choosing on all texts would leak the test fold's labels).
    data = sw.labelled_set("sentiment")
    labels = np.random.default_rng(1).permutation(data.labels).tolist()
    result = sw.probe(embedded_model, SITE, data.texts, labels, sae=sae, k=(5, 20), progress=False)
    assert result.linear < 0.7 and max(result.sparse.values()) < 0.7


def test_bad_input_is_explained(embedded_model, sae):
    texts = ["a good day", "a bad day", "a fine day", "an awful day", "a great day", "a poor day"]
    with pytest.raises(sw.ProbeError, match="exactly two values.*positive="):
        sw.probe(embedded_model, SITE, texts, [0, 1, 2, 0, 1, 2], folds=2, progress=False)
    with pytest.raises(sw.ProbeError, match="6 texts but 5 labels"):
        sw.probe(embedded_model, SITE, texts, [0, 1, 0, 1, 0], progress=False)
    with pytest.raises(sw.ProbeError, match="3 positive and 3 negative.*at least 5"):
        sw.probe(embedded_model, SITE, texts, [1, 0, 1, 0, 1, 0], progress=False)
    with pytest.raises(sw.ProbeError, match="not among the labels"):
        sw.probe(embedded_model, SITE, texts, list("abcabc"), positive="z", progress=False)
    with pytest.raises(sw.ProbeError, match="k must be between 1 and"):
        sw.probe(embedded_model, SITE, texts, [1, 0] * 3, sae=sae, k=(0,), folds=2)
    with pytest.raises(sw.ProbeError, match="labels are missing"):
        sw.probe(embedded_model, SITE, texts)
    with pytest.raises(sw.ProbeError, match=r"texts\[2\] produced no tokens"):
        sw.probe(embedded_model, SITE, ["a", "b", "", "d"], [1, 0, 1, 0], folds=2)
    # one value against the rest
    result = sw.probe(
        embedded_model,
        SITE,
        texts * 2,
        list("abcabc") * 2,
        positive="a",
        folds=2,
        progress=False,
    )
    assert result.n_positive == 4 and result.n_texts == 12
