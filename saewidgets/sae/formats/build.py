"""The one gate every reader ends in: check names, shapes and finiteness, then build the SAE.

No weight reaches the module before the checks pass; the architecture says which tensors an
SAE of its kind holds and their shapes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from saewidgets.sae import architectures
from saewidgets.sae.errors import SAEConfigError, SAEFormatError
from saewidgets.sae.module import SAE


def build_sae(
    config: dict[str, Any],
    tensors: dict[str, torch.Tensor],
    source: Path | str,
    *,
    device: str | torch.device = "cpu",
    dtype: torch.dtype | None = None,
) -> SAE:
    """Check ``tensors`` against ``config`` (SAE constructor arguments), then create the SAE
    and copy them in."""
    name = config["architecture"]
    try:
        arch = architectures.get(name)
    except SAEConfigError as error:
        raise SAEFormatError(f"{source}: {error}") from error
    d_in, d_sae = int(config["d_in"]), int(config["d_sae"])
    d_out = int(config.get("d_out") or d_in)
    expected = arch.shapes(d_in, d_sae, d_out)
    missing = sorted(set(expected) - set(tensors))
    extra = sorted(set(tensors) - set(expected))
    if missing or extra:
        raise SAEFormatError(
            f"{source}: tensors do not match a {name} SAE"
            + (f"; missing {missing}" if missing else "")
            + (f"; unexpected {extra}" if extra else "")
            + f" (expected {sorted(expected)})"
        )
    for key, shape in expected.items():
        found = tuple(tensors[key].shape)
        if found != shape:
            raise SAEFormatError(
                f"{source}: tensor {key} has shape {found}, expected {shape} for d_in={d_in}, "
                f"d_sae={d_sae}" + (f", d_out={d_out}" if d_out != d_in else "")
            )
    for key, tensor in tensors.items():
        if not tensor.is_floating_point():
            raise SAEFormatError(f"{source}: tensor {key} is {tensor.dtype}, expected floats")
        bad = ~torch.isfinite(tensor)
        if bad.any():
            n_nan = int(torch.isnan(tensor).sum())
            raise SAEFormatError(
                f"{source}: tensor {key} holds {n_nan} NaN and {int(bad.sum()) - n_nan} infinite "
                "values; refusing to load a broken SAE"
            )
    kwargs = {k: v for k, v in config.items() if k not in ("d_in", "d_sae", "architecture")}
    try:
        sae = SAE(d_in, d_sae, arch, dtype=dtype or torch.float32, **kwargs)
    except (SAEConfigError, TypeError) as error:
        raise SAEFormatError(f"{source}: {error}") from error
    with torch.no_grad():
        for key, tensor in tensors.items():
            getattr(sae, key).copy_(tensor.to(sae.dtype))
    sae.metadata.setdefault("source", str(source))
    return sae.to(device)
