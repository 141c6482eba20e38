"""Every supported SAE layout, written the way its tool writes it, loads to the same function."""

import json
import pickle

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

import saewidgets as sw

X = torch.randn(6, 8, generator=torch.Generator().manual_seed(0))


def _random_sae(arch="relu", **kw):
    sae = sw.SAE(8, 16, arch, seed=3, **kw)
    with torch.no_grad():
        for p in sae.parameters():
            p.add_(torch.randn(p.shape, generator=torch.Generator().manual_seed(p.numel())) * 0.1)
        if arch in ("jumprelu", "batchtopk"):
            sae.threshold.copy_(torch.rand(16) * 0.2 + 0.01)
    return sae


def _same(a, b):
    torch.testing.assert_close(a.encode(X), b.encode(X))
    torch.testing.assert_close(a(X), b(X))


@pytest.mark.parametrize("arch", ["relu", "topk", "batchtopk", "jumprelu", "gated"])
def test_native_round_trip(tmp_path, arch):
    sae = _random_sae(arch, site="blocks.2.hook_resid_post", **({"k": 4} if "topk" in arch else {}))
    sae.eval()
    sae.save(tmp_path / "sae")
    loaded = sw.load_sae(tmp_path / "sae")
    assert loaded.architecture == arch and loaded.site == "blocks.2.hook_resid_post"
    _same(sae, loaded)


def test_int8_storage_is_within_half_a_step_per_feature(tmp_path):
    sae = _random_sae("topk", k=4, site="blocks.2.hook_resid_post")
    sae.save(tmp_path / "q", dtype=torch.int8)
    loaded = sw.load_sae(tmp_path / "q")
    assert loaded.dtype == torch.float32 and loaded.k == 4
    for name, axis in (("W_enc", 0), ("W_dec", 1)):  # the scale is per feature
        w, back = getattr(sae, name).detach(), getattr(loaded, name).detach()
        step = w.abs().amax(dim=axis, keepdim=True) / 127
        assert bool(((w - back).abs() <= step / 2 + 1e-7).all())
    torch.testing.assert_close(loaded.b_dec, sae.b_dec.detach().half().float())
    from safetensors import safe_open

    with safe_open(str(tmp_path / "q" / "sae_weights.safetensors"), "pt") as f:
        assert f.get_tensor("W_enc.int8").dtype == torch.int8


def test_int8_scales_are_per_feature_for_square_matrices(tmp_path):
    # d_in == d_sae == d_out: the shape cannot tell the feature axis, the name does.
    sae = sw.SAE(8, 8, "relu", seed=0)
    with torch.no_grad():
        sae.W_dec.mul_(torch.arange(1.0, 9.0)[:, None])  # rows (features) of different size
    sae.save(tmp_path / "q", dtype=torch.int8)
    from safetensors import safe_open

    with safe_open(str(tmp_path / "q" / "sae_weights.safetensors"), "pt") as f:
        assert tuple(f.get_tensor("W_dec.int8_scale").shape) == (8, 1)
        assert tuple(f.get_tensor("W_enc.int8_scale").shape) == (1, 8)
    loaded = sw.load_sae(tmp_path / "q")
    w, back = sae.W_dec.detach(), loaded.W_dec.detach()
    step = w.abs().amax(dim=1, keepdim=True) / 127
    assert bool(((w - back).abs() <= step / 2 + 1e-7).all())


def test_saelens_architecture_names_written(tmp_path):
    cases = [
        (dict(architecture="relu"), "standard"),
        (dict(architecture="relu", d_out=6), "transcoder"),
        (dict(architecture="jumprelu", d_out=6), "jumprelu_transcoder"),
        (dict(architecture="batchtopk", k=2), "jumprelu"),
        (dict(architecture="batchtopk", k=2, d_out=6), "jumprelu_transcoder"),
        (dict(architecture="gated"), "gated"),
    ]
    for i, (kwargs, name) in enumerate(cases):
        sae = sw.SAE(8, 16, seed=0, **kwargs)
        sae.save(tmp_path / str(i))
        cfg = json.loads((tmp_path / str(i) / "cfg.json").read_text())
        assert cfg["architecture"] == name, kwargs
        assert sw.load_sae(tmp_path / str(i)).architecture == kwargs["architecture"]


