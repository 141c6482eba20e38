"""Writing our own files: SAELens 6's layout plus a ``saewidgets`` block, and int8 storage.

`save_native` writes ``cfg.json`` (SAELens v6, nested ``metadata``) and
``sae_weights.safetensors`` (+ ``sparsity.safetensors``). The ``saewidgets`` block in cfg.json
keeps what SAELens has no field for (the exact architecture, ``k``, the L1 coefficient, the
norm scaling factor), which SAELens ignores and `formats.saelens.read_saelens` reads back.

``dtype=torch.int8`` stores each matrix as int8 with one float scale per feature (error at most
half a step of that feature's largest weight) and vectors as float16: the shipped SAEs use it
to fit the package budget. SAELens cannot read such a file; `formats.native.decode_int8`
restores float32.

The writer works on any object with the SAE's public attributes. It sits outside the
`formats` package, whose readers build SAEs, so `SAE.save` can import it without a cycle.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import save_file

from saewidgets.core.cache import atomic_folder

NATIVE_CFG = "cfg.json"
NATIVE_WEIGHTS = "sae_weights.safetensors"
NATIVE_SPARSITY = "sparsity.safetensors"
Q8, Q8_SCALE = ".int8", ".int8_scale"  # suffixes of int8-stored matrices and their scales
# SAELens treats a cfg.json without sae_lens_version >= 6 as the old flat layout, so our files
# carry the version of the layout they follow.
SAELENS_LAYOUT_VERSION = "6.0.0"
# The feature axis of each shared matrix (a square matrix cannot tell by its shape).
_FEATURE_AXIS = {"W_enc": 1, "W_dec": 0}


def encode_int8(name: str, w: torch.Tensor, d_sae: int) -> dict[str, torch.Tensor]:
    """Symmetric int8 with one scale per feature (the d_sae axis) for matrices; vectors as
    float16."""
    w = w.detach().float().cpu()
    if w.ndim != 2:
        return {name: w.to(torch.float16).contiguous()}
    axis = _FEATURE_AXIS.get(name, 1 if w.shape[1] == d_sae else 0)
    scale = w.abs().amax(dim=1 - axis, keepdim=True).clamp_min(1e-12) / 127
    q = torch.round(w / scale).clamp(-127, 127).to(torch.int8)
    return {f"{name}{Q8}": q.contiguous(), f"{name}{Q8_SCALE}": scale.contiguous()}


def native_config(sae: Any, dtype: torch.dtype | None = None) -> dict[str, Any]:
    """The cfg.json of ``sae`` (SAELens v6 layout plus our ``saewidgets`` block)."""
    arch = sae.arch
    transcoder = sae.is_transcoder
    loads_as = "float32" if dtype == torch.int8 else str(dtype or sae.dtype)
    cfg: dict[str, Any] = {
        "architecture": arch.saelens_architecture(transcoder),
        "d_in": sae.d_in,
        "d_sae": sae.d_sae,
        "dtype": loads_as.removeprefix("torch."),
        "device": "cpu",
        "apply_b_dec_to_input": sae.apply_b_dec_to_input,
        "normalize_activations": sae.normalize_activations,
        "reshape_activations": "none",
        "metadata": {
            "hook_name": sae.site,
            "model_name": sae.metadata.get("model_name"),
            "sae_lens_version": SAELENS_LAYOUT_VERSION,
        },
        # Our own keys: SAELens ignores them, we read them back exactly.
        "saewidgets": {
            "architecture": arch.name,
            "k": sae.k,
            "l1_coefficient": sae.l1_coefficient,
            "norm_scaling_factor": sae.norm_scaling_factor,
            "quantized": "int8-per-feature" if dtype == torch.int8 else None,
        },
    }
    cfg.update(arch.saelens_fields(sae))
    if transcoder:
        cfg["d_out"] = sae.d_out
        cfg["metadata"]["hook_name_out"] = sae.site_out
    return cfg


def save_native(
    sae: Any,
    path: str | os.PathLike,
    *,
    overwrite: bool = False,
    sparsity: torch.Tensor | None = None,
    dtype: torch.dtype | None = None,
) -> Path:
    """Write ``cfg.json`` + ``sae_weights.safetensors`` (+ ``sparsity.safetensors``, the log10
    firing frequency per feature) for an `SAE` into the folder ``path``.

    ``dtype`` converts the weights (default: the SAE's). ``dtype=torch.int8`` stores each
    matrix as int8 with one float scale per feature (half the size of float16; SAELens cannot
    read that file, saewidgets loads it as float32).
    """
    folder = Path(path)
    if folder.exists() and any(folder.iterdir()) and not overwrite:
        raise FileExistsError(
            f"{folder} exists and is not empty; pass overwrite=True to replace it"
        )
    cfg = native_config(sae, dtype)
    if dtype == torch.int8:
        tensors = {}
        for name, p in sae.named_parameters():
            tensors.update(encode_int8(name, p, sae.d_sae))
    else:
        tensors = {
            name: p.detach().to("cpu", dtype or p.dtype).contiguous()
            for name, p in sae.named_parameters()
        }
    with atomic_folder(folder) as tmp:
        (tmp / NATIVE_CFG).write_text(json.dumps(cfg, indent=2))
        save_file(tensors, str(tmp / NATIVE_WEIGHTS))
        if sparsity is not None:
            save_file({"sparsity": sparsity.detach().float().cpu()}, str(tmp / NATIVE_SPARSITY))
    return folder
