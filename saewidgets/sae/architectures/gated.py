"""Gated SAE (Rajamanoharan et al. 2024): a gate path decides which features fire, a magnitude
path (the encoder scaled by ``exp(r_mag)``) how strongly. Trained with an L1 penalty on the
gate and an auxiliary loss that makes the gate reconstruct on its own through a frozen
decoder. SAELens "gated"; dictionary_learning "GatedAutoEncoder"."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from saewidgets.sae.architectures.base import Architecture, StepResult, Take, TrainingLoss


def magnitude(sae: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """The magnitude path ``relu(x @ (W_enc · exp(r_mag)) + b_mag)``."""
    return torch.relu(x @ (sae.W_enc * torch.exp(sae.r_mag)) + sae.b_mag)


class GatedTraining(TrainingLoss):
    def step(self, x: torch.Tensor, dead: torch.Tensor) -> StepResult:
        sae, cfg = self.sae, self.cfg
        pre = sae.pre_activations(x)
        features = magnitude(sae, sae.center_input(x)) * (pre > 0)
        gate = torch.relu(pre)
        weighted = (gate * sae.W_dec.norm(dim=1).detach()).sum(-1).mean()
        sparsity = cfg.l1_coefficient * weighted / x.shape[-1]
        # The gate path must reconstruct on its own through a frozen decoder.
        aux_recon = gate @ sae.W_dec.detach() + sae.b_dec.detach()
        aux = (x - aux_recon).pow(2).sum(-1).mean() / x.shape[-1]
        return StepResult.dense(sae, features, sparsity=sparsity, aux=aux)


class Gated(Architecture):
    name = "gated"
    options = ("l1_coefficient",)
    feature_unit_parameters = ("b_gate", "b_mag")
    saelens_name = "gated"
    saelens_reads = ("gated",)
    dictionary_learning_classes = ("GatedAutoEncoder",)
    training_loss = GatedTraining

    def parameter_shapes(self, d_in: int, d_sae: int, d_out: int) -> dict[str, tuple[int, ...]]:
        return {"b_gate": (d_sae,), "b_mag": (d_sae,), "r_mag": (d_sae,)}

    def pre_activations(self, sae: nn.Module, x: torch.Tensor) -> torch.Tensor:
        return x @ sae.W_enc + sae.b_gate  # the gate's

    def activate(self, sae: nn.Module, x: torch.Tensor, pre: torch.Tensor) -> torch.Tensor:
        strength = magnitude(sae, x)
        return strength * (pre > 0).to(strength.dtype)

    def from_dictionary_learning(
        self, take: Take, trainer: Mapping[str, Any]
    ) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
        tensors = {
            "W_enc": take("encoder.weight").T.contiguous(),
            "b_gate": take("gate_bias"),
            "b_mag": take("mag_bias"),
            "r_mag": take("r_mag"),
            "W_dec": take("decoder.weight").T.contiguous(),
            "b_dec": take("decoder_bias", "b_dec", "bias"),
        }
        return tensors, {"apply_b_dec_to_input": True}

    def training_options(self, cfg: Any) -> dict[str, Any]:
        return {"l1_coefficient": cfg.l1_coefficient}
