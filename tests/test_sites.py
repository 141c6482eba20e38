"""Site names map onto every supported family: checked against HF's own hidden states."""

import pytest
import torch
from tiny import CONFIGS, tiny_model

import saewidgets as sw
from saewidgets.model.sites import KINDS, resolve

FAMILIES = sorted(CONFIGS)


def _ids(seed=1, shape=(2, 9)):
    return torch.randint(0, 256, shape, generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("family", FAMILIES)
def test_resid_sites_match_hf_hidden_states(family):
    model = tiny_model(family)
    ids = _ids()
    mask = torch.ones_like(ids)
    with torch.no_grad():
        hidden = model.hf_model(ids, attention_mask=mask, output_hidden_states=True).hidden_states
    # HF's last hidden state has the final norm applied, so compare the layers before it.
    for layer in range(model.n_layers - 1):
        got = model.read_sites(
            ids, mask, [f"blocks.{layer}.hook_resid_pre", f"blocks.{layer}.hook_resid_post"]
        )
        torch.testing.assert_close(got[f"blocks.{layer}.hook_resid_pre"], hidden[layer])
        torch.testing.assert_close(got[f"blocks.{layer}.hook_resid_post"], hidden[layer + 1])


@pytest.mark.parametrize("family", FAMILIES)
def test_block_writes_add_up_to_resid_post(family):
    """resid_pre + attn_out + mlp_out == resid_post: the branch sites are the residual writes."""
    model = tiny_model(family)
    ids = _ids(2)
    mask = torch.ones_like(ids)
    layer = 1
    got = model.read_sites(ids, mask, [f"blocks.{layer}.{kind}" for kind in KINDS])
    total = (
        got[f"blocks.{layer}.hook_resid_pre"]
        + got[f"blocks.{layer}.hook_attn_out"]
        + got[f"blocks.{layer}.hook_mlp_out"]
    )
    torch.testing.assert_close(total, got[f"blocks.{layer}.hook_resid_post"], atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("family", FAMILIES)
def test_ln2_normalized_is_the_mlp_input(family):
    model = tiny_model(family)
    ids = _ids(3)
    mask = torch.ones_like(ids)
    seen = {}
    mlp = model.module(model.site("blocks.2.ln2.hook_normalized").module)
    handle = mlp.register_forward_hook(lambda m, args, out: seen.setdefault("x", args[0]))
    try:
        with torch.no_grad():
            model.hf_model(ids, attention_mask=mask)
    finally:
        handle.remove()
    got = model.read_sites(ids, mask, ["blocks.2.ln2.hook_normalized"])
    torch.testing.assert_close(got["blocks.2.ln2.hook_normalized"], seen["x"])


def test_sites_are_read_in_execution_order_whatever_order_asked():
    model = tiny_model("llama")
    ids = _ids(4)
    mask = torch.ones_like(ids)
    asked = ["blocks.2.hook_resid_post", "blocks.0.hook_mlp_out", "blocks.1.hook_resid_pre"]
    got = model.read_sites(ids, mask, asked)
    assert set(got) == set(asked)
    alone = model.read_sites(ids, mask, ["blocks.0.hook_mlp_out"])
    torch.testing.assert_close(got["blocks.0.hook_mlp_out"], alone["blocks.0.hook_mlp_out"])


def test_reading_stops_after_the_deepest_site():
    """Layers after the deepest requested site never run."""
    model = tiny_model("llama")
    ran = []
    hooks = [
        layer.register_forward_pre_hook(lambda m, a, i=i: ran.append(i))
        for i, layer in enumerate(model.hf_model.model.layers)
    ]
    try:
        ids = _ids(5)
        model.read_sites(ids, torch.ones_like(ids), ["blocks.0.hook_resid_post"])
    finally:
        for h in hooks:
            h.remove()
    assert ran == [0]


def test_unknown_site_lists_the_valid_ones():
    model = tiny_model("gpt2")
    with pytest.raises(sw.SiteError) as info:
        model.site("blocks.3.hook_resid_post")  # only 3 layers: 0..2
    assert "blocks.{0..2}.hook_resid_post" in str(info.value)
    with pytest.raises(sw.SiteError, match="unknown site"):
        model.site("transformer.h.1")


def test_unsupported_architecture_is_a_clear_error():
    from saewidgets.model.sites import family_for

    with pytest.raises(sw.UnsupportedArchitecture, match="supported: .*gpt2"):
        family_for("mamba")


def test_gemma3_multimodal_uses_the_language_model_layers():
    from saewidgets.model.sites import family_for

    site = resolve("blocks.4.hook_resid_post", family_for("gemma3"), 10)
    assert site.module == "model.language_model.layers.4"


@pytest.mark.parametrize(
    "site",
    [
        "blocks.1.hook_resid_pre",
        "blocks.1.hook_attn_out",
        "blocks.1.ln2.hook_normalized",
        "blocks.1.hook_resid_post",
    ],
)
def test_run_patches_a_site_and_reads_it_first(site):
    model = tiny_model("llama")
    ids = _ids(6)
    mask = torch.ones_like(ids)
    with torch.no_grad():
        clean = model.hf_model(ids, attention_mask=mask).logits
    logits, reads = model.run(ids, mask, read=[site], patches={site: lambda x: x})
    torch.testing.assert_close(logits, clean)  # identity patch changes nothing
    torch.testing.assert_close(reads[site], model.read_sites(ids, mask, [site])[site])
    zeroed, _ = model.run(ids, mask, patches={site: torch.zeros_like})
    assert not torch.allclose(zeroed, clean)
    # zeroing resid_pre of layer 1 equals running layers 1.. on zeros: check via a torch hook
    if site == "blocks.1.hook_resid_pre":
        layer = model.hf_model.model.layers[1]
        handle = layer.register_forward_pre_hook(
            lambda m, args, kwargs: ((torch.zeros_like(args[0]), *args[1:]), kwargs),
            with_kwargs=True,
        )
        try:
            with torch.no_grad():
                expected = model.hf_model(ids, attention_mask=mask).logits
        finally:
            handle.remove()
        torch.testing.assert_close(zeroed, expected)
