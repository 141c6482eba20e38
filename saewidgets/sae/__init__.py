"""Sparse autoencoders: the module, its architectures, file formats and loading."""

from saewidgets.sae import architectures
from saewidgets.sae.errors import SAEConfigError, SAEFormatError
from saewidgets.sae.formats import read_sparsity, save_native
from saewidgets.sae.load import load_sae, load_saes, shipped_sites
from saewidgets.sae.module import ARCHITECTURES, SAE
from saewidgets.sae.transcoders import load_transcoders

__all__ = [
    "ARCHITECTURES",
    "SAE",
    "SAEConfigError",
    "SAEFormatError",
    "architectures",
    "load_sae",
    "load_saes",
    "load_transcoders",
    "read_sparsity",
    "save_native",
    "shipped_sites",
]
