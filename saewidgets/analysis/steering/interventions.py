"""Feature interventions and how they turn into edits of a site's activations.

An `Intervention` names one feature of one SAE and what to do with it. `compile_edits` groups
the interventions by site and SAE and turns them into tensors, so that applying them during
generation is a few tensor operations per site and step (and can travel in a remote trace).

Units: ``strength`` is a multiple of the feature's maximum activation over the statistics
corpus when `FeatureStats` for that SAE are given, otherwise a multiple of the residual norm
‖x‖ at each position (the added vector then has norm ``strength × ‖x‖``).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import torch

from saewidgets.analysis.inputs import stats_by_site
from saewidgets.analysis.sae_inputs import sae_at
from saewidgets.analysis.stats import FeatureStats
from saewidgets.core.errors import SAEWidgetsError
from saewidgets.model.model import Model
from saewidgets.sae.module import SAE, SAEConfigError

Mode = Literal["add", "clamp", "ablate"]
MODES: tuple[str, ...] = ("add", "clamp", "ablate")
ApplyTo = Literal["both", "prompt", "generated"]
APPLY_TO: tuple[str, ...] = ("both", "prompt", "generated")


class SteeringError(SAEWidgetsError, ValueError):
    """A steering request that cannot run as given; the message says what is allowed."""


@dataclass(eq=False)
class Intervention:
    """One feature edit: ``mode="add"`` adds ``strength`` units of the feature's decoder
    direction; ``"clamp"`` sets the feature's activation to ``strength`` units (the SAE's
    error term is kept, so nothing else changes); ``"ablate"`` sets it to zero.

    ``site`` defaults to the SAE's own site.
    """

    sae: SAE
    feature: int
    strength: float = 1.0
    mode: Mode = "add"
    site: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.sae, SAE):
            raise TypeError(f"Intervention needs an SAE, got {type(self.sae).__name__}")
        if self.sae.is_transcoder:
            raise SteeringError(
                "steering with a transcoder is not supported: its decoder writes to another "
                "site than it reads; use an SAE"
            )
        if self.mode not in MODES:
            raise SteeringError(f"mode {self.mode!r} is not one of {', '.join(MODES)}")
        feature = self.feature
        if isinstance(feature, bool) or not isinstance(feature, (int, np.integer)):
            raise SteeringError(f"feature must be an integer id, got {feature!r}")
        if not 0 <= feature < self.sae.d_sae:
            raise SteeringError(
                f"feature {feature} is out of range: this SAE has features 0..{self.sae.d_sae - 1}"
            )
        self.feature = int(feature)
        try:
            self.strength = float(self.strength)
        except (TypeError, ValueError):
            raise SteeringError(f"strength must be a number, got {self.strength!r}") from None
        if not math.isfinite(self.strength):
            raise SteeringError(f"strength must be finite, got {self.strength}")
        self.site = self.site or self.sae.site
        if not self.site:
            raise SteeringError(
                "this SAE does not name its site; pass site= (for example "
                "'blocks.9.hook_resid_post')"
            )

    def with_strength(self, strength: float) -> Intervention:
        return Intervention(self.sae, self.feature, strength, self.mode, self.site)

    def __repr__(self) -> str:
        return (
            f"Intervention({self.site}, feature={self.feature}, mode={self.mode!r}, "
            f"strength={self.strength:g})"
        )


@dataclass
class Edit:
    """The interventions of one SAE at one site, as tensors on the model's device.

    Applied to activations ``h [..., d]``::

        h + add + ‖h‖·add_rel + (target + ‖h‖·target_rel − f(h)[feats]) @ dec

    where ``f`` is the SAE's encoder (only evaluated when some feature is clamped or ablated).
    """

    sae: SAE
    add: torch.Tensor | None = None
    add_rel: torch.Tensor | None = None
    feats: torch.Tensor | None = None
    target: torch.Tensor | None = None
    target_rel: torch.Tensor | None = None
    dec: torch.Tensor | None = None


@dataclass
class SitePlan:
    site: str
    module: str  # dotted path of the module that carries the site's value
    attr: str  # "input" or "output"
    edits: list[Edit] = field(default_factory=list)


def apply_edits(h: torch.Tensor, edits: Sequence[Edit]) -> torch.Tensor:
    """``h`` with every edit applied (a new tensor); plain tensor operations only."""
    for edit in edits:
        norm = h.norm(dim=-1, keepdim=True)
        out = h
        if edit.add is not None:
            out = out + edit.add
        if edit.add_rel is not None:
            out = out + norm * edit.add_rel
        if edit.feats is not None:
            sae = edit.sae
            acts = sae.encode(h.to(device=sae.device, dtype=sae.dtype)).to(h.dtype)
            acts = acts[..., edit.feats]
            out = out + (edit.target + norm * edit.target_rel - acts) @ edit.dec
        h = out
    return h


def as_list(interventions: Intervention | Iterable[Intervention] | None) -> list[Intervention]:
    if interventions is None:
        return []
    if isinstance(interventions, Intervention):
        return [interventions]
    items = list(interventions)
    for item in items:
        if not isinstance(item, Intervention):
            raise TypeError(
                f"interventions must be sw.Intervention objects, got {type(item).__name__}"
            )
    return items


def stats_for(
    stats: FeatureStats | Sequence[FeatureStats] | Mapping[str, FeatureStats] | None,
    intervention: Intervention,
) -> FeatureStats | None:
    """The statistics of the intervention's SAE, if given (mismatched SAE → StatsMismatch)."""
    item = stats_by_site(stats).get(intervention.site)
    if item is not None:
        item.check_sae(intervention.sae)
    return item