def test_native_is_saelens_v6_layout(tmp_path):
    sae = _random_sae("topk", k=4, site="blocks.2.hook_resid_post")
    sae.save(tmp_path / "sae")
    cfg = json.loads((tmp_path / "sae" / "cfg.json").read_text())
    assert cfg["architecture"] == "topk" and cfg["k"] == 4
    assert cfg["metadata"]["hook_name"] == "blocks.2.hook_resid_post"
    assert int(cfg["metadata"]["sae_lens_version"].split(".")[0]) >= 6
    from safetensors import safe_open

    with safe_open(str(tmp_path / "sae" / "sae_weights.safetensors"), "pt") as f:
        assert set(f.keys()) == {"W_enc", "b_enc", "W_dec", "b_dec"}
        assert tuple(f.get_tensor("W_enc").shape) == (8, 16)
        assert tuple(f.get_tensor("W_dec").shape) == (16, 8)


def test_save_refuses_to_overwrite(tmp_path):
    sae = _random_sae()
    sae.save(tmp_path / "sae")
    with pytest.raises(FileExistsError, match="overwrite=True"):
        sae.save(tmp_path / "sae")
    sae.save(tmp_path / "sae", overwrite=True)


def test_sparsity_file_round_trip(tmp_path):
    sae = _random_sae()
    log_density = torch.linspace(-6, -1, 16)
    sae.save(tmp_path / "sae", sparsity=log_density)
    from saewidgets.sae import read_sparsity

    torch.testing.assert_close(read_sparsity(tmp_path / "sae"), log_density)


def _write_saelens_flat(folder, sae, **cfg_extra):
    folder.mkdir()
    cfg = {
        "d_in": 8,
        "d_sae": 16,
        "hook_point": "blocks.1.hook_resid_pre",
        "activation_fn_str": "relu",
        "apply_b_dec_to_input": True,
        "normalize_activations": False,
        "sae_lens_version": "3.5.0",
        **cfg_extra,
    }
    (folder / "cfg.json").write_text(json.dumps(cfg))
    state = {k: v.detach().clone() for k, v in sae.state_dict().items()}
    save_file(state, str(folder / "sae_weights.safetensors"))


def test_saelens_flat_pre_v6_config(tmp_path):
    sae = _random_sae("relu")
    _write_saelens_flat(tmp_path / "old", sae)
    loaded = sw.load_sae(tmp_path / "old")
    assert loaded.architecture == "relu" and loaded.site == "blocks.1.hook_resid_pre"
    _same(sae, loaded)


def test_saelens_flat_topk_via_activation_fn(tmp_path):
    sae = _random_sae("topk", k=3)
    _write_saelens_flat(
        tmp_path / "old", sae, activation_fn_str="topk", activation_fn_kwargs={"k": 3}
    )
    loaded = sw.load_sae(tmp_path / "old")
    assert loaded.architecture == "topk" and loaded.k == 3
    _same(sae, loaded)


def test_saelens_v6_written_by_saelens(tmp_path):
    """A cfg.json as SAELens 6 writes it (no saewidgets keys): jumprelu, nested metadata."""
    sae = _random_sae("jumprelu")
    folder = tmp_path / "v6"
    folder.mkdir()
    cfg = {
        "d_in": 8,
        "d_sae": 16,
        "dtype": "float32",
        "device": "cpu",
        "apply_b_dec_to_input": True,
        "normalize_activations": "none",
        "reshape_activations": "none",
        "architecture": "jumprelu",
        "metadata": {
            "hook_name": "blocks.5.hook_mlp_out",
            "model_name": "x",
            "sae_lens_version": "6.18.0",
        },
    }
    (folder / "cfg.json").write_text(json.dumps(cfg))
    save_file(
        {k: v.detach() for k, v in sae.state_dict().items()},
        str(folder / "sae_weights.safetensors"),
    )
    loaded = sw.load_sae(folder)
    assert loaded.site == "blocks.5.hook_mlp_out" and loaded.architecture == "jumprelu"
    _same(sae, loaded)


