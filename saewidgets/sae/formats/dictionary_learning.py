"""dictionary_learning (Marks et al.): ``config.json`` with a ``trainer`` block and ``ae.pt``,
a state dict read with ``torch.load(weights_only=True)`` (plain tensors only, never arbitrary
pickles). The ``dict_class`` picks the architecture, which maps the state to our names."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from saewidgets.sae import architectures
from saewidgets.sae.errors import SAEFormatError
from saewidgets.sae.formats.build import build_sae
from saewidgets.sae.formats.files import need, read_json
from saewidgets.sae.module import SAE


def read_plain_tensors(file: Path) -> dict[str, torch.Tensor]:
    """A ``torch.save``'d dict of tensors, refusing anything that needs real unpickling."""
    try:
        state = torch.load(file, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises UnpicklingError, RuntimeError or EOFError here
        raise SAEFormatError(
            f"{file}: cannot be read without unpickling arbitrary objects, or is corrupt "
            f"({type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}); "
            "saewidgets only loads plain tensors"
        ) from error
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise SAEFormatError(f"{file}: expected a dict of tensors (a state dict)")
    return state


def dl_site(trainer: dict[str, Any]) -> str | None:
    """The site from the trainer block's ``layer`` and ``submodule_name``."""
    layer = trainer.get("layer")
    name = str(trainer.get("submodule_name") or "")
    if layer is None:
        return None
    if "mlp" in name:
        return f"blocks.{layer}.hook_mlp_out"
    if "attn" in name:
        return f"blocks.{layer}.hook_attn_out"
    return f"blocks.{layer}.hook_resid_post"


def read_dictionary_learning(folder: Path, **load: Any) -> SAE:
    """An SAE from a dictionary_learning trainer folder."""
    cfg_path = folder / "config.json"
    trainer = read_json(cfg_path).get("trainer") or {}
    dict_class = str(need(trainer, "dict_class", cfg_path))
    arch = architectures.find("dictionary_learning_classes", dict_class)
    if arch is None:
        raise SAEFormatError(
            f"{cfg_path}: dictionary_learning class {dict_class!r} is not supported; supported: "
            + ", ".join(architectures.known("dictionary_learning_classes"))
        )
    state = read_plain_tensors(folder / "ae.pt")

    def take(*names: str) -> torch.Tensor:
        for name in names:
            if name in state:
                return state[name]
        raise SAEFormatError(f"{folder / 'ae.pt'}: {dict_class} state lacks any of {names}")

    tensors, options = arch.from_dictionary_learning(take, trainer)
    w_enc = tensors.get("W_enc")
    if w_enc is None or w_enc.ndim != 2:
        raise SAEFormatError(f"{folder / 'ae.pt'}: {dict_class} state has no 2-D encoder matrix")
    config = {
        "architecture": arch.name,
        "d_in": w_enc.shape[0],
        "d_sae": w_enc.shape[1],
        "site": dl_site(trainer),
        "metadata": {"format": "dictionary_learning", "model_name": trainer.get("lm_name")},
        **options,
    }
    return build_sae(config, tensors, folder, **load)
