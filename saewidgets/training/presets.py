"""Recipes for the SAEs shipped with the package (``python -m saewidgets train --preset ...``)."""

from __future__ import annotations

from saewidgets.training.trainer import TrainConfig

EMBEDDED = {
    "sites": [f"blocks.{layer}.hook_resid_post" for layer in (3, 9, 15, 21, 27)],
    "n_tokens": 1_000_000,
    "epochs": 1.0,
    "window": 128,  # tokens per corpus window
    "config": TrainConfig(
        architecture="topk",
        d_sae=4608,  # 8 × d_model
        k=48,
        batch_size=4096,  # tokens per step
        warmup_steps=50,
        dead_after_tokens=1_000_000,
        checkpoint_every=100,
        seed=0,
    ),
}

PRESETS = {"embedded": EMBEDDED}
