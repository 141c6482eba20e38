"""Per-layer transcoders for every MLP of a model, trained in one streaming pass.

A transcoder at layer L reads the MLP's normalised input (``blocks.L.ln2.hook_normalized``)
and predicts the MLP's output (``blocks.L.hook_mlp_out``) through a sparse (TopK) layer, so an
attribution graph can replace every MLP by features. Input/output pairs for all layers cost
about 69 KB per token in float16, so nothing goes to disk: every forward pass reads the pairs
of all layers at once and each layer's transcoder takes one optimiser step on them.

Windows are drawn at random from a pool refilled from the corpus (token ids only), so one
batch mixes many documents. Checkpoints (tensors in safetensors, the rest in JSON) hold the
weights, the Adam state, the pool and the random state; an interrupted run resumes exactly.
"""

from __future__ import annotations

import json
import math
import shutil
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file
from tqdm.auto import tqdm

from saewidgets.corpus import Corpus, training_mix
from saewidgets.model.model import Model, load_model
from saewidgets.sae.errors import SAEConfigError
from saewidgets.sae.module import SAE
from saewidgets.sae.transcoders import transcoder_folder

CHECKPOINT = "checkpoint"
INDEX = "transcoders.json"  # written last: its presence marks a finished build


def read_site(layer: int) -> str:
    return f"blocks.{layer}.ln2.hook_normalized"


def write_site(layer: int) -> str:
    return f"blocks.{layer}.hook_mlp_out"


