"""`sw.evaluate`: how well an SAE reconstructs its site, and what splicing it in costs the model.

All metrics are accumulated over tokens with running sums, so the result does not depend on
how the tokens were batched (SAELens once scaled its MSE by the batch count, and once measured
explained variance against zero instead of the mean; the tests pin both).

Positions: the first position of every window (an attention sink with a huge norm) and
BOS/pad tokens are left out of the reconstruction metrics, and splicing leaves the first
position untouched, as during training.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from saewidgets.analysis.inputs import SAEInput, saes_by_site
from saewidgets.analysis.sae_inputs import sae_at
from saewidgets.core.aliases import renamed
from saewidgets.corpus import Corpus
from saewidgets.model.model import Model
from saewidgets.sae.module import SAE


@dataclass
class ReconstructionStats:
    """Running sums for reconstruction metrics over any number of batches."""

    d_sae: int
    n: int = 0
    sum_x: torch.Tensor | None = None
    sum_sq: float = 0.0  # Σ‖x‖²
    sse: float = 0.0  # Σ‖x − x̂‖²
    sum_l0: float = 0.0
    sum_norm_ratio: float = 0.0  # Σ ‖x̂‖/‖x‖
    sum_cos: float = 0.0  # Σ cos(x, x̂)
    sum_hat_sq: float = 0.0  # Σ ‖x̂‖²
    sum_dot: float = 0.0  # Σ ⟨x, x̂⟩
    fires: torch.Tensor = field(default=None)  # type: ignore[assignment]
    token_fvu: list[np.ndarray] = field(default_factory=list)

    def add(self, x: torch.Tensor, x_hat: torch.Tensor, features: torch.Tensor) -> None:
        x, x_hat = x.double(), x_hat.double()
        if self.sum_x is None:
            self.sum_x = torch.zeros(x.shape[-1], dtype=torch.float64)
            self.fires = torch.zeros(self.d_sae, dtype=torch.float64)
        err = (x - x_hat).pow(2).sum(-1)
        self.n += x.shape[0]
        self.sum_x += x.sum(0).cpu()
        self.sum_sq += float(x.pow(2).sum())
        self.sse += float(err.sum())
        active = features > 0
        self.sum_l0 += float(active.sum())
        self.fires += active.sum(0).double().cpu()
        norms = x.norm(dim=-1).clamp_min(1e-12)
        self.sum_norm_ratio += float((x_hat.norm(dim=-1) / norms).sum())
        self.sum_cos += float(F.cosine_similarity(x, x_hat, dim=-1).sum())
        self.sum_hat_sq += float(x_hat.pow(2).sum())
        self.sum_dot += float((x * x_hat).sum())
        self.token_fvu.append((err / norms.pow(2)).float().cpu().numpy())

    def metrics(self) -> dict[str, float]:
        mean = self.sum_x / self.n
        total_var = self.sum_sq - self.n * float(mean.pow(2).sum())  # Σ‖x − μ‖²
        density = (self.fires / self.n).numpy()
        return {
            "explained_variance": 1.0 - self.sse / total_var,
            "nmse": self.sse / self.sum_sq,
            "l0": self.sum_l0 / self.n,
            "dead_fraction": float((density == 0).mean()),
            "dense_fraction": float((density > 0.1).mean()),
            "shrinkage": self.sum_norm_ratio / self.n,
            # SAEBench's core extras: direction kept, and E‖x̂‖² / E⟨x, x̂⟩ (1: no bias)
            "cosine_similarity": self.sum_cos / self.n,
            "relative_reconstruction_bias": self.sum_hat_sq / max(self.sum_dot, 1e-12),
        }

    @property
    def density(self) -> np.ndarray:
        return (self.fires / max(self.n, 1)).numpy()


@dataclass
class LossStats:
    """Running sums of next-token cross-entropy for clean, spliced and zero-ablated runs."""

    n: int = 0
    ce_clean: float = 0.0
    ce_spliced: float = 0.0
    ce_zero: float = 0.0
    kl: float = 0.0  # KL(clean ‖ spliced)
    kl_zero: float = 0.0  # KL(clean ‖ zeroed)

    def add(self, targets, clean_logits, spliced_logits, zero_logits) -> None:
        clean = F.log_softmax(clean_logits.double(), -1)
        spliced = F.log_softmax(spliced_logits.double(), -1)
        zero = F.log_softmax(zero_logits.double(), -1)
        pick = targets.unsqueeze(-1)
        self.n += targets.numel()
        self.ce_clean += float(-clean.gather(-1, pick).sum())
        self.ce_spliced += float(-spliced.gather(-1, pick).sum())
        self.ce_zero += float(-zero.gather(-1, pick).sum())
        self.kl += float((clean.exp() * (clean - spliced)).sum())
        self.kl_zero += float((clean.exp() * (clean - zero)).sum())

    def metrics(self) -> dict[str, float]:
        clean, spliced, zero = (
            self.ce_clean / self.n,
            self.ce_spliced / self.n,
            self.ce_zero / self.n,
        )
        return {
            "ce_loss_clean": clean,
            "ce_loss_spliced": spliced,
            "ce_loss_zero_ablation": zero,
            "ce_loss_recovered": ce_loss_recovered(clean, spliced, zero),
            "delta_lm_loss": spliced - clean,
            "kl_divergence": self.kl / self.n,
            # SAEBench's KL score: 1 when splicing changes nothing, 0 when as bad as zeroing
            "kl_score": 1.0 - self.kl / self.kl_zero if self.kl_zero > 0 else float("nan"),
        }


def spliced_and_zeroed(
    model: Model, ids: torch.Tensor, mask: torch.Tensor, site: str, x_hat: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Logits with ``site`` replaced by ``x_hat``, and with it zeroed; the first position (an
    attention sink) keeps its own activation in both."""

    def splice(value):
        out = x_hat.to(value.dtype).clone()
        out[:, 0] = value[:, 0]
        return out

    def ablate(value):
        out = torch.zeros_like(value)
        out[:, 0] = value[:, 0]
        return out

    spliced, _ = model.run(ids, mask, patches={site: splice})
    zeroed, _ = model.run(ids, mask, patches={site: ablate})
    return spliced, zeroed


