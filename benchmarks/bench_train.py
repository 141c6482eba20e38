"""Our SAE trainer vs SAELens's trainer on the same cached activations.

Both train a TopK SAE (same width, k, batch size, steps, learning rate and schedule) on all
but the last ``--eval-rows`` rows of one cached site, in the same batch order and at the same
input scale (‖x‖ ≈ √d, our factor handed to SAELens's "expected_average_only_in" scaler). Only
the training steps are timed on each side (no imports, start-up or memory-map reads). Both final
SAEs are loaded into our `SAE` class and scored the same way on the last ``--eval-rows`` rows,
which neither trained on: explained variance = 1 - Σ‖x - x̂‖² / Σ‖x - mean(x)‖², raw scale.

SAELens runs in its own venv (``.venv-saelens``, see ``_saelens_runner.py``) as a subprocess.
If it cannot run, the reason is recorded and a plain PyTorch loop (dense TopK, Adam, same
hyperparameters) written here stands in as the baseline (``--baseline both`` runs it as well).

Everything else keeps each trainer's own defaults, which differ: SAELens starts b_dec at zero
and decoder rows at norm 0.1, clips the gradient norm to 1, selects top-k on pre-activations
times decoder norms and decodes densely; ours starts b_dec at the data mean with unit decoder
rows and decodes sparsely. On short runs the b_dec start dominates SAELens's explained variance;
``--saelens-mean-init`` adds a SAELens run that starts b_dec at the data mean, as ours does.

    python3 -m venv .venv-saelens
    .venv-saelens/bin/pip install torch==2.13.0 && .venv-saelens/bin/pip install sae-lens
    .venv/bin/python benchmarks/bench_train.py --steps 40
    .venv/bin/python benchmarks/bench_train.py --steps 40 --saelens-mean-init --baseline both
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file

from saewidgets import SAE
from saewidgets.training.activations import ActivationCache, open_cache
from saewidgets.training.trainer import TrainConfig, estimate_scaling_factor, train_on_cache

ROOT = Path(__file__).resolve().parent.parent
SAELENS_PYTHON = ROOT / ".venv-saelens" / "bin" / "python"
RUNNER = Path(__file__).resolve().with_name("_saelens_runner.py")


class BaselineUnavailable(RuntimeError):
    """SAELens could not be run; the message says why."""


@dataclass
class Run:
    trainer: str
    steps: int
    batch_size: int
    activations_per_second: float
    train_seconds: float
    explained_variance: float
    details: dict = field(default_factory=dict)


@dataclass
class Setup:
    """What every trainer shares: data, order, scale and hyperparameters."""

    cache: ActivationCache
    site: str
    npy: Path
    order: np.ndarray  # [steps, batch] row indices, the order our trainer draws
    order_path: Path
    factor: float
    d_sae: int
    k: int
    lr: float
    warmup: int
    decay: int
    dead_after_tokens: int
    seed: int
    device: str
    eval_rows: int  # held out after the cache's (restricted) rows
    autocast: bool = False  # bfloat16 matmuls on both sides (the shipped recipe's setting)

    @property
    def steps(self) -> int:
        return int(self.order.shape[0])

    @property
    def batch_size(self) -> int:
        return int(self.order.shape[1])

    def config(self) -> TrainConfig:
        return TrainConfig(
            architecture="topk",
            d_sae=self.d_sae,
            k=self.k,
            n_steps=self.steps,
            batch_size=self.batch_size,
            lr=self.lr,
            warmup_steps=self.warmup,
            dead_after_tokens=self.dead_after_tokens,
            seed=self.seed,
            checkpoint_every=self.steps + 1,  # checkpoint I/O is not training
            autocast="bfloat16" if self.autocast else None,
        )


# -- scoring -------------------------------------------------------------------------------------


def load_topk(tensors: dict[str, torch.Tensor], setup: Setup) -> SAE:
    """A raw-scale TopK SAE in our class from W_enc, b_enc, W_dec, b_dec."""
    d_in = tensors["W_enc"].shape[0]
    sae = SAE(d_in, setup.d_sae, "topk", k=setup.k, site=setup.site)
    state = {name: tensors[name].float() for name in ("W_enc", "b_enc", "W_dec", "b_dec")}
    sae.load_state_dict(state, strict=True)
    return sae


@torch.no_grad()
def explained_variance(sae: SAE, x: torch.Tensor, chunk: int = 4096) -> float:
    """1 - Σ‖x - x̂‖² / Σ‖x - mean(x)‖² over all rows of ``x`` (float64 sums)."""
    sae = sae.to("cpu").eval()
    total = (x.double() - x.double().mean(0)).pow(2).sum()
    error = torch.zeros((), dtype=torch.float64)
    for start in range(0, len(x), chunk):
        rows = x[start : start + chunk]
        error += (rows - sae(rows)).double().pow(2).sum()
    return float(1 - error / total)


# -- the trainers ----------------------------------------------------------------------------------


def run_ours(setup: Setup, workdir: Path) -> tuple[Run, SAE]:
    result = train_on_cache(
        setup.cache,
        setup.site,
        workdir / "ours",
        setup.config(),
        overwrite=True,
        progress=False,
        device=setup.device,
    )
    if abs(result.scaling_factor - setup.factor) > 1e-6 * setup.factor:
        raise RuntimeError("our trainer used a different scaling factor than the baselines")
    tokens = setup.steps * setup.batch_size
    last = result.history.iloc[-1]
    run = Run(
        trainer="saewidgets",
        steps=setup.steps,
        batch_size=setup.batch_size,
        activations_per_second=result.tokens_per_second,
        train_seconds=tokens / result.tokens_per_second,
        explained_variance=float("nan"),
        details={"final_batch_fvu": float(last["fvu"]), "final_dead": float(last["dead"])},
    )
    return run, result.sae


def run_saelens(
    setup: Setup, workdir: Path, python: Path, sparse: bool, mean_init: bool = False
) -> tuple[Run, SAE]:
    if not python.is_file():
        raise BaselineUnavailable(
            f"no Python at {python} (create the SAELens venv as the module docstring says)"
        )
    out = workdir / ("saelens_mean_init" if mean_init else "saelens")
    # Our trainer starts b_dec at the mean of the first 16,384 training rows.
    mean_rows = min(16_384, setup.cache.n_rows) if mean_init else 0
    cmd = [
        str(python),
        str(RUNNER),
        f"--npy={setup.npy}",
        f"--order={setup.order_path}",
        f"--scaling-factor={setup.factor!r}",
        f"--d-sae={setup.d_sae}",
        f"--k={setup.k}",
        f"--lr={setup.lr!r}",
        f"--warmup={setup.warmup}",
        f"--decay={setup.decay}",
        # SAELens counts dead latents in steps, we count in tokens.
        f"--dead-window={max(1, setup.dead_after_tokens // setup.batch_size)}",
        f"--seed={setup.seed}",
        f"--threads={torch.get_num_threads()}",
        f"--device={setup.device}",
        "--eval-rows",
        str(setup.cache.n_rows),
        str(setup.cache.n_rows + setup.eval_rows),
        f"--b-dec-mean-rows={mean_rows}",
        f"--out-dir={out}",
        *(["--sparse"] if sparse else []),
        *(["--autocast"] if setup.autocast else []),
    ]
    # Offline machine: keep wandb and the hub from trying the network.
    env = {**os.environ, "WANDB_MODE": "disabled", "HF_HUB_OFFLINE": "1"}
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    except OSError as err:
        raise BaselineUnavailable(f"could not start {python}: {err}") from err
    if proc.returncode != 0:
        tail = "\n".join(proc.stderr.strip().splitlines()[-15:])
        raise BaselineUnavailable(f"SAELens runner exited with {proc.returncode}:\n{tail}")
    result = json.loads((out / "result.json").read_text())
    sae = load_topk(load_file(result["weights"]), setup)
    notes = [*(["sparse acts"] if sparse else []), *(["b_dec = data mean"] if mean_init else [])]
    name = f"SAELens {result['sae_lens_version']}" + (f" ({', '.join(notes)})" if notes else "")
    details = {key: value for key, value in result.items() if key != "weights"}
    run = Run(
        trainer=name,
        steps=result["steps"],
        batch_size=result["batch_size"],
        activations_per_second=result["activations_per_second"],
        train_seconds=result["train_seconds"],
        explained_variance=float("nan"),
        details=details,
    )
    return run, sae


def _lr_factor(step: int, setup: Setup) -> float:
    # Linear warm-up, then linear decay to 0 over the last `decay` steps (as both trainers do).
    warm = min(1.0, (step + 1) / max(1, setup.warmup))
    left = setup.steps - step
    return warm * min(1.0, left / max(1, setup.decay))


def run_plain(setup: Setup) -> tuple[Run, SAE]:
    """The textbook loop: dense TopK SAE, MSE loss, Adam, unit-norm decoder rows."""
    torch.manual_seed(setup.seed)
    device, factor = setup.device, setup.factor
    d_in = setup.cache.array(setup.site).shape[1]
    w_dec = torch.randn(setup.d_sae, d_in)
    w_dec /= w_dec.norm(dim=1, keepdim=True)
    W_dec = torch.nn.Parameter(w_dec.to(device))
    W_enc = torch.nn.Parameter(w_dec.T.contiguous().to(device))
    b_enc = torch.nn.Parameter(torch.zeros(setup.d_sae, device=device))
    first = setup.cache.read(setup.site, setup.order[0]) * factor
    b_dec = torch.nn.Parameter(first.mean(0).to(device))  # start at the data mean
    params = [W_enc, b_enc, W_dec, b_dec]
    optimizer = torch.optim.Adam(params, lr=setup.lr, betas=(0.9, 0.999))
    train_seconds, loss = 0.0, torch.zeros(())
    for step, rows in enumerate(setup.order):
        x = setup.cache.read(setup.site, rows).to(device) * factor
        t0 = time.perf_counter()
        for group in optimizer.param_groups:
            group["lr"] = setup.lr * _lr_factor(step, setup)
        pre = (x - b_dec) @ W_enc + b_enc
        values, indices = torch.topk(pre, setup.k, dim=-1)
        acts = torch.zeros_like(pre).scatter(-1, indices, torch.relu(values))
        loss = (acts @ W_dec + b_dec - x).pow(2).sum(-1).mean()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        with torch.no_grad():
            W_dec /= W_dec.norm(dim=1, keepdim=True).clamp_min(1e-8)
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        train_seconds += time.perf_counter() - t0
    # For TopK, dividing both biases by the factor makes the SAE read raw activations.
    tensors = {
        "W_enc": W_enc.detach().cpu(),
        "b_enc": b_enc.detach().cpu() / factor,
        "W_dec": W_dec.detach().cpu(),
        "b_dec": b_dec.detach().cpu() / factor,
    }
    run = Run(
        trainer="plain PyTorch",
        steps=setup.steps,
        batch_size=setup.batch_size,
        activations_per_second=setup.steps * setup.batch_size / train_seconds,
        train_seconds=train_seconds,
        explained_variance=float("nan"),
        details={"final_loss": float(loss.detach())},
    )
    return run, load_topk(tensors, setup)


# -- report ----------------------------------------------------------------------------------------


def markdown(runs: list[Run], baseline: Run) -> str:
    lines = [
        "| trainer | steps | batch | activations/s | explained variance (held-out) "
        "| ratio vs baseline |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for run in runs:
        ratio = run.activations_per_second / baseline.activations_per_second
        label = f"{run.trainer} (baseline)" if run is baseline else run.trainer
        lines.append(
            f"| {label} | {run.steps} | {run.batch_size} | {run.activations_per_second:,.0f} "
            f"| {run.explained_variance:.4f} | {ratio:.2f}× |"
        )
    return "\n".join(lines)


def _default_cache(site: str) -> ActivationCache:
    """200,000 rows of the embedded model at ``site`` (training split), built once."""
    import saewidgets as sw
    from saewidgets.core.cache import cache_dir
    from saewidgets.training.activations import cache_activations

    model = sw.load_model()
    corpus = sw.corpus.default().split("train")
    folder = cache_dir("bench-activations", site)
    return cache_activations(model, [site], corpus, 200_000, folder)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--cache",
        default=None,
        help="activation cache folder (default: 200k rows of the embedded model, built once "
        "in the user cache)",
    )
    parser.add_argument("--site", default="blocks.9.hook_resid_post")
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--batch-size", type=int, default=4096)
    parser.add_argument("--d-sae", type=int, default=4608)
    parser.add_argument("--k", type=int, default=32)
    parser.add_argument("--lr", type=float, default=None, help="default: ours, 2e-4·√(16384/d_sae)")
    parser.add_argument("--warmup", type=int, default=None, help="default: steps // 10")
    parser.add_argument("--dead-after-tokens", type=int, default=1_000_000)
    parser.add_argument("--eval-rows", type=int, default=20_000, help="held out at the end")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument(
        "--baseline",
        choices=["saelens", "plain", "both"],
        default="saelens",
        help="saelens falls back to the plain loop if SAELens cannot run",
    )
    parser.add_argument(
        "--saelens-sparse", action="store_true", help="SAELens use_sparse_activations=True"
    )
    parser.add_argument(
        "--saelens-mean-init",
        action="store_true",
        help="also run SAELens with b_dec started at the data mean, as ours does (not baseline)",
    )
    parser.add_argument(
        "--saelens-python", default=str(SAELENS_PYTHON), help="python of a venv with sae-lens"
    )
    parser.add_argument(
        "--autocast",
        action="store_true",
        help="bfloat16 autocast in both trainers (the embedded preset trains this way)",
    )
    parser.add_argument("--out", default=str(ROOT / "benchmarks/results/train.json"))
    args = parser.parse_args()

    if args.cache is None:
        full = _default_cache(args.site)
    else:
        full = open_cache(args.cache)
    train_rows = full.n_rows - args.eval_rows
    if train_rows < args.batch_size:
        parser.error(f"{full.n_rows} cached rows leave too few to train after --eval-rows")
    cache = ActivationCache(full.folder, {**full.meta, "rows": train_rows})
    held_out = torch.from_numpy(np.asarray(full.array(args.site)[train_rows:], dtype=np.float32))
    defaults = TrainConfig(d_sae=args.d_sae, n_steps=args.steps, batch_size=args.batch_size)
    warmup = args.warmup if args.warmup is not None else max(1, args.steps // 10)

    with tempfile.TemporaryDirectory(prefix="bench_train_") as tmp:
        workdir = Path(tmp)
        # The exact batches our trainer will draw (a pure function of seed and step).
        batches = cache.batch_indices(args.batch_size, seed=args.seed)
        order = np.stack([next(batches) for _ in range(args.steps)])
        np.save(workdir / "order.npy", order)
        setup = Setup(
            cache=cache,
            site=args.site,
            npy=full.folder / f"{args.site}.npy",
            order=order,
            order_path=workdir / "order.npy",
            factor=estimate_scaling_factor(cache, args.site),
            d_sae=args.d_sae,
            k=args.k,
            lr=args.lr if args.lr is not None else defaults.learning_rate(),
            warmup=warmup,
            # Our decay window, in steps, so every trainer follows the same schedule.
            decay=args.steps - int(args.steps * (1 - defaults.decay_fraction)),
            dead_after_tokens=args.dead_after_tokens,
            seed=args.seed,
            device=args.device,
            eval_rows=len(held_out),
            autocast=args.autocast,
        )

        scored: list[tuple[Run, SAE]] = []
        print(f"training saewidgets for {args.steps} steps ...", flush=True)
        scored.append(run_ours(setup, workdir))
        saelens_error = None
        python = Path(args.saelens_python)
        if args.baseline in ("saelens", "both"):
            print("training SAELens (subprocess) ...", flush=True)
            try:
                scored.append(run_saelens(setup, workdir, python, args.saelens_sparse))
            except BaselineUnavailable as err:
                saelens_error = str(err)
                print(f"SAELens could not run; falling back to plain PyTorch.\n{err}", flush=True)
            if args.saelens_mean_init and saelens_error is None:
                print("training SAELens with b_dec = data mean (subprocess) ...", flush=True)
                scored.append(
                    run_saelens(setup, workdir, python, args.saelens_sparse, mean_init=True)
                )
        if args.baseline in ("plain", "both") or saelens_error is not None:
            print("training plain PyTorch ...", flush=True)
            scored.append(run_plain(setup))
        for run, sae in scored:
            run.explained_variance = explained_variance(sae, held_out)
            check = run.details.get("self_check_explained_variance")
            if check is not None and abs(check - run.explained_variance) > 1e-4:
                print(
                    f"warning: {run.trainer} scores {check:.5f} with its own forward pass but "
                    f"{run.explained_variance:.5f} in ours: the weight hand-over is off",
                    flush=True,
                )

    runs = [run for run, _ in scored]
    baseline = runs[1]  # SAELens when it ran, the plain loop otherwise
    table = markdown(runs, baseline)
    print()
    print(table)
    if saelens_error:
        print(f"\nSAELens could not run: {saelens_error}")

    report = {
        "command": [Path(sys.executable).name, *sys.argv],
        "cache": str(full.folder),
        "site": args.site,
        "train_rows": train_rows,
        "eval_rows": len(held_out),
        "scaling_factor": setup.factor,
        "config": {
            "architecture": "topk",
            "d_sae": setup.d_sae,
            "k": setup.k,
            "steps": setup.steps,
            "batch_size": setup.batch_size,
            "lr": setup.lr,
            "warmup_steps": setup.warmup,
            "decay_steps": setup.decay,
            "dead_after_tokens": setup.dead_after_tokens,
            "seed": setup.seed,
            "device": setup.device,
            "autocast": "bfloat16" if setup.autocast else None,
        },
        "baseline": baseline.trainer,
        "saelens_error": saelens_error,
        "runs": [asdict(run) for run in runs],
        "table": table,
        "machine": {
            "python": platform.python_version(),
            "torch": torch.__version__,
            "threads": torch.get_num_threads(),
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
        },
        "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)  # absent on a fresh clone
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2))
    print(f"\nwrote {out}")


if __name__ == "__main__":
    main()
