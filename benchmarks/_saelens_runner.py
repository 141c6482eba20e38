"""Train a TopK SAE with SAELens's own trainer on rows of a cached activation ``.npy``.

Run by ``bench_train.py`` with the interpreter of a separate venv that has ``sae-lens``
installed (SAELens pins its own transformer-lens/transformers, so it does not share our venv).
It imports nothing from saewidgets: the batches come as a precomputed ``[steps, batch]`` array
of row indices, so both trainers see the same rows in the same order.

    .venv-saelens/bin/python benchmarks/_saelens_runner.py --npy X.npy --order order.npy \
        --scaling-factor 0.12 --d-sae 4608 --k 32 --lr 3.8e-4 --warmup 4 --decay 8 \
        --dead-window 244 --out-dir /tmp/saelens_run
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np

IMPORT_START = time.perf_counter()
import sae_lens  # noqa: E402  (timed: its import is start-up, not training)
import torch  # noqa: E402
from sae_lens import SAE, LoggingConfig, SAETrainer  # noqa: E402
from sae_lens.config import SAETrainerConfig  # noqa: E402
from sae_lens.saes.sae import TrainStepOutput  # noqa: E402
from sae_lens.saes.topk_sae import TopKTrainingSAE, TopKTrainingSAEConfig  # noqa: E402

IMPORT_SECONDS = time.perf_counter() - IMPORT_START


class CachedRows(Iterator[torch.Tensor]):
    """SAELens's ``DataProvider``: raw (unscaled) float32 batches read from the memory map."""

    def __init__(self, npy: str, order: np.ndarray) -> None:
        self.array = np.load(npy, mmap_mode="r")
        self.order = order
        self.step = 0
        self.read_seconds = 0.0

    def __next__(self) -> torch.Tensor:
        if self.step >= len(self.order):
            raise StopIteration
        t0 = time.perf_counter()
        batch = torch.from_numpy(np.asarray(self.array[self.order[self.step]], dtype=np.float32))
        self.step += 1
        self.read_seconds += time.perf_counter() - t0
        return batch


