"""Activation caching and SAE training on a tiny model (unit tier: seconds, no real weights)."""

import json
import warnings

import numpy as np
import pytest
import torch
from tiny import tiny_model

import saewidgets as sw
from saewidgets.corpus import Corpus, CorpusTooSmall, Document
from saewidgets.sae import architectures
from saewidgets.sae.architectures import Architecture, StepResult, TrainingLoss
from saewidgets.training.activations import ActivationCache, cache_activations, open_cache
from saewidgets.training.trainer import TrainConfig, train_on_cache

SITES = ["blocks.1.hook_resid_post", "blocks.2.hook_mlp_out"]
TEXTS = [f"Sentence {i} is about topic {i % 7} and colour {i % 5}." for i in range(300)]


def _corpus(texts=TEXTS, name="tiny", fail_after=None):
    def docs():
        for i, t in enumerate(texts):
            if fail_after is not None and i == fail_after:
                raise RuntimeError("interrupted")
            yield Document(t, name)

    # The interrupted reader holds the same documents, so it shares the identity.
    return Corpus(docs, name, identity=lambda: f"{name}:{len(texts)}")


@pytest.fixture(scope="module")
def model():
    return tiny_model("llama")


@pytest.fixture(scope="module")
def cache(model, tmp_path_factory):
    return cache_activations(
        model, SITES, _corpus(), 6000, tmp_path_factory.mktemp("acts"), window=32, progress=False
    )


def test_cache_rows_are_the_site_activations_without_the_first_position(model, cache):
    window = next(_corpus().windows(model.tokenizer, 32))
    ids = torch.from_numpy(window)[None]
    expected = model.read_sites(ids, torch.ones_like(ids), SITES)
    for site in SITES:
        rows = cache.read(site, np.arange(31))
        torch.testing.assert_close(rows, expected[site][0, 1:].half().float())
    assert cache.complete and cache.n_rows == 6000


def test_cache_is_reused_and_resumes_after_an_interruption(model, cache, tmp_path):
    again = cache_activations(
        model, SITES, _corpus(), 6000, cache.folder, window=32, progress=False
    )
    assert again.meta["windows"] == cache.meta["windows"]  # nothing was recomputed
    with pytest.raises(RuntimeError, match="interrupted"):
        cache_activations(
            model, SITES, _corpus(fail_after=150), 6000, tmp_path, window=32, progress=False
        )
    partial = open_cache(tmp_path)
    assert 0 < partial.n_rows < 6000
    resumed = cache_activations(model, SITES, _corpus(), 6000, tmp_path, window=32, progress=False)
    for site in SITES:
        np.testing.assert_array_equal(resumed.array(site), cache.array(site))


def test_cache_refuses_a_folder_holding_another_cache(model, cache):
    with pytest.raises(FileExistsError, match="different activation cache"):
        cache_activations(
            model, SITES[:1], _corpus(), 6000, cache.folder, window=32, progress=False
        )


def test_corpus_too_small_says_how_much_there_was(model, tmp_path):
    with pytest.raises(CorpusTooSmall, match=r"ran out after [\d,]+ usable tokens; 1,000,000"):
        cache_activations(
            model, SITES[:1], _corpus(TEXTS[:10]), 1_000_000, tmp_path, window=32, progress=False
        )


def test_non_finite_activations_are_skipped_and_counted(tmp_path):
    model = tiny_model("llama")
    z = model.tokenizer("Z")["input_ids"][0]
    with torch.no_grad():
        model.hf_model.model.embed_tokens.weight[z] = float("nan")
    texts = ["plain text without the letter " * 3] * 40 + ["Z poisons this window Z"] * 5
    with pytest.warns(UserWarning, match="skipped .* batches"):
        with pytest.raises(CorpusTooSmall):
            cache_activations(
                model,
                SITES[:1],
                _corpus(texts),
                100_000,
                tmp_path,
                window=16,
                batch_windows=2,
                progress=False,
            )
    meta = open_cache(tmp_path).meta
    assert meta["skipped_batches"] >= 1 and meta["nonfinite_rows"] > 0
    assert np.isfinite(open_cache(tmp_path).array(SITES[0]).astype(np.float32)).all()


