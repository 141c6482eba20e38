"""EleutherAI sparsify: one folder per hookpoint (``layers.6/``) with ``cfg.json`` and
``sae.safetensors`` (``encoder.weight [num_latents, d_in]``, ``encoder.bias``, ``W_dec``,
``b_dec``). The architecture comes from the cfg's ``activation``."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from saewidgets.sae import architectures
from saewidgets.sae.errors import SAEFormatError
from saewidgets.sae.formats.build import build_sae
from saewidgets.sae.formats.files import need, read_json, read_safetensors
from saewidgets.sae.module import SAE


def sparsify_site(hookpoint: str) -> tuple[str | None, str | None]:
    """(site, site_out) from a sparsify hookpoint folder name."""
    if hookpoint in ("embed_tokens", "model.embed_tokens", "wte", "transformer.wte"):
        return "blocks.0.hook_resid_pre", None
    match = re.search(
        r"(?:^|\.)(?:layers|h)\.(\d+)(?:\.(mlp|self_attn|attn|attention))?$", hookpoint
    )
    if match is None:
        return None, None
    block, part = f"blocks.{int(match.group(1))}", match.group(2)
    if part is None:
        return f"{block}.hook_resid_post", None
    return (f"{block}.hook_mlp_out" if part == "mlp" else f"{block}.hook_attn_out"), None


def read_sparsify(folder: Path, **load: Any) -> SAE:
    """An SAE from a sparsify hookpoint folder."""
    cfg_path = folder / "cfg.json"
    cfg = read_json(cfg_path)
    tensors = read_safetensors(folder / "sae.safetensors")
    for key in ("encoder.weight", "encoder.bias", "W_dec", "b_dec"):
        if key not in tensors:
            raise SAEFormatError(f"{folder / 'sae.safetensors'}: sparsify file lacks {key!r}")
    if tensors.get("W_skip") is not None or cfg.get("skip_connection"):
        raise SAEFormatError(f"{folder}: sparsify skip connections are not supported yet")
    activation = cfg.get("activation", "topk")
    arch = architectures.find("sparsify_activations", activation)
    if arch is None:
        raise SAEFormatError(f"{cfg_path}: sparsify activation {activation!r} is not supported")
    encoder = tensors["encoder.weight"]  # [num_latents, d_in] in sparsify's own layout
    n_latents, d_in = encoder.shape
    w_dec = tensors["W_dec"]
    # Releases disagree on W_dec's orientation; the shapes decide, not the key name.
    if w_dec.shape[0] != n_latents:
        if w_dec.ndim != 2 or w_dec.shape[1] != n_latents:
            raise SAEFormatError(
                f"{folder}: W_dec shape {tuple(w_dec.shape)} has no axis of num_latents={n_latents}"
            )
        w_dec = w_dec.T
    transcode = bool(cfg.get("transcode", False))
    site, site_out = sparsify_site(folder.name)
    config = {
        "architecture": arch.name,
        "d_in": int(d_in),
        "d_sae": int(n_latents),
        "d_out": int(w_dec.shape[1]),
        "site": site,
        "site_out": site_out,
        "k": int(need(cfg, "k", cfg_path)) if "k" in arch.options else None,
        # sparsify centres the input on b_dec except when transcoding.
        "apply_b_dec_to_input": not transcode,
        "metadata": {"format": "sparsify"},
    }
    state = {
        "W_enc": encoder.T.contiguous(),
        "b_enc": tensors["encoder.bias"],
        "W_dec": w_dec.contiguous(),
        "b_dec": tensors["b_dec"],
    }
    return build_sae(config, state, folder, **load)
