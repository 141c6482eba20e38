"""Reading SAE files in the layouts people publish, and writing our own (SAELens-compatible).

One module per layout: `saelens` (v6 and the older flat layout; also reads our native files),
`native` (the writer, the int8 per-feature storage, the sparsity file), `gemma_scope`
(``params.npz`` and Gemma Scope 2's ``params.safetensors``), `sparsify`, `dictionary_learning`.
`detect` picks the reader for a path; every reader ends in `build.build_sae`, which checks
names, shapes and finiteness before a single weight reaches the module.

Readers never unpickle: safetensors and ``numpy.load(allow_pickle=False)`` for weights, and
``torch.load(weights_only=True)`` for dictionary_learning's ``ae.pt`` (plain tensors only).
"""

from saewidgets.sae.errors import SAEFormatError
from saewidgets.sae.formats.build import build_sae
from saewidgets.sae.formats.detect import FORMATS, read_local
from saewidgets.sae.formats.dictionary_learning import read_dictionary_learning
from saewidgets.sae.formats.gemma_scope import (
    read_gemma_scope_npz,
    read_gemma_scope_safetensors,
)
from saewidgets.sae.formats.native import (
    NATIVE_CFG,
    NATIVE_SPARSITY,
    NATIVE_WEIGHTS,
    SAELENS_LAYOUT_VERSION,
    read_sparsity,
    save_native,
)
from saewidgets.sae.formats.saelens import read_saelens
from saewidgets.sae.formats.sparsify import read_sparsify

__all__ = [
    "FORMATS",
    "NATIVE_CFG",
    "NATIVE_SPARSITY",
    "NATIVE_WEIGHTS",
    "SAELENS_LAYOUT_VERSION",
    "SAEFormatError",
    "build_sae",
    "read_dictionary_learning",
    "read_gemma_scope_npz",
    "read_gemma_scope_safetensors",
    "read_local",
    "read_saelens",
    "read_sparsify",
    "read_sparsity",
    "save_native",
]