@pytest.mark.parametrize("arch", ["topk", "batchtopk", "jumprelu", "relu", "gated"])
def test_training_reduces_the_error_and_saves_a_raw_scale_sae(cache, tmp_path, arch):
    cfg = TrainConfig(
        architecture=arch,
        d_sae=96,
        k=6,
        n_steps=120,
        batch_size=512,
        warmup_steps=10,
        dead_after_tokens=20_000,
        l1_coefficient=1.0,
        l0_coefficient=0.02,
    )
    result = train_on_cache(cache, SITES[0], tmp_path / arch, cfg, progress=False)
    h = result.history
    assert h.fvu.iloc[-1] < 0.6 * h.fvu.iloc[0]
    loaded = sw.load_sae(tmp_path / arch)
    assert loaded.site == SITES[0] and loaded.architecture == arch
    x = cache.read(SITES[0], np.arange(3000))
    ev = 1 - float((x - loaded(x)).pow(2).sum() / (x - x.mean(0)).pow(2).sum())
    # folding the input scale into the weights keeps the quality seen during training
    assert ev > 1 - h.fvu.iloc[-1] - 0.1
    if arch in ("topk", "batchtopk"):
        torch.testing.assert_close(loaded.W_dec.norm(dim=1), torch.ones(96), atol=1e-4, rtol=0)
        assert float((loaded.encode(x) > 0).sum(-1).float().mean()) <= 6.5


class _Interrupting(ActivationCache):
    reads = 0

    def read(self, site, rows):
        type(self).reads += 1
        if type(self).reads == 36:
            raise KeyboardInterrupt
        return super().read(site, rows)


@pytest.mark.parametrize("arch", ["topk", "batchtopk", "jumprelu"])
def test_interrupted_training_resumes_to_the_same_weights(cache, tmp_path, arch):
    # batchtopk keeps its threshold average and jumprelu its log-thresholds outside the SAE's
    # parameters: the checkpoint must carry both.
    _Interrupting.reads = 0
    cfg = TrainConfig(
        architecture=arch,
        d_sae=64,
        k=4,
        n_steps=60,
        batch_size=256,
        warmup_steps=5,
        checkpoint_every=20,
        dead_after_tokens=5_000,
    )
    straight = train_on_cache(cache, SITES[0], tmp_path / "straight", cfg, progress=False)
    flaky = _Interrupting(cache.folder, cache.meta)
    with pytest.raises(KeyboardInterrupt):
        train_on_cache(flaky, SITES[0], tmp_path / "resumed", cfg, progress=False)
    assert (tmp_path / "resumed" / "checkpoint" / "state.safetensors").is_file()
    resumed = train_on_cache(cache, SITES[0], tmp_path / "resumed", cfg, progress=False)
    for name, p in straight.sae.named_parameters():
        torch.testing.assert_close(getattr(resumed.sae, name), p, rtol=1e-4, atol=1e-5)


def test_existing_output_is_refused_without_overwrite(cache, tmp_path):
    cfg = TrainConfig(d_sae=32, k=2, n_steps=5, batch_size=128, warmup_steps=1)
    train_on_cache(cache, SITES[0], tmp_path / "sae", cfg, progress=False)
    with pytest.raises(FileExistsError, match="overwrite=True"):
        train_on_cache(cache, SITES[0], tmp_path / "sae", cfg, progress=False)
    train_on_cache(cache, SITES[0], tmp_path / "sae", cfg, progress=False, overwrite=True)


def test_bad_training_config(cache, tmp_path):
    with pytest.raises(sw.SAEConfigError, match="unknown architecture"):
        train_on_cache(cache, SITES[0], tmp_path, TrainConfig(architecture="sparse"))
    with pytest.raises(sw.SAEConfigError, match="needs k"):
        train_on_cache(cache, SITES[0], tmp_path, TrainConfig(k=None))


