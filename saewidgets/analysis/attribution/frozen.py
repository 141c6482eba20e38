"""The local replacement model: the HF model with attention, norms and MLP gates frozen.

One clean pass *records* the prompt's attention patterns, norm scales and MLP gate values.
Later passes *replay* them as constants, so the map from any residual write to any later read is
linear (and, on the clean inputs, gives the model's own values). Dictionary sites are cut: the
value a site passes on is a leaf tensor (the clean value unless a caller edits it), so gradients
and edits reach exactly one site further — the direct effects an attribution graph stores. The
first position is the exception (`_live_first`): it stays live, a function of its own token.

Works through plain torch hooks plus one attention function registered with transformers, so it
covers every family in `saewidgets.model.sites` without per-model code.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import torch
from transformers import AttentionInterface
from transformers.masking_utils import AttentionMaskInterface, eager_mask

from saewidgets.model.model import Model
from saewidgets.model.sites import Site, UnsupportedArchitecture
from saewidgets.sae.module import SAE

ATTN_NAME = "saewidgets_frozen"
_ACTIVE = threading.local()


class LinearisationError(UnsupportedArchitecture):
    """A part of the model could not be frozen into a linear map that keeps its values."""


@dataclass
class Dictionary:
    """An SAE (read = write site) or a transcoder (reads one site, writes another)."""

    sae: SAE
    read: Site
    write: Site

    @property
    def scale(self) -> float:
        """The factor the SAE multiplies its input by (reconstructions are divided by it)."""
        sae = self.sae
        return float(sae.norm_scaling_factor) if sae.normalize_activations != "none" else 1.0


@dataclass
class Constants:
    """What a clean pass recorded, in call order per kind (modules may be shared)."""

    attention: list[torch.Tensor] = field(default_factory=list)
    norms: list[tuple[str, torch.Tensor]] = field(default_factory=list)
    gates: list[torch.Tensor] = field(default_factory=list)


@dataclass
class _Run:
    mode: str  # "record" or "replay"
    constants: Constants
    cursor: dict[str, int] = field(default_factory=lambda: {"attn": 0, "norm": 0, "gate": 0})

    def next(self, kind: str) -> int:
        i = self.cursor[kind]
        self.cursor[kind] = i + 1
        return i


def _frozen_attention(module, query, key, value, attention_mask, scaling=None, dropout=0.0, **kw):
    run: _Run = _ACTIVE.run
    if run.mode == "record":
        eager = sys.modules[type(module).__module__].eager_attention_forward
        with torch.no_grad():
            _, weights = eager(module, query, key, value, attention_mask, scaling, 0.0, **kw)
        run.constants.attention.append(weights.detach())
    else:
        weights = run.constants.attention[run.next("attn")]
    groups = query.shape[1] // value.shape[1]
    if groups > 1:  # grouped-query attention: each key/value head serves several query heads
        value = value.repeat_interleave(groups, dim=1)
    out = torch.matmul(weights.to(value.dtype), value).transpose(1, 2).contiguous()
    return out, weights


AttentionInterface.register(ATTN_NAME, _frozen_attention)
AttentionMaskInterface.register(ATTN_NAME, eager_mask)


def _is_norm(name: str, module: torch.nn.Module) -> bool:
    if name.endswith(("q_norm", "k_norm")):
        return False  # they only shape attention patterns, which are frozen anyway
    cls = type(module).__name__
    return isinstance(module, torch.nn.LayerNorm) or cls.endswith(("RMSNorm", "LayerNorm"))


def _norm_eps(module) -> float:
    for attr in ("variance_epsilon", "eps", "epsilon"):
        value = getattr(module, attr, None)
        if isinstance(value, (int, float)):
            return float(value)
    raise LinearisationError(f"norm {type(module).__name__} has no epsilon attribute")


def _linear_norm(module, x: torch.Tensor, inv: torch.Tensor, gain: str) -> torch.Tensor:
    xf = x.float()
    if gain.startswith("ln"):
        y = (xf - xf.mean(-1, keepdim=True)) * inv
    else:
        y = xf * inv
    weight = getattr(module, "weight", None)
    if gain.endswith("w"):
        y = y * weight.float()
    elif gain.endswith("1+w"):
        y = y * (1.0 + weight.float())
    bias = getattr(module, "bias", None)
    if gain.startswith("ln") and isinstance(bias, torch.Tensor):
        y = y + bias.float()
    return y.to(x.dtype)


def _record_norm(module, x: torch.Tensor, out: torch.Tensor) -> tuple[str, torch.Tensor]:
    """Find which linear form reproduces this norm's output; return it and the 1/σ scale."""
    xf = x.float()
    eps = _norm_eps(module)
    rms_inv = torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + eps)
    ln_inv = torch.rsqrt(xf.var(-1, keepdim=True, unbiased=False) + eps)
    has_weight = isinstance(getattr(module, "weight", None), torch.Tensor)
    forms = ["rms w", "rms 1+w", "rms"] if has_weight else ["rms"]
    forms += [f.replace("rms", "ln") for f in forms]
    tol = 1e-3 * out.float().abs().amax().clamp_min(1e-6)
    for form in forms:
        inv = ln_inv if form.startswith("ln") else rms_inv
        if (_linear_norm(module, x, inv, form).float() - out.float()).abs().amax() <= tol:
            return form, inv
    raise LinearisationError(
        f"cannot freeze {type(module).__name__}: its output is not x·w/σ, x·(1+w)/σ or "
        "(x−mean)·w/σ+b"
    )


