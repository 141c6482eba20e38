"""Reading SAE files in the formats people publish, and writing our own (SAELens-compatible).

Readers never unpickle: safetensors and ``numpy.load(allow_pickle=False)`` for weights, and
``torch.load(weights_only=True)`` for dictionary_learning's ``ae.pt`` (which refuses anything
but plain tensors). Every reader ends in `_build`, which checks names, shapes and finiteness
before a single weight reaches the module.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from saewidgets.core.cache import atomic_folder
from saewidgets.core.errors import SAEWidgetsError
from saewidgets.sae.module import SAE, SAEConfigError

NATIVE_CFG = "cfg.json"
NATIVE_WEIGHTS = "sae_weights.safetensors"
NATIVE_SPARSITY = "sparsity.safetensors"
Q8, Q8_SCALE = ".int8", ".int8_scale"  # suffixes of int8-stored matrices and their scales
# SAELens treats a cfg.json without sae_lens_version >= 6 as the old flat layout, so our files
# carry the version of the layout they follow.
SAELENS_LAYOUT_VERSION = "6.0.0"

_TO_SAELENS = {
    "relu": "standard",
    "topk": "topk",
    "jumprelu": "jumprelu",
    "gated": "gated",
    "batchtopk": "jumprelu",
}
_FROM_SAELENS = {
    "standard": "relu",
    "relu": "relu",
    "topk": "topk",
    "jumprelu": "jumprelu",
    "gated": "gated",
    "batchtopk": "batchtopk",
    "transcoder": "relu",
    "jumprelu_transcoder": "jumprelu",
}


class SAEFormatError(SAEWidgetsError, ValueError):
    """A file or folder that cannot be read as an SAE; the message says what was wrong."""


# -- validation and construction ----------------------------------------------------------------


def _expected_shapes(arch: str, d_in: int, d_sae: int, d_out: int) -> dict[str, tuple[int, ...]]:
    shapes = {"W_enc": (d_in, d_sae), "W_dec": (d_sae, d_out), "b_dec": (d_out,)}
    if arch == "gated":
        shapes.update(b_gate=(d_sae,), b_mag=(d_sae,), r_mag=(d_sae,))
    else:
        shapes["b_enc"] = (d_sae,)
    if arch in ("jumprelu", "batchtopk"):
        shapes["threshold"] = (d_sae,)
    return shapes


def _build(
    config: dict[str, Any],
    tensors: dict[str, torch.Tensor],
    source: Path | str,
    *,
    device: str | torch.device = "cpu",
    dtype: torch.dtype | None = None,
) -> SAE:
    """Check tensors against the config, then create the SAE and copy them in."""
    arch = config["architecture"]
    d_in, d_sae = int(config["d_in"]), int(config["d_sae"])
    d_out = int(config.get("d_out") or d_in)
    expected = _expected_shapes(arch, d_in, d_sae, d_out)
    missing = sorted(set(expected) - set(tensors))
    extra = sorted(set(tensors) - set(expected))
    if missing or extra:
        raise SAEFormatError(
            f"{source}: tensors do not match a {arch} SAE"
            + (f"; missing {missing}" if missing else "")
            + (f"; unexpected {extra}" if extra else "")
            + f" (expected {sorted(expected)})"
        )
    for name, shape in expected.items():
        found = tuple(tensors[name].shape)
        if found != shape:
            raise SAEFormatError(
                f"{source}: tensor {name} has shape {found}, expected {shape} for d_in={d_in}, "
                f"d_sae={d_sae}" + (f", d_out={d_out}" if d_out != d_in else "")
            )
    for name, tensor in tensors.items():
        if not tensor.is_floating_point():
            raise SAEFormatError(f"{source}: tensor {name} is {tensor.dtype}, expected floats")
        bad = ~torch.isfinite(tensor)
        if bad.any():
            n_nan = int(torch.isnan(tensor).sum())
            raise SAEFormatError(
                f"{source}: tensor {name} holds {n_nan} NaN and {int(bad.sum()) - n_nan} infinite "
                "values; refusing to load a broken SAE"
            )
    kwargs = {k: v for k, v in config.items() if k not in ("d_in", "d_sae", "architecture")}
    try:
        sae = SAE(d_in, d_sae, arch, dtype=dtype or torch.float32, **kwargs)
    except (SAEConfigError, TypeError) as error:
        raise SAEFormatError(f"{source}: {error}") from error
    with torch.no_grad():
        for name, tensor in tensors.items():
            getattr(sae, name).copy_(tensor.to(sae.dtype))
    sae.metadata.setdefault("source", str(source))
    return sae.to(device)


def _safetensors(path: Path) -> dict[str, torch.Tensor]:
    try:
        return load_file(str(path))
    except (SafetensorError, OSError, ValueError) as error:
        raise SAEFormatError(f"{path}: not a readable safetensors file ({error})") from error


def _json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise SAEFormatError(f"{path}: not valid JSON ({error})") from error
    if not isinstance(data, dict):
        raise SAEFormatError(f"{path}: expected a JSON object, found {type(data).__name__}")
    return data


def _need(cfg: dict[str, Any], key: str, path: Path) -> Any:
    if key not in cfg:
        raise SAEFormatError(f"{path}: config has no {key!r}")
    return cfg[key]


# -- SAELens (and native) ---------------------------------------------------------------------


def _is_v6(cfg: dict[str, Any]) -> bool:
    version = str(
        (cfg.get("metadata") or {}).get("sae_lens_version") or cfg.get("sae_lens_version") or ""
    )
    match = re.match(r"(\d+)", version)
    return isinstance(cfg.get("metadata"), dict) or bool(match and int(match.group(1)) >= 6)


def read_saelens(folder: Path, **load: Any) -> SAE:
    cfg_path = folder / NATIVE_CFG
    cfg = _json(cfg_path)
    tensors = _dequantize(_safetensors(folder / NATIVE_WEIGHTS))
    if _is_v6(cfg):
        meta = cfg.get("metadata") or {}
        arch_name = cfg.get("architecture", "standard")
        k = cfg.get("k")
        hook, hook_out = meta.get("hook_name"), meta.get("hook_name_out")
        normalize = cfg.get("normalize_activations", "none")
    else:  # the flat layout from before SAELens 6
        activation = cfg.get("activation_fn_str") or cfg.get("activation_fn") or "relu"
        arch_name = cfg.get("architecture") or ("topk" if activation == "topk" else "standard")
        if activation == "topk":
            arch_name = "topk"
        k = (cfg.get("activation_fn_kwargs") or {}).get("k", cfg.get("k"))
        hook = cfg.get("hook_name") or cfg.get("hook_point")
        hook_out = cfg.get("hook_name_out")
        normalize = cfg.get("normalize_activations", "none")
        if isinstance(normalize, bool):
            normalize = "expected_average_only_in" if normalize else "none"
        meta = {}
    if cfg.get("rescale_acts_by_decoder_norm"):
        raise SAEFormatError(f"{cfg_path}: rescale_acts_by_decoder_norm=true is not supported yet")
    if "W_skip" in tensors:
        raise SAEFormatError(f"{cfg_path}: skip transcoders (W_skip) are not supported yet")
    ours = cfg.get("saewidgets") or {}
    arch = ours.get("architecture") or _FROM_SAELENS.get(arch_name)
    if arch is None:
        raise SAEFormatError(
            f"{cfg_path}: SAELens architecture {arch_name!r} is not supported; supported: "
            + ", ".join(sorted(_FROM_SAELENS))
        )
    if "log_threshold" in tensors and "threshold" not in tensors:
        tensors["threshold"] = tensors.pop("log_threshold").exp()
    scaling = tensors.pop("scaling_factor", None)
    if scaling is not None and not torch.allclose(scaling, torch.ones_like(scaling)):
        raise SAEFormatError(f"{cfg_path}: a non-trivial scaling_factor is not supported yet")
    config = {
        "architecture": arch,
        "d_in": _need(cfg, "d_in", cfg_path),
        "d_sae": _need(cfg, "d_sae", cfg_path),
        "d_out": cfg.get("d_out"),
        "site": hook,
        "site_out": hook_out,
        "k": ours.get("k", k) if arch in ("topk", "batchtopk") else None,
        "apply_b_dec_to_input": cfg.get("apply_b_dec_to_input", True),
        "normalize_activations": normalize,
        "norm_scaling_factor": ours.get(
            "norm_scaling_factor", load.pop("norm_scaling_factor", None)
        ),
        "l1_coefficient": ours.get("l1_coefficient"),
        "metadata": {
            "model_name": meta.get("model_name") or cfg.get("model_name"),
            "format": "saelens",
        },
    }
    return _build(config, tensors, folder, **load)


def _quantize_int8(name: str, w: torch.Tensor, d_sae: int) -> dict[str, torch.Tensor]:
    """Symmetric int8 with one scale per feature (the d_sae axis), for matrices only."""
    w = w.detach().float().cpu()
    if w.ndim != 2:
        return {name: w.to(torch.float16).contiguous()}
    axis = 1 if w.shape[1] == d_sae else 0  # W_enc is [d_in, d_sae], W_dec [d_sae, d_out]
    scale = w.abs().amax(dim=1 - axis, keepdim=True).clamp_min(1e-12) / 127
    q = torch.round(w / scale).clamp(-127, 127).to(torch.int8)
    return {f"{name}{Q8}": q.contiguous(), f"{name}{Q8_SCALE}": scale.contiguous()}


def _dequantize(tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    out = {}
    for name, t in tensors.items():
        if name.endswith(Q8_SCALE):
            continue
        if name.endswith(Q8):
            base = name.removesuffix(Q8)
            scale = tensors.get(base + Q8_SCALE)
            if scale is None:
                raise SAEFormatError(f"int8 tensor {base} has no {base}{Q8_SCALE}")
            out[base] = t.float() * scale.float()
        else:
            out[name] = t
    return out


def save_native(
    sae: SAE,
    path: str | Path,
    *,
    overwrite: bool = False,
    sparsity: torch.Tensor | None = None,
    dtype: torch.dtype | None = None,
) -> Path:
    """Write ``cfg.json`` + ``sae_weights.safetensors`` (+ ``sparsity.safetensors``).

    ``dtype=torch.int8`` stores each matrix as int8 with one float scale per feature (half the
    size of float16; SAELens cannot read that file, saewidgets loads it as float32).
    """
    folder = Path(path)
    if folder.exists() and any(folder.iterdir()) and not overwrite:
        raise FileExistsError(
            f"{folder} exists and is not empty; pass overwrite=True to replace it"
        )
    arch = sae.architecture
    loads_as = "float32" if dtype == torch.int8 else str(dtype or sae.dtype)
    cfg: dict[str, Any] = {
        "architecture": _TO_SAELENS[arch]
        if sae.d_out == sae.d_in
        else {"relu": "transcoder", "jumprelu": "jumprelu_transcoder"}.get(arch, _TO_SAELENS[arch]),
        "d_in": sae.d_in,
        "d_sae": sae.d_sae,
        "dtype": loads_as.removeprefix("torch."),
        "device": "cpu",
        "apply_b_dec_to_input": sae.apply_b_dec_to_input,
        "normalize_activations": sae.normalize_activations,
        "reshape_activations": "none",
        "metadata": {
            "hook_name": sae.site,
            "model_name": sae.metadata.get("model_name"),
            "sae_lens_version": SAELENS_LAYOUT_VERSION,
        },
        # Our own keys: SAELens ignores them, we read them back exactly.
        "saewidgets": {
            "architecture": arch,
            "k": sae.k,
            "l1_coefficient": sae.l1_coefficient,
            "norm_scaling_factor": sae.norm_scaling_factor,
            "quantized": "int8-per-feature" if dtype == torch.int8 else None,
        },
    }
    if arch == "topk":
        cfg.update(k=sae.k, rescale_acts_by_decoder_norm=False)
    if sae.d_out != sae.d_in:
        cfg["d_out"] = sae.d_out
        cfg["metadata"]["hook_name_out"] = sae.site_out
    if dtype == torch.int8:
        tensors = {}
        for name, p in sae.named_parameters():
            tensors.update(_quantize_int8(name, p, sae.d_sae))
    else:
        tensors = {
            name: p.detach().to("cpu", dtype or p.dtype).contiguous()
            for name, p in sae.named_parameters()
        }
    with atomic_folder(folder) as tmp:
        (tmp / NATIVE_CFG).write_text(json.dumps(cfg, indent=2))
        save_file(tensors, str(tmp / NATIVE_WEIGHTS))
        if sparsity is not None:
            save_file({"sparsity": sparsity.detach().float().cpu()}, str(tmp / NATIVE_SPARSITY))
    return folder


def read_sparsity(folder: str | Path) -> torch.Tensor | None:
    """The optional log10 firing-frequency vector stored beside an SAELens/native SAE."""
    path = Path(folder) / NATIVE_SPARSITY
    return _safetensors(path)["sparsity"] if path.is_file() else None


# -- Gemma Scope (Gemma 2: params.npz; Gemma 3: params.safetensors) --------------------------


_GEMMA_SITES = {
    "res": "hook_resid_post",
    "resid_post": "hook_resid_post",
    "mlp": "hook_mlp_out",
    "mlp_out": "hook_mlp_out",
    "att": "hook_attn_out",
    "attn_out": "hook_attn_out",
}


def _gemma_site(path: Path) -> tuple[str | None, str | None]:
    """Derive (site, site_out) from Gemma Scope folder names such as
    ``gemma-scope-2b-pt-res/layer_12/width_16k/...`` or ``resid_post/layer_12_width_16k_l0_big``."""
    text = "/".join(path.resolve().parts)
    layer = re.search(r"layer_(\d+)", text)
    if layer is None:
        return None, None
    block = f"blocks.{int(layer.group(1))}"
    if re.search(r"(^|/|-)transcoder", text):
        return f"{block}.ln2.hook_normalized", f"{block}.hook_mlp_out"
    for part in reversed(path.resolve().parts):
        for key in re.split(r"[-/]", part):
            if key in _GEMMA_SITES:
                return f"{block}.{_GEMMA_SITES[key]}", None
    return None, None


def _gemma_build(tensors: dict[str, torch.Tensor], file: Path, **load: Any) -> SAE:
    # Gemma Scope 2 spells the weights in lower case; the first release used W_/w_ both.
    renamed = {(("W" + k[1:]) if k.startswith("w_") else k): v for k, v in tensors.items()}
    if "affine_skip_connection" in renamed:
        raise SAEFormatError(f"{file}: affine skip transcoders are not supported yet")
    d_in, d_sae = _need({k: v.shape for k, v in renamed.items()}, "W_enc", file)
    d_out = renamed["W_dec"].shape[1] if "W_dec" in renamed else d_in
    site, site_out = _gemma_site(file.parent)
    config = {
        "architecture": "jumprelu",
        "d_in": int(d_in),
        "d_sae": int(d_sae),
        "d_out": int(d_out),
        "site": site,
        "site_out": site_out if d_out != d_in or site_out else None,
        "apply_b_dec_to_input": False,
        "metadata": {"format": "gemma_scope"},
    }
    return _build(config, renamed, file, **load)


def read_gemma_scope_npz(file: Path, **load: Any) -> SAE:
    try:
        with np.load(file, allow_pickle=False) as data:
            tensors = {k: torch.from_numpy(np.array(data[k], dtype=np.float32)) for k in data.files}
    except ValueError as error:
        raise SAEFormatError(
            f"{file}: holds pickled objects or is corrupt ({error}); refusing to unpickle"
        ) from error
    except (OSError, EOFError) as error:
        raise SAEFormatError(f"{file}: not a readable .npz file ({error})") from error
    return _gemma_build(tensors, file, **load)


def read_gemma_scope_safetensors(file: Path, **load: Any) -> SAE:
    return _gemma_build(_safetensors(file), file, **load)


# -- EleutherAI sparsify ------------------------------------------------------------------------


def _sparsify_site(hookpoint: str) -> tuple[str | None, str | None]:
    if hookpoint in ("embed_tokens", "model.embed_tokens", "wte", "transformer.wte"):
        return "blocks.0.hook_resid_pre", None
    match = re.search(
        r"(?:^|\.)(?:layers|h)\.(\d+)(?:\.(mlp|self_attn|attn|attention))?$", hookpoint
    )
    if match is None:
        return None, None
    block, part = f"blocks.{int(match.group(1))}", match.group(2)
    if part is None:
        return f"{block}.hook_resid_post", None
    return (f"{block}.hook_mlp_out" if part == "mlp" else f"{block}.hook_attn_out"), None


def read_sparsify(folder: Path, **load: Any) -> SAE:
    cfg_path = folder / "cfg.json"
    cfg = _json(cfg_path)
    tensors = _safetensors(folder / "sae.safetensors")
    for key in ("encoder.weight", "encoder.bias", "W_dec", "b_dec"):
        if key not in tensors:
            raise SAEFormatError(f"{folder / 'sae.safetensors'}: sparsify file lacks {key!r}")
    if tensors.get("W_skip") is not None or cfg.get("skip_connection"):
        raise SAEFormatError(f"{folder}: sparsify skip connections are not supported yet")
    activation = cfg.get("activation", "topk")
    if activation not in ("topk", "batchtopk"):
        raise SAEFormatError(f"{cfg_path}: sparsify activation {activation!r} is not supported")
    encoder = tensors["encoder.weight"]  # [num_latents, d_in] in sparsify's own layout
    n_latents, d_in = encoder.shape
    w_dec = tensors["W_dec"]
    # Releases disagree on W_dec's orientation; the shapes decide, not the key name.
    if w_dec.shape[0] != n_latents:
        if w_dec.ndim != 2 or w_dec.shape[1] != n_latents:
            raise SAEFormatError(
                f"{folder}: W_dec shape {tuple(w_dec.shape)} has no axis of num_latents={n_latents}"
            )
        w_dec = w_dec.T
    transcode = bool(cfg.get("transcode", False))
    site, site_out = _sparsify_site(folder.name)
    config = {
        "architecture": "topk",
        "d_in": int(d_in),
        "d_sae": int(n_latents),
        "d_out": int(w_dec.shape[1]),
        "site": site,
        "site_out": site_out,
        "k": int(_need(cfg, "k", cfg_path)),
        # sparsify centres the input on b_dec except when transcoding.
        "apply_b_dec_to_input": not transcode,
        "metadata": {"format": "sparsify"},
    }
    state = {
        "W_enc": encoder.T.contiguous(),
        "b_enc": tensors["encoder.bias"],
        "W_dec": w_dec.contiguous(),
        "b_dec": tensors["b_dec"],
    }
    return _build(config, state, folder, **load)


# -- dictionary_learning (Marks et al.) -----------------------------------------------------------


def _torch_weights(file: Path) -> dict[str, torch.Tensor]:
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


def _dl_site(trainer: dict[str, Any]) -> str | None:
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
    cfg_path = folder / "config.json"
    trainer = _json(cfg_path).get("trainer") or {}
    dict_class = str(_need(trainer, "dict_class", cfg_path))
    state = _torch_weights(folder / "ae.pt")

    def take(*names: str) -> torch.Tensor:
        for name in names:
            if name in state:
                return state[name]
        raise SAEFormatError(f"{folder / 'ae.pt'}: {dict_class} state lacks any of {names}")

    site = _dl_site(trainer)
    common = {
        "site": site,
        "metadata": {"format": "dictionary_learning", "model_name": trainer.get("lm_name")},
    }
    if dict_class in ("AutoEncoder", "AutoEncoderTopK", "BatchTopKSAE", "MatryoshkaBatchTopKSAE"):
        w_enc = take("encoder.weight").T.contiguous()
        tensors = {
            "W_enc": w_enc,
            "b_enc": take("encoder.bias"),
            "W_dec": take("decoder.weight").T.contiguous(),
            "b_dec": take("b_dec", "bias", "decoder_bias"),
        }
        if dict_class == "AutoEncoder":
            arch, k = "relu", None
        elif dict_class == "AutoEncoderTopK":
            arch, k = "topk", int(trainer.get("k") or take("k"))
        else:
            arch, k = "batchtopk", int(trainer.get("k") or take("k"))
            threshold = take("threshold").float().reshape(-1)
            tensors["threshold"] = threshold.expand(w_enc.shape[1]).clone()
        config = {
            "architecture": arch,
            "d_in": w_enc.shape[0],
            "d_sae": w_enc.shape[1],
            "k": k,
            "apply_b_dec_to_input": True,
            **common,
        }
    elif dict_class == "GatedAutoEncoder":
        w_enc = take("encoder.weight").T.contiguous()
        tensors = {
            "W_enc": w_enc,
            "b_gate": take("gate_bias"),
            "b_mag": take("mag_bias"),
            "r_mag": take("r_mag"),
            "W_dec": take("decoder.weight").T.contiguous(),
            "b_dec": take("decoder_bias", "b_dec", "bias"),
        }
        config = {
            "architecture": "gated",
            "d_in": w_enc.shape[0],
            "d_sae": w_enc.shape[1],
            "apply_b_dec_to_input": True,
            **common,
        }
    elif dict_class == "JumpReluAutoEncoder":
        w_enc = take("W_enc")
        tensors = {
            "W_enc": w_enc,
            "b_enc": take("b_enc"),
            "W_dec": take("W_dec"),
            "b_dec": take("b_dec"),
            "threshold": take("threshold"),
        }
        config = {
            "architecture": "jumprelu",
            "d_in": w_enc.shape[0],
            "d_sae": w_enc.shape[1],
            "apply_b_dec_to_input": bool(trainer.get("apply_b_dec_to_input", False)),
            **common,
        }
    else:
        raise SAEFormatError(
            f"{cfg_path}: dictionary_learning class {dict_class!r} is not supported; supported: "
            "AutoEncoder, AutoEncoderTopK, BatchTopKSAE, GatedAutoEncoder, JumpReluAutoEncoder"
        )
    return _build(config, tensors, folder, **load)


# -- detection ----------------------------------------------------------------------------------

# (file that marks the format, reader, whether the reader takes the folder or the file)
_MARKERS: list[tuple[str, Callable[..., SAE], bool]] = [
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


def read_local(path: Path, **load: Any) -> SAE:
    """Read an SAE from a file or folder in any supported format."""
    if path.is_file():
        for marker, reader, wants_folder in _MARKERS:
            if path.name == marker:
                return reader(path.parent if wants_folder else path, **load)
        if path.suffix in (".pt", ".pth", ".pkl", ".pickle", ".bin", ".ckpt"):
            raise SAEFormatError(
                f"{path}: a bare {path.suffix} file would have to be unpickled to be read; "
                f"saewidgets reads only these layouts: {FORMATS}"
            )
        raise SAEFormatError(f"{path}: not a recognised SAE file; supported: {FORMATS}")
    if not path.is_dir():
        raise FileNotFoundError(f"no such file or folder: {path}")
    for marker, reader, wants_folder in _MARKERS:
        if (path / marker).is_file():
            return reader(path if wants_folder else path / marker, **load)
    nested = sorted(
        str(p.parent.relative_to(path)) for marker, _, _ in _MARKERS for p in path.rglob(marker)
    )
    if nested:
        shown = ", ".join(nested[:12]) + (" ..." if len(nested) > 12 else "")
        raise SAEFormatError(
            f"{path} holds {len(nested)} SAEs in subfolders; pass subfolder= one of: {shown}"
        )
    raise SAEFormatError(f"{path}: no SAE files found; supported layouts: {FORMATS}")
