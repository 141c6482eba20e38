"""ReLU SAE trained with an L1 penalty (SAELens "standard"; dictionary_learning "AutoEncoder")."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from saewidgets.sae.architectures.base import (
    Architecture,
    StepResult,
    Take,
    TrainingLoss,
    autoencoder_state,
)


class ReLUTraining(TrainingLoss):
    """MSE plus ``l1_coefficient`` × the decoder-norm-weighted L1 of the features / d_in."""

    def step(self, x: torch.Tensor, dead: torch.Tensor) -> StepResult:
        sae = self.sae
        features = torch.relu(sae.pre_activations(x))
        weighted = (features * sae.W_dec.norm(dim=1)).sum(-1).mean()
        return StepResult.dense(
            sae, features, sparsity=self.cfg.l1_coefficient * weighted / x.shape[-1]
        )


class ReLU(Architecture):
    name = "relu"
    options = ("l1_coefficient",)
    saelens_name = "standard"
    saelens_transcoder_name = "transcoder"
    saelens_reads = ("standard", "relu", "transcoder")
    dictionary_learning_classes = ("AutoEncoder",)
    training_loss = ReLUTraining

    def activate(self, sae: nn.Module, x: torch.Tensor, pre: torch.Tensor) -> torch.Tensor:
        return torch.relu(pre)

    def from_dictionary_learning(
        self, take: Take, trainer: Mapping[str, Any]
    ) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
        return autoencoder_state(take), {"apply_b_dec_to_input": True}

    def training_options(self, cfg: Any) -> dict[str, Any]:
        return {"l1_coefficient": cfg.l1_coefficient}
