"""Training SAEs on cached activations, for every registered architecture.

The trainer owns the data order, optimiser, schedule, dead-feature counts and checkpoints;
each architecture's loss terms and training-only parts (AuxK, the JumpReLU straight-through
estimators, the BatchTopK threshold) live in its module under ``saewidgets/sae/architectures/``
and are reached through ``architecture.training(sae, cfg)``.

Inputs are scaled so that ‖x‖ ≈ √d_in during training (one factor per site, estimated from the
cache) and the factor is folded back into the weights when the SAE is saved, so the saved SAE
reads raw activations. Checkpoints hold only tensors (safetensors) and JSON, and an
interrupted run resumes from the last one.
"""

from __future__ import annotations

import hashlib
import json
import math
import shutil
import time
import warnings
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from safetensors.torch import load_file, save_file
from tqdm.auto import tqdm

from saewidgets.core.aliases import renamed
from saewidgets.core.cache import cache_dir
from saewidgets.corpus import Corpus
from saewidgets.corpus import default as default_corpus
from saewidgets.model.model import Model
from saewidgets.sae import architectures
from saewidgets.sae.architectures import TrainingLoss
from saewidgets.sae.errors import SAEConfigError
from saewidgets.sae.load import load_sae
from saewidgets.sae.module import SAE
from saewidgets.training.activations import ActivationCache, cache_activations

CHECKPOINT = "checkpoint"


@dataclass
class TrainConfig:
    """Everything that decides a training run (saved beside the SAE as ``training.json``).

    ``architecture`` is any registered name (`saewidgets.sae.architectures.names()`); the
    coefficients below are read by the architectures that use them. ``batch_size`` is in
    tokens (activation rows) per optimiser step.
    """

    architecture: str = "topk"
    d_sae: int = 4608
    k: int | None = 32  # topk, batchtopk: features kept per token
    n_steps: int = 1000
    batch_size: int = 4096  # tokens (activation rows) per step
    lr: float | None = None  # default: 2e-4 · √(16384 / d_sae)
    warmup_steps: int = 50
    decay_fraction: float = 0.2  # linear decay to 0 over the last part of training
    l1_coefficient: float = 5.0  # relu, gated
    l0_coefficient: float = 0.01  # jumprelu
    jumprelu_bandwidth: float = 0.05
    jumprelu_init_threshold: float = 0.1
    aux_k_coefficient: float = 1 / 32
    aux_k: int | None = None  # default d_in // 2
    dead_after_tokens: int = 1_000_000
    seed: int = 0
    checkpoint_every: int = 200
    # "bfloat16": run the step's matmuls in bfloat16 (CPUs with AMX and GPUs: ~1.3-3x faster);
    # the parameters and optimiser state stay float32.
    autocast: str | None = None

    def validate(self) -> None:
        architectures.get(self.architecture).check_training(self)  # unknown names list the known
        if self.autocast not in (None, "bfloat16", "float16"):
            raise SAEConfigError(
                f"autocast must be None, 'bfloat16' or 'float16', got {self.autocast!r}"
            )
        for name in ("d_sae", "n_steps", "batch_size"):
            value = getattr(self, name)
            if not isinstance(value, int) or value <= 0:
                raise SAEConfigError(f"{name} must be a positive integer, got {value!r}")

    def learning_rate(self) -> float:
        return self.lr if self.lr is not None else 2e-4 * math.sqrt(16384 / self.d_sae)


@dataclass
class TrainResult:
    sae: SAE
    history: pd.DataFrame
    out_dir: Path
    scaling_factor: float
    tokens_per_second: float
    config: TrainConfig = field(repr=False, default_factory=TrainConfig)


# -- one training step: the architecture's loss terms plus what every architecture shares ----------


def _fvu(x: torch.Tensor, recon: torch.Tensor) -> torch.Tensor:
    """Fraction of variance unexplained (against the batch mean)."""
    return (x - recon).pow(2).sum() / (x - x.mean(0)).pow(2).sum().clamp_min(1e-12)


