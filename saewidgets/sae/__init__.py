"""Sparse autoencoders: the module, file formats and loading."""

from saewidgets.sae.formats import SAEFormatError, read_sparsity, save_native
from saewidgets.sae.load import load_sae, load_saes, shipped_sites
from saewidgets.sae.module import ARCHITECTURES, SAE, SAEConfigError

__all__ = [
    "ARCHITECTURES",
    "SAE",
    "SAEConfigError",
    "SAEFormatError",
    "load_sae",
    "load_saes",
    "read_sparsity",
    "save_native",
    "shipped_sites",
]
