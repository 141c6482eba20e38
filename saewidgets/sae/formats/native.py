"""Reading our own files back: int8 per-feature storage and the optional sparsity vector.

The writer is `saewidgets.sae.native_writer` (outside this package, so `SAE.save` can use it);
`saelens.read_saelens` reads the cfg.json and weights of our files.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch

from saewidgets.sae.errors import SAEFormatError
from saewidgets.sae.formats.files import read_safetensors
from saewidgets.sae.native_writer import (  # noqa: F401  (the format's names, read here too)
    _FEATURE_AXIS,
    NATIVE_CFG,
    NATIVE_SPARSITY,
    NATIVE_WEIGHTS,
    Q8,
    Q8_SCALE,
    SAELENS_LAYOUT_VERSION,
    encode_int8,
    native_config,
    save_native,
)


def decode_int8(tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Tensors with every int8-stored matrix turned back into float32 (others unchanged)."""
    out = {}
    for name, t in tensors.items():
        if name.endswith(Q8_SCALE):
            continue
        if name.endswith(Q8):
            base = name.removesuffix(Q8)
            scale = tensors.get(base + Q8_SCALE)
            if scale is None:
                raise SAEFormatError(f"int8 tensor {base} has no {base}{Q8_SCALE}")
            out[base] = t.float() * scale.float()
        else:
            out[name] = t
    return out


def read_sparsity(folder: str | os.PathLike) -> torch.Tensor | None:
    """The optional log10 firing-frequency vector stored beside an SAELens/native SAE."""
    path = Path(folder) / NATIVE_SPARSITY
    return read_safetensors(path)["sparsity"] if path.is_file() else None
