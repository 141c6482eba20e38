"""Reading residual-stream directions as logits: final-norm scale, then the unembedding.

This is the "VocabProj" view of a feature: which tokens its decoder direction promotes. The
final norm's per-dimension scale is applied (its data-dependent division is not: that is one
positive number per token and does not change the ranking).
"""

from __future__ import annotations

import torch

from saewidgets.model.model import Model


def final_norm_scale(model: Model) -> torch.Tensor | None:
    """The final norm's per-dimension multiplier as float32 on the CPU (None if it has none)."""
    norm = model.module(model.family.final_norm)
    scale = getattr(norm, "weight", None)
    if scale is None:
        return None
    scale = scale.detach().float().cpu()
    # Gemma's RMSNorm multiplies by (1 + weight); the others by weight.
    return 1 + scale if "gemma" in model.config.model_type else scale


def unembedding(model: Model) -> torch.Tensor:
    """The unembedding matrix ``[vocab, d_model]`` as float32 on the CPU."""
    return model.module(model.family.unembed).weight.detach().float().cpu()


def logit_directions(model: Model, directions: torch.Tensor) -> torch.Tensor:
    """Logit effect ``[n, vocab]`` of residual directions ``[n, d_model]``."""
    directions = directions.detach().float().cpu()
    scale = final_norm_scale(model)
    if scale is not None:
        directions = directions * scale
    return directions @ unembedding(model).T
