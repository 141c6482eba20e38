"""sw.find_steering_features: the batched screen agrees with sw.steer, ranks, refuses bad input."""

import re

import pytest
from tiny import tiny_model

import saewidgets as sw

WORDS = "food eat meal bread cook kitchen dinner lunch fruit soup"
PROMPTS = ("Let me tell you about my day.", "The plan for tomorrow is simple:")


def test_screen_matches_steer_one_feature_at_a_time(embedded_model):
    """Every row of the batched screen is what `sw.steer` gives for that feature and strength
    alone: the same continuation, the same on-topic count, the same perplexity ratio."""
    sae = sw.load_sae("embedded", site="blocks.21.hook_resid_post")
    table = sw.find_steering_features(
        embedded_model,
        sae,
        WORDS,
        prompts=PROMPTS,
        strengths=(0.4,),
        candidates=2,
        new_tokens=8,
        batch_size=3,  # more than one batch, one of them partial
    )
    assert len(table) >= 3 and set(table.site) == {sae.site}
    base = [sw.steer(embedded_model, p, [], max_new_tokens=8) for p in PROMPTS]
    words = set(WORDS.split())
    for row in table.itertuples():
        item = sw.Intervention(sae, row.feature, row.strength)
        runs = [sw.steer(embedded_model, p, item, max_new_tokens=8) for p in PROMPTS]
        assert row.example == runs[0].text
        hits = [bool(words & set(re.findall(r"[a-z0-9]+", r.text.lower()))) for r in runs]
        assert row.on_topic == pytest.approx(sum(hits) / len(PROMPTS))
        ratio = sum(r.perplexity / b.perplexity for r, b in zip(runs, base, strict=True)) / len(
            PROMPTS
        )
        assert row.perplexity_ratio == pytest.approx(ratio, rel=1e-3)
        assert row.fluent == (row.perplexity_ratio <= 2.0)
    # ranked: fluent first, then most on topic, then lowest perplexity
    keys = [
        (not f, -t, r)
        for f, t, r in zip(table.fluent, table.on_topic, table.perplexity_ratio, strict=True)
    ]
    assert keys == sorted(keys)


def test_best_strength_per_feature_and_bad_input():
    model = tiny_model("llama", seed=11)
    sae = sw.SAE(32, 48, "topk", k=6, site="blocks.1.hook_resid_post", seed=4)
    table = sw.find_steering_features(
        model,
        sae,
        "a e",
        prompts=["the cat sat on"],
        strengths=(0.5, 1.0),
        candidates=2,
        new_tokens=4,
    )
    assert table.feature.is_unique  # one row per feature: its best strength
    assert set(table.strength) <= {0.5, 1.0}
    for kwargs, message in (
        ({"words": ""}, "words is empty"),
        ({"prompts": []}, "prompts must be"),
        ({"strengths": (0.5, -1)}, "strengths must be positive"),
        ({"candidates": 0}, "candidates must be a positive integer"),
        ({"new_tokens": 2.5}, "new_tokens must be a positive integer"),
        ({"max_perplexity_ratio": 0}, "max_perplexity_ratio must be positive"),
    ):
        args = {"words": "a e", **kwargs}
        with pytest.raises(ValueError, match=message):
            sw.find_steering_features(model, sae, **args)
