"""PruningMaxAct on the embedded model and a shipped SAE: each core keeps the activation it
claims, nothing shorter among the lengths tried does, and a live dashboard sends the cores."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import saewidgets as sw
from saewidgets.analysis.pruning import KEEP, LENGTHS, prune_examples

SITE = "blocks.21.hook_resid_post"


@pytest.fixture(scope="module")
def shipped(embedded_model):
    sae = sw.load_sae("embedded", site=SITE)
    return sae, sw.feature_stats(embedded_model, sae)


def _activation(model, sae, ids, feature) -> float:
    """The feature at the last of ``ids``, one unpadded sequence (no batching)."""
    x = torch.as_tensor(np.asarray(ids, dtype=np.int64))[None]
    with torch.no_grad():
        acts = model.read_sites(x, torch.ones_like(x), [SITE])[SITE][0, -1]
        return float(sae.encode(acts[None])[0, feature])


def test_cores_keep_their_activation_and_are_the_shortest_tried(embedded_model, shipped):
    sae, stats = shipped
    feature = int(np.argmax(stats.max_activation))  # a strong feature, whatever it is
    spans = prune_examples(embedded_model, sae, stats, feature, n=4)
    top = stats.top_examples(feature, 4)
    assert len(spans) == len(top) == 4
    for span, example, flat in zip(spans, top, stats.top_positions[feature], strict=False):
        row, col = divmod(int(flat), stats.window)
        prefix = stats.token_ids[row, : col + 1]
        # the whole prefix reproduces the statistics' value (float32 vs stored float16)
        assert span["full"] == pytest.approx(example["values"][example["focus"]], rel=0.02)
        core = _activation(embedded_model, sae, prefix[-span["length"] :], feature)
        assert core == pytest.approx(span["kept"] * span["full"], rel=0.01, abs=0.05)
        if span["length"] < len(prefix):
            assert core >= KEEP * span["full"] - 1e-3
        shorter = [m for m in LENGTHS if m < span["length"]]
        for m in shorter:
            assert _activation(embedded_model, sae, prefix[-m:], feature) < KEEP * span["full"]


def test_a_live_dashboard_sends_the_cores_of_the_shown_card(embedded_model, shipped):
    sae, stats = shipped
    dash = sw.FeatureDashboard(stats, model=embedded_model, sae=sae, feature=1612)
    try:
        dash.wait()
        assert dash._pruned["feature"] == 1612
        assert len(dash._pruned["spans"]) == len(dash._card["top"])
        assert dash._pruned["spans"] == dash.pruned()
        offline = sw.FeatureDashboard(stats)
        assert offline._pruned == {}  # no model: nothing runs
        with pytest.raises(ValueError, match="runs the model"):
            offline.pruned()
    finally:
        dash.close()
