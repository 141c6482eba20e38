"""Site names (SAELens / TransformerLens hook names) and where they live in each HF family.

A *site* is a place in the model whose activations an SAE reads, named the way SAE files name
it (``cfg.json`` → ``hook_name``): ``blocks.9.hook_resid_post`` and so on. This module maps
those names onto the module tree of each supported Hugging Face architecture.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from saewidgets.core.errors import SAEWidgetsError

# Within one block the hooks fire in this order; nnsight needs reads in execution order.
KINDS = (
    "hook_resid_pre",
    "hook_attn_out",
    "ln2.hook_normalized",
    "hook_mlp_out",
    "hook_resid_post",
)
_SITE_RE = re.compile(r"^blocks\.(\d+)\.(" + "|".join(re.escape(k) for k in KINDS) + r")$")


class SiteError(SAEWidgetsError, ValueError):
    """A site name that does not exist on this model."""


class UnsupportedArchitecture(SAEWidgetsError, ValueError):
    pass


@dataclass(frozen=True)
class Family:
    """Where the parts of one architecture family sit (dotted paths from the HF model root)."""

    layers: str
    attn_out: (
        str  # module whose output (first element if a tuple) is the attention's residual write
    )
    mlp: str  # module whose input is the normalised MLP input
    mlp_out: str  # module whose output is the MLP's residual write
    embed: str
    final_norm: str
    unembed: str


_LLAMA = Family(
    "model.layers", "self_attn", "mlp", "mlp", "model.embed_tokens", "model.norm", "lm_head"
)
# Gemma 2/3 normalise each branch again before adding it to the stream; the residual write is
# the output of those post-norms (as in TransformerLens's hook_attn_out / hook_mlp_out).
_GEMMA2 = Family(
    "model.layers",
    "post_attention_layernorm",
    "mlp",
    "post_feedforward_layernorm",
    "model.embed_tokens",
    "model.norm",
    "lm_head",
)
_GEMMA3_MM = Family(
    "model.language_model.layers",
    "post_attention_layernorm",
    "mlp",
    "post_feedforward_layernorm",
    "model.language_model.embed_tokens",
    "model.language_model.norm",
    "lm_head",
)
_GPT2 = Family(
    "transformer.h", "attn", "mlp", "mlp", "transformer.wte", "transformer.ln_f", "lm_head"
)
_NEOX = Family(
    "gpt_neox.layers",
    "attention",
    "mlp",
    "mlp",
    "gpt_neox.embed_in",
    "gpt_neox.final_layer_norm",
    "lm_head",  # transformers ≥ 5 renamed GPT-NeoX's embed_out
)

FAMILIES: dict[str, Family] = {
    "llama": _LLAMA,
    "mistral": _LLAMA,
    "qwen2": _LLAMA,
    "qwen3": _LLAMA,
    "gemma": _LLAMA,
    "gemma2": _GEMMA2,
    "gemma3_text": _GEMMA2,
    "gemma3": _GEMMA3_MM,
    "gpt2": _GPT2,
    "gpt_neox": _NEOX,
}


@dataclass(frozen=True)
class Site:
    """A resolved site: the module to hook and whether its input or output is the value."""

    name: str
    layer: int
    kind: str
    module: str
    attr: str  # "input" or "output"

    @property
    def order(self) -> tuple[int, int]:
        return (self.layer, KINDS.index(self.kind))


def family_for(model_type: str) -> Family:
    try:
        return FAMILIES[model_type]
    except KeyError:
        raise UnsupportedArchitecture(
            f"architecture {model_type!r} has no site mapping; supported: "
            + ", ".join(sorted(FAMILIES))
        ) from None


def site_names(n_layers: int) -> list[str]:
    return [f"blocks.{layer}.{kind}" for layer in range(n_layers) for kind in KINDS]


def describe_valid(n_layers: int) -> str:
    return ", ".join(f"blocks.{{0..{n_layers - 1}}}.{kind}" for kind in KINDS)


def resolve(name: str, family: Family, n_layers: int) -> Site:
    """Turn a site name into the module path and attribute that carry its value."""
    if not isinstance(name, str):
        raise SiteError(f"a site name must be a string, got {type(name).__name__}")
    match = _SITE_RE.match(name)
    if match is None or int(match.group(1)) >= n_layers:
        raise SiteError(f"unknown site {name!r}; valid sites: {describe_valid(n_layers)}")
    layer, kind = int(match.group(1)), match.group(2)
    block = f"{family.layers}.{layer}"
    if kind == "hook_resid_pre":
        return Site(name, layer, kind, block, "input")
    if kind == "hook_resid_post":
        return Site(name, layer, kind, block, "output")
    if kind == "hook_attn_out":
        return Site(name, layer, kind, f"{block}.{family.attn_out}", "output")
    if kind == "hook_mlp_out":
        return Site(name, layer, kind, f"{block}.{family.mlp_out}", "output")
    return Site(name, layer, kind, f"{block}.{family.mlp}", "input")
