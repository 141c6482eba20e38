"""Recipes for the SAEs shipped with the package (``python -m saewidgets train --preset ...``)."""

from __future__ import annotations

from saewidgets.training.trainer import TrainConfig

EMBEDDED = {
    "sites": [f"blocks.{layer}.hook_resid_post" for layer in (3, 9, 15, 21, 27)],
    # The broad corpus's training sources (human prose of many registers) plus generated
    # prose, docs and code; see saewidgets/corpus/broad.py. Needs `corpus build` first.
    "corpus": "training-mix",
    "n_tokens": 3_000_000,
    # Activations are collected with the model in bfloat16 (AMX: 3x the float32 speed on
    # CPU; the residual differs by ~1.5 % in norm) and trained with bfloat16 matmuls.
    "model_dtype": "bfloat16",
    "epochs": 1.0,
    "window": 128,  # tokens per corpus window
    "config": TrainConfig(
        architecture="topk",
        d_sae=4608,  # 8 × d_model
        k=64,  # the quality bar allows L0 ≤ 64; deeper sites need it for explained variance
        batch_size=4096,  # tokens per step
        warmup_steps=50,
        dead_after_tokens=1_000_000,
        checkpoint_every=100,
        seed=0,
        autocast="bfloat16",
    ),
}

PRESETS = {"embedded": EMBEDDED}
