"""remote=True keeps the SAE on the client; tested offline through nnsight's remote='local'."""

import nnsight
import numpy as np
import pytest
from tiny import tiny_model

import saewidgets as sw

SITE = "blocks.1.hook_resid_post"


def test_remote_local_trace_equals_local_trace():
    sae = sw.SAE(32, 64, "topk", k=4, site=SITE, seed=0)
    local = sw.trace(tiny_model("llama", seed=3), ["one text", "another, longer text"], sae)
    simulated = sw.trace(
        tiny_model("llama", seed=3, remote="local"), ["one text", "another, longer text"], sae
    )
    for doc in range(2):
        np.testing.assert_allclose(simulated.dense(doc), local.dense(doc), rtol=1e-5, atol=1e-5)


def test_remote_local_reads_several_sites_and_stops_early():
    model = tiny_model("gpt2", seed=4, remote="local")
    import torch

    ids = torch.randint(0, 256, (2, 6))
    got = model.read_sites(
        ids, torch.ones_like(ids), ["blocks.0.hook_attn_out", "blocks.1.hook_mlp_out"]
    )
    ref = tiny_model("gpt2", seed=4).read_sites(
        ids, torch.ones_like(ids), ["blocks.0.hook_attn_out", "blocks.1.hook_mlp_out"]
    )
    for site in got:
        torch.testing.assert_close(got[site], ref[site])


@pytest.fixture
def saved_tiny(tmp_path):
    model = tiny_model("llama")
    model.hf_model.save_pretrained(tmp_path)
    model.tokenizer.save_pretrained(tmp_path)
    return tmp_path


def test_remote_without_api_key_is_a_clear_error(saved_tiny, monkeypatch):
    monkeypatch.setattr(nnsight.CONFIG.API, "APIKEY", None)
    with pytest.raises(sw.RemoteUnavailable, match="NDIF_API_KEY"):
        sw.load_model(str(saved_tiny), remote=True)


def test_unreachable_service_is_a_clear_error(saved_tiny, monkeypatch):
    monkeypatch.setattr(nnsight.CONFIG.API, "APIKEY", "not-a-real-key")
    # Port 9 on loopback: nothing listens, so the request is refused at once.
    monkeypatch.setattr(nnsight.CONFIG.API, "HOST", "http://127.0.0.1:9")
    model = sw.load_model(str(saved_tiny), remote=True)
    assert model.remote is True and model.n_layers == 3
    sae = sw.SAE(32, 64, "relu", site=SITE)
    with pytest.raises(sw.RemoteUnavailable, match=r"127\.0\.0\.1:9"):
        sw.trace(model, "hello", sae)


def test_remote_embedded_is_refused():
    with pytest.raises(ValueError, match="embedded model runs locally"):
        sw.load_model(remote=True)


def test_bad_remote_value():
    with pytest.raises(ValueError, match="remote must be False, True or 'local'"):
        sw.load_model("x", remote="yes")


def test_local_folder_loads_with_dtype_and_traces(saved_tiny):
    import torch

    model = sw.load_model(str(saved_tiny), dtype="bfloat16")
    assert model.dtype == torch.bfloat16 and model.remote is False
    assert model.tokenizer.padding_side == "left" and model.tokenizer.pad_token is not None
    sae = sw.SAE(32, 64, "relu", site=SITE, dtype=torch.bfloat16, seed=0)
    tr = sw.trace(model, "bf16 text", sae)
    assert tr.n_tokens == len("bf16 text")


def test_missing_model_folder_is_a_clear_error(tmp_path):
    with pytest.raises(sw.ModelLoadError, match="could not load"):
        sw.load_model(str(tmp_path / "nothing-here"))
    with pytest.raises(ValueError, match="dtype 'float8'"):
        sw.load_model(str(tmp_path), dtype="float8")
