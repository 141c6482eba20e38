"""MLP transcoders at every layer: streaming training (resumable), loading, evaluation all at
once, attribution with them by default, and the errors bad transcoders get."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
import torch
from safetensors.torch import load_file
from tiny import tiny_model

import saewidgets as sw
from saewidgets.sae.transcoders import built_layers
from saewidgets.training.transcoders import (
    TranscoderConfig,
    export_checkpoint,
    train_transcoders,
)

TEXTS = [
    f"Note {i}: the {c} fox jumps over {i % 7} lazy dogs while the {c} cat sleeps."
    for i in range(200)
    for c in ("red", "brown", "grey")
]


def _config(**kw) -> TranscoderConfig:
    base = dict(
        d_sae=64,
        k=4,
        n_tokens=40 * 4 * 31,
        window=32,
        batch_windows=4,
        pool_windows=32,
        warmup_steps=3,
        checkpoint_every=5,
        lr=3e-3,
        dead_after_tokens=400,
    )
    return TranscoderConfig(**{**base, **kw})


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    model = tiny_model("llama", seed=2)
    out = tmp_path_factory.mktemp("tc") / "run"
    saes = train_transcoders(
        model, corpus=sw.corpus.from_texts(TEXTS), config=_config(), out=out, progress=False
    )
    return model, out, saes


def test_every_layer_gets_a_transcoder_that_learns(trained):
    _, out, saes = trained
    assert built_layers(out) == [0, 1, 2]
    assert list(saes) == [f"blocks.{i}.ln2.hook_normalized" for i in range(3)]
    for layer, sae in enumerate(saes.values()):
        assert sae.site_out == f"blocks.{layer}.hook_mlp_out"
        assert sae.is_transcoder and not sae.apply_b_dec_to_input
    history = json.loads((out / "history.json").read_text())
    for layer in range(3):
        fvu = [row[f"fvu_{layer}"] for row in history]
        assert np.mean(fvu[-5:]) < 0.7 * np.mean(fvu[:5])  # it learns the MLP
    assert not (out / "checkpoint").exists()  # a finished run leaves only the transcoders


def test_exported_transcoder_reads_raw_activations(trained):
    """The training scales are folded in: on raw MLP inputs the saved transcoder predicts raw
    MLP outputs better than their mean does."""
    model, out, saes = trained
    ids = torch.from_numpy(sw.corpus.from_texts(TEXTS[-20:]).take(model.tokenizer, 300, 32))
    sites = [
        s for L in range(3) for s in (f"blocks.{L}.ln2.hook_normalized", f"blocks.{L}.hook_mlp_out")
    ]
    acts = model.read_sites(ids, torch.ones_like(ids), sites)
    for site, sae in sw.load_transcoders(out).items():
        x, y = acts[site][:, 1:].reshape(-1, 32), acts[sae.site_out][:, 1:].reshape(-1, 32)
        with torch.no_grad():
            pred = sae.decode(sae.encode(x))
        fvu = float((y - pred).pow(2).sum() / (y - y.mean(0)).pow(2).sum())
        assert fvu < 0.8, site
        with torch.no_grad():
            again = saes[site].decode(saes[site].encode(x))
        assert torch.allclose(pred, again, atol=1e-5)


def test_an_interrupted_run_resumes_exactly(tmp_path):
    model = tiny_model("llama", seed=2)
    corpus = sw.corpus.from_texts(TEXTS)
    cfg = _config(n_tokens=12 * 4 * 31)
    whole = train_transcoders(
        model, [1], corpus=corpus, config=cfg, out=tmp_path / "a", progress=False
    )
    assert (
        train_transcoders(
            model, [1], corpus=corpus, config=cfg, out=tmp_path / "b", max_steps=7, progress=False
        )
        is None
    )
    saved = load_file(str(tmp_path / "b" / "checkpoint" / "layer_1.safetensors"))
    assert {"W_enc", "adam.W_enc.exp_avg", "since_fired", "scales"} <= set(saved)
    # the run as it stands can be written out (and loaded) without ending it
    early = export_checkpoint(model, tmp_path / "b")
    index = json.loads((tmp_path / "b" / "transcoders.json").read_text())
    assert index["partial"] is True and index["steps"] == 7 and index["of_steps"] == 12
    assert list(sw.load_transcoders(tmp_path / "b")) == list(early)
    with pytest.raises(sw.SAEConfigError, match="no unfinished transcoder run"):
        export_checkpoint(model, tmp_path / "a")
    resumed = train_transcoders(
        model, [1], corpus=corpus, config=cfg, out=tmp_path / "b", progress=False
    )
    site = "blocks.1.ln2.hook_normalized"
    for name in ("W_enc", "b_enc", "W_dec", "b_dec"):
        assert torch.equal(getattr(whole[site], name), getattr(resumed[site], name)), name
    # another configuration cannot resume someone else's checkpoint
    train_transcoders(
        model, [1], corpus=corpus, config=cfg, out=tmp_path / "c", max_steps=2, progress=False
    )
    with pytest.raises(sw.SAEConfigError, match="other settings"):
        train_transcoders(
            model, [1], corpus=corpus, config=_config(k=5), out=tmp_path / "c", progress=False
        )


def test_bad_configs_are_refused_before_any_pass():
    model = tiny_model("llama", seed=2)
    with pytest.raises(sw.SAEConfigError, match="k=9 must not exceed d_sae=8"):
        train_transcoders(model, config=_config(d_sae=8, k=9), corpus=sw.corpus.from_texts(TEXTS))
    with pytest.raises(sw.SAEConfigError, match="layer 3 is outside 0..2"):
        train_transcoders(model, [3], config=_config(), corpus=sw.corpus.from_texts(TEXTS))


def test_all_at_once_evaluation_matches_single_splices(trained):
    """With one transcoder the all-at-once loss is the single-site splice of `sw.evaluate`;
    with all three it is worse than any one alone and better than zeroing every MLP."""
    model, _, saes = trained
    corpus = sw.corpus.from_texts(TEXTS[-60:])
    site = "blocks.1.ln2.hook_normalized"
    one = sw.evaluate_transcoders(
        model, {site: saes[site]}, corpus, n_tokens=600, window=32, progress=False
    )
    single = sw.evaluate(model, saes[site], corpus, n_tokens=600, window=32, progress=False)
    assert one.replacement["ce_loss_replaced"] == pytest.approx(
        single.metrics["ce_loss_spliced"], rel=1e-5
    )
    assert one.layers["explained_variance"].iloc[0] == pytest.approx(
        single.metrics["explained_variance"], rel=1e-5
    )
    every = sw.evaluate_transcoders(model, saes, corpus, n_tokens=600, window=32, progress=False)
    assert list(every.layers["read_site"]) == list(saes)
    # the same loss by plain torch hooks: every MLP's output swapped for its transcoder's
    windows = torch.from_numpy(corpus.take(model.tokenizer, 600, window=32, cache=True))
    handles = []
    for layer, sae in enumerate(saes.values()):

        def swap(module, inputs, output, sae=sae):
            out = sae.decode(sae.encode(inputs[0])).to(output.dtype)
            out[:, 0] = output[:, 0]
            return out

        handles.append(model.hf_model.model.layers[layer].mlp.register_forward_hook(swap))
    try:
        with torch.no_grad():
            logits = model.hf_model(input_ids=windows).logits
    finally:
        for h in handles:
            h.remove()
    logp = torch.log_softmax(logits[:, 1:-1].double(), -1)
    expected = float(-logp.gather(-1, windows[:, 2:].unsqueeze(-1)).mean())
    assert every.replacement["ce_loss_replaced"] == pytest.approx(expected, rel=1e-5)
    # (the tiny random model's loss hardly depends on its MLPs: the gap is small but real)
    assert every.replacement["ce_loss_replaced"] != pytest.approx(
        one.replacement["ce_loss_replaced"], rel=1e-6
    )
    assert "explained variance" in every.figure().layout.yaxis.title.text.lower()


def test_graph_over_transcoders_at_every_layer(trained):
    model, out, _ = trained
    g = sw.attribute(model, "the red fox jumps", sw.load_transcoders(out), progress=False)
    feature_sites = set(g.nodes.loc[g.mask("feature"), "site"])
    assert feature_sites == {f"blocks.{i}.hook_mlp_out" for i in range(3)}
    replacement, completeness = g.scores()
    assert 0 < replacement <= 1 and 0 < completeness <= 1


def test_transcoders_that_do_not_fit_the_model_are_refused():
    model = tiny_model("llama", seed=2)
    wide = sw.SAE(
        32,
        16,
        "relu",
        site="blocks.1.ln2.hook_normalized",
        d_out=40,
        site_out="blocks.1.hook_mlp_out",
    )
    with pytest.raises(sw.AttributionError, match="d_out=40.*32 wide"):
        sw.attribute(model, "the cat", [wide], progress=False)
    other = sw.SAE(
        32,
        16,
        "relu",
        site="blocks.1.ln2.hook_normalized",
        site_out="blocks.1.hook_mlp_out",
        metadata={"model_name": "gpt2"},
    )
    with pytest.raises(sw.AttributionError, match="trained on 'gpt2'"):
        sw.attribute(model, "the cat", [other], progress=False)
    with pytest.raises(sw.AttributionError, match="no default dictionaries"):
        sw.attribute(model, "the cat", progress=False)


def test_embedded_default_falls_back_to_residual_saes_until_built(tmp_path, monkeypatch):
    """Without built transcoders the embedded model's graph uses the shipped SAEs and says
    how to build transcoders; a missing folder names what it expected."""
    from saewidgets.model.embedded import EMBEDDED_NAME
    from saewidgets.sae.transcoders import EMBEDDED_MODEL

    assert EMBEDDED_MODEL == EMBEDDED_NAME
    monkeypatch.setenv("SAEWIDGETS_CACHE", str(tmp_path))
    with pytest.raises(sw.SAEFormatError, match="python -m saewidgets transcoders"):
        sw.load_transcoders()
    with pytest.raises(sw.SAEFormatError, match="no finished transcoders"):
        sw.load_transcoders(tmp_path)
    from saewidgets.analysis.attribution.engine import default_dictionaries

    model = sw.load_model()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fallback = default_dictionaries(model)
    assert set(fallback) == set(sw.load_saes())
    assert any("python -m saewidgets transcoders" in str(w.message) for w in caught)
