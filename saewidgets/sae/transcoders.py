"""`load_transcoders`: a model's per-layer MLP transcoders as ``{read site: transcoder}``.

The embedded model's transcoders are too large to ship in the package (30 layers); one
command builds them into the user cache (``python -m saewidgets transcoders``), and this
module finds them there. A folder of ``layer_{L}`` subfolders in any format `load_sae` reads
works the same way.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from saewidgets.core.cache import cache_dir
from saewidgets.sae.errors import SAEFormatError
from saewidgets.sae.formats.circuit_tracer import is_circuit_tracer_set, read_circuit_tracer
from saewidgets.sae.load import EMBEDDED, load_sae
from saewidgets.sae.module import SAE

# the name the embedded model reports (`model.embedded.EMBEDDED_NAME`; the sae layer does not
# import the model layer, and a test keeps the two equal)
EMBEDDED_MODEL = "SmolLM2-135M-Instruct"
BUILD_COMMAND = "python -m saewidgets transcoders"
_LAYER = re.compile(r"^layer_(\d+)$")


def transcoder_folder(model_name: str = EMBEDDED_MODEL) -> Path:
    """Where `train_transcoders` writes (and this module reads) a model's transcoders."""
    return cache_dir("transcoders") / model_name


def built_layers(folder: str | os.PathLike) -> list[int]:
    """Layers with a finished transcoder in ``folder`` (empty while a build is running)."""
    root = Path(folder)
    if not (root / "transcoders.json").is_file():
        return []
    found = []
    for child in root.iterdir():
        match = _LAYER.match(child.name)
        if match and (child / "cfg.json").is_file():
            found.append(int(match.group(1)))
    return sorted(found)


def load_transcoders(source: str | os.PathLike = EMBEDDED) -> dict[str, SAE]:
    """Every layer's transcoder from ``source``, keyed by the site each one reads:
    "embedded" (the built ones of the embedded model), a folder of ``layer_{L}`` subfolders in
    any format `load_sae` reads, or a circuit-tracer set (``config.yaml`` + ``layer_{i}``
    ``.safetensors``; see `saewidgets.sae.formats.circuit_tracer`)."""
    folder = transcoder_folder() if source == EMBEDDED else Path(source)
    if source != EMBEDDED and is_circuit_tracer_set(folder):
        return read_circuit_tracer(folder)
    layers = built_layers(folder)
    if not layers:
        if source == EMBEDDED:
            raise SAEFormatError(
                "the embedded model's transcoders are not built on this machine yet; "
                f"`{BUILD_COMMAND}` builds them (see the README for how long it takes)"
            )
        raise SAEFormatError(
            f"{folder} holds no finished transcoders (expected transcoders.json and "
            "layer_{L}/ subfolders)"
        )
    out: dict[str, SAE] = {}
    for layer in layers:
        sae = load_sae(folder / f"layer_{layer}")
        if not sae.is_transcoder or sae.site is None:
            raise SAEFormatError(f"{folder / f'layer_{layer}'} is not a transcoder")
        out[sae.site] = sae
    return out