def test_saelens_log_threshold(tmp_path):
    sae = _random_sae("jumprelu")
    folder = tmp_path / "v6"
    folder.mkdir()
    cfg = {"d_in": 8, "d_sae": 16, "architecture": "jumprelu", "metadata": {"hook_name": "h"}}
    (folder / "cfg.json").write_text(json.dumps(cfg))
    state = {k: v.detach().clone() for k, v in sae.state_dict().items()}
    state["log_threshold"] = state.pop("threshold").log()
    save_file(state, str(folder / "sae_weights.safetensors"))
    _same(sae, sw.load_sae(folder))


def test_gemma_scope_npz(tmp_path):
    sae = _random_sae("jumprelu", apply_b_dec_to_input=False)
    folder = tmp_path / "gemma-scope-2b-pt-res" / "layer_3" / "width_16k" / "average_l0_20"
    folder.mkdir(parents=True)
    np.savez(folder / "params.npz", **{k: v.detach().numpy() for k, v in sae.state_dict().items()})
    loaded = sw.load_sae(folder / "params.npz")
    assert loaded.site == "blocks.3.hook_resid_post" and not loaded.apply_b_dec_to_input
    _same(sae, loaded)


def test_gemma_scope_2_lowercase_safetensors(tmp_path):
    sae = _random_sae("jumprelu", apply_b_dec_to_input=False)
    folder = tmp_path / "mlp_out" / "layer_7_width_16k_l0_small"
    folder.mkdir(parents=True)
    state = {k.lower(): v.detach() for k, v in sae.state_dict().items()}
    assert "w_enc" in state
    save_file(state, str(folder / "params.safetensors"))
    loaded = sw.load_sae(folder)
    assert loaded.site == "blocks.7.hook_mlp_out"
    _same(sae, loaded)


@pytest.mark.parametrize("transposed", [False, True])
def test_sparsify_either_decoder_orientation(tmp_path, transposed):
    sae = _random_sae("topk", k=4)
    folder = tmp_path / "layers.6"
    folder.mkdir()
    (folder / "cfg.json").write_text(
        json.dumps(
            {
                "activation": "topk",
                "expansion_factor": 2,
                "normalize_decoder": True,
                "num_latents": 16,
                "k": 4,
                "multi_topk": False,
                "skip_connection": False,
                "transcode": False,
                "d_in": 8,
            }
        )
    )
    w_dec = sae.W_dec.detach()
    save_file(
        {
            "encoder.weight": sae.W_enc.detach().T.contiguous(),
            "encoder.bias": sae.b_enc.detach(),
            "W_dec": (w_dec.T if transposed else w_dec).contiguous(),
            "b_dec": sae.b_dec.detach(),
        },
        str(folder / "sae.safetensors"),
    )
    loaded = sw.load_sae(folder)
    assert loaded.site == "blocks.6.hook_resid_post" and loaded.k == 4
    _same(sae, loaded)


DL_CLASSES = {
    "AutoEncoder": "relu",
    "AutoEncoderTopK": "topk",
    "BatchTopKSAE": "batchtopk",
    "GatedAutoEncoder": "gated",
    "JumpReluAutoEncoder": "jumprelu",
}


