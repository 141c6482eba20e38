"""Evaluation formulas on hand-checkable tensors, and sw.evaluate end to end on a tiny model."""

import math

import numpy as np
import pytest
import torch
from tiny import tiny_model

import saewidgets as sw
from saewidgets.analysis.evaluate import LossStats, ReconstructionStats, ce_loss_recovered

X = torch.tensor([[1.0, 0.0], [3.0, 0.0]])
X_HAT = torch.tensor([[2.0, 0.0], [2.0, 0.0]])
FEATURES = torch.tensor([[1.0, 0.0, 0.0], [2.0, 0.5, 0.0]])


def test_explained_variance_is_against_the_mean_not_zero():
    stats = ReconstructionStats(3)
    stats.add(X, X_HAT, FEATURES)
    m = stats.metrics()
    # Σ‖x − x̂‖² = 2 and Σ‖x − μ‖² = 2 (μ = [2, 0]): nothing explained. Against zero it
    # would read 1 − 2/10 = 0.8.
    assert m["explained_variance"] == pytest.approx(0.0)
    assert m["nmse"] == pytest.approx(0.2)
    assert m["l0"] == pytest.approx(1.5)
    assert m["dead_fraction"] == pytest.approx(1 / 3)
    assert m["dense_fraction"] == pytest.approx(2 / 3)
    assert m["shrinkage"] == pytest.approx((2 / 1 + 2 / 3) / 2)


def test_metrics_do_not_depend_on_batching():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(64, 5, generator=g) + 3
    x_hat = x + 0.3 * torch.randn(64, 5, generator=g)
    f = torch.relu(torch.randn(64, 7, generator=g))
    whole, parts = ReconstructionStats(7), ReconstructionStats(7)
    whole.add(x, x_hat, f)
    for i in range(0, 64, 16):
        parts.add(x[i : i + 16], x_hat[i : i + 16], f[i : i + 16])
    for key, value in whole.metrics().items():
        assert parts.metrics()[key] == pytest.approx(value)


def test_ce_loss_recovered():
    assert ce_loss_recovered(2.0, 2.5, 4.0) == pytest.approx(0.75)
    assert ce_loss_recovered(2.0, 2.0, 4.0) == 1.0
    assert ce_loss_recovered(2.0, 4.0, 4.0) == 0.0
    assert math.isnan(ce_loss_recovered(2.0, 2.0, 2.0))


def test_loss_stats_on_hand_logits():
    targets = torch.tensor([[0, 1]])
    uniform = torch.zeros(1, 2, 4)
    sharp = torch.tensor([[[10.0, 0, 0, 0], [0, 10.0, 0, 0]]])
    stats = LossStats()
    stats.add(targets, sharp, uniform, uniform)
    m = stats.metrics()
    assert m["ce_loss_spliced"] == pytest.approx(math.log(4))
    assert m["ce_loss_clean"] == pytest.approx(math.log(1 + 3 * math.exp(-10)))
    assert m["kl_divergence"] > 0 and m["ce_loss_recovered"] == pytest.approx(0.0)
    assert m["kl_score"] == pytest.approx(0.0)  # spliced as bad as zeroed


def _exact_sae(d, site):
    """relu(x) − relu(−x) = x: a 2d-wide ReLU SAE that reconstructs exactly."""
    sae = sw.SAE(d, 2 * d, "relu", site=site, apply_b_dec_to_input=False)
    eye = torch.eye(d)
    with torch.no_grad():
        sae.W_enc.copy_(torch.cat([eye, -eye], 1))
        sae.W_dec.copy_(torch.cat([eye, -eye], 0))
        sae.b_enc.zero_()
        sae.b_dec.zero_()
    return sae


@pytest.fixture(scope="module")
def model():
    return tiny_model("gpt2", seed=7)


CORPUS = sw.corpus.from_texts(
    [f"Line {i}: the quick brown fox jumps {i % 9} times." for i in range(60)]
)


def test_a_perfect_sae_recovers_everything(model):
    site = "blocks.1.hook_resid_post"
    report = sw.evaluate(
        model, _exact_sae(32, site), CORPUS, n_tokens=600, window=32, progress=False
    )
    m = report.metrics
    assert m["explained_variance"] == pytest.approx(1.0, abs=1e-5)
    assert m["ce_loss_recovered"] == pytest.approx(1.0, abs=1e-4)
    assert m["kl_divergence"] == pytest.approx(0.0, abs=1e-6)
    assert m["delta_lm_loss"] == pytest.approx(0.0, abs=1e-5)
    assert m["kl_score"] == pytest.approx(1.0, abs=1e-5)
    assert m["cosine_similarity"] == pytest.approx(1.0, abs=1e-6)
    assert m["relative_reconstruction_bias"] == pytest.approx(1.0, abs=1e-6)
    # each decoder row e_i has exactly one other row at cosine −1 and the rest at 0
    assert m["decoder_max_cosine"] == pytest.approx(0.0, abs=1e-6)
    assert m["ce_loss_zero_ablation"] != pytest.approx(m["ce_loss_clean"], abs=1e-4)
    # every window's first position and the EOS separators (the pad token here) are left out
    windows = CORPUS.take(model.tokenizer, 600, window=32)
    assert report.n_tokens == int((windows[:, 1:] != model.tokenizer.pad_token_id).sum())
    assert set(report.figures()) == {"density", "token_error"}
    assert "explained_variance" in set(report.table().metric)


def test_a_random_sae_is_worse_and_the_table_has_a_row_per_site(model):
    saes = {
        "blocks.0.hook_mlp_out": sw.SAE(32, 64, "topk", k=4, seed=0),
        "blocks.1.hook_resid_post": _exact_sae(32, "blocks.1.hook_resid_post"),
    }
    table, reports = sw.evaluate_many(model, saes, CORPUS, n_tokens=300, window=32, progress=False)
    assert list(table.site) == list(saes) == list(reports)
    random_row = table.set_index("site").loc["blocks.0.hook_mlp_out"]
    assert random_row.explained_variance < 0.9 and random_row.l0 <= 4
    assert np.isfinite(table.select_dtypes("number").to_numpy()).all()


def test_evaluate_bad_input(model):
    with pytest.raises(ValueError, match="no site"):
        sw.evaluate(model, sw.SAE(32, 64, "relu"), CORPUS, n_tokens=100, progress=False)
    with pytest.raises(sw.SAEConfigError, match="d_in=16, but that site .* is 32 wide"):
        sw.evaluate(
            model,
            sw.SAE(16, 64, "relu", site="blocks.1.hook_resid_post"),
            CORPUS,
            n_tokens=100,
            progress=False,
        )
    with pytest.raises(sw.corpus.CorpusTooSmall):
        sw.evaluate(
            model,
            _exact_sae(32, "blocks.1.hook_resid_post"),
            CORPUS,
            n_tokens=10**7,
            progress=False,
        )
