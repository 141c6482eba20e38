"""Gemma Scope: ``params.npz`` (Gemma 2 release) and ``params.safetensors`` (Gemma Scope 2,
lower-case names). Both hold JumpReLU SAEs or transcoders; the site comes from the folder
names (``gemma-scope-2b-pt-res/layer_12/width_16k/...``, ``resid_post/layer_12_width_16k_...``).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import torch

from saewidgets.sae.errors import SAEFormatError
from saewidgets.sae.formats.build import build_sae
from saewidgets.sae.formats.files import need, read_safetensors
from saewidgets.sae.module import SAE

ARCHITECTURE = "jumprelu"  # the only one Gemma Scope publishes

_SITES = {
    "res": "hook_resid_post",
    "resid_post": "hook_resid_post",
    "mlp": "hook_mlp_out",
    "mlp_out": "hook_mlp_out",
    "att": "hook_attn_out",
    "attn_out": "hook_attn_out",
}


def gemma_site(path: Path) -> tuple[str | None, str | None]:
    """(site, site_out) from Gemma Scope folder names."""
    text = "/".join(path.resolve().parts)
    layer = re.search(r"layer_(\d+)", text)
    if layer is None:
        return None, None
    block = f"blocks.{int(layer.group(1))}"
    if re.search(r"(^|/|-)transcoder", text):
        return f"{block}.ln2.hook_normalized", f"{block}.hook_mlp_out"
    for part in reversed(path.resolve().parts):
        for key in re.split(r"[-/]", part):
            if key in _SITES:
                return f"{block}.{_SITES[key]}", None
    return None, None


def _build(tensors: dict[str, torch.Tensor], file: Path, **load: Any) -> SAE:
    # Gemma Scope 2 spells the weights in lower case; the first release used W_/w_ both.
    renamed = {(("W" + k[1:]) if k.startswith("w_") else k): v for k, v in tensors.items()}
    if "affine_skip_connection" in renamed:
        raise SAEFormatError(f"{file}: affine skip transcoders are not supported yet")
    d_in, d_sae = need({k: v.shape for k, v in renamed.items()}, "W_enc", file)
    d_out = renamed["W_dec"].shape[1] if "W_dec" in renamed else d_in
    site, site_out = gemma_site(file.parent)
    config = {
        "architecture": ARCHITECTURE,
        "d_in": int(d_in),
        "d_sae": int(d_sae),
        "d_out": int(d_out),
        "site": site,
        "site_out": site_out if d_out != d_in or site_out else None,
        "apply_b_dec_to_input": False,
        "metadata": {"format": "gemma_scope"},
    }
    return build_sae(config, renamed, file, **load)


def read_gemma_scope_npz(file: Path, **load: Any) -> SAE:
    """A Gemma Scope ``params.npz`` (read with ``allow_pickle=False``)."""
    try:
        with np.load(file, allow_pickle=False) as data:
            tensors = {k: torch.from_numpy(np.array(data[k], dtype=np.float32)) for k in data.files}
    except ValueError as error:
        raise SAEFormatError(
            f"{file}: holds pickled objects or is corrupt ({error}); refusing to unpickle"
        ) from error
    except (OSError, EOFError) as error:
        raise SAEFormatError(f"{file}: not a readable .npz file ({error})") from error
    return _build(tensors, file, **load)


def read_gemma_scope_safetensors(file: Path, **load: Any) -> SAE:
    """A Gemma Scope 2 ``params.safetensors``."""
    return _build(read_safetensors(file), file, **load)
