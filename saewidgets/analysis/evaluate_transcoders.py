"""`sw.evaluate_transcoders`: a set of MLP transcoders, layer by layer and all at once.

Per layer: how much of the MLP output's variance the transcoder explains from the clean MLP
input, its L0 and the fraction of features that never fire. All at once: the next-token loss
when every MLP in the set is replaced by its transcoder in the same forward pass (each one
reading the already-replaced stream, as in an attribution graph's replacement model), against
the clean model and against zeroing those MLPs.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
import torch
from tqdm.auto import tqdm

from saewidgets.analysis.evaluate import LossStats, ReconstructionStats
from saewidgets.analysis.inputs import SAEInput, saes_by_site
from saewidgets.corpus import Corpus
from saewidgets.model.model import Model


@dataclass
class TranscoderReport:
    """``layers``: one row per transcoder; ``replacement``: the all-at-once loss metrics."""

    n_tokens: int
    layers: pd.DataFrame
    replacement: dict[str, float]

    def table(self) -> pd.DataFrame:
        return self.layers

    def figure(self):
        import plotly.graph_objects as go

        from saewidgets.core.plotting import themed

        fig = go.Figure(go.Bar(x=self.layers["read_site"], y=self.layers["explained_variance"]))
        fig.update_layout(
            title=(
                "Explained variance of each MLP output; all replaced at once: "
                f"{self.replacement['ce_loss_recovered']:.1%} of the loss recovered"
            ),
            yaxis_title="explained variance",
            yaxis_range=[0, 1],
        )
        return themed(fig)

    def _repr_html_(self) -> str:
        rep = ", ".join(f"{k} {v:.4f}" for k, v in self.replacement.items())
        return (
            f"<b>Transcoders</b> on {self.n_tokens:,} tokens; all at once: {rep}"
            + self.layers.to_html(index=False, float_format=lambda v: f"{v:.4f}")
        )


def evaluate_transcoders(
    model: Model,
    transcoders: SAEInput,
    corpus: Corpus,
    *,
    n_tokens: int = 10_000,
    window: int = 128,
    batch_windows: int = 8,
    progress: bool = True,
) -> TranscoderReport:
    """Score ``transcoders`` (``{read site: transcoder}`` or a list) on ``n_tokens`` tokens of
    ``corpus`` (pass a held-out split to measure generalisation)."""
    by_site = saes_by_site(transcoders, model)
    for site, sae in by_site.items():
        if not sae.is_transcoder or sae.site_out is None:
            raise ValueError(f"the dictionary at {site} is not a transcoder (no output site)")
    sites = list(by_site)
    outs = [by_site[s].site_out for s in sites]
    windows = corpus.take(model.tokenizer, n_tokens, window=window, cache=True)
    recon = {s: ReconstructionStats(by_site[s].d_sae) for s in sites}
    losses = LossStats()
    for start in tqdm(
        range(0, len(windows), batch_windows), desc="transcoders", disable=not progress
    ):
        ids = torch.from_numpy(windows[start : start + batch_windows])
        mask = torch.ones_like(ids)
        keep = model.content_mask(ids)
        clean, acts = model.run(ids, mask, read=[*sites, *outs])
        for site, out in zip(sites, outs, strict=True):
            with torch.no_grad():
                features, y_hat = by_site[site].encode_decode(acts[site])
            recon[site].add(acts[out][keep], y_hat[keep].to(acts[out].dtype), features[keep])
        replaced, _ = model.run(ids, mask, patches=_replace_all(by_site))
        zeroed, _ = model.run(ids, mask, patches={o: _zero for o in outs})
        losses.add(ids[:, 2:], clean[:, 1:-1], replaced[:, 1:-1], zeroed[:, 1:-1])
    rows = []
    for site in sites:
        m = recon[site].metrics()
        rows.append(
            {
                "read_site": site,
                "write_site": by_site[site].site_out,
                "explained_variance": m["explained_variance"],
                "l0": m["l0"],
                "dead_fraction": m["dead_fraction"],
            }
        )
    metrics = losses.metrics()
    replacement = {
        "ce_loss_clean": metrics["ce_loss_clean"],
        "ce_loss_replaced": metrics["ce_loss_spliced"],
        "ce_loss_mlps_zeroed": metrics["ce_loss_zero_ablation"],
        "ce_loss_recovered": metrics["ce_loss_recovered"],
        "kl_divergence": metrics["kl_divergence"],
    }
    return TranscoderReport(recon[sites[0]].n, pd.DataFrame(rows), replacement)


def _zero(value: torch.Tensor) -> torch.Tensor:
    out = torch.zeros_like(value)
    out[:, 0] = value[:, 0]  # the attention sink keeps its own value, as in `sw.evaluate`
    return out


def _replace_all(by_site: dict) -> dict:
    """Patches that stash each MLP input and swap the MLP output for the transcoder's
    prediction from it (sites run in stream order, so the stash is always fresh)."""
    seen: dict[str, torch.Tensor] = {}
    patches = {}
    for site, sae in by_site.items():

        def stash(value, site=site):
            seen[site] = value
            return value

        def swap(value, site=site, sae=sae):
            with torch.no_grad():
                out = sae.decode(sae.encode(seen[site])).to(value.dtype)
            out[:, 0] = value[:, 0]
            return out

        patches[site] = stash
        patches[sae.site_out] = swap
    return patches
