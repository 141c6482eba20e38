"""Reading the small files of every layout safely: JSON objects and safetensors, never pickles.

Every failure is an `SAEFormatError` naming the file. Nothing here builds an SAE, so the
native writer (which the SAE module uses) can import it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file

from saewidgets.sae.errors import SAEFormatError


def read_safetensors(path: Path) -> dict[str, torch.Tensor]:
    try:
        return load_file(str(path))
    except (SafetensorError, OSError, ValueError) as error:
        raise SAEFormatError(f"{path}: not a readable safetensors file ({error})") from error


def read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise SAEFormatError(f"{path}: not valid JSON ({error})") from error
    if not isinstance(data, dict):
        raise SAEFormatError(f"{path}: expected a JSON object, found {type(data).__name__}")
    return data


def need(cfg: dict[str, Any], key: str, path: Path) -> Any:
    """``cfg[key]``, or an error saying the config at ``path`` lacks it."""
    if key not in cfg:
        raise SAEFormatError(f"{path}: config has no {key!r}")
    return cfg[key]
