"""One normalisation of SAEs, statistics and labels, used by every entry point."""

import numpy as np
import pytest
from tiny import tiny_model

import saewidgets as sw
from saewidgets.analysis.inputs import labels_for_site, saes_by_site, stats_by_site

SITE = "blocks.1.hook_resid_post"
OTHER = "blocks.0.hook_resid_post"


@pytest.fixture(scope="module")
def model():
    return tiny_model("llama")


@pytest.fixture(scope="module")
def saes():
    return {
        SITE: sw.SAE(32, 48, "topk", k=4, site=SITE, seed=1),
        OTHER: sw.SAE(32, 48, "topk", k=4, site=OTHER, seed=2),
    }


@pytest.fixture(scope="module")
def stats(model, saes):
    corpus = sw.corpus.from_texts([f"text number {i}: the quick brown fox" for i in range(40)])
    return sw.feature_stats(model, saes[SITE], corpus=corpus, n_tokens=300, cache=False)


def test_every_form_of_saes_gives_the_same_mapping(model, saes):
    one = saes[SITE]
    assert saes_by_site(one, model) == {SITE: one}
    assert saes_by_site([one], model) == {SITE: one}
    assert saes_by_site({SITE: one}, model) == {SITE: one}
    assert list(saes_by_site(list(saes.values()), model)) == [SITE, OTHER]


def test_bad_saes_are_refused_with_the_same_message_everywhere(model, saes):
    one = saes[SITE]
    with pytest.raises(
        sw.SAEConfigError,
        match="trained on 'blocks.1.hook_resid_post' but is given for 'blocks.0.hook_resid_post'",
    ):
        saes_by_site({OTHER: one}, model)
    with pytest.raises(sw.SAEConfigError, match="d_in=16, but that site"):
        saes_by_site({SITE: sw.SAE(16, 32, "relu")}, model)
    with pytest.raises(TypeError, match='saes must be .*"embedded"; got the string'):
        saes_by_site("blocks.1.hook_resid_post", model)
    with pytest.raises(sw.SAEConfigError, match="no SAEs given"):
        saes_by_site({}, model)
    # the same refusal reaches the user from a widget and from an analysis function
    for call in (
        lambda: sw.trace(model, "hi", {OTHER: one}),
        lambda: sw.SteeringPanel(model, {OTHER: one}, prompt=""),
    ):
        with pytest.raises(sw.SAEConfigError, match="but is given for"):
            call()
    assert issubclass(sw.SAEConfigError, sw.SAEWidgetsError)


def test_stats_must_match_their_sae(model, saes, stats):
    assert stats_by_site(stats, {SITE: saes[SITE]}) == {SITE: stats}
    assert stats_by_site([stats]) == {SITE: stats}
    assert stats_by_site(None) == {}
    wrong = {SITE: sw.SAE(32, 48, "topk", k=4, site=SITE, seed=9)}
    with pytest.raises(sw.StatsMismatch, match="different SAE"):
        stats_by_site(stats, wrong)
    with pytest.raises(sw.StatsMismatch, match="different SAE"):
        sw.SteeringPanel(model, wrong, stats=stats, prompt="")
    with pytest.raises(ValueError, match="no SAE at that site"):
        stats_by_site(stats, {OTHER: saes[OTHER]})
    with pytest.raises(TypeError, match="stats must be FeatureStats"):
        stats_by_site("stats")


def test_labels_in_every_form(model, stats):
    d = stats.d_sae
    auto = labels_for_site("auto", SITE, d, stats=stats, model=model)
    labels = sw.auto_labels(stats, model.tokenizer)
    f = int(np.argmax(labels.score))
    assert auto(f) == (labels[f], float(labels.score[f]))
    assert labels_for_site("auto", SITE, d)(f) == ("", None)  # nothing to label from
    assert labels_for_site({f: "mine"}, SITE, d)(f) == ("mine", None)
    assert labels_for_site({SITE: {f: "mine"}}, SITE, d)(f) == ("mine", None)
    assert labels_for_site({OTHER: {f: "mine"}}, SITE, d)(f) == ("", None)
    assert labels_for_site(None, SITE, d)(f) == ("", None)
    with pytest.raises(ValueError, match='labels must be "auto"'):
        labels_for_site("nope", SITE, d)
    with pytest.raises(ValueError, match=r"several sites pass labels as \{site: labels\}"):
        labels_for_site({f: "x"}, SITE, d, n_sites=2)
    with pytest.raises(ValueError, match="label keys are feature ids"):
        labels_for_site({"not a feature": "x"}, SITE, d)


def test_heatmap_takes_labels_objects_and_explains_auto(model, saes, stats):
    tr = sw.trace(model, ["the quick brown fox"], saes[SITE])
    labels = sw.auto_labels(stats, model.tokenizer)
    w = sw.TokenHeatmap(tr, labels=labels)
    f = next(int(k) for k in w.labels[SITE])
    assert w.labels[SITE][str(f)] == labels[f]
    # "auto" (the default) shows the labels shipped with the package's SAEs; this one is not
    assert sw.TokenHeatmap(tr, labels="auto").labels == {} == sw.TokenHeatmap(tr).labels
    with pytest.raises(ValueError, match="needs statistics"):
        sw.TokenHeatmap(tr, labels={SITE: "auto"})
    with pytest.raises(ValueError, match="not in this trace"):
        sw.TokenHeatmap(tr, labels={OTHER: {1: "x"}})
    assert sw.TokenHeatmap(tr, labels={SITE: labels}).labels[SITE] == w.labels[SITE]
