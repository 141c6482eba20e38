"""Detection and fuzzing scores of labels, on statistics whose features fire on known tokens."""

import json
import math

import numpy as np
import pytest
from test_explain import TOK, _stats

import saewidgets as sw
from saewidgets.analysis.label_scores import (
    LabelRule,
    LabelSampler,
    RuleSimulator,
    duplicate_labels,
)
from saewidgets.analysis.labels import auto_labels, score_labels
from saewidgets.analysis.stats import CompactStatsError


def test_rules_read_automatic_labels_and_free_text():
    rule = LabelRule.parse("' if' / '↵' / 'xy'")
    assert rule.strings == {" if", "\n", "xy"} and not rule.words
    assert LabelRule.parse("→ ' Paris' / ' London'").next_strings == {" Paris", " London"}
    promotes = LabelRule.parse("never fires; promotes 'a' / 'b'")
    assert promotes.next_strings == {"a", "b"} and not promotes.strings
    free = LabelRule.parse("mentions of Coffee and the 'café'")
    assert {"coffee", "coffees", "café"} <= free.words and "the" not in free.words
    assert LabelRule.parse("  ").empty


def test_rule_positions_tokens_bigrams_next_tokens_and_whole_words():
    texts = [" The", " coff", "ee", " was", " hot", ".", " if", " x"]
    assert LabelRule.parse("' coff'").matches(texts).tolist() == [
        False, True, False, False, False, False, False, False,
    ]  # fmt: skip
    assert LabelRule.parse("' coffee'").matches(texts)[2]  # two tokens, ending here
    assert LabelRule.parse("→ ' if'").matches(texts).nonzero()[0].tolist() == [5]
    # a word label names every token of the word, and nothing else
    assert LabelRule.parse("coffee drinks").matches(texts).nonzero()[0].tolist() == [1, 2]


def test_scores_separate_right_labels_from_wrong_ones(tmp_path):
    stats = _stats()
    table = score_labels(
        stats,
        {0: "'q'", 1: "'xy'", 2: "'a'", 3: "'q'", 4: "→ 'z'", 5: "'w'"},
        tokenizer=TOK,
        progress=False,
    )
    assert table.loc[0, "detection"] == 1.0 and table.loc[0, "fuzzing"] == 1.0
    assert table.loc[1, "detection"] == 1.0  # the bigram, read across two tokens
    assert table.loc[4, "detection"] == 1.0 and table.loc[4, "fuzzing"] == 1.0  # next token
    # e/f/g are a tenth of all tokens: no 32-token context lacks them, so nothing to contrast
    assert math.isnan(table.loc[5, "detection"]) and "nearly every" in table.loc[5, "note"]
    wrong = score_labels(stats, {0: "'w'", 1: "'x'"}, tokenizer=TOK, progress=False)
    assert wrong.loc[0, "detection"] <= 0.65  # "w" has nothing to do with "q"
    # "x" is in every context where the feature fires, but it marks the token before the one
    # that fires: fuzzing sees that, and the right label scores perfectly on it
    assert wrong.loc[1, "fuzzing"] <= 0.6 and table.loc[1, "fuzzing"] == 1.0
    assert table.loc[3, "detection"] < 0.75  # random firing: no label explains it
    assert math.isnan(table.loc[2, "detection"]) and "never fires" in table.loc[2, "note"]
    assert table.loc[0, "n_active"] >= 3 and table.loc[0, "n_inactive"] > 0
    # the automatic labels, scored when no labels are given
    auto = score_labels(stats, features=[0, 4], tokenizer=TOK, progress=False)
    assert auto.loc[0, "detection"] == 1.0 and auto.loc[4, "detection"] == 1.0