@torch.no_grad()
def decoder_redundancy(sae, block: int = 2048) -> float:
    """Mean over latents of the largest cosine between its decoder row and any other's (SAEBench
    reports it as redundancy: near 1 means duplicated latents)."""
    rows = F.normalize(sae.W_dec.detach().float().cpu(), dim=-1)
    best = []
    for start in range(0, len(rows), block):
        sims = rows[start : start + block] @ rows.T
        sims[torch.arange(len(sims)), torch.arange(start, start + len(sims))] = -1.0
        best.append(sims.max(1).values)
    return float(torch.cat(best).mean())


def ce_loss_recovered(clean: float, spliced: float, zero: float) -> float:
    """1 when splicing the SAE costs nothing, 0 when it is as bad as zeroing the site."""
    if math.isclose(zero, clean):
        return float("nan")
    return (zero - spliced) / (zero - clean)


@dataclass
class EvalReport:
    """Metrics of one SAE on one corpus; ``table()`` for numbers, ``figures()`` for plots."""

    site: str
    n_tokens: int
    metrics: dict[str, float]
    density: np.ndarray
    token_fvu: np.ndarray

    def table(self) -> pd.DataFrame:
        return pd.DataFrame({"metric": list(self.metrics), "value": list(self.metrics.values())})

    def figures(self) -> dict:
        import plotly.graph_objects as go

        from saewidgets.core.plotting import themed

        live = self.density[self.density > 0]
        density = go.Figure(go.Histogram(x=np.log10(live), nbinsx=50))
        density.update_layout(
            title=f"Feature density at {self.site} ({(self.density == 0).mean():.1%} dead)",
            xaxis_title="log10 fraction of tokens where the feature fires",
            yaxis_title="features",
        )
        fvu = go.Figure(go.Histogram(x=np.clip(self.token_fvu, 0, 2), nbinsx=60))
        fvu.update_layout(
            title="Per-token unexplained fraction ‖x − x̂‖² / ‖x‖²",
            xaxis_title="fraction (clipped at 2)",
            yaxis_title="tokens",
        )
        return {"density": themed(density), "token_error": themed(fvu)}

    def _repr_html_(self) -> str:
        rows = "".join(f"<tr><td>{k}</td><td>{v:.4f}</td></tr>" for k, v in self.metrics.items())
        return (
            f"<b>SAE evaluation</b> at <code>{self.site}</code> on {self.n_tokens:,} tokens"
            f"<table>{rows}</table>"
        )


@renamed(context="window")
def evaluate(
    model: Model,
    sae: SAE,
    corpus: Corpus,
    *,
    n_tokens: int = 20_000,
    window: int = 128,
    batch_windows: int = 8,
    site: str | None = None,
    progress: bool = True,
) -> EvalReport:
    """Evaluate ``sae`` at its site (or ``site``) on ``n_tokens`` tokens of ``corpus``.

    Pass a held-out split (``corpus.split("heldout")``) to measure generalisation. Transcoders
    are scored on their output site: the prediction replaces the MLP output.
    """
    site, sae = sae_at(sae, model, site)  # the checks every entry point shares
    out_site = sae.site_out or site
    windows = corpus.take(model.tokenizer, n_tokens, window=window, cache=True)
    recon = ReconstructionStats(sae.d_sae)
    losses = LossStats()
    batches = range(0, len(windows), batch_windows)
    for start in tqdm(batches, desc=f"evaluate {site}", disable=not progress):
        ids = torch.from_numpy(windows[start : start + batch_windows])
        mask = torch.ones_like(ids)
        clean, acts = model.run(ids, mask, read=list(dict.fromkeys([site, out_site])))
        x = acts[site]
        with torch.no_grad():
            features, x_hat = sae.encode_decode(x)
        target = acts[out_site]
        keep = model.content_mask(ids).to(x.device)
        recon.add(target[keep], x_hat[keep].to(target.dtype), features[keep])

        spliced, zeroed = spliced_and_zeroed(model, ids, mask, out_site, x_hat)
        # Predictions made at positions ≥ 1 (where the splice acts) for the next token.
        losses.add(ids[:, 2:], clean[:, 1:-1], spliced[:, 1:-1], zeroed[:, 1:-1])
    metrics = {**recon.metrics(), **losses.metrics(), "decoder_max_cosine": decoder_redundancy(sae)}
    return EvalReport(
        out_site if sae.site_out else site,
        recon.n,
        metrics,
        recon.density,
        np.concatenate(recon.token_fvu),
    )


def evaluate_many(
    model: Model, saes: SAEInput, corpus: Corpus, **kwargs
) -> tuple[pd.DataFrame, dict[str, EvalReport]]:
    """Evaluate several SAEs (any form `saes_by_site` takes: a list, ``{site: SAE}``,
    "embedded"); returns one table (a row per site) and the reports."""
    reports = {
        site: evaluate(model, sae, corpus, site=site, **kwargs)
        for site, sae in saes_by_site(saes, model).items()
    }
    table = pd.DataFrame([{"site": s, **r.metrics} for s, r in reports.items()])
    return table, reports