def test_train_sae_and_the_command_line(tmp_path, monkeypatch):
    monkeypatch.setenv("SAEWIDGETS_CACHE", str(tmp_path / "cache"))
    model = tiny_model("gpt2")
    model.hf_model.save_pretrained(tmp_path / "tiny")
    model.tokenizer.save_pretrained(tmp_path / "tiny")
    cfg = sw.TrainConfig(d_sae=48, k=4, batch_size=256, warmup_steps=2)
    result = sw.train_sae(
        model,
        SITES[0],
        _corpus(),
        out_dir=tmp_path / "one",
        n_tokens=2048,
        epochs=2,
        window=32,
        config=cfg,
        progress=False,
    )
    assert result.config.n_steps == 16 and cfg.n_steps == TrainConfig().n_steps  # not mutated
    assert sw.load_sae(tmp_path / "one").site == SITES[0]
    from saewidgets.__main__ import main

    code = main(
        [
            "train",
            "--model",
            str(tmp_path / "tiny"),
            "--site",
            SITES[0],
            "--site",
            "blocks.0.hook_resid_pre",
            "--d-sae",
            "48",
            "-k",
            "4",
            "--n-tokens",
            "4096",
            "--out",
            str(tmp_path / "cli"),
        ]
    )
    assert code == 0
    saes = sw.load_saes(tmp_path / "cli")
    assert sorted(saes) == sorted([SITES[0], "blocks.0.hook_resid_pre"])
    assert list((tmp_path / "cache" / "activations").iterdir())  # activations were cached
    args = ["train", "--model", str(tmp_path / "tiny"), "--site", SITES[0], "--d-sae", "48"]
    code = main(
        [*args, "--n-tokens", "16384", "--shard-tokens", "8192", "--out", str(tmp_path / "s")]
    )
    assert code == 0 and sw.load_saes(tmp_path / "s")[SITES[0]].d_sae == 48
    assert not list((tmp_path / "cache" / "activations").glob("*/shards-of-8192/shard-*"))


def test_window_longer_than_the_model_is_refused(model, tmp_path):
    with pytest.raises(
        ValueError, match=r"window 128 must be between 2 and the model's context \(64\)"
    ):
        cache_activations(model, SITES, _corpus(), 1000, tmp_path, window=128, progress=False)


def test_context_is_a_deprecated_spelling_of_window(model, tmp_path, monkeypatch):
    from saewidgets.core import aliases

    monkeypatch.setattr(aliases, "_warned", set())  # other tests may have used the old name
    with pytest.warns(DeprecationWarning, match=r"cache_activations\(context=\.\.\.\).*window="):
        old = cache_activations(
            model, SITES[:1], _corpus(), 300, tmp_path / "a", context=16, progress=False
        )
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)  # once per function, not per call
        again = cache_activations(
            model, SITES[:1], _corpus(), 300, tmp_path / "b", context=16, progress=False
        )
    new = cache_activations(
        model, SITES[:1], _corpus(), 300, tmp_path / "c", window=16, progress=False
    )
    assert old.meta["context"] == again.meta["context"] == new.meta["context"] == 16
    np.testing.assert_array_equal(old.array(SITES[0]), new.array(SITES[0]))
    for fn in (cache_activations, sw.train_sae, sw.train_saes):
        with pytest.raises(TypeError, match="both context= and window="):
            fn(model, SITES, context=16, window=16)  # refused before any work


# -- a new architecture is one class --------------------------------------------------------------


class _ShrinkTraining(TrainingLoss):
    """MSE plus a small L1 penalty on the features."""

    def step(self, x, dead):
        sae = self.sae
        features = sae.arch.encode(sae, sae.center_input(x))
        return StepResult.dense(sae, features, sparsity=1e-3 * features.sum(-1).mean())


class _Shrink(Architecture):
    """Soft thresholding: a feature is how far its pre-activation exceeds its own offset."""

    name = "test_shrink"
    feature_unit_parameters = ("b_enc", "offset")
    training_loss = _ShrinkTraining

    def parameter_shapes(self, d_in, d_sae, d_out):
        return {"b_enc": (d_sae,), "offset": (d_sae,)}

    def initial_parameters(self, d_in, d_sae, d_out, options):
        return {"b_enc": torch.zeros(d_sae), "offset": torch.full((d_sae,), 0.05)}

    def activate(self, sae, x, pre):
        return torch.relu(pre - sae.offset)


@pytest.fixture
def shrink():
    architectures.register(_Shrink)
    yield architectures.get("test_shrink")
    architectures.unregister("test_shrink")