class _Stepper:
    """Computes the loss of one batch and keeps the statistics training needs."""

    def __init__(self, sae: SAE, cfg: TrainConfig) -> None:
        self.sae, self.cfg = sae, cfg
        self.tokens_since_fired = torch.zeros(sae.d_sae, device=sae.device)
        self.rule: TrainingLoss = sae.arch.training(sae, cfg)
        if self.rule.reconstruction not in ("mse", "fvu"):
            raise SAEConfigError(
                f"architecture {sae.architecture!r} asks for reconstruction loss "
                f"{self.rule.reconstruction!r}; the trainer knows 'mse' and 'fvu'"
            )

    def extra_parameters(self) -> list[torch.nn.Parameter]:
        return self.rule.parameters()

    def loss(self, x: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        cfg = self.cfg
        dead = self.tokens_since_fired >= cfg.dead_after_tokens
        out = self.rule.step(x, dead)
        fvu = _fvu(x, out.recon)
        mse = (x - out.recon).pow(2).sum(-1).mean() / x.shape[-1]
        loss = (fvu if self.rule.reconstruction == "fvu" else mse) + out.sparsity + out.aux
        self.tokens_since_fired += x.shape[0]
        self.tokens_since_fired[out.fired] = 0
        stats = {
            "loss": float(loss.detach()),
            "fvu": float(fvu.detach()),
            "l0": out.l0,
            "aux": float(out.aux.detach()),
            "dead": float((self.tokens_since_fired >= cfg.dead_after_tokens).float().mean()),
        }
        return loss, stats

    @torch.no_grad()
    def after_step(self) -> None:
        self.rule.after_step()

    def finish(self) -> None:
        with torch.no_grad():
            self.rule.finish()


# -- schedule, scaling, checkpoints ---------------------------------------------------------------


def _lr_factor(step: int, cfg: TrainConfig) -> float:
    warm = min(1.0, (step + 1) / max(1, cfg.warmup_steps))
    decay_start = int(cfg.n_steps * (1 - cfg.decay_fraction))
    if step < decay_start:
        return warm
    return warm * max(0.0, (cfg.n_steps - step) / max(1, cfg.n_steps - decay_start))


def estimate_scaling_factor(cache: ActivationCache, site: str, n_rows: int = 20_000) -> float:
    """√d / mean ‖x‖ over an evenly spread sample of cached rows."""
    array = cache.array(site)
    rows = np.linspace(0, len(array) - 1, min(n_rows, len(array))).astype(np.int64)
    norms = np.linalg.norm(np.asarray(array[rows], dtype=np.float32), axis=1)
    return float(math.sqrt(array.shape[1]) / max(float(norms.mean()), 1e-8))


def fold_input_scaling(sae: SAE, factor: float) -> SAE:
    """Turn an SAE trained on ``factor · x`` into one that reads ``x`` directly
    (`SAE.fold_input_scale`; the architecture knows which tensors divide by the factor)."""
    return sae.fold_input_scale(factor)


def _save_checkpoint(
    folder: Path, sae: SAE, stepper: _Stepper, optimizer, step: int, extra: dict
) -> None:
    tmp = folder.with_name(folder.name + ".tmp")
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    tensors = {f"sae.{n}": p.detach().cpu().contiguous() for n, p in sae.named_parameters()}
    for i, p in enumerate(stepper.extra_parameters()):
        tensors[f"extra.{i}"] = p.detach().cpu().contiguous()
    params = [*sae.parameters(), *stepper.extra_parameters()]
    for i, p in enumerate(params):
        state = optimizer.state.get(p, {})
        for key in ("exp_avg", "exp_avg_sq"):
            if key in state:
                tensors[f"adam.{i}.{key}"] = state[key].detach().cpu().contiguous()
    tensors["tokens_since_fired"] = stepper.tokens_since_fired.cpu()
    for name, value in stepper.rule.state().items():
        tensors[f"state.{name}"] = value.detach().cpu().contiguous()
    save_file(tensors, str(tmp / "state.safetensors"))
    adam_steps = [int(optimizer.state[p]["step"]) if p in optimizer.state else 0 for p in params]
    (tmp / "state.json").write_text(json.dumps({"step": step, "adam_steps": adam_steps, **extra}))
    if folder.exists():
        shutil.rmtree(folder)
    tmp.rename(folder)


def _load_checkpoint(folder: Path, sae: SAE, stepper: _Stepper, optimizer) -> dict:
    tensors = load_file(str(folder / "state.safetensors"))
    meta = json.loads((folder / "state.json").read_text())
    with torch.no_grad():
        for n, p in sae.named_parameters():
            p.copy_(tensors[f"sae.{n}"])
        for i, p in enumerate(stepper.extra_parameters()):
            p.copy_(tensors[f"extra.{i}"])
    params = [*sae.parameters(), *stepper.extra_parameters()]
    for i, p in enumerate(params):
        if f"adam.{i}.exp_avg" in tensors:
            optimizer.state[p] = {
                "step": torch.tensor(float(meta["adam_steps"][i])),
                "exp_avg": tensors[f"adam.{i}.exp_avg"].to(p.device),
                "exp_avg_sq": tensors[f"adam.{i}.exp_avg_sq"].to(p.device),
            }
    stepper.tokens_since_fired.copy_(tensors["tokens_since_fired"])
    stepper.rule.load_state(
        {k.removeprefix("state."): v for k, v in tensors.items() if k.startswith("state.")}
    )
    return meta


# -- the training loop -----------------------------------------------------------------------------


def _checkpoint_step(folder: Path) -> int:
    """The step a checkpoint in ``folder`` resumes at; 0 without one."""
    meta = folder / "state.json"
    return int(json.loads(meta.read_text())["step"]) if meta.is_file() else 0


def _prepare_out_dir(out: Path, overwrite: bool) -> None:
    """Refuse to clobber a trained SAE or a foreign folder unless asked; a checkpoint resumes."""
    if (out / "cfg.json").is_file():
        if not overwrite:
            raise FileExistsError(
                f"{out} already holds a trained SAE; pass overwrite=True to retrain"
            )
        shutil.rmtree(out)
    elif out.exists() and any(out.iterdir()) and not (out / CHECKPOINT).is_dir() and not overwrite:
        raise FileExistsError(f"{out} exists and is not empty; pass overwrite=True to use it")
    out.mkdir(parents=True, exist_ok=True)


def _step(stepper: _Stepper, optimizer, x: torch.Tensor, lr: float) -> dict:
    """One optimiser step at learning rate ``lr``; returns the step's statistics."""
    for group in optimizer.param_groups:
        group["lr"] = lr
    cast = stepper.cfg.autocast
    with torch.autocast(x.device.type, dtype=getattr(torch, cast or "float32"), enabled=bool(cast)):
        loss, stats = stepper.loss(x)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    stepper.after_step()
    return stats


def train_on_cache(
    cache: ActivationCache,
    site: str,
    out_dir: str | Path,
    config: TrainConfig | None = None,
    *,
    overwrite: bool = False,
    device: str | None = None,
    progress: bool = True,
    save_dtype: torch.dtype = torch.float32,
    model_name: str | None = None,
) -> TrainResult:
    """Train one SAE for ``site`` on cached activations and save it to ``out_dir``.

    Each step reads ``config.batch_size`` rows (tokens) of the cache; an interrupted run
    resumes from ``out_dir/checkpoint``. ``save_dtype=torch.int8`` writes the int8
    per-feature storage of the shipped SAEs."""
    result = _train_steps(
        cache,
        site,
        Path(out_dir),
        config or TrainConfig(),
        overwrite=overwrite,
        device=device,
        progress=progress,
        save_dtype=save_dtype,
        model_name=model_name,
    )
    assert result is not None  # no stop_step: the run always finishes
    return result


def _train_steps(
    cache: ActivationCache,
    site: str,
    out: Path,
    cfg: TrainConfig,
    *,
    overwrite: bool,
    device: str | None,
    progress: bool,
    save_dtype: torch.dtype,
    model_name: str | None,
    stop_step: int | None = None,
    cache_first_step: int = 0,
    data_seed: int | None = None,
) -> TrainResult | None:
    """The training loop. With ``stop_step`` it stops there, checkpoints and returns None (the
    next shard's cache continues the run); ``cache_first_step`` is the step this cache's
    batches start at, ``data_seed`` the seed of its batch order (default: ``cfg.seed``)."""
    cfg.validate()
    ckpt = out / CHECKPOINT
    if stop_step is not None and _checkpoint_step(ckpt) >= stop_step:
        return None  # this shard was trained before an interruption
    _prepare_out_dir(out, overwrite)
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    torch.manual_seed(cfg.seed)

    factor = estimate_scaling_factor(cache, site)
    d_in = cache.array(site).shape[1]
    arch = architectures.get(cfg.architecture)
    sae = SAE(
        d_in,
        cfg.d_sae,
        arch,
        site=site,
        seed=cfg.seed,
        device=device,
        **arch.training_options(cfg),
    )
    sae.train()
    stepper = _Stepper(sae, cfg)
    params = [*sae.parameters(), *stepper.extra_parameters()]
    optimizer = torch.optim.Adam(params, lr=cfg.learning_rate(), betas=(0.9, 0.999))
    history: list[dict] = []
    start_step = 0
    if ckpt.is_dir():
        meta = _load_checkpoint(ckpt, sae, stepper, optimizer)
        start_step, factor = int(meta["step"]), float(meta["scaling_factor"])
        history = meta.get("history", [])
    else:
        with torch.no_grad():  # start b_dec at the data mean: the decoder then learns residuals
            sample = cache.read(site, np.arange(min(cache.n_rows, 16_384))) * factor
            sae.b_dec.copy_(sample.mean(0).to(device))

    seed = cfg.seed if data_seed is None else data_seed
    indices = cache.batch_indices(cfg.batch_size, seed=seed)
    for _ in range(start_step - cache_first_step):  # the order is a function of (seed, step)
        next(indices)
    end_step = cfg.n_steps if stop_step is None else min(stop_step, cfg.n_steps)
    bar = tqdm(total=end_step, initial=start_step, desc=f"train {site}", disable=not progress)
    skipped = 0
    step = start_step
    trained_tokens, train_seconds = 0, 0.0
    try:
        for step in range(start_step, end_step):
            rows = next(indices)
            x = cache.read(site, rows).to(device) * factor
            if not torch.isfinite(x).all():
                skipped += 1
                continue
            t0 = time.perf_counter()
            stats = _step(stepper, optimizer, x, cfg.learning_rate() * _lr_factor(step, cfg))
            train_seconds += time.perf_counter() - t0
            trained_tokens += x.shape[0]
            if step % 10 == 0 or step == cfg.n_steps - 1:
                history.append({"step": step, **stats})
                bar.set_postfix(
                    l0=f"{stats['l0']:.1f}", fvu=f"{stats['fvu']:.3f}", dead=f"{stats['dead']:.3f}"
                )
            bar.update(1)
            if (step + 1) % cfg.checkpoint_every == 0 and step + 1 < cfg.n_steps:
                _save_checkpoint(
                    ckpt,
                    sae,
                    stepper,
                    optimizer,
                    step + 1,
                    {"scaling_factor": factor, "history": history},
                )
    except KeyboardInterrupt:
        _save_checkpoint(
            ckpt, sae, stepper, optimizer, step, {"scaling_factor": factor, "history": history}
        )
        raise
    finally:
        bar.close()
    if skipped:
        warnings.warn(f"skipped {skipped} batches with non-finite activations", stacklevel=2)
    if end_step < cfg.n_steps:
        _save_checkpoint(
            ckpt, sae, stepper, optimizer, end_step, {"scaling_factor": factor, "history": history}
        )
        return None
    stepper.finish()
    sae.eval()
    sae.fold_input_scale(factor)
    sae.metadata["model_name"] = model_name
    sae.save(out, overwrite=True, dtype=save_dtype)
    frame = pd.DataFrame(history)
    frame.to_csv(out / "history.csv", index=False)
    rate = trained_tokens / train_seconds if train_seconds else float("nan")
    (out / "training.json").write_text(
        json.dumps(
            {
                "config": asdict(cfg),
                "scaling_factor": factor,
                "tokens_per_second": rate,
                "cache": str(cache.folder),
                "skipped_batches": skipped,
            },
            indent=2,
        )
    )
    if ckpt.exists():
        shutil.rmtree(ckpt)
    return TrainResult(sae, frame, out, factor, rate, cfg)


# -- the public entry points ----------------------------------------------------------------------


def _default_cache_folder(
    model: Model, sites: list[str], corpus: Corpus, n_tokens: int, window: int
) -> Path:
    # Content hashes, not names: two corpora (or checkpoints) may share a name.
    corpus_key = corpus.fingerprint() or f"name:{corpus.name}"  # see Corpus on identities
    key = json.dumps([model.fingerprint(), sorted(sites), corpus_key, n_tokens, window])
    return cache_dir("activations", hashlib.blake2b(key.encode(), digest_size=8).hexdigest())


def _run_config(config: TrainConfig | None, n_tokens: int, epochs: float) -> TrainConfig:
    """The config of a run over ``n_tokens`` × ``epochs`` tokens (its number of steps set)."""
    base = config or TrainConfig()
    cfg = replace(base, n_steps=max(1, int(n_tokens * epochs) // base.batch_size))
    cfg.validate()
    return cfg


def _prepare(model, sites, corpus, n_tokens, epochs, window, config, cache_folder, progress):
    corpus = corpus if corpus is not None else default_corpus().split("train")
    cfg = _run_config(config, n_tokens, epochs)
    folder = cache_folder or _default_cache_folder(model, sites, corpus, n_tokens, window)
    cache = cache_activations(
        model, sites, corpus, n_tokens, folder, window=window, progress=progress
    )
    return cache, cfg


@renamed(context="window")
def train_saes(
    model: Model,
    sites: list[str],
    corpus: Corpus | None = None,
    *,
    out_dir: str | Path,
    n_tokens: int = 2_000_000,
    epochs: float = 1.0,
    window: int = 128,
    config: TrainConfig | None = None,
    cache_folder: str | Path | None = None,
    overwrite: bool = False,
    device: str | None = None,
    progress: bool = True,
    save_dtype: torch.dtype = torch.float32,
    site_overrides: Mapping[str, dict] | None = None,
    shard_tokens: int | None = None,
) -> dict[str, TrainResult]:
    """Train one SAE per site from a single activation cache (one forward pass for all sites).

    ``corpus`` defaults to the training split of the offline default corpus. Each SAE goes to
    ``out_dir/<site>/`` in the native format. Activations are cached in the user cache (or
    ``cache_folder``), so training again with other settings does not run the model again.
    ``n_tokens`` counts activation rows (tokens) per site, ``window`` is the length in tokens
    of the corpus windows run through the model (``context=`` is its deprecated name). The
    number of steps is ``n_tokens × epochs / config.batch_size`` (batch_size: tokens per
    step). ``site_overrides`` changes settings for some sites (``{site: {"k": 64}}``); the
    others use ``config``.

    ``shard_tokens`` bounds the disk the activations take: the run collects that many rows per
    site, trains every SAE on them (``epochs`` passes), deletes them and collects the next
    shard from where the corpus left off, until ``n_tokens``. 10M tokens at five sites of the
    embedded model are 58 GB of float16 in one cache, 5.8 GB with ``shard_tokens=1_000_000``.
    Interrupted, it resumes at the shard it was in.
    """
    overrides = dict(site_overrides or {})
    unknown = set(overrides) - set(sites)
    if unknown:
        raise ValueError(f"site_overrides name sites that are not trained: {sorted(unknown)}")
    if shard_tokens is not None and shard_tokens < n_tokens:
        return _train_sharded(
            model,
            sites,
            corpus,
            out_dir=Path(out_dir),
            n_tokens=n_tokens,
            shard_tokens=shard_tokens,
            epochs=epochs,
            window=window,
            config=config,
            cache_folder=cache_folder,
            overwrite=overwrite,
            device=device,
            progress=progress,
            save_dtype=save_dtype,
            overrides=overrides,
        )
    cache, cfg = _prepare(
        model, sites, corpus, n_tokens, epochs, window, config, cache_folder, progress
    )
    return {
        site: train_on_cache(
            cache,
            site,
            Path(out_dir) / site,
            replace(cfg, **overrides.get(site, {})),
            overwrite=overwrite,
            device=device,
            progress=progress,
            save_dtype=save_dtype,
            model_name=model.name,
        )
        for site in sites
    }


def _train_sharded(
    model: Model,
    sites: list[str],
    corpus: Corpus | None,
    *,
    out_dir: Path,
    n_tokens: int,
    shard_tokens: int,
    epochs: float,
    window: int,
    config: TrainConfig | None,
    cache_folder: str | Path | None,
    overwrite: bool,
    device: str | None,
    progress: bool,
    save_dtype: torch.dtype,
    overrides: dict[str, dict],
) -> dict[str, TrainResult]:
    """`train_saes` one shard of activations at a time (see ``shard_tokens`` there)."""
    base = config or TrainConfig()
    if shard_tokens < 2 * base.batch_size:
        raise ValueError(
            f"shard_tokens={shard_tokens:,} is too small: each shard must hold at least two "
            f"batches (2 × batch_size = {2 * base.batch_size:,} tokens) so no shard falls "
            "short of a batch"
        )
    corpus = corpus if corpus is not None else default_corpus().split("train")
    cfg = _run_config(base, n_tokens, epochs)
    base_folder = cache_folder or _default_cache_folder(model, sites, corpus, n_tokens, window)
    root = Path(base_folder) / f"shards-of-{shard_tokens}"
    root.mkdir(parents=True, exist_ok=True)
    # Where each shard starts in the corpus, in windows: known once the shard before is built.
    starts_file = root / "shard_starts.json"
    starts = json.loads(starts_file.read_text()) if starts_file.is_file() else [0]
    n_shards = math.ceil(n_tokens / shard_tokens)
    # Even shards, each more than half of shard_tokens, so the last is never a sliver.
    bounds = [n_tokens * i // n_shards for i in range(n_shards + 1)]
    in_last_shard = len(starts) >= n_shards  # an interrupted run reached the last shard
    for site in sites:
        if (out_dir / site / "cfg.json").is_file():
            if overwrite:
                shutil.rmtree(out_dir / site)
            elif not in_last_shard:
                raise FileExistsError(
                    f"{out_dir / site} already holds a trained SAE; pass overwrite=True to retrain"
                )
    results: dict[str, TrainResult] = {}
    for shard in range(n_shards):
        rows_before = bounds[shard]
        rows = bounds[shard + 1] - rows_before
        first = cfg.n_steps * rows_before // n_tokens
        last = shard == n_shards - 1
        stop = None if last else cfg.n_steps * (rows_before + rows) // n_tokens
        done = not last and all(
            _checkpoint_step(out_dir / site / CHECKPOINT) >= stop for site in sites
        )
        if done and len(starts) > shard + 1:
            continue  # trained before an interruption; its activations are gone
        folder = root / f"shard-{shard}"
        cache = cache_activations(
            model,
            sites,
            corpus,
            rows,
            folder,
            window=window,
            skip_windows=starts[shard],
            progress=progress,
        )
        if len(starts) == shard + 1:
            starts.append(starts[shard] + int(cache.meta["windows"]))
            starts_file.write_text(json.dumps(starts))
        for site in sites:
            if last and (out_dir / site / "cfg.json").is_file():
                results[site] = _load_result(out_dir / site)  # finished before an interruption
                continue
            result = _train_steps(
                cache,
                site,
                out_dir / site,
                replace(cfg, **overrides.get(site, {})),
                overwrite=False,
                device=device,
                progress=progress,
                save_dtype=save_dtype,
                model_name=model.name,
                stop_step=stop,
                cache_first_step=first,
                data_seed=cfg.seed + shard,
            )
            if result is not None:
                results[site] = result
        shutil.rmtree(folder)
    return results


def _load_result(out: Path) -> TrainResult:
    """A finished run read back from its folder."""
    info = json.loads((out / "training.json").read_text())
    return TrainResult(
        load_sae(out),
        pd.read_csv(out / "history.csv"),
        out,
        float(info["scaling_factor"]),
        float(info["tokens_per_second"]),
        TrainConfig(**info["config"]),
    )


@renamed(context="window")
def train_sae(
    model: Model,
    site: str,
    corpus: Corpus | None = None,
    *,
    out_dir: str | Path,
    n_tokens: int = 2_000_000,
    epochs: float = 1.0,
    window: int = 128,
    config: TrainConfig | None = None,
    cache_folder: str | Path | None = None,
    overwrite: bool = False,
    device: str | None = None,
    progress: bool = True,
    save_dtype: torch.dtype = torch.float32,
) -> TrainResult:
    """Train one SAE for ``site`` into ``out_dir`` (see `train_saes` for ``window``,
    ``n_tokens`` and the batch size's unit)."""
    cache, cfg = _prepare(
        model, [site], corpus, n_tokens, epochs, window, config, cache_folder, progress
    )
    return train_on_cache(
        cache,
        site,
        out_dir,
        cfg,
        overwrite=overwrite,
        device=device,
        progress=progress,
        save_dtype=save_dtype,
        model_name=model.name,
    )