@pytest.mark.parametrize("dict_class", list(DL_CLASSES))
def test_dictionary_learning(tmp_path, dict_class):
    arch = DL_CLASSES[dict_class]
    sae = _random_sae(arch, **({"k": 4} if "topk" in arch else {}))
    if arch == "batchtopk":
        with torch.no_grad():
            sae.threshold.fill_(0.05)  # dictionary_learning keeps one global threshold
    s = {k: v.detach().clone() for k, v in sae.state_dict().items()}
    if dict_class == "JumpReluAutoEncoder":
        state = dict(s)  # already our names
    elif dict_class == "GatedAutoEncoder":
        state = {
            "encoder.weight": s["W_enc"].T.contiguous(),
            "gate_bias": s["b_gate"],
            "mag_bias": s["b_mag"],
            "r_mag": s["r_mag"],
            "decoder.weight": s["W_dec"].T.contiguous(),
            "decoder_bias": s["b_dec"],
        }
    else:
        state = {
            "encoder.weight": s["W_enc"].T.contiguous(),
            "encoder.bias": s["b_enc"],
            "decoder.weight": s["W_dec"].T.contiguous(),
            ("bias" if dict_class == "AutoEncoder" else "b_dec"): s["b_dec"],
        }
        if "topk" in arch:
            state["k"] = torch.tensor(4)
        if arch == "batchtopk":
            state["threshold"] = torch.tensor(0.05)
    folder = tmp_path / "trainer_0"
    folder.mkdir()
    torch.save(state, folder / "ae.pt")
    (folder / "config.json").write_text(
        json.dumps(
            {
                "trainer": {
                    "dict_class": dict_class,
                    "activation_dim": 8,
                    "dict_size": 16,
                    "layer": 4,
                    "lm_name": "x",
                    "submodule_name": "resid_post_layer_4",
                    **({"k": 4} if "topk" in arch else {}),
                    **({"apply_b_dec_to_input": True} if arch == "jumprelu" else {}),
                }
            }
        )
    )
    loaded = sw.load_sae(folder)
    assert loaded.architecture == arch and loaded.site == "blocks.4.hook_resid_post"
    _same(sae, loaded)


def test_hub_id_resolves_through_the_offline_hf_cache(tmp_path, monkeypatch):
    """A hub repo laid out in the Hugging Face cache loads with the hub offline."""
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    import huggingface_hub.constants as hc

    monkeypatch.setattr(hc, "HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setattr(hc, "HF_HUB_OFFLINE", True)
    commit = "0123456789abcdef0123456789abcdef01234567"
    repo = tmp_path / "hub" / "models--someone--tiny-saes"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(commit)
    sae = _random_sae("topk", k=2, site="blocks.1.hook_resid_post")
    sae.save(repo / "snapshots" / commit / "blocks.1.hook_resid_post")
    _random_sae("relu", site="blocks.2.hook_resid_post").save(
        repo / "snapshots" / commit / "blocks.2.hook_resid_post"
    )
    loaded = sw.load_sae("someone/tiny-saes", subfolder="blocks.1.hook_resid_post")
    _same(sae, loaded)
    with pytest.raises(sw.SAEFormatError, match="pass subfolder=.*blocks.1.hook_resid_post"):
        sw.load_sae("someone/tiny-saes")
    with pytest.raises(sw.SAEFormatError, match="could not fetch 'someone/missing'"):
        sw.load_sae("someone/missing")


def test_load_saes_reads_every_subfolder(tmp_path):
    _random_sae("relu", site="blocks.1.hook_resid_post").save(tmp_path / "a")
    _random_sae("topk", k=2, site="blocks.2.hook_resid_post").save(tmp_path / "b")
    saes = sw.load_saes(tmp_path)
    assert sorted(saes) == ["blocks.1.hook_resid_post", "blocks.2.hook_resid_post"]


# -- bad input ---------------------------------------------------------------------------------


def test_nan_or_inf_weights_are_refused(tmp_path):
    sae = _random_sae()
    with torch.no_grad():
        sae.W_enc[0, 0] = float("nan")
        sae.b_dec[1] = float("inf")
    sae.save(tmp_path / "bad")
    with pytest.raises(sw.SAEFormatError, match="refusing"):
        sw.load_sae(tmp_path / "bad")


def test_corrupt_weights_file(tmp_path):
    _random_sae().save(tmp_path / "sae")
    weights = tmp_path / "sae" / "sae_weights.safetensors"
    weights.write_bytes(weights.read_bytes()[:100])
    with pytest.raises(sw.SAEFormatError, match="not a readable safetensors file"):
        sw.load_sae(tmp_path / "sae")


def test_corrupt_config(tmp_path):
    _random_sae().save(tmp_path / "sae")
    (tmp_path / "sae" / "cfg.json").write_text("{not json")
    with pytest.raises(sw.SAEFormatError, match="not valid JSON"):
        sw.load_sae(tmp_path / "sae")


def test_mismatched_shapes_name_the_tensor(tmp_path):
    _random_sae().save(tmp_path / "sae")
    cfg_path = tmp_path / "sae" / "cfg.json"
    cfg = json.loads(cfg_path.read_text())
    cfg["d_sae"] = 32
    cfg_path.write_text(json.dumps(cfg))
    with pytest.raises(sw.SAEFormatError, match=r"W_enc has shape \(8, 16\), expected \(8, 32\)"):
        sw.load_sae(tmp_path / "sae")


def test_missing_tensor(tmp_path):
    sae = _random_sae()
    folder = tmp_path / "sae"
    sae.save(folder)
    state = {k: v.detach() for k, v in sae.state_dict().items() if k != "b_enc"}
    save_file(state, str(folder / "sae_weights.safetensors"))
    with pytest.raises(sw.SAEFormatError, match=r"missing \['b_enc'\]"):
        sw.load_sae(folder)


def test_unknown_dictionary_learning_class_lists_the_known(tmp_path):
    folder = tmp_path / "dl"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({"trainer": {"dict_class": "Crosscoder"}}))
    torch.save({"W_enc": torch.zeros(2, 2)}, folder / "ae.pt")
    with pytest.raises(
        sw.SAEFormatError, match="'Crosscoder' is not supported; supported: AutoEncoder, "
    ):
        sw.load_sae(folder)