def _random_cache(folder, site="blocks.0.hook_resid_post", n=4096, d=8, seed=0):
    """An activation cache holding sparse combinations of a few directions (no model)."""
    g = torch.Generator().manual_seed(seed)
    codes = torch.relu(torch.randn(n, 24, generator=g) - 1.0)
    rows = codes @ torch.randn(24, d, generator=g) + 0.5
    folder.mkdir()
    np.save(folder / f"{site}.npy", rows.numpy().astype(np.float16))
    return ActivationCache(folder, {"sites": [site], "rows": n, "n_tokens": n})


def test_a_new_architecture_is_one_class_plus_register(shrink, tmp_path):
    assert "test_shrink" in architectures.names()
    sae = sw.SAE(8, 16, "test_shrink", site="blocks.0.hook_resid_post", seed=0)
    assert sae.arch is shrink and sae.architecture == "test_shrink"
    assert [n for n, _ in sae.named_parameters()] == ["W_enc", "W_dec", "b_dec", "b_enc", "offset"]
    x = torch.randn(5, 8)
    pre = (x - sae.b_dec) @ sae.W_enc + sae.b_enc
    torch.testing.assert_close(sae.encode(x), torch.relu(pre - 0.05))
    torch.testing.assert_close(sae(x), sae.decode(sae.encode(x)))

    # folding: the architecture's feature-unit parameters follow the features
    with torch.no_grad():
        sae.W_dec.mul_(torch.rand(16, 1) + 0.5)
    scaled = sae(x).detach()
    sae.fold_decoder_norm()
    torch.testing.assert_close(sae(x), scaled, atol=1e-5, rtol=1e-4)
    c = 3.0
    trained_on_cx = sae(c * x).detach() / c
    sae.fold_input_scale(c)
    torch.testing.assert_close(sae(x), trained_on_cx, atol=1e-5, rtol=1e-4)

    # the native format round-trips it; SAELens has no such architecture, so our name is written
    sae.save(tmp_path / "saved")
    cfg = json.loads((tmp_path / "saved" / "cfg.json").read_text())
    assert cfg["architecture"] == "test_shrink" == cfg["saewidgets"]["architecture"]
    loaded = sw.load_sae(tmp_path / "saved")
    assert loaded.architecture == "test_shrink"
    torch.testing.assert_close(loaded(x), sae(x))

    # the trainer trains it through its TrainingLoss and saves a raw-scale SAE
    cache = _random_cache(tmp_path / "acts")
    cfg_train = TrainConfig(
        architecture="test_shrink", d_sae=32, n_steps=60, batch_size=256, warmup_steps=5, lr=3e-3
    )
    result = train_on_cache(cache, cache.sites[0], tmp_path / "trained", cfg_train, progress=False)
    h = result.history
    assert h.fvu.iloc[-1] < 0.7 * h.fvu.iloc[0]
    trained = sw.load_sae(tmp_path / "trained")
    assert trained.architecture == "test_shrink"
    rows = cache.read(cache.sites[0], np.arange(1000))
    with torch.no_grad():
        ev = 1 - float((rows - trained(rows)).pow(2).sum() / (rows - rows.mean(0)).pow(2).sum())
    assert ev > 1 - h.fvu.iloc[-1] - 0.1  # the folded input scale keeps the training quality


def test_the_registry_refuses_clearly(shrink, tmp_path):
    with pytest.raises(sw.SAEConfigError, match="unknown architecture 'nope'; choose one of relu"):
        architectures.get("nope")
    with pytest.raises(sw.SAEConfigError, match="test_shrink.*already registered"):
        architectures.register(type("Other", (_Shrink,), {}))
    architectures.register(_Shrink)  # the same class again is a no-op
    with pytest.raises(TypeError, match="needs an Architecture"):
        architectures.register(object())
    with pytest.raises(sw.SAEConfigError, match="has no name"):
        architectures.register(type("Nameless", (Architecture,), {}))
    sw.SAE(4, 8, "test_shrink").save(tmp_path / "s")
    architectures.unregister("test_shrink")
    with pytest.raises(sw.SAEFormatError, match="unknown architecture 'test_shrink'"):
        sw.load_sae(tmp_path / "s")
    architectures.register(_Shrink)


