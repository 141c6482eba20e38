"""BatchTopK SAE (Bussmann et al. 2024): in training a batch keeps its ``k × n_tokens`` largest
activations; the trainer calibrates a global threshold (an average of the batch cut-offs),
which makes inference per token: a JumpReLU with that threshold. Until one is calibrated,
inference falls back to per-token top-k. Written for SAELens as "jumprelu" (the calibrated
threshold is exactly that); dictionary_learning "BatchTopKSAE" / "MatryoshkaBatchTopKSAE"."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from saewidgets.sae.architectures.base import Take, autoencoder_state
from saewidgets.sae.architectures.jumprelu import JumpReLU
from saewidgets.sae.architectures.topk import TopKTraining, topk_per_token


def batch_topk(pre: torch.Tensor, k: int) -> torch.Tensor:
    """Keep the ``k × n_tokens`` largest positive pre-activations across the whole batch."""
    flat = torch.relu(pre).reshape(-1)
    n_keep = min(k * (flat.numel() // pre.shape[-1]), flat.numel())
    values, indices = torch.topk(flat, n_keep)
    return torch.zeros_like(flat).scatter_(0, indices, values).reshape(pre.shape)


class BatchTopKTraining(TopKTraining):
    """TopK training with a batch-wide cut; keeps an average of the cut as the threshold."""

    def __init__(self, sae: nn.Module, cfg: Any) -> None:
        super().__init__(sae, cfg)
        self.threshold = torch.zeros((), device=sae.device)  # EMA of the batch cut-off

    def select(self, pre: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        k = self.cfg.k
        flat = torch.relu(pre).flatten()
        kept, where = torch.topk(flat, k * pre.shape[0])
        cut = kept[-1].detach()
        self.threshold = 0.99 * self.threshold + 0.01 * cut if self.threshold > 0 else cut
        mask = torch.zeros_like(flat).scatter_(0, where, 1.0).view_as(pre)
        # Per token at most 4k survive for the sparse decode (almost never binding).
        return torch.topk(torch.relu(pre) * mask, min(self.sae.d_sae, 4 * k), dim=-1)

    def state(self) -> dict[str, torch.Tensor]:
        return {"threshold": self.threshold.reshape(1)}

    def load_state(self, tensors: Mapping[str, torch.Tensor]) -> None:
        if "threshold" in tensors:
            self.threshold = tensors["threshold"][0].to(self.sae.device)

    def finish(self) -> None:
        with torch.no_grad():
            self.sae.threshold.fill_(float(self.threshold))


class BatchTopK(JumpReLU):
    """A JumpReLU once calibrated: same parameters, SAELens tensors and inference rule."""

    name = "batchtopk"
    options = ("k", "threshold")
    rescalable = False
    saelens_reads = ("batchtopk",)
    dictionary_learning_classes = ("BatchTopKSAE", "MatryoshkaBatchTopKSAE")
    training_loss = BatchTopKTraining

    def activate(self, sae: nn.Module, x: torch.Tensor, pre: torch.Tensor) -> torch.Tensor:
        if sae.training:
            return batch_topk(pre, sae.k)
        if not bool((sae.threshold > 0).any()):
            return topk_per_token(pre, sae.k)  # not calibrated yet: choose by rank per token
        return super().activate(sae, x, pre)

    def from_dictionary_learning(
        self, take: Take, trainer: Mapping[str, Any]
    ) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
        tensors = autoencoder_state(take)
        d_sae = tensors["W_enc"].shape[1]
        threshold = take("threshold").float().reshape(-1)  # one global value
        tensors["threshold"] = threshold.expand(d_sae).clone()
        k = int(trainer.get("k") or take("k"))
        return tensors, {"k": k, "apply_b_dec_to_input": True}

    def training_options(self, cfg: Any) -> dict[str, Any]:
        return {"k": cfg.k}