def test_unknown_saelens_architecture(tmp_path):
    _random_sae().save(tmp_path / "sae")
    cfg_path = tmp_path / "sae" / "cfg.json"
    cfg = json.loads(cfg_path.read_text())
    cfg["architecture"] = "matching_pursuit"
    del cfg["saewidgets"]
    cfg_path.write_text(json.dumps(cfg))
    with pytest.raises(sw.SAEFormatError, match="'matching_pursuit' is not supported"):
        sw.load_sae(tmp_path / "sae")


class _Payload:
    def __reduce__(self):
        return (print, ("this must never run",))


def test_files_that_need_unpickling_are_refused(tmp_path, capsys):
    folder = tmp_path / "dl"
    folder.mkdir()
    with open(folder / "ae.pt", "wb") as fh:
        pickle.dump({"encoder.weight": _Payload()}, fh)
    (folder / "config.json").write_text(json.dumps({"trainer": {"dict_class": "AutoEncoder"}}))
    with pytest.raises(sw.SAEFormatError, match="unpickling"):
        sw.load_sae(folder)
    assert "must never run" not in capsys.readouterr().out
    bare = tmp_path / "weights.pkl"
    bare.write_bytes(b"\x80\x04K\x01.")
    with pytest.raises(sw.SAEFormatError, match="unpickled"):
        sw.load_sae(bare)


def test_npz_with_object_arrays_is_refused(tmp_path):
    folder = tmp_path / "layer_1" / "width_16k"
    folder.mkdir(parents=True)
    np.savez(folder / "params.npz", W_enc=np.array([{"a": 1}], dtype=object))
    with pytest.raises(sw.SAEFormatError, match="refusing to unpickle"):
        sw.load_sae(folder)


def test_not_a_path_nor_a_hub_id():
    with pytest.raises(FileNotFoundError, match="neither an existing file/folder nor a hub id"):
        sw.load_sae("./no/such/place")


def test_embedded_without_shipped_saes_or_site():
    from saewidgets.sae.load import shipped_sites

    if shipped_sites():
        with pytest.raises(ValueError, match="needs site="):
            sw.load_sae("embedded")
        with pytest.raises(ValueError, match="no shipped SAE for site"):
            sw.load_sae("embedded", site="blocks.0.hook_attn_out")
    else:
        with pytest.raises(sw.SAEFormatError, match="no SAEs are shipped"):
            sw.load_sae("embedded", site="blocks.9.hook_resid_post")