@torch.no_grad()
def explained_variance(sae: SAE, x: torch.Tensor, chunk: int = 4096) -> float:
    """1 - Σ‖x - x̂‖² / Σ‖x - mean(x)‖², with SAELens's own forward pass."""
    total = (x.double() - x.double().mean(0)).pow(2).sum()
    error = torch.zeros((), dtype=torch.float64)
    for start in range(0, len(x), chunk):
        rows = x[start : start + chunk].to(sae.device)
        error += (rows - sae(rows)).double().pow(2).sum().cpu()
    return float(1 - error / total)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--npy", required=True)
    parser.add_argument("--order", required=True, help="[steps, batch] int64 row indices")
    parser.add_argument("--scaling-factor", type=float, required=True)
    parser.add_argument("--d-sae", type=int, default=4608)
    parser.add_argument("--k", type=int, default=32)
    parser.add_argument("--lr", type=float, required=True)
    parser.add_argument("--warmup", type=int, default=0)
    parser.add_argument("--decay", type=int, default=0)
    parser.add_argument("--dead-window", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--sparse", action="store_true", help="use_sparse_activations=True")
    parser.add_argument("--autocast", action="store_true", help="bfloat16 autocast (SAELens's)")
    parser.add_argument(
        "--b-dec-mean-rows",
        type=int,
        default=0,
        help="start b_dec at the mean of the first N scaled rows (0: SAELens's zeros)",
    )
    parser.add_argument(
        "--eval-rows", type=int, nargs=2, metavar=("START", "END"), help="held-out row range"
    )
    parser.add_argument("--out-dir", required=True)
    args = parser.parse_args()

    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    order = np.load(args.order)
    n_steps, batch_size = order.shape
    d_in = int(np.load(args.npy, mmap_mode="r").shape[1])

    # "expected_average_only_in" is SAELens's ‖x‖ ≈ √d scaling; giving the trainer our factor
    # up front skips its own estimate (same data scale as our trainer) and it still folds the
    # factor into the weights after fit(), so the saved SAE reads raw activations.
    sae = TopKTrainingSAE(
        TopKTrainingSAEConfig(
            d_in=d_in,
            d_sae=args.d_sae,
            k=args.k,
            device=args.device,
            normalize_activations="expected_average_only_in",
            use_sparse_activations=args.sparse,
        )
    )
    if args.b_dec_mean_rows:
        # Opt-in, not SAELens's default: starting at the data mean, as our trainer does,
        # separates the effect of this one initialisation from the rest of the trainer.
        sample = np.asarray(np.load(args.npy, mmap_mode="r")[: args.b_dec_mean_rows], np.float32)
        with torch.no_grad():
            mean = torch.from_numpy(sample).mean(0) * args.scaling_factor
            sae.b_dec.copy_(mean.to(sae.b_dec.device))
    provider = CachedRows(args.npy, order)
    trainer = SAETrainer(
        cfg=SAETrainerConfig(
            total_training_samples=n_steps * batch_size,
            train_batch_size_samples=batch_size,
            lr=args.lr,
            lr_end=args.lr,  # the constant schedule decays linearly from lr_end to 0
            lr_scheduler_name="constant",
            lr_warm_up_steps=args.warmup,
            lr_decay_steps=args.decay,
            device=args.device,
            dead_feature_window=args.dead_window,
            autocast=args.autocast,
            logger=LoggingConfig(log_to_wandb=False),
        ),
        sae=sae,
        data_provider=provider,
    )
    trainer.activation_scaler.scaling_factor = args.scaling_factor

    # Time exactly what the trainer does per batch (forward, backward, clip, Adam, schedulers),
    # not the memory-map reads, as our trainer's tokens_per_second does.
    step_seconds: list[float] = []
    losses: list[float] = []
    inner_step = trainer.step
    sync = torch.cuda.synchronize if args.device.startswith("cuda") else (lambda: None)

    def timed_step(batch: torch.Tensor) -> TrainStepOutput:
        sync()
        t0 = time.perf_counter()
        output = inner_step(batch)
        sync()
        step_seconds.append(time.perf_counter() - t0)
        losses.append(float(output.loss.detach()))
        return output

    trainer.step = timed_step  # type: ignore[method-assign]
    fit_start = time.perf_counter()
    trained = trainer.fit()
    fit_seconds = time.perf_counter() - fit_start

    out = Path(args.out_dir)
    # The inference export folds the decoder norms (rescale_acts_by_decoder_norm) into plain
    # W_enc/b_enc/W_dec/b_dec, the layout our SAE loads.
    weights, _ = trained.save_inference_model(out / "sae")
    train_seconds = sum(step_seconds)
    # Cross-check for the weight hand-over: the exported SAE scored by SAELens itself.
    self_check = None
    if args.eval_rows:
        held_out = np.asarray(provider.array[slice(*args.eval_rows)], dtype=np.float32)
        exported = SAE.load_from_disk(out / "sae", device=args.device)
        self_check = explained_variance(exported, torch.from_numpy(held_out))
    result = {
        "sae_lens_version": sae_lens.__version__,
        "torch_version": torch.__version__,
        "threads": torch.get_num_threads(),
        "steps": len(step_seconds),
        "batch_size": batch_size,
        "train_seconds": train_seconds,
        "activations_per_second": len(step_seconds) * batch_size / train_seconds,
        "fit_seconds": fit_seconds,
        "read_seconds": provider.read_seconds,
        "import_seconds": IMPORT_SECONDS,
        "first_loss": losses[0],
        "final_loss": losses[-1],
        "weights": str(weights),
        "self_check_explained_variance": self_check,
        "config": {
            "lr": args.lr,
            "warmup": args.warmup,
            "decay": args.decay,
            "dead_feature_window": args.dead_window,
            "aux_loss_coefficient": sae.cfg.aux_loss_coefficient,
            "decoder_init_norm": sae.cfg.decoder_init_norm,
            "rescale_acts_by_decoder_norm": sae.cfg.rescale_acts_by_decoder_norm,
            "use_sparse_activations": args.sparse,
            "b_dec_mean_rows": args.b_dec_mean_rows,
        },
    }
    (out / "result.json").write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
