"""sw.steer and sw.Intervention: edits at every step, streaming, cancel, measures, bad input."""

import itertools
import threading

import numpy as np
import pytest
import torch
from tiny import tiny_model

import saewidgets as sw
from saewidgets.analysis.stats import StatsMismatch, feature_stats
from saewidgets.analysis.steering.interventions import apply_edits, compile_edits

SITE = "blocks.1.hook_resid_post"
PROMPT = "the cat sat on"


@pytest.fixture(scope="module")
def tiny():
    model = tiny_model("llama", seed=11)
    sae = sw.SAE(32, 48, "topk", k=6, site=SITE, seed=4)
    return model, sae


def _reference_generate(model, sae, feature, strength, apply_to, n):
    """Plain HF generate with a torch forward hook: the same edit, written independently."""
    row = sae.W_dec[feature].detach()
    vector = strength * row / row.norm()

    def hook(module, args, output):
        h = output[0] if isinstance(output, tuple) else output
        if h.shape[1] > 1:  # the prefill: prompt positions
            lo = h.shape[1] - 1 if apply_to == "generated" else 1
            h[:, lo:] += h[:, lo:].norm(dim=-1, keepdim=True) * vector
        elif apply_to != "prompt":
            h += h.norm(dim=-1, keepdim=True) * vector
        return output

    handle = model.module("model.layers.1").register_forward_hook(hook)
    try:
        ids = torch.tensor([model.encode(PROMPT)])
        with torch.no_grad():
            out = model.hf_model.generate(
                ids,
                attention_mask=torch.ones_like(ids),
                max_new_tokens=n,
                min_new_tokens=n,
                do_sample=False,
                pad_token_id=model.tokenizer.pad_token_id,
            )
    finally:
        handle.remove()
    return out[0, ids.shape[1] :].tolist()


@pytest.mark.parametrize("apply_to", ["both", "generated", "prompt"])
def test_add_applies_at_every_step_like_a_plain_hook(tiny, apply_to):
    model, sae = tiny
    n = 12
    expected = _reference_generate(model, sae, 3, 2.0, apply_to, n)
    got = sw.steer(
        model,
        PROMPT,
        sw.Intervention(sae, 3, 2.0),
        max_new_tokens=n,
        apply_to=apply_to,
        measure=False,
        generate_kwargs={"min_new_tokens": n},
    )
    plain = _reference_generate(model, sae, 3, 0.0, apply_to, n)
    assert got.token_ids == expected
    assert expected != plain  # the edit changes the output, so the comparison means something


def test_clamp_and_ablate_keep_the_sae_error_term(tiny):
    model, sae = tiny
    h = torch.randn(5, 32) * 3
    f = sae.encode(h)
    feature = int(f[0].argmax())
    for mode, strength, value in (("clamp", 7.5, 7.5), ("ablate", 0.0, 0.0)):
        (plan,) = compile_edits(model, [sw.Intervention(sae, feature, strength, mode)])
        # strengths without stats are multiples of ‖x‖ / ‖d‖ for clamp
        got = apply_edits(h, plan.edits)
        edited = f.clone()
        target = value * h.norm(dim=-1) / sae.W_dec[feature].norm()
        edited[:, feature] = target
        error = h - sae.decode(f)
        torch.testing.assert_close(got, sae.decode(edited) + error, rtol=1e-4, atol=1e-4)


def test_strength_is_in_max_activation_units_with_stats(tiny):
    model, sae = tiny
    corpus = sw.corpus.from_texts([f"line {i} of some text about cats" for i in range(40)])
    stats = feature_stats(model, sae, corpus, n_tokens=600, window=16, cache=False, progress=False)
    feature = int(np.argmax(stats.max_activation))
    item = sw.Intervention(sae, feature, 2.0)
    (plan,) = compile_edits(model, [item], stats)
    (edit,) = plan.edits
    expected = 2.0 * float(stats.max_activation[feature]) * sae.W_dec[feature]
    torch.testing.assert_close(edit.add, expected.detach())
    assert edit.add_rel is None
    result = sw.steer(model, PROMPT, item, stats=stats, max_new_tokens=4)
    assert result.features.loc[0, "unit"] == pytest.approx(float(stats.max_activation[feature]))
    other = sw.SAE(32, 48, "topk", k=6, site=SITE, seed=99)
    with pytest.raises(StatsMismatch):
        sw.steer(model, PROMPT, sw.Intervention(other, 0, 1.0), stats=stats, max_new_tokens=2)