def _gated(mlp: torch.nn.Module) -> bool:
    return any(hasattr(mlp, n) for n in ("gate_proj", "gate_up_proj", "w1"))


class FrozenModel:
    """Record a prompt's nonlinear state once, then run linear passes over it.

    ``dictionaries`` give the cut points: in a replay pass each dictionary's write site passes
    on ``leaves[site]`` (when given) instead of what flowed in, and every read site's value is
    captured into ``reads``.
    """

    def __init__(self, model: Model, dictionaries: list[Dictionary]) -> None:
        if model.remote is True:
            raise ValueError("attribution runs the model locally; NDIF cannot run its hooks")
        self.model = model
        self.dictionaries = dictionaries
        self.hf = model.hf_model
        self.constants = Constants()
        self.norms = [(n, m) for n, m in self.hf.named_modules() if _is_norm(n, m)]
        self.acts = []
        for layer in range(model.n_layers):
            mlp = model.module(f"{model.family.layers}.{layer}.{model.family.mlp}")
            act = getattr(mlp, "act_fn", None) or getattr(mlp, "act", None)
            if not isinstance(act, torch.nn.Module):
                raise LinearisationError(
                    f"the MLP of layer {layer} ({type(mlp).__name__}) has no activation module "
                    "to freeze"
                )
            self.acts.append((act, _gated(mlp)))
        self.embed = model.module(model.family.embed)
        self.final_norm = model.module(model.family.final_norm)
        self.recorded = False

    # -- hooks -------------------------------------------------------------------------------

    def _norm_hook(self, run: _Run):
        def hook(module, args, out):
            x = args[0]
            if run.mode == "record":
                form, inv = _record_norm(module, x, out)
                run.constants.norms.append((form, inv.detach()))
                return None
            form, inv = run.constants.norms[run.next("norm")]
            return _linear_norm(module, x, inv, form)

        return hook

    def _act_hook(self, run: _Run, gated: bool):
        def hook(module, args, out):
            if run.mode == "record":
                if gated:
                    run.constants.gates.append(out.detach())
                else:
                    z = args[0].detach()
                    safe = torch.where(z.abs() > 1e-6, z, torch.ones_like(z))
                    ratio = torch.where(
                        z.abs() > 1e-6, out.detach() / safe, torch.full_like(z, 0.5)
                    )
                    run.constants.gates.append(ratio)
                return None
            cached = run.constants.gates[run.next("gate")]
            return cached if gated else args[0] * cached

        return hook

    @staticmethod
    def _first(value):
        return value[0] if isinstance(value, tuple) else value

    @staticmethod
    def _replace(value, new):
        return (new, *value[1:]) if isinstance(value, tuple) else new

    def _site_hooks(self, run: _Run, leaves: dict, reads: dict, writes: dict):
        """(site, pre?, hook) for every dictionary read and write point."""
        by_site: dict[str, dict] = {}
        for d in self.dictionaries:
            by_site.setdefault(d.read.name, {"site": d.read, "read": False, "write": False})
            by_site.setdefault(d.write.name, {"site": d.write, "read": False, "write": False})
            by_site[d.read.name]["read"] = True
            by_site[d.write.name]["write"] = True
        hooks = []
        for name, spec in by_site.items():
            site: Site = spec["site"]

            def handle(value, name=name, spec=spec):
                if spec["read"]:
                    reads[name] = value
                if spec["write"]:
                    writes[name] = value
                    if name in leaves:
                        leaf = leaves[name]
                        return leaf(value) if callable(leaf) else leaf
                return None

            if site.attr == "input":

                def pre(module, args, kwargs, handle=handle):
                    if args:
                        new = handle(args[0])
                        return None if new is None else ((new, *args[1:]), kwargs)
                    new = handle(kwargs["hidden_states"])
                    return None if new is None else (args, {**kwargs, "hidden_states": new})

                hooks.append((site.module, True, pre))
            else:

                def post(module, args, out, handle=handle):
                    new = handle(self._first(out))
                    return None if new is None else self._replace(out, new)

                hooks.append((site.module, False, post))
        return hooks

    @contextmanager
    def _installed(self, run: _Run, leaves: dict, reads: dict, writes: dict) -> Iterator[None]:
        handles = []
        configs = {id(c): c for c in (self.hf.config, self.hf.config.get_text_config())}
        saved = {k: c._attn_implementation for k, c in configs.items()}
        _ACTIVE.run = run
        try:
            for c in configs.values():
                c._attn_implementation = ATTN_NAME
            for _, module in self.norms:
                handles.append(module.register_forward_hook(self._norm_hook(run)))
            for act, gated in self.acts:
                handles.append(act.register_forward_hook(self._act_hook(run, gated)))

            def embed_hook(module, args, out):
                writes["embed"] = out
                leaf = leaves.get("embed")
                return leaf(out) if callable(leaf) else leaf

            handles.append(self.embed.register_forward_hook(embed_hook))

            def final_hook(module, args, out):
                reads["final"] = out

            handles.append(self.final_norm.register_forward_hook(final_hook))
            for path, pre, hook in self._site_hooks(run, leaves, reads, writes):
                module = self.model.module(path)
                if pre:
                    handles.append(module.register_forward_pre_hook(hook, with_kwargs=True))
                else:
                    handles.append(module.register_forward_hook(hook))
            yield
        finally:
            for h in handles:
                h.remove()
            for k, c in configs.items():
                c._attn_implementation = saved[k]
            _ACTIVE.run = None

    def _forward(self, input_ids: torch.Tensor) -> None:
        # Only the hidden states are needed: stop at the final norm (its hook captures it).
        self.hf.base_model(input_ids=input_ids, use_cache=False)

    # -- passes ------------------------------------------------------------------------------

    def record(self, input_ids: torch.Tensor) -> tuple[dict, dict]:
        """The clean pass: returns (reads, writes) as detached ``[seq, width]`` tensors."""
        self.constants = Constants()
        run = _Run("record", self.constants)
        reads: dict = {}
        writes: dict = {}
        with torch.no_grad(), self._installed(run, {}, reads, writes):
            self._forward(input_ids)
        self.recorded = True
        return (
            {k: v[0].detach() for k, v in reads.items()},
            {k: v[0].detach() for k, v in writes.items()},
        )

    def replay(
        self,
        input_ids: torch.Tensor,
        leaves: dict,
        *,
        grad: bool = False,
        reads: dict | None = None,
    ) -> dict[str, torch.Tensor]:
        """A linear pass with the recorded constants; ``leaves`` replace the embedding output
        ("embed") and dictionary write sites (a tensor, or a function of the value flowing in).
        Returns the captured reads (plus "final"), filling ``reads`` if given."""
        if not self.recorded:
            raise RuntimeError("record() the clean pass before replaying it")
        run = _Run("replay", self.constants)
        reads = {} if reads is None else reads
        leaves = {k: v if k == "embed" else _live_first(v) for k, v in leaves.items()}
        with torch.set_grad_enabled(grad), self._installed(run, leaves, reads, {}):
            self._forward(input_ids)
        return reads


def _live_first(leaf):
    """A write-site leaf whose first position stays live. The first position sees only its own
    token, and holds the attention sink's massive activations that no dictionary reconstructs;
    kept live through the frozen (linear) layers, everything there is a function of that
    token's embedding, so it is attributed to the token instead of to error nodes."""

    def value_at(value):
        held = leaf(value) if callable(leaf) else leaf
        first = value[:, :1].to(held.dtype)
        return torch.cat([first.expand(held.shape[0], -1, -1), held[:, 1:]], dim=1)

    return value_at