@dataclass
class TranscoderConfig:
    """What decides a transcoder run (saved as ``transcoders.json`` beside the weights)."""

    d_sae: int = 2304
    k: int = 32
    n_tokens: int = 4_000_000
    window: int = 128
    batch_windows: int = 16  # windows per forward pass = one optimiser step per layer
    pool_windows: int = 2048  # the shuffling pool
    lr: float | None = None  # default 3e-4 · √(16384 / d_sae): short runs need large steps
    warmup_steps: int = 30
    decay_fraction: float = 0.2
    aux_k: int = 256
    aux_k_coefficient: float = 1 / 32
    dead_after_tokens: int = 300_000
    checkpoint_every: int = 25
    seed: int = 0
    autocast: str | None = "bfloat16"

    def validate(self) -> None:
        for name in ("d_sae", "k", "n_tokens", "window", "batch_windows", "pool_windows"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise SAEConfigError(f"{name} must be a positive integer, got {value!r}")
        if self.k > self.d_sae:
            raise SAEConfigError(f"k={self.k} must not exceed d_sae={self.d_sae}")
        if self.pool_windows < self.batch_windows:
            raise SAEConfigError("pool_windows must be at least batch_windows")
        if self.autocast not in (None, "bfloat16"):
            raise SAEConfigError(f"autocast must be None or 'bfloat16', got {self.autocast!r}")

    def learning_rate(self) -> float:
        return self.lr if self.lr is not None else 3e-4 * math.sqrt(16384 / self.d_sae)

    def n_steps(self, window: int) -> int:
        return math.ceil(self.n_tokens / (self.batch_windows * (window - 1)))


def default_folder(model: Model) -> Path:
    return transcoder_folder(model.name)


# -- one layer's trainable state ----------------------------------------------------------------


class _LayerTrainer:
    """The weights (in the scaled space), Adam and dead-feature counts of one layer."""

    def __init__(self, d: int, cfg: TranscoderConfig, layer: int, device: torch.device) -> None:
        g = torch.Generator().manual_seed(cfg.seed * 1000 + layer)
        w_dec = torch.randn(cfg.d_sae, d, generator=g)
        w_dec /= w_dec.norm(dim=1, keepdim=True)
        self.device = device
        self.W_enc = torch.nn.Parameter((w_dec.T.contiguous() * 0.5).to(device))
        self.b_enc = torch.nn.Parameter(torch.zeros(cfg.d_sae, device=device))
        self.W_dec = torch.nn.Parameter(w_dec.to(device))
        self.b_dec = torch.nn.Parameter(torch.zeros(d, device=device))
        self.params = [self.W_enc, self.b_enc, self.W_dec, self.b_dec]
        self.opt = torch.optim.Adam(self.params, lr=cfg.learning_rate(), betas=(0.9, 0.999))
        self.since_fired = torch.zeros(cfg.d_sae, device=device)
        self.scale_in = 0.0  # x·scale_in and y·scale_out have ‖·‖ ≈ √d (set on the first batch)
        self.scale_out = 0.0
        self.cfg = cfg

    def step(self, x: torch.Tensor, y: torch.Tensor, lr: float) -> dict[str, float]:
        cfg = self.cfg
        if self.scale_in == 0.0:
            self._initialise(x, y)
        x = x * self.scale_in
        y = y * self.scale_out
        with torch.autocast(
            self.device.type, dtype=torch.bfloat16, enabled=cfg.autocast == "bfloat16"
        ):
            pre = x @ self.W_enc + self.b_enc
        pre = pre.float()
        values, indices = pre.topk(cfg.k, dim=-1)
        values = torch.relu(values)
        recon = F.embedding_bag(indices, self.W_dec, per_sample_weights=values, mode="sum")
        recon = recon + self.b_dec
        total = (y - y.mean(0)).pow(2).sum().clamp_min(1e-12)
        fvu = (y - recon).pow(2).sum() / total
        dead = self.since_fired >= cfg.dead_after_tokens
        aux = torch.zeros((), device=self.device)
        if bool(dead.any()):
            # the strongest dead features learn the residual, so they come back to life
            masked = pre.masked_fill(~dead, -torch.inf)
            n = min(cfg.aux_k, int(dead.sum()))
            a_vals, a_idx = masked.topk(n, dim=-1)
            a_vals = torch.relu(a_vals)
            residual = (y - recon).detach()
            a_recon = F.embedding_bag(a_idx, self.W_dec, per_sample_weights=a_vals, mode="sum")
            aux = (residual - a_recon).pow(2).sum() / total
        loss = fvu + cfg.aux_k_coefficient * aux
        for group in self.opt.param_groups:
            group["lr"] = lr
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()
        with torch.no_grad():
            self.W_dec /= self.W_dec.norm(dim=1, keepdim=True).clamp_min(1e-8)
            fired = torch.zeros(cfg.d_sae, dtype=torch.bool, device=self.device)
            fired[indices[values > 0]] = True
            self.since_fired += x.shape[0]
            self.since_fired[fired] = 0
        return {
            "fvu": float(fvu.detach()),
            "l0": float((values > 0).sum(-1).float().mean()),
            "dead": float((self.since_fired >= cfg.dead_after_tokens).float().mean()),
        }

    @torch.no_grad()
    def _initialise(self, x: torch.Tensor, y: torch.Tensor) -> None:
        """Scales from the first batch, and features started on its tokens: feature f reads
        the direction of one token's input and writes that token's output (minus the mean),
        sized so that k similar tokens together rebuild it. A short CPU run then starts far
        below the FVU of random weights instead of spending its steps getting there."""
        d = x.shape[1]
        self.scale_in = math.sqrt(d) / float(x.norm(dim=1).mean())
        self.scale_out = math.sqrt(d) / float(y.norm(dim=1).mean())
        xs, ys = x * self.scale_in, y * self.scale_out
        mean = ys.mean(0)
        self.b_dec.copy_(mean)
        g = torch.Generator().manual_seed(self.cfg.seed)
        n = self.cfg.d_sae
        picks = (
            torch.randint(len(xs), (n,), generator=g)
            if len(xs) < n
            else (torch.randperm(len(xs), generator=g)[:n])
        )
        xi, yi = xs[picks], ys[picks] - mean
        out_norm = yi.norm(dim=1, keepdim=True).clamp_min(1e-6)
        self.W_dec.copy_((yi / out_norm).to(self.device))
        reads = xi / xi.norm(dim=1, keepdim=True).pow(2).clamp_min(1e-6)
        self.W_enc.copy_((reads * out_norm / self.cfg.k).T.contiguous().to(self.device))

    # -- checkpoint and export -------------------------------------------------------------

    def tensors(self) -> dict[str, torch.Tensor]:
        out = {n: p.detach().cpu().contiguous() for n, p in zip(_NAMES, self.params, strict=True)}
        for n, p in zip(_NAMES, self.params, strict=True):
            state = self.opt.state.get(p, {})
            for key in ("exp_avg", "exp_avg_sq"):
                if key in state:
                    out[f"adam.{n}.{key}"] = state[key].detach().cpu().contiguous()
        out["since_fired"] = self.since_fired.cpu()
        out["scales"] = torch.tensor([self.scale_in, self.scale_out], dtype=torch.float64)
        return out

    def load(self, tensors: dict[str, torch.Tensor], adam_step: int) -> None:
        with torch.no_grad():
            for n, p in zip(_NAMES, self.params, strict=True):
                p.copy_(tensors[n])
                if f"adam.{n}.exp_avg" in tensors:
                    self.opt.state[p] = {
                        "step": torch.tensor(float(adam_step)),
                        "exp_avg": tensors[f"adam.{n}.exp_avg"].to(self.device),
                        "exp_avg_sq": tensors[f"adam.{n}.exp_avg_sq"].to(self.device),
                    }
        self.since_fired = tensors["since_fired"].to(self.device)
        self.scale_in, self.scale_out = (float(v) for v in tensors["scales"])

    def export(self, layer: int, model_name: str) -> SAE:
        """The transcoder reading raw MLP inputs and writing raw MLP outputs, its features in
        output units (unit-norm decoder rows: a feature's activation is how far it writes)."""
        cfg, d = self.cfg, self.W_dec.shape[1]
        sae = SAE(
            d,
            cfg.d_sae,
            "topk",
            site=read_site(layer),
            d_out=d,
            site_out=write_site(layer),
            k=cfg.k,
            metadata={"model_name": model_name, "trained_with": "saewidgets"},
        )
        ratio = self.scale_in / self.scale_out
        with torch.no_grad():
            sae.W_enc.copy_(self.W_enc.cpu() * ratio)
            sae.b_enc.copy_(self.b_enc.cpu() / self.scale_out)
            sae.W_dec.copy_(self.W_dec.cpu())
            sae.b_dec.copy_(self.b_dec.cpu() / self.scale_out)
        return sae


_NAMES = ("W_enc", "b_enc", "W_dec", "b_dec")


# -- the window stream ----------------------------------------------------------------------


class _WindowPool:
    """Random draws from a pool of corpus windows, refilled in corpus order."""

    def __init__(self, windows: Iterator[np.ndarray], size: int, seed: int) -> None:
        self.source = windows
        self.pool: list[np.ndarray] = []
        self.size = size
        self.consumed = 0  # windows taken from the corpus so far
        self.rng = np.random.default_rng(seed)

    def _refill(self) -> None:
        while len(self.pool) < self.size:
            window = next(self.source, None)
            if window is None:
                break
            self.pool.append(window)
            self.consumed += 1

    def draw(self, n: int) -> np.ndarray | None:
        self._refill()
        if len(self.pool) < n:
            return None
        picks = sorted(self.rng.choice(len(self.pool), size=n, replace=False), reverse=True)
        return np.stack([self.pool.pop(i) for i in picks])

    def state(self) -> tuple[np.ndarray, dict]:
        rows = np.stack(self.pool) if self.pool else np.zeros((0, 1), np.int64)
        return rows, {"consumed": self.consumed, "rng": self.rng.bit_generator.state}

    def restore(self, rows: np.ndarray, meta: dict) -> None:
        self.pool = list(rows)
        for _ in range(int(meta["consumed"])):
            next(self.source, None)
        self.consumed = int(meta["consumed"])
        self.rng.bit_generator.state = meta["rng"]


# -- the run ----------------------------------------------------------------------------------


def _lr(step: int, n_steps: int, cfg: TranscoderConfig) -> float:
    base = cfg.learning_rate()
    warm = min(1.0, (step + 1) / max(1, cfg.warmup_steps))
    decay_start = int(n_steps * (1 - cfg.decay_fraction))
    if step < decay_start:
        return base * warm
    return base * warm * max(0.0, (n_steps - step) / max(1, n_steps - decay_start))


def _save_checkpoint(folder: Path, trainers: dict, pool: _WindowPool, meta: dict) -> None:
    tmp = folder.with_name(folder.name + ".tmp")
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    for layer, trainer in trainers.items():
        save_file(trainer.tensors(), str(tmp / f"layer_{layer}.safetensors"))
    rows, pool_meta = pool.state()
    np.save(tmp / "pool.npy", rows, allow_pickle=False)
    (tmp / "state.json").write_text(json.dumps({**meta, "pool": pool_meta}))
    if folder.exists():
        shutil.rmtree(folder)
    tmp.replace(folder)


def train_transcoders(
    model: Model | None = None,
    layers: Sequence[int] | None = None,
    *,
    corpus: Corpus | None = None,
    config: TranscoderConfig | None = None,
    out: str | Path | None = None,
    max_steps: int | None = None,
    progress: bool = True,
) -> dict[str, SAE] | None:
    """Train one transcoder per MLP (``layers``: default all) on ``corpus`` (default: the broad
    training mix the shipped SAEs learnt from, held-out documents excluded), streaming
    activations from ``model`` (default: the embedded one). Writes each to
    ``out/layer_{L}`` (default: the user cache, where `load_transcoders` finds them) and
    returns them keyed by the site each one reads.

    ``max_steps`` stops after that many optimiser steps in this call and returns None (the
    checkpoint is kept; call again to go on), so a long run fits in short sessions.
    """
    model = model if model is not None else load_model()
    cfg = config or TranscoderConfig()
    cfg.validate()
    layers = list(range(model.n_layers)) if layers is None else [int(x) for x in layers]
    for layer in layers:
        if not 0 <= layer < model.n_layers:
            raise SAEConfigError(f"layer {layer} is outside 0..{model.n_layers - 1}")
    corpus = corpus if corpus is not None else training_mix()
    out = Path(out) if out is not None else default_folder(model)
    out.mkdir(parents=True, exist_ok=True)
    ckpt = out / CHECKPOINT
    n_steps = cfg.n_steps(cfg.window)
    trainers = {layer: _LayerTrainer(model.d_model, cfg, layer, model.device) for layer in layers}
    pool = _WindowPool(corpus.windows(model.tokenizer, cfg.window), cfg.pool_windows, cfg.seed)
    identity = {"config": asdict(cfg), "layers": layers, "model": model.name, "corpus": corpus.name}
    meta = _resume(ckpt, identity, trainers, pool)
    sites = [s for layer in layers for s in (read_site(layer), write_site(layer))]
    end = n_steps if max_steps is None else min(n_steps, meta["step"] + max_steps)
    bar = tqdm(
        total=n_steps, initial=meta["step"], unit="step", desc="transcoders", disable=not progress
    )
    try:
        while meta["step"] < end:
            started = time.perf_counter()
            ids = pool.draw(cfg.batch_windows)
            if ids is None:
                raise SAEConfigError(f"{corpus.name} ran out after {pool.consumed} windows")
            ids_t = torch.from_numpy(ids)
            with torch.autocast(
                model.device.type, dtype=torch.bfloat16, enabled=cfg.autocast is not None
            ):
                acts = model.read_sites(ids_t, torch.ones_like(ids_t), sites)
            keep = model.content_mask(ids_t)
            lr = _lr(meta["step"], n_steps, cfg)
            row = {"step": meta["step"]}
            for layer, trainer in trainers.items():
                x = acts[read_site(layer)][keep].float()
                y = acts[write_site(layer)][keep].float()
                stats = trainer.step(x, y, lr)
                row.update({f"{k}_{layer}": round(v, 5) for k, v in stats.items()})
            meta["step"] += 1
            meta["seconds"] += time.perf_counter() - started
            meta["history"].append(row)
            bar.update(1)
            bar.set_postfix(fvu=f"{np.mean([row[f'fvu_{x}'] for x in layers]):.3f}")
            if meta["step"] % cfg.checkpoint_every == 0 and meta["step"] < n_steps:
                _save_checkpoint(ckpt, trainers, pool, meta)
    finally:
        bar.close()
    if meta["step"] < n_steps:
        _save_checkpoint(ckpt, trainers, pool, meta)
        return None
    return _export(out, model, trainers, identity, meta)


def _resume(ckpt: Path, identity: dict, trainers: dict, pool: _WindowPool) -> dict:
    """The run's progress so far (restoring the checkpoint into ``trainers`` and ``pool``)."""
    if not (ckpt / "state.json").is_file():
        return {**identity, "step": 0, "seconds": 0.0, "history": []}
    saved = json.loads((ckpt / "state.json").read_text())
    if {k: saved.get(k) for k in identity} != identity:
        raise SAEConfigError(
            f"{ckpt} holds a run with other settings; pass another out= or delete it"
        )
    for layer, trainer in trainers.items():
        trainer.load(load_file(str(ckpt / f"layer_{layer}.safetensors")), saved["step"])
    pool.restore(np.load(ckpt / "pool.npy", allow_pickle=False), saved.pop("pool"))
    return saved


def _export(
    out: Path, model: Model, trainers: dict, identity: dict, meta: dict, *, partial: bool = False
) -> dict:
    saes = {}
    for layer, trainer in trainers.items():
        sae = saes[read_site(layer)] = trainer.export(layer, model.name)
        sae.save(out / f"layer_{layer}", overwrite=True)
    n_steps = TranscoderConfig(**identity["config"]).n_steps(identity["config"]["window"])
    summary = {**identity, "steps": meta["step"], "of_steps": n_steps, "partial": partial}
    (out / INDEX).write_text(json.dumps({**summary, "seconds": meta["seconds"]}, indent=2))
    (out / "history.json").write_text(json.dumps(meta["history"]))
    if not partial and (out / CHECKPOINT).exists():
        shutil.rmtree(out / CHECKPOINT)
    return saes


def export_checkpoint(model: Model | None = None, out: str | Path | None = None) -> dict:
    """Write the transcoders of an unfinished run as they stand at its last checkpoint (its
    learning rate not yet decayed), keeping the checkpoint so the run can go on; a later
    finished run replaces them. ``transcoders.json`` says ``"partial": true`` and the steps."""
    model = model if model is not None else load_model()
    out = Path(out) if out is not None else default_folder(model)
    state = out / CHECKPOINT / "state.json"
    if not state.is_file():
        raise SAEConfigError(f"no unfinished transcoder run in {out} (no {state.name})")
    saved = json.loads(state.read_text())
    cfg = TranscoderConfig(**saved["config"])
    trainers = {}
    for layer in saved["layers"]:
        trainer = _LayerTrainer(model.d_model, cfg, layer, model.device)
        trainer.load(load_file(str(out / CHECKPOINT / f"layer_{layer}.safetensors")), 0)
        trainers[layer] = trainer
    identity = {k: saved[k] for k in ("config", "layers", "model", "corpus")}
    return _export(out, model, trainers, identity, saved, partial=True)