def test_an_architecture_with_only_activate_trains_with_the_default_loss(tmp_path):
    class Plain(Architecture):
        name = "test_plain"

        def activate(self, sae, x, pre):
            return torch.relu(pre)

    architectures.register(Plain)
    try:
        cache = _random_cache(tmp_path / "acts")
        cfg = TrainConfig(
            architecture="test_plain", d_sae=16, n_steps=30, batch_size=128, warmup_steps=2, lr=3e-3
        )
        result = train_on_cache(cache, cache.sites[0], tmp_path / "out", cfg, progress=False)
        assert result.history.fvu.iloc[-1] < result.history.fvu.iloc[0]
        assert sw.load_sae(tmp_path / "out").architecture == "test_plain"
    finally:
        architectures.unregister("test_plain")


def _content_rows_of_windows(model, corpus, window, n_windows):
    windows = corpus.windows(model.tokenizer, window)
    ids = torch.from_numpy(np.stack([next(windows) for _ in range(n_windows)]))
    return int(model.content_mask(ids).sum())


def test_skip_windows_continues_where_an_earlier_cache_stopped(model, cache, tmp_path):
    later = cache_activations(
        model, SITES, _corpus(), 500, tmp_path, window=32, skip_windows=40, progress=False
    )
    start = _content_rows_of_windows(model, _corpus(), 32, 40)
    for site in SITES:
        np.testing.assert_array_equal(
            later.array(site)[:300], cache.array(site)[start : start + 300]
        )


def _sharded(model, tmp_path, out, **kwargs):
    cfg = TrainConfig(d_sae=48, k=4, batch_size=256, warmup_steps=2, dead_after_tokens=5_000)
    return sw.train_saes(
        model,
        SITES,
        _corpus(),
        out_dir=tmp_path / out,
        n_tokens=3000,
        window=32,
        config=cfg,
        cache_folder=tmp_path / f"acts-{out}",
        progress=False,
        **{"shard_tokens": 1000, **kwargs},
    )


def test_sharded_training_keeps_one_shard_on_disk_and_resumes(model, tmp_path, monkeypatch):
    seen: list[list[str]] = []
    read = ActivationCache.read

    def watching(self, site, rows):
        seen.append(sorted(p.name for p in self.folder.parent.glob("shard-*")))
        return read(self, site, rows)

    monkeypatch.setattr(ActivationCache, "read", watching)
    straight = _sharded(model, tmp_path, "straight")
    assert set(straight) == set(SITES)
    assert {len(names) for names in seen} == {1}  # never more than one shard's activations
    assert {names[0] for names in seen} == {"shard-0", "shard-1", "shard-2"}
    root = tmp_path / "acts-straight" / "shards-of-1000"
    starts = json.loads((root / "shard_starts.json").read_text())
    assert starts[0] == 0 and starts[1] < starts[2]  # each shard reads further into the corpus
    assert not list(root.glob("shard-*"))  # deleted once trained
    steps = len(straight[SITES[0]].history)
    assert straight[SITES[0]].history.step.iloc[-1] == 3000 // 256 - 1 and steps > 1

    calls = {"n": 0}

    def interrupting(self, site, rows):
        calls["n"] += 1
        if calls["n"] == 12:  # inside the second shard (4 steps per site and shard)
            raise KeyboardInterrupt
        return read(self, site, rows)

    monkeypatch.setattr(ActivationCache, "read", interrupting)
    with pytest.raises(KeyboardInterrupt):
        _sharded(model, tmp_path, "resumed")
    monkeypatch.setattr(ActivationCache, "read", read)
    resumed = _sharded(model, tmp_path, "resumed")
    for site in SITES:
        for name, p in straight[site].sae.named_parameters():
            torch.testing.assert_close(getattr(resumed[site].sae, name), p, rtol=1e-4, atol=1e-5)
    with pytest.raises(FileExistsError, match="overwrite=True"):
        _sharded(model, tmp_path, "resumed")
    with pytest.raises(ValueError, match="2 × batch_size"):
        _sharded(model, tmp_path, "small", shard_tokens=300)