def test_measures_perplexity_and_vocab_shift(tiny):
    model, sae = tiny
    base = sw.steer(model, PROMPT, [], max_new_tokens=8)
    ids = torch.tensor([base.prompt_ids + base.token_ids])
    with torch.no_grad():
        logp = model.hf_model(ids).logits[0].log_softmax(-1)
    n = len(base.prompt_ids)
    nll = -logp[n - 1 : -1].gather(1, torch.tensor(base.token_ids)[:, None]).mean()
    assert base.perplexity == pytest.approx(float(torch.exp(nll)), rel=1e-4)

    feature = 5
    steered = sw.steer(model, PROMPT, sw.Intervention(sae, feature, 3.0), max_new_tokens=8)
    row = steered.features.iloc[0]
    assert row["vocab_shift"] > 0  # adding a direction raises the tokens it promotes
    assert row["activation"] > 0
    assert steered.perplexity != pytest.approx(base.perplexity)


def test_several_features_and_sites_at_once(tiny):
    model, sae = tiny
    other = sw.SAE(32, 24, "relu", site="blocks.0.hook_mlp_out", seed=1)
    items = [
        sw.Intervention(sae, 1, 1.0),
        sw.Intervention(sae, 2, 0.5, "clamp"),
        sw.Intervention(other, 4, -1.0),
    ]
    result = sw.steer(model, PROMPT, items, max_new_tokens=6)
    assert list(result.features["site"]) == [SITE, SITE, "blocks.0.hook_mlp_out"]
    single = sw.steer(model, PROMPT, items[:1], max_new_tokens=6)
    assert result.token_ids != single.token_ids or result.perplexity != single.perplexity


def test_streaming_reports_every_token_and_cancel_stops(tiny):
    model, sae = tiny
    seen = []
    full = sw.steer(
        model,
        PROMPT,
        sw.Intervention(sae, 3, 1.0),
        max_new_tokens=10,
        on_token=lambda text, ids: seen.append((text, list(ids))),
        generate_kwargs={"min_new_tokens": 10},
    )
    assert [len(ids) for _, ids in seen] == list(range(1, 11))
    assert seen[-1][1] == full.token_ids and not full.cancelled
    assert all(b.startswith(a) for (a, _), (b, _) in itertools.pairwise(seen))

    cancel = threading.Event()

    def stop_after_three(text, ids):
        if len(ids) == 3:
            cancel.set()

    cut = sw.steer(
        model,
        PROMPT,
        sw.Intervention(sae, 3, 1.0),
        max_new_tokens=10,
        on_token=stop_after_three,
        cancel=cancel,
        generate_kwargs={"min_new_tokens": 10},
    )
    assert cut.cancelled and cut.n_tokens == 4  # the token in flight is kept
    assert cut.token_ids == full.token_ids[:4]


def test_error_mid_generation_leaves_the_model_unhooked(tiny):
    model, sae = tiny
    ids = torch.tensor([model.encode(PROMPT)])
    with torch.no_grad():
        clean = model.hf_model(ids).logits

    def explode(text, new_ids):
        if len(new_ids) == 3:
            raise RuntimeError("stop here")

    with pytest.raises(RuntimeError, match="stop here"):
        sw.steer(model, PROMPT, sw.Intervention(sae, 3, 5.0), max_new_tokens=8, on_token=explode)
    logits, _ = model.run(ids, torch.ones_like(ids))
    torch.testing.assert_close(logits, clean)
    layer = model.module("model.layers.1")
    assert not layer._forward_hooks and not layer._forward_pre_hooks
    assert model.generation_lock.acquire(blocking=False)
    model.generation_lock.release()


def test_sampling_is_reproducible_with_a_seed(tiny):
    model, _ = tiny
    runs = [
        sw.steer(model, PROMPT, [], temperature=1.0, seed=s, max_new_tokens=10, measure=False)
        for s in (1, 1, 2)
    ]
    assert runs[0].token_ids == runs[1].token_ids
    assert runs[0].token_ids != runs[2].token_ids