def feature_unit(stats: FeatureStats | None, feature: int) -> float | None:
    """Activation units of one strength step: the feature's max activation, or None for
    "relative to ‖x‖" (no statistics, or a feature that never fired)."""
    if stats is None:
        return None
    peak = float(stats.max_activation[feature])
    return peak if peak > 0 else None


def compile_edits(
    model: Model,
    interventions: Sequence[Intervention],
    stats: FeatureStats | Sequence[FeatureStats] | Mapping[str, FeatureStats] | None = None,
) -> list[SitePlan]:
    """Group interventions by site (in execution order) and SAE and build their tensors."""
    device, dtype = model.device, model.dtype
    by_site: dict[str, dict[int, list[Intervention]]] = {}
    for item in interventions:
        site = model.site(item.site)  # SiteError for names this model does not have
        try:
            sae_at(item.sae, model, site.name)  # the checks every entry point shares
        except SAEConfigError as error:
            raise SteeringError(f"feature {item.feature}: {error}") from error
        by_site.setdefault(site.name, {}).setdefault(id(item.sae), []).append(item)

    plans = []
    for name in sorted(by_site, key=lambda n: model.site(n).order):
        site = model.site(name)
        plan = SitePlan(name, site.module, site.attr)
        for group in by_site[name].values():
            plan.edits.append(_edit_for(group, stats, device, dtype))
        plans.append(plan)
    return plans


def check_steerable(sae: SAE) -> None:
    """Refuse an SAE whose decoder directions have no fixed scale at its site."""
    if sae.normalize_activations not in ("none", "expected_average_only_in"):
        raise SteeringError(
            f"steering through an SAE with per-token input normalisation "
            f"({sae.normalize_activations!r}) is not supported; its decoder directions have no "
            "fixed scale at the site"
        )


def _edit_for(group: list[Intervention], stats, device, dtype) -> Edit:
    sae = group[0].sae
    check_steerable(sae)
    w_dec = sae.W_dec.detach().to(device=device, dtype=torch.float32)
    # The decoder writes in the SAE's input scale; bring its rows back to the site's scale.
    if sae.normalize_activations == "expected_average_only_in":
        w_dec = w_dec / float(sae.norm_scaling_factor)
    d = w_dec.shape[1]
    add = torch.zeros(d, device=device)
    add_rel = torch.zeros(d, device=device)
    feats, target, target_rel = [], [], []
    for item in group:
        row = w_dec[item.feature]
        row_norm = float(row.norm().clamp_min(1e-12))
        unit = feature_unit(stats_for(stats, item), item.feature)
        if item.mode == "add":
            if unit is None:
                add_rel += item.strength * row / row_norm
            else:
                add += item.strength * unit * row
            continue
        feats.append(item.feature)
        value = 0.0 if item.mode == "ablate" else item.strength
        if unit is None:
            target.append(0.0)
            target_rel.append(value / row_norm)
        else:
            target.append(value * unit)
            target_rel.append(0.0)
    edit = Edit(sae=sae)
    if add.any():
        edit.add = add.to(dtype)
    if add_rel.any():
        edit.add_rel = add_rel.to(dtype)
    if feats:
        index = torch.tensor(feats, device=device)
        edit.feats = index
        edit.target = torch.tensor(target, device=device, dtype=dtype)
        edit.target_rel = torch.tensor(target_rel, device=device, dtype=dtype)
        edit.dec = w_dec[index].to(dtype)
    return edit
