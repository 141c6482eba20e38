"""Transcoder files in the layouts peers publish: circuit-tracer sets (read and written),
Gemma Scope 2 transcoders, SAELens transcoder configs, and the errors unsupported ones get."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
import yaml
from safetensors.torch import load_file, save_file
from tiny import tiny_model

import saewidgets as sw
from saewidgets.sae.formats.circuit_tracer import save_circuit_tracer

D, F = 32, 24


def _mlp_transcoders(arch="topk", seed=0):
    out = {}
    for layer in range(3):
        sae = sw.SAE(
            D,
            F,
            arch,
            site=f"blocks.{layer}.ln2.hook_normalized",
            site_out=f"blocks.{layer}.hook_mlp_out",
            k=4 if arch == "topk" else None,
            seed=seed + layer,
            metadata={"model_name": "tiny-llama"},
        )
        with torch.no_grad():
            sae.b_enc.normal_(0, 0.1)
            sae.b_dec.normal_(0, 0.1)
            if arch == "jumprelu":
                sae.threshold.fill_(0.05)
        out[sae.site] = sae
    return out


def _their_layer(g, threshold=False, skip=False):
    """One layer file as circuit-tracer lays it out: features first in both matrices."""
    t = {
        "W_enc": torch.randn(F, D, generator=g) * 0.3,
        "W_dec": torch.randn(F, D, generator=g) * 0.3,
        "b_enc": torch.randn(F, generator=g) * 0.1,
        "b_dec": torch.randn(D, generator=g) * 0.1,
    }
    if threshold:
        t["activation_function.threshold"] = torch.full((F,), 0.2)
    if skip:
        t["W_skip"] = torch.eye(D)
    return t


def _write_theirs(folder, config, **layer):
    folder.mkdir(parents=True, exist_ok=True)
    g = torch.Generator().manual_seed(7)
    files = {}
    for i in range(3):
        files[i] = _their_layer(g, **layer)
        save_file(files[i], str(folder / f"layer_{i}.safetensors"))
    (folder / "config.yaml").write_text(yaml.safe_dump(config))
    return files


def test_a_circuit_tracer_jumprelu_set_computes_as_circuit_tracer_does(tmp_path):
    files = _write_theirs(
        tmp_path / "set",
        {
            "model_kind": "transcoder_set",
            "feature_input_hook": "mlp.hook_in",
            "feature_output_hook": "mlp.hook_out",
            "model_name": "tiny-llama",
        },
        threshold=True,
    )
    loaded = sw.load_transcoders(tmp_path / "set")
    assert list(loaded) == [f"blocks.{i}.ln2.hook_normalized" for i in range(3)]
    x = torch.randn(10, D)
    for i, sae in enumerate(loaded.values()):
        assert sae.architecture == "jumprelu" and sae.site_out == f"blocks.{i}.hook_mlp_out"
        t = files[i]
        pre = x @ t["W_enc"].T + t["b_enc"]
        acts = pre * (pre > t["activation_function.threshold"])
        expected = acts @ t["W_dec"] + t["b_dec"]  # b_dec is only an output bias
        with torch.no_grad():
            assert torch.allclose(sae.decode(sae.encode(x)), expected, atol=1e-5)


def test_our_transcoders_round_trip_through_circuit_tracer_layout(tmp_path):
    ours = _mlp_transcoders("topk")
    folder = save_circuit_tracer(ours, tmp_path / "ct")
    config = yaml.safe_load((folder / "config.yaml").read_text())
    assert config == {
        "model_kind": "transcoder_set",
        "feature_input_hook": "mlp.hook_in",
        "feature_output_hook": "mlp.hook_out",
        "model_name": "tiny-llama",
        "activation": "topk",
        "k": 4,
    }
    layer = load_file(str(folder / "layer_1.safetensors"))
    # exactly the keys circuit-tracer's strict loader accepts, features first
    assert set(layer) == {"W_enc", "W_dec", "b_enc", "b_dec"}
    assert tuple(layer["W_enc"].shape) == (F, D) and tuple(layer["W_dec"].shape) == (F, D)
    back = sw.load_transcoders(folder)
    x = torch.randn(12, D)
    with torch.no_grad():
        for site, sae in ours.items():
            assert torch.allclose(
                back[site].decode(back[site].encode(x)), sae.decode(sae.encode(x)), atol=1e-6
            )
    # and the loaded set drives an attribution graph of the model it was made for
    model = tiny_model("llama", seed=1)
    g = sw.attribute(model, "the cat sat", back, progress=False)
    assert g.mask("feature").sum() > 0


def test_jumprelu_sets_write_their_thresholds(tmp_path):
    folder = save_circuit_tracer(_mlp_transcoders("jumprelu"), tmp_path / "j")
    layer = load_file(str(folder / "layer_0.safetensors"))
    assert torch.allclose(layer["activation_function.threshold"], torch.full((F,), 0.05))
    assert "activation" not in yaml.safe_load((folder / "config.yaml").read_text())


@pytest.mark.parametrize(
    ("config", "layer", "message"),
    [
        (
            {
                "model_kind": "cross_layer_transcoder",
                "feature_input_hook": "hook_resid_mid",
                "feature_output_hook": "hook_mlp_out",
            },
            {},
            "cross-layer transcoders",
        ),
        (
            {
                "model_kind": "transcoder_set",
                "feature_input_hook": "hook_resid_mid",
                "feature_output_hook": "hook_mlp_out",
            },
            {},
            "hook_resid_mid.*supported: ",
        ),
        (
            {
                "model_kind": "transcoder_set",
                "feature_input_hook": "mlp.hook_in",
                "feature_output_hook": "mlp.hook_out",
            },
            {"skip": True},
            "W_skip",
        ),
        (
            {
                "model_kind": "transcoder_set",
                "feature_input_hook": "mlp.hook_in",
                "feature_output_hook": "mlp.hook_out",
                "activation": "topk",
            },
            {},
            "positive k",
        ),
    ],
)
def test_unsupported_circuit_tracer_sets_are_refused(tmp_path, config, layer, message):
    _write_theirs(tmp_path / "set", config, **layer)
    with pytest.raises(sw.SAEFormatError, match=message):
        sw.load_transcoders(tmp_path / "set")


def test_a_gap_in_the_layers_is_named(tmp_path):
    _write_theirs(
        tmp_path / "set",
        {
            "model_kind": "transcoder_set",
            "feature_input_hook": "mlp.hook_in",
            "feature_output_hook": "mlp.hook_out",
        },
    )
    (tmp_path / "set" / "layer_1.safetensors").unlink()
    with pytest.raises(sw.SAEFormatError, match=r"missing \[1\]"):
        sw.load_transcoders(tmp_path / "set")


def test_writer_refuses_sets_circuit_tracer_cannot_hold(tmp_path):
    some = _mlp_transcoders()
    del some["blocks.1.ln2.hook_normalized"]
    with pytest.raises(sw.SAEFormatError, match=r"every layer 0..L-1; got \[0, 2\]"):
        save_circuit_tracer(some, tmp_path / "x")
    resid = {"r": sw.SAE(D, F, "relu", site="blocks.0.hook_resid_post")}
    with pytest.raises(sw.SAEFormatError, match="MLP input"):
        save_circuit_tracer(resid, tmp_path / "y")


def test_gemma_scope_2_transcoders_load_as_mlp_transcoders(tmp_path):
    """Gemma Scope 2 writes lower-case names with the input dimension first in w_enc."""
    folder = tmp_path / "transcoder" / "layer_5_width_16k_l0_small"
    folder.mkdir(parents=True)
    g = torch.Generator().manual_seed(3)
    t = {
        "w_enc": torch.randn(D, F, generator=g),
        "w_dec": torch.randn(F, D, generator=g),
        "b_enc": torch.zeros(F),
        "b_dec": torch.randn(D, generator=g),
        "threshold": torch.full((F,), 0.5),
    }
    save_file(t, str(folder / "params.safetensors"))
    sae = sw.load_sae(folder)
    assert (sae.site, sae.site_out) == ("blocks.5.ln2.hook_normalized", "blocks.5.hook_mlp_out")
    x = torch.randn(6, D)
    pre = x @ t["w_enc"] + t["b_enc"]
    expected = (pre * (pre > 0.5)) @ t["w_dec"] + t["b_dec"]
    with torch.no_grad():
        assert torch.allclose(sae.decode(sae.encode(x)), expected, atol=1e-5)
    t["affine_skip_connection"] = torch.eye(D)
    save_file(t, str(folder / "params.safetensors"))
    with pytest.raises(sw.SAEFormatError, match="affine skip"):
        sw.load_sae(folder)


def test_saelens_transcoder_config_with_equal_widths_keeps_b_dec_on_the_output(tmp_path):
    """An MLP transcoder has d_out == d_in; SAELens's cfg names the output hook. Its b_dec
    must not be subtracted from the input, even when the file does not say so."""
    folder = tmp_path / "tc"
    folder.mkdir()
    g = torch.Generator().manual_seed(5)
    t = {
        "W_enc": torch.randn(D, F, generator=g),
        "W_dec": torch.randn(F, D, generator=g),
        "b_enc": torch.zeros(F),
        "b_dec": torch.randn(D, generator=g),
    }
    save_file(t, str(folder / "sae_weights.safetensors"))
    cfg = {
        "architecture": "transcoder",
        "d_in": D,
        "d_sae": F,
        "d_out": D,
        "dtype": "float32",
        "device": "cpu",
        "normalize_activations": "none",
        "metadata": {
            "hook_name": "blocks.2.ln2.hook_normalized",
            "hook_name_out": "blocks.2.hook_mlp_out",
            "model_name": "tiny-llama",
        },
    }
    (folder / "cfg.json").write_text(json.dumps(cfg))
    sae = sw.load_sae(folder)
    assert sae.is_transcoder and not sae.apply_b_dec_to_input
    x = torch.randn(4, D)
    expected = torch.relu(x @ t["W_enc"]) @ t["W_dec"] + t["b_dec"]
    with torch.no_grad():
        assert np.allclose(sae.decode(sae.encode(x)).numpy(), expected.numpy(), atol=1e-5)