def test_remote_local_path_gives_the_same_tokens_and_measures(tiny):
    model, sae = tiny
    simulated = tiny_model("llama", seed=11, remote="local")
    items = [sw.Intervention(sae, 3, 2.0), sw.Intervention(sae, 7, 1.0, "clamp")]
    local = sw.steer(model, PROMPT, items, max_new_tokens=8)
    remote = sw.steer(simulated, PROMPT, items, max_new_tokens=8)
    assert remote.token_ids == local.token_ids
    np.testing.assert_allclose(
        remote.features["vocab_shift"], local.features["vocab_shift"], rtol=1e-4, atol=1e-6
    )


def test_bad_input_gets_clear_messages(tiny):
    model, sae = tiny
    with pytest.raises(sw.SteeringError, match="out of range.*0..47"):
        sw.Intervention(sae, 48, 1.0)
    with pytest.raises(sw.SteeringError, match="mode 'boost'"):
        sw.Intervention(sae, 1, 1.0, mode="boost")
    with pytest.raises(sw.SteeringError, match="finite"):
        sw.Intervention(sae, 1, float("nan"))
    with pytest.raises(sw.SteeringError, match="pass site="):
        sw.Intervention(sw.SAE(32, 8, "relu"), 1, 1.0)
    with pytest.raises(sw.SteeringError, match="prompt is empty"):
        sw.steer(model, "   ", sw.Intervention(sae, 1, 1.0))
    with pytest.raises(sw.SiteError, match="unknown site"):
        sw.steer(model, PROMPT, sw.Intervention(sae, 1, 1.0, site="blocks.9.hook_resid_post"))
    wide = sw.SAE(64, 8, "relu", site=SITE)
    with pytest.raises(sw.SteeringError, match="d_in=64, but that site"):
        sw.steer(model, PROMPT, sw.Intervention(wide, 1, 1.0))
    with pytest.raises(sw.SteeringError, match="apply_to"):
        sw.steer(model, PROMPT, [], apply_to="everything")
    with pytest.raises(sw.SteeringError, match="context of 64"):
        sw.steer(model, PROMPT, [], max_new_tokens=100)
    with pytest.raises(sw.SteeringError, match="no chat template"):
        sw.steer(model, PROMPT, [], chat=True)
    with pytest.raises(TypeError, match="sw.Intervention"):
        sw.steer(model, PROMPT, [3])


def test_embedded_model_steering_with_the_shipped_sae(embedded_model):
    sae = sw.load_sae("embedded", site="blocks.9.hook_resid_post")
    prompt = "My favourite thing to do on a weekend is"
    base = sw.steer(embedded_model, prompt, [], max_new_tokens=12)
    zero = sw.steer(embedded_model, prompt, sw.Intervention(sae, 10, 0.0), max_new_tokens=12)
    assert zero.text == base.text  # strength 0 is a no-op
    steered = sw.steer(embedded_model, prompt, sw.Intervention(sae, 10, 0.4), max_new_tokens=12)
    assert steered.text != base.text
    assert steered.features.loc[0, "activation"] > zero.features.loc[0, "activation"]
    chat = sw.steer(embedded_model, prompt, [], chat=True, max_new_tokens=8)
    assert chat.prompt_ids[: len(base.prompt_ids)] != base.prompt_ids and chat.text.strip()
    sweep = sw.steering_sweep(
        embedded_model,
        prompt,
        sw.Intervention(sae, 10, 0.0),
        strengths=(0, 0.4),
        max_new_tokens=8,
        progress=False,
    )
    assert list(sweep.table["strength"]) == [0.0, 0.4]
    assert sweep.table["text"].iloc[1] == steered.text[: len(sweep.table["text"].iloc[1])]
    assert sweep.table["vocab_shift"].iloc[0] == 0.0  # strength 0: nothing moves
    assert np.isfinite(sweep.table[["activation", "vocab_shift", "perplexity"]].to_numpy()).all()
    assert len(sweep.plot().data) == 2