def test_contexts_are_held_out_and_spread_over_activations():
    stats = _stats()
    width = stats.token_ids.shape[1]
    sampler = LabelSampler(stats, tokenizer=TOK)
    contexts = sampler.contexts(0, n_active=6, n_inactive=4)
    assert len(contexts.active) == 6 and 2 <= len(contexts.inactive) <= 4
    assert len({tuple(c) for c in contexts.inactive}) == len(contexts.inactive)
    assert all(len(c) <= 32 for c in contexts.active + contexts.inactive)
    firing_positions = sampler._positions[sampler._starts[0] : sampler._starts[1]]
    assert np.all((firing_positions // width) % 2 == 1)  # odd windows only: labels fit on even
    for fire, decoy, text in zip(contexts.firing, contexts.decoys, contexts.active, strict=True):
        assert set(fire).isdisjoint(decoy) and len(decoy) in (0, len(fire))
        assert all(text[i] == "q" for i in fire) and not any(text[i] == "q" for i in decoy)
    assert not any("q" in text for text in contexts.inactive)


def test_user_labels_are_scored_when_set_and_kept_with_their_text(tmp_path):
    path = tmp_path / "labels.json"
    labels = auto_labels(_stats(), TOK, user_file=path)
    labels.set(0, "'q'")
    scores = labels.scores_of(0)
    assert scores["of"] == "user" and scores["detection"] == 1.0
    saved = json.loads(path.with_suffix(".scores.json").read_text())
    assert saved["0"]["label"] == "'q'"
    again = auto_labels(_stats(), TOK, user_file=path)
    assert again.user_scores[0]["detection"] == 1.0
    # an edited label never shows the old score: it is scored afresh
    again.user[0] = "'w'"
    assert again.scores_of(0)["detection"] < 0.75
    assert np.isnan(again.current_scores()[2]) or again.scores_of(2)["note"]
    assert labels.scores_of(4)["of"] == "auto" and labels.scores_of(4)["detection"] == 1.0


def test_compact_statistics_cannot_score_and_say_what_to_do(embedded_model):
    sae = sw.load_sae("embedded", site="blocks.3.hook_resid_post")
    shipped = sw.feature_stats(embedded_model, sae)
    assert shipped.is_compact
    with pytest.raises(CompactStatsError, match="compact.*sw.feature_stats"):
        score_labels(shipped, {0: "x"})
    with pytest.raises(ValueError, match="no token texts.*tokenizer="):
        score_labels(_stats(), {0: "x"})


def test_shipped_labels_carry_their_scores(embedded_model):
    sae = sw.load_sae("embedded", site="blocks.3.hook_resid_post")
    stats = sw.feature_stats(embedded_model, sae)
    view = sw.FeatureDashboard(stats, model=embedded_model, sae=sae)
    labels = view.labels
    assert labels.detection is not None and len(labels.detection) == sae.d_sae
    assert 0.55 < np.nanmean(labels.detection) < 0.95
    card = view.card(int(np.nanargmax(labels.detection)))
    assert card["label_scores"]["detection"] == pytest.approx(np.nanmax(labels.detection), abs=1e-3)
    browser = sw.FeatureBrowser(embedded_model, sae, stats)
    detection = np.frombuffer(browser._catalog["detection"]["data"], np.float32)
    assert np.allclose(detection, labels.current_scores(), equal_nan=True)


def test_duplicate_labels_are_found_ignoring_case_and_spacing():
    found = duplicate_labels(["'a' / 'b'", "x", "'A'  / 'b'", "", ""])
    assert found == {0: [2], 2: [0]}  # empty labels are not duplicates


def test_simulator_protocol_is_all_a_judge_needs():
    """Any object with detect and fuzz judges; here one that says yes to everything."""

    class YesMan:
        def detect(self, label, contexts):
            return [True] * len(contexts)

        def fuzz(self, label, contexts, marked):
            return [True] * len(contexts)

    table = score_labels(_stats(), {0: "'q'"}, simulator=YesMan(), tokenizer=TOK, progress=False)
    assert table.loc[0, "detection"] == 0.5 and table.loc[0, "fuzzing"] == 0.5
    assert isinstance(RuleSimulator().detect("'q'", [["q"]])[0], bool)
