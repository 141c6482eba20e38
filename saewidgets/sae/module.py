"""The SAE module: one class, one decoder, the encoder of a registered architecture.

Weights follow the SAELens layout so files round-trip without renaming:
``W_enc [d_in, d_sae]``, ``W_dec [d_sae, d_out]``, ``b_dec [d_out]``, plus the parameters the
architecture adds (``b_enc``; JumpReLU and BatchTopK ``threshold``; Gated ``b_gate``, ``b_mag``
and ``r_mag`` instead of ``b_enc``; see ``sae/architectures/``). ``d_out`` equals ``d_in`` for
an SAE and differs for a transcoder (``site`` → ``site_out``).
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import nn

from saewidgets.sae import architectures
from saewidgets.sae.architectures import Architecture
from saewidgets.sae.errors import SAEConfigError
from saewidgets.sae.native_writer import save_native

# The built-in architectures; `saewidgets.sae.architectures.names()` includes registered ones.
ARCHITECTURES = architectures.BUILTIN
NORMALIZATIONS = ("none", "constant_norm_rescale", "expected_average_only_in", "layer_norm")

__all__ = ["ARCHITECTURES", "NORMALIZATIONS", "SAE", "SAEConfigError"]


class SAE(nn.Module):
    """A sparse autoencoder (or transcoder) over one site.

    ``SAE(d_in, d_sae, architecture="topk", k=32, site="blocks.9.hook_resid_post")`` builds a
    freshly initialised one; `saewidgets.load_sae` reads one from disk or the hub.

    ``architecture`` is a registered name (`saewidgets.sae.architectures.names()`) or an
    `Architecture` object. Architecture options: ``k`` (topk, batchtopk), ``threshold``
    (jumprelu initial value), ``l1_coefficient`` (relu, gated; recorded from training).
    """

    def __init__(
        self,
        d_in: int,
        d_sae: int,
        architecture: str | Architecture = "topk",
        site: str | None = None,
        *,
        d_out: int | None = None,
        site_out: str | None = None,
        k: int | None = None,
        threshold: float = 0.0,
        l1_coefficient: float | None = None,
        apply_b_dec_to_input: bool | None = None,
        normalize_activations: str = "none",
        norm_scaling_factor: float | None = None,
        dtype: torch.dtype = torch.float32,
        device: str | torch.device = "cpu",
        seed: int | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        super().__init__()
        for label, value in (("d_in", d_in), ("d_sae", d_sae)):
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise SAEConfigError(f"{label} must be a positive integer, got {value!r}")
        arch = (
            architecture
            if isinstance(architecture, Architecture)
            else architectures.get(architecture)
        )
        options = {"k": k, "threshold": threshold, "l1_coefficient": l1_coefficient}
        arch.validate(d_sae, options)
        if normalize_activations not in NORMALIZATIONS:
            raise SAEConfigError(
                f"normalize_activations {normalize_activations!r} is not one of {NORMALIZATIONS}"
            )
        if normalize_activations == "expected_average_only_in" and norm_scaling_factor is None:
            raise SAEConfigError(
                "normalize_activations='expected_average_only_in' needs norm_scaling_factor "
                "(the factor the SAE was trained with; SAELens keeps it outside cfg.json)"
            )
        d_out = d_in if d_out is None else d_out
        self.d_in, self.d_sae, self.d_out = d_in, d_sae, d_out
        self.arch = arch
        self.site = site
        self.site_out = site_out
        self.k = k
        self.l1_coefficient = l1_coefficient
        # A transcoder's b_dec lives in the output space (even when the widths match, as for
        # an MLP), so it cannot be subtracted from x.
        transcoder = d_out != d_in or site_out is not None
        self.apply_b_dec_to_input = (
            (not transcoder) if apply_b_dec_to_input is None else apply_b_dec_to_input
        )
        if self.apply_b_dec_to_input and transcoder:
            raise SAEConfigError("apply_b_dec_to_input needs an SAE, not a transcoder")
        self.normalize_activations = normalize_activations
        self.norm_scaling_factor = norm_scaling_factor
        self.metadata: dict[str, Any] = dict(metadata or {})

        generator = torch.Generator().manual_seed(seed) if seed is not None else None
        # Kaiming-uniform encoder; decoder starts as the encoder's transpose with unit-norm rows.
        bound = 1.0 / math.sqrt(d_in)
        w_enc = (torch.rand(d_in, d_sae, generator=generator) * 2 - 1) * bound
        if d_out == d_in:
            w_dec = w_enc.T.contiguous()
        else:
            w_dec = (torch.rand(d_sae, d_out, generator=generator) * 2 - 1) / math.sqrt(d_sae)
        w_dec = w_dec / w_dec.norm(dim=1, keepdim=True).clamp_min(1e-8)
        self.W_enc = nn.Parameter(w_enc.to(dtype))
        self.W_dec = nn.Parameter(w_dec.to(dtype))
        self.b_dec = nn.Parameter(torch.zeros(d_out, dtype=dtype))
        expected = arch.parameter_shapes(d_in, d_sae, d_out)
        initial = arch.initial_parameters(d_in, d_sae, d_out, options)
        if set(initial) != set(expected) or set(expected) & {"W_enc", "W_dec", "b_dec"}:
            raise SAEConfigError(
                f"architecture {arch.name!r} initialises {sorted(initial)} but declares "
                f"{sorted(expected)} (besides W_enc, W_dec, b_dec)"
            )
        for name, shape in expected.items():
            value = initial[name]
            if tuple(value.shape) != shape:
                raise SAEConfigError(
                    f"architecture {arch.name!r} initialises {name} with shape "
                    f"{tuple(value.shape)}, declared {shape}"
                )
            setattr(self, name, nn.Parameter(value.to(dtype)))
        self.to(device)
        self.eval()  # an inference tool first; the trainer switches to train mode itself

    # -- description ----------------------------------------------------------

    @property
    def architecture(self) -> str:
        """The architecture's registered name (``self.arch`` is the object)."""
        return self.arch.name

    def extra_repr(self) -> str:
        parts = [f"d_in={self.d_in}", f"d_sae={self.d_sae}", f"architecture={self.architecture!r}"]
        if self.d_out != self.d_in:
            parts.append(f"d_out={self.d_out}")
        if self.k is not None:
            parts.append(f"k={self.k}")
        if self.site:
            parts.append(f"site={self.site!r}")
        return ", ".join(parts)

    @property
    def device(self) -> torch.device:
        return self.W_enc.device

    @property
    def dtype(self) -> torch.dtype:
        return self.W_enc.dtype

    @property
    def is_transcoder(self) -> bool:
        return self.site_out is not None or self.d_out != self.d_in

    # -- encode / decode --------------------------------------------------------

    def _check_input(self, x: torch.Tensor) -> torch.Tensor:
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"SAE input must be a torch.Tensor, got {type(x).__name__}")
        if x.shape[-1] != self.d_in:
            raise SAEConfigError(
                f"input width {x.shape[-1]} does not match this SAE's d_in={self.d_in}"
                + (f" (site {self.site})" if self.site else "")
            )
        return x.to(device=self.device, dtype=self.dtype)

    def _scale(
        self, x: torch.Tensor
    ) -> tuple[torch.Tensor, Callable[[torch.Tensor], torch.Tensor]]:
        """Normalise the input as the SAE was trained; return it and the inverse for outputs."""
        mode = self.normalize_activations
        if mode == "none":
            return x, _identity
        if mode == "expected_average_only_in":
            factor = self.norm_scaling_factor
            return x * factor, lambda y: y / factor
        if mode == "constant_norm_rescale":
            scale = math.sqrt(self.d_in) / x.norm(dim=-1, keepdim=True).clamp_min(1e-8)
            return x * scale, lambda y: y / scale
        mean = x.mean(dim=-1, keepdim=True)
        std = x.std(dim=-1, keepdim=True).clamp_min(1e-5)
        return (x - mean) / std, lambda y: y * std + mean

    def center_input(self, x: torch.Tensor) -> torch.Tensor:
        """``x - b_dec`` where the SAE centres its input (``apply_b_dec_to_input``), else ``x``."""
        return x - self.b_dec if self.apply_b_dec_to_input else x

    def pre_activations(self, x: torch.Tensor) -> torch.Tensor:
        """Encoder pre-activations of (normalised) ``x`` (for gated: the gate's)."""
        return self.arch.pre_activations(self, self.center_input(x))

    def _encode_scaled(self, x: torch.Tensor) -> torch.Tensor:
        return self.arch.encode(self, self.center_input(x))

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Feature activations ``[..., d_sae]`` of input activations ``[..., d_in]``."""
        x = self._check_input(x)
        x, _ = self._scale(x)
        return self._encode_scaled(x)

    def decode(self, features: torch.Tensor) -> torch.Tensor:
        """Reconstruction ``[..., d_out]`` in the scaled space (see `forward` for the full path)."""
        return features.to(self.dtype) @ self.W_dec + self.b_dec

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Reconstruct ``x`` (or, for a transcoder, predict the output site)."""
        x = self._check_input(x)
        scaled, unscale = self._scale(x)
        return unscale(self.decode(self._encode_scaled(scaled)))

    def encode_decode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Features and reconstruction from one encoder pass."""
        x = self._check_input(x)
        scaled, unscale = self._scale(x)
        features = self._encode_scaled(scaled)
        return features, unscale(self.decode(features))

    def reconstruction_error(
        self, x: torch.Tensor, target: torch.Tensor | None = None
    ) -> torch.Tensor:
        """``target - reconstruction`` (target defaults to ``x``; pass the MLP output for a
        transcoder). Adding it back to the reconstruction gives the original exactly."""
        if target is None:
            if self.d_out != self.d_in:
                raise SAEConfigError("a transcoder's error needs the output-site target")
            target = x
        return target.to(device=self.device, dtype=self.dtype) - self.forward(x)

    # -- weight helpers -----------------------------------------------------------

    @torch.no_grad()
    def normalize_decoder(self) -> SAE:
        """Scale each decoder row to unit norm in place (changes the function; used in training)."""
        self.W_dec.div_(self.W_dec.norm(dim=1, keepdim=True).clamp_min(1e-8))
        return self

    @torch.no_grad()
    def fold_decoder_norm(self) -> SAE:
        """Give every decoder row unit norm without changing what the SAE computes.

        Feature activations grow by each row's old norm, so the encoder is scaled to match.
        TopK selects by raw pre-activation, so folding would change its choices; it is refused.
        """
        norms = self.W_dec.norm(dim=1).clamp_min(1e-8)
        self.arch.fold_decoder_norm(self, norms)  # refuses before changing anything
        self.W_dec.div_(norms[:, None])
        return self

    @torch.no_grad()
    def fold_input_scale(self, factor: float) -> SAE:
        """Turn an SAE trained on ``factor · x`` into one that reads ``x`` directly.

        Every bias and threshold divides by the factor; feature activations shrink by it, and
        the reconstruction comes out in the raw scale."""
        self.arch.fold_input_scale(self, float(factor))
        return self

    def config(self) -> dict[str, Any]:
        """Constructor arguments that rebuild this SAE's shape and behaviour."""
        return {
            "d_in": self.d_in,
            "d_sae": self.d_sae,
            "d_out": self.d_out,
            "architecture": self.architecture,
            "site": self.site,
            "site_out": self.site_out,
            "k": self.k,
            "l1_coefficient": self.l1_coefficient,
            "apply_b_dec_to_input": self.apply_b_dec_to_input,
            "normalize_activations": self.normalize_activations,
            "norm_scaling_factor": self.norm_scaling_factor,
        }

    def save(
        self,
        path: str | os.PathLike,
        *,
        overwrite: bool = False,
        sparsity: torch.Tensor | None = None,
        dtype: torch.dtype | None = None,
    ) -> Path:
        """Write the native format (SAELens's ``cfg.json`` + ``sae_weights.safetensors``);
        see `saewidgets.sae.native_writer.save_native`."""
        return save_native(self, path, overwrite=overwrite, sparsity=sparsity, dtype=dtype)


def _identity(y: torch.Tensor) -> torch.Tensor:
    return y
