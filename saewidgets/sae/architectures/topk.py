"""TopK SAE: each token keeps its ``k`` largest pre-activations (Gao et al. 2024), trained on
the fraction of variance unexplained plus AuxK, which lets dead features explain what the live
ones missed. SAELens "topk"; dictionary_learning "AutoEncoderTopK"; sparsify topk/batchtopk
(sparsify's BatchTopK runs per token at inference)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from saewidgets.sae.architectures.base import (
    Architecture,
    StepResult,
    Take,
    TrainingLoss,
    autoencoder_state,
)


def topk_per_token(pre: torch.Tensor, k: int) -> torch.Tensor:
    """Keep each token's ``k`` largest pre-activations (ReLU'd), zero the rest."""
    values, indices = torch.topk(pre, k, dim=-1)
    return torch.zeros_like(pre).scatter_(-1, indices, torch.relu(values))


def sparse_decode(sae: nn.Module, values: torch.Tensor, indices: torch.Tensor) -> torch.Tensor:
    """Decode ``values`` at feature ``indices`` (both ``[batch, n]``) without a dense matmul.

    embedding_bag sums n decoder rows per token weighted by the activations: O(batch · n · d)
    instead of O(batch · d_sae · d), forwards and backwards."""
    return F.embedding_bag(indices, sae.W_dec, per_sample_weights=values, mode="sum") + sae.b_dec


class TopKTraining(TrainingLoss):
    reconstruction = "fvu"

    def select(self, pre: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The kept (values, indices) per token."""
        values, indices = torch.topk(pre, self.cfg.k, dim=-1)
        return torch.relu(values), indices

    def step(self, x: torch.Tensor, dead: torch.Tensor) -> StepResult:
        sae = self.sae
        pre = sae.pre_activations(x)
        values, indices = self.select(pre)
        recon = sparse_decode(sae, values, indices)
        fired = torch.zeros(sae.d_sae, dtype=torch.bool, device=x.device)
        fired[indices[values > 0]] = True
        return StepResult(
            recon=recon,
            fired=fired,
            l0=float((values > 0).sum(-1).float().mean()),
            sparsity=torch.zeros((), device=x.device),
            aux=self.aux_k(x, recon, pre, dead),
        )

    def aux_k(
        self, x: torch.Tensor, recon: torch.Tensor, pre: torch.Tensor, dead: torch.Tensor
    ) -> torch.Tensor:
        """AuxK: the ``aux_k`` strongest dead features reconstruct the residual (as an FVU)."""
        cfg = self.cfg
        n_dead = int(dead.sum())
        if n_dead == 0 or cfg.aux_k_coefficient == 0:
            return torch.zeros((), device=x.device)
        k_aux = min(cfg.aux_k or x.shape[-1] // 2, n_dead)
        residual = (x - recon).detach()
        values, indices = torch.topk(pre.masked_fill(~dead, float("-inf")), k_aux, dim=-1)
        aux_recon = F.embedding_bag(
            indices, self.sae.W_dec, per_sample_weights=torch.relu(values), mode="sum"
        )
        aux = (residual - aux_recon).pow(2).sum() / (residual - residual.mean(0)).pow(
            2
        ).sum().clamp_min(1e-12)
        return cfg.aux_k_coefficient * torch.nan_to_num(aux, nan=0.0)

    @torch.no_grad()
    def after_step(self) -> None:
        self.sae.normalize_decoder()  # rank-based: unit rows keep features comparable


class TopK(Architecture):
    name = "topk"
    options = ("k",)
    rescalable = False
    saelens_name = "topk"
    saelens_reads = ("topk",)
    dictionary_learning_classes = ("AutoEncoderTopK",)
    sparsify_activations = ("topk", "batchtopk")
    training_loss = TopKTraining

    def activate(self, sae: nn.Module, x: torch.Tensor, pre: torch.Tensor) -> torch.Tensor:
        return topk_per_token(pre, sae.k)

    def saelens_fields(self, sae: nn.Module) -> dict[str, Any]:
        return {"k": sae.k, "rescale_acts_by_decoder_norm": False}

    def from_dictionary_learning(
        self, take: Take, trainer: Mapping[str, Any]
    ) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
        k = int(trainer.get("k") or take("k"))
        return autoencoder_state(take), {"k": k, "apply_b_dec_to_input": True}

    def training_options(self, cfg: Any) -> dict[str, Any]:
        return {"k": cfg.k}
