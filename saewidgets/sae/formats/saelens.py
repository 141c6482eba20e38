"""SAELens folders (``cfg.json`` + ``sae_weights.safetensors``): the v6 layout with nested
``metadata``, the flat layout from before v6, and our native files (the v6 layout plus a
``saewidgets`` block, possibly int8-stored; see `native`)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import torch

from saewidgets.sae import architectures
from saewidgets.sae.errors import SAEConfigError, SAEFormatError
from saewidgets.sae.formats.build import build_sae
from saewidgets.sae.formats.files import need, read_json, read_safetensors
from saewidgets.sae.formats.native import NATIVE_CFG, NATIVE_WEIGHTS, decode_int8
from saewidgets.sae.module import SAE


def is_v6(cfg: dict[str, Any]) -> bool:
    """Whether a cfg.json follows SAELens 6's layout (nested metadata, or a version >= 6)."""
    version = str(
        (cfg.get("metadata") or {}).get("sae_lens_version") or cfg.get("sae_lens_version") or ""
    )
    match = re.match(r"(\d+)", version)
    return isinstance(cfg.get("metadata"), dict) or bool(match and int(match.group(1)) >= 6)


def _flat_as_v6(cfg: dict[str, Any]) -> dict[str, Any]:
    """The fields of a pre-v6 (flat) cfg.json under their v6 names."""
    activation = cfg.get("activation_fn_str") or cfg.get("activation_fn") or "relu"
    arch_name = cfg.get("architecture") or ("topk" if activation == "topk" else "standard")
    if activation == "topk":
        arch_name = "topk"
    normalize = cfg.get("normalize_activations", "none")
    if isinstance(normalize, bool):
        normalize = "expected_average_only_in" if normalize else "none"
    return {
        **cfg,
        "architecture": arch_name,
        "k": (cfg.get("activation_fn_kwargs") or {}).get("k", cfg.get("k")),
        "normalize_activations": normalize,
        "metadata": {
            "hook_name": cfg.get("hook_name") or cfg.get("hook_point"),
            "hook_name_out": cfg.get("hook_name_out"),
        },
    }


def read_saelens(folder: Path, **load: Any) -> SAE:
    """An SAE from a SAELens (v6 or older) or native folder."""
    cfg_path = folder / NATIVE_CFG
    raw = read_json(cfg_path)
    tensors = decode_int8(read_safetensors(folder / NATIVE_WEIGHTS))
    cfg = raw if is_v6(raw) else _flat_as_v6(raw)
    meta = cfg.get("metadata") or {}
    if cfg.get("rescale_acts_by_decoder_norm"):
        raise SAEFormatError(f"{cfg_path}: rescale_acts_by_decoder_norm=true is not supported yet")
    if "W_skip" in tensors:
        raise SAEFormatError(f"{cfg_path}: skip transcoders (W_skip) are not supported yet")
    ours = cfg.get("saewidgets") or {}
    arch_name = cfg.get("architecture", "standard")
    if ours.get("architecture"):  # our own files name the exact architecture
        try:
            arch = architectures.get(ours["architecture"])
        except SAEConfigError as error:
            raise SAEFormatError(f"{cfg_path}: {error}") from error
    else:
        arch = architectures.find("saelens_reads", arch_name)
        if arch is None:
            raise SAEFormatError(
                f"{cfg_path}: SAELens architecture {arch_name!r} is not supported; supported: "
                + ", ".join(architectures.known("saelens_reads"))
            )
    tensors = arch.saelens_tensors(tensors)
    scaling = tensors.pop("scaling_factor", None)
    if scaling is not None and not torch.allclose(scaling, torch.ones_like(scaling)):
        raise SAEFormatError(f"{cfg_path}: a non-trivial scaling_factor is not supported yet")
    config = {
        "architecture": arch.name,
        "d_in": need(cfg, "d_in", cfg_path),
        "d_sae": need(cfg, "d_sae", cfg_path),
        "d_out": cfg.get("d_out"),
        "site": meta.get("hook_name"),
        "site_out": meta.get("hook_name_out"),
        "k": ours.get("k", cfg.get("k")) if "k" in arch.options else None,
        # a transcoder's b_dec is an output bias; only an SAE's default subtracts it
        "apply_b_dec_to_input": cfg.get("apply_b_dec_to_input", not meta.get("hook_name_out")),
        "normalize_activations": cfg.get("normalize_activations", "none"),
        "norm_scaling_factor": ours.get(
            "norm_scaling_factor", load.pop("norm_scaling_factor", None)
        ),
        "l1_coefficient": ours.get("l1_coefficient"),
        "metadata": {
            "model_name": meta.get("model_name") or raw.get("model_name"),
            "format": "saelens",
        },
    }
    return build_sae(config, tensors, folder, **load)
