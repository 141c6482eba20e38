"""Which layout a file or folder is in, by the file that marks it; `read_local` reads it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from saewidgets.sae.errors import SAEFormatError
from saewidgets.sae.formats.dictionary_learning import read_dictionary_learning
from saewidgets.sae.formats.gemma_scope import (
    read_gemma_scope_npz,
    read_gemma_scope_safetensors,
)
from saewidgets.sae.formats.native import NATIVE_WEIGHTS
from saewidgets.sae.formats.saelens import read_saelens
from saewidgets.sae.formats.sparsify import read_sparsify
from saewidgets.sae.module import SAE

# (file that marks the format, reader, whether the reader takes the folder or the file)
MARKERS: list[tuple[str, Callable[..., SAE], bool]] = [
    (NATIVE_WEIGHTS, read_saelens, True),
    ("sae.safetensors", read_sparsify, True),
    ("ae.pt", read_dictionary_learning, True),
    ("params.npz", read_gemma_scope_npz, False),
    ("params.safetensors", read_gemma_scope_safetensors, False),
]
FORMATS = (
    "SAELens/native (cfg.json + sae_weights.safetensors), Gemma Scope (params.npz), "
    "Gemma Scope 2 (params.safetensors), sparsify (cfg.json + sae.safetensors), "
    "dictionary_learning (config.json + ae.pt)"
)
_PICKLES = (".pt", ".pth", ".pkl", ".pickle", ".bin", ".ckpt")


def read_local(path: Path, **load: Any) -> SAE:
    """Read an SAE from a file or folder in any supported format."""
    if path.is_file():
        for marker, reader, wants_folder in MARKERS:
            if path.name == marker:
                return reader(path.parent if wants_folder else path, **load)
        if path.suffix in _PICKLES:
            raise SAEFormatError(
                f"{path}: a bare {path.suffix} file would have to be unpickled to be read; "
                f"saewidgets reads only these layouts: {FORMATS}"
            )
        raise SAEFormatError(f"{path}: not a recognised SAE file; supported: {FORMATS}")
    if not path.is_dir():
        raise FileNotFoundError(f"no such file or folder: {path}")
    for marker, reader, wants_folder in MARKERS:
        if (path / marker).is_file():
            return reader(path if wants_folder else path / marker, **load)
    nested = sorted(
        str(p.parent.relative_to(path)) for marker, _, _ in MARKERS for p in path.rglob(marker)
    )
    if nested:
        shown = ", ".join(nested[:12]) + (" ..." if len(nested) > 12 else "")
        raise SAEFormatError(
            f"{path} holds {len(nested)} SAEs in subfolders; pass subfolder= one of: {shown}"
        )
    raise SAEFormatError(f"{path}: no SAE files found; supported layouts: {FORMATS}")
