"""JumpReLU SAE (Rajamanoharan et al. 2024): a feature fires only above its own threshold.

Trained with an L0 penalty; the thresholds (kept as logs during training) learn through
straight-through estimators whose pseudo-derivative is a rectangle kernel of width
``jumprelu_bandwidth`` around each threshold. SAELens "jumprelu" / "jumprelu_transcoder";
Gemma Scope; dictionary_learning "JumpReluAutoEncoder"."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from saewidgets.sae.architectures.base import (
    Architecture,
    StepResult,
    Take,
    TrainingLoss,
    threshold_from_log,
)


def _rect(u: torch.Tensor) -> torch.Tensor:
    return ((u > -0.5) & (u < 0.5)).to(u.dtype)


class _JumpReLU(torch.autograd.Function):
    """``pre · [pre > threshold]`` with a straight-through gradient for the threshold."""

    @staticmethod
    def forward(ctx, pre, threshold, bandwidth):
        ctx.save_for_backward(pre, threshold)
        ctx.bandwidth = bandwidth
        return pre * (pre > threshold)

    @staticmethod
    def backward(ctx, grad):
        pre, threshold = ctx.saved_tensors
        eps = ctx.bandwidth
        grad_pre = grad * (pre > threshold)
        grad_t = -(threshold / eps) * _rect((pre - threshold) / eps) * grad
        return grad_pre, grad_t.sum(0) if grad_t.dim() > 1 else grad_t, None


class _Step(torch.autograd.Function):
    """``[pre > threshold]`` (counts for the L0 penalty) with the same pseudo-derivative."""

    @staticmethod
    def forward(ctx, pre, threshold, bandwidth):
        ctx.save_for_backward(pre, threshold)
        ctx.bandwidth = bandwidth
        return (pre > threshold).to(pre.dtype)

    @staticmethod
    def backward(ctx, grad):
        pre, threshold = ctx.saved_tensors
        eps = ctx.bandwidth
        grad_t = -(1.0 / eps) * _rect((pre - threshold) / eps) * grad
        return None, grad_t.sum(0) if grad_t.dim() > 1 else grad_t, None


class JumpReLUTraining(TrainingLoss):
    """MSE plus ``l0_coefficient`` × the (straight-through) number of active features."""

    def __init__(self, sae: nn.Module, cfg: Any) -> None:
        super().__init__(sae, cfg)
        self.log_threshold = nn.Parameter(
            torch.full((sae.d_sae,), math.log(cfg.jumprelu_init_threshold), device=sae.device)
        )

    def parameters(self) -> list[nn.Parameter]:
        return [self.log_threshold]

    def step(self, x: torch.Tensor, dead: torch.Tensor) -> StepResult:
        sae, cfg = self.sae, self.cfg
        pre = sae.pre_activations(x)
        threshold = self.log_threshold.exp()
        features = _JumpReLU.apply(pre, threshold, cfg.jumprelu_bandwidth)
        l0_soft = _Step.apply(pre, threshold, cfg.jumprelu_bandwidth).sum(-1).mean()
        return StepResult.dense(sae, features, sparsity=cfg.l0_coefficient * l0_soft)

    def finish(self) -> None:
        with torch.no_grad():
            self.sae.threshold.copy_(self.log_threshold.exp())


class JumpReLU(Architecture):
    name = "jumprelu"
    options = ("threshold",)
    feature_unit_parameters = ("b_enc", "threshold")
    saelens_name = "jumprelu"
    saelens_transcoder_name = "jumprelu_transcoder"
    saelens_reads = ("jumprelu", "jumprelu_transcoder")
    dictionary_learning_classes = ("JumpReluAutoEncoder",)
    training_loss = JumpReLUTraining

    def parameter_shapes(self, d_in: int, d_sae: int, d_out: int) -> dict[str, tuple[int, ...]]:
        return {"b_enc": (d_sae,), "threshold": (d_sae,)}

    def initial_parameters(
        self, d_in: int, d_sae: int, d_out: int, options: Mapping[str, Any]
    ) -> dict[str, torch.Tensor]:
        threshold = float(options.get("threshold") or 0.0)
        return {"b_enc": torch.zeros(d_sae), "threshold": torch.full((d_sae,), threshold)}

    def activate(self, sae: nn.Module, x: torch.Tensor, pre: torch.Tensor) -> torch.Tensor:
        return torch.relu(pre) * (pre > sae.threshold)

    def saelens_tensors(self, tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        return threshold_from_log(tensors)

    def from_dictionary_learning(
        self, take: Take, trainer: Mapping[str, Any]
    ) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
        tensors = {
            "W_enc": take("W_enc"),
            "b_enc": take("b_enc"),
            "W_dec": take("W_dec"),
            "b_dec": take("b_dec"),
            "threshold": take("threshold"),
        }
        return tensors, {"apply_b_dec_to_input": bool(trainer.get("apply_b_dec_to_input", False))}
