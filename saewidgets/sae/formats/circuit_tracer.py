"""circuit-tracer's per-layer transcoder sets: a folder of ``config.yaml`` plus
``layer_{i}.safetensors`` for every layer 0..L-1, read and written.

Each layer file holds ``W_enc`` and ``W_dec`` with the feature index first (``[d_sae, d]``:
pre-activations are ``x · W_encᵀ + b_enc``), ``b_enc``, ``b_dec`` (an output bias, never
subtracted from the input), and optionally ``activation_function.threshold`` (JumpReLU) or
``W_skip`` (a skip connection, which we do not support yet). ``config.yaml`` names the hooks
relative to a block (``mlp.hook_in`` → ``mlp.hook_out``) and, for TopK, ``activation: topk``
and ``k``. Extra tensors make circuit-tracer's strict loader fail, so the writer adds none.

Cross-layer transcoders (``model_kind: cross_layer_transcoder``) have one decoder per later
layer, which a single-site transcoder cannot hold; they are refused with a clear error.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml
from safetensors.torch import save_file

from saewidgets.sae.errors import SAEFormatError
from saewidgets.sae.formats.build import build_sae
from saewidgets.sae.formats.files import read_safetensors
from saewidgets.sae.module import SAE

CONFIG = "config.yaml"
_LAYER_FILE = re.compile(r"^layer_(\d+)\.safetensors$")
# circuit-tracer's block-relative hook names → our site suffixes (the MLP's input and output)
_INPUT_HOOKS = {"mlp.hook_in": "ln2.hook_normalized", "ln2.hook_normalized": "ln2.hook_normalized"}
_OUTPUT_HOOKS = {"mlp.hook_out": "hook_mlp_out", "hook_mlp_out": "hook_mlp_out"}


def is_circuit_tracer_set(folder: str | Path) -> bool:
    path = Path(folder) / CONFIG
    if not path.is_file():
        return False
    try:
        config = yaml.safe_load(path.read_text())
    except yaml.YAMLError:
        return False
    return isinstance(config, dict) and "model_kind" in config


def _config(folder: Path) -> dict:
    path = folder / CONFIG
    try:
        config = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as error:
        raise SAEFormatError(f"{path}: not a readable YAML file ({error})") from error
    if not isinstance(config, dict):
        raise SAEFormatError(f"{path}: expected a mapping of settings")
    kind = config.get("model_kind")
    if kind == "cross_layer_transcoder":
        raise SAEFormatError(
            f"{path}: cross-layer transcoders (one decoder per later layer) are not supported "
            "yet; per-layer transcoder sets (model_kind: transcoder_set) are"
        )
    if kind != "transcoder_set":
        raise SAEFormatError(f"{path}: model_kind {kind!r} is not 'transcoder_set'")
    for key, known in (
        ("feature_input_hook", _INPUT_HOOKS),
        ("feature_output_hook", _OUTPUT_HOOKS),
    ):
        if config.get(key) not in known:
            raise SAEFormatError(
                f"{path}: {key} {config.get(key)!r} is not supported; supported: "
                + ", ".join(sorted(known))
            )
    return config


def read_circuit_tracer(folder: str | Path, **load: Any) -> dict[str, SAE]:
    """Every layer's transcoder of a circuit-tracer set, keyed by the site it reads."""
    folder = Path(folder)
    config = _config(folder)
    layers = sorted(int(m.group(1)) for p in folder.iterdir() if (m := _LAYER_FILE.match(p.name)))
    if not layers:
        raise SAEFormatError(f"{folder}: no layer_{{i}}.safetensors files next to {CONFIG}")
    if layers != list(range(len(layers))):
        missing = sorted(set(range(layers[-1] + 1)) - set(layers))
        raise SAEFormatError(f"{folder}: layers must run 0..{layers[-1]}; missing {missing}")
    activation = config.get("activation")
    if activation not in (None, "relu", "topk", "jump_relu", "jumprelu"):
        raise SAEFormatError(f"{folder / CONFIG}: activation {activation!r} is not supported")
    read_suffix = _INPUT_HOOKS[config["feature_input_hook"]]
    write_suffix = _OUTPUT_HOOKS[config["feature_output_hook"]]
    out = {}
    for layer in layers:
        file = folder / f"layer_{layer}.safetensors"
        sae = _read_layer(file, config, layer, read_suffix, write_suffix, **load)
        out[sae.site] = sae
    return out


def _read_layer(
    file: Path, config: dict, layer: int, read_suffix: str, write_suffix: str, **load: Any
) -> SAE:
    tensors = read_safetensors(file)
    if "W_skip" in tensors:
        raise SAEFormatError(f"{file}: skip transcoders (W_skip) are not supported yet")
    for key in ("W_enc", "W_dec", "b_enc", "b_dec"):
        if key not in tensors:
            raise SAEFormatError(f"{file}: no {key} tensor (found {sorted(tensors)})")
    mine = {
        "W_enc": tensors["W_enc"].T.contiguous(),  # theirs: [d_sae, d]; ours: [d, d_sae]
        "W_dec": tensors["W_dec"],
        "b_enc": tensors["b_enc"],
        "b_dec": tensors["b_dec"],
    }
    architecture, k = "relu", None
    if config.get("activation") == "topk":
        architecture, k = "topk", config.get("k")
        if not isinstance(k, int) or k <= 0:
            raise SAEFormatError(f"{file.parent / CONFIG}: activation topk needs a positive k")
    elif "activation_function.threshold" in tensors and config.get("activation") != "relu":
        architecture = "jumprelu"
        mine["threshold"] = tensors["activation_function.threshold"]
    d_sae, d_in = (int(n) for n in tensors["W_enc"].shape)
    settings = {
        "architecture": architecture,
        "d_in": d_in,
        "d_sae": d_sae,
        "d_out": int(tensors["W_dec"].shape[1]),
        "site": f"blocks.{layer}.{read_suffix}",
        "site_out": f"blocks.{layer}.{write_suffix}",
        "k": k,
        "apply_b_dec_to_input": False,
        "metadata": {"format": "circuit_tracer", "model_name": config.get("model_name")},
    }
    return build_sae(settings, mine, file, **load)


def save_circuit_tracer(
    transcoders: dict[str, SAE], folder: str | Path, *, model_name: str | None = None
) -> Path:
    """Write ``transcoders`` (one per layer, 0..L-1, each reading a block's MLP input and
    writing its output) as a circuit-tracer set that its loaders read. TopK sets record
    ``activation: topk`` and ``k`` in the config (circuit-tracer's TopK keeps the top k
    pre-activations without a ReLU; ours drops negative ones, which rarely differ)."""
    by_layer: dict[int, SAE] = {}
    for sae in transcoders.values():
        match = re.match(r"^blocks\.(\d+)\.ln2\.hook_normalized$", sae.site or "")
        if not match or sae.site_out != f"blocks.{match.group(1)}.hook_mlp_out":
            raise SAEFormatError(
                f"circuit-tracer sets read a block's MLP input and write its output; "
                f"{sae.site} → {sae.site_out} is not that"
            )
        if sae.normalize_activations != "none":
            raise SAEFormatError(
                f"{sae.site}: circuit-tracer applies no input normalisation; fold it in first"
            )
        by_layer[int(match.group(1))] = sae
    if sorted(by_layer) != list(range(len(by_layer))):
        raise SAEFormatError(
            f"circuit-tracer needs a transcoder for every layer 0..L-1; got {sorted(by_layer)}"
        )
    architectures = {sae.architecture for sae in by_layer.values()}
    if len(architectures) != 1 or not architectures <= {"relu", "topk", "jumprelu"}:
        raise SAEFormatError(
            f"circuit-tracer sets use one of relu, topk, jumprelu for every layer; got "
            f"{sorted(architectures)}"
        )
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    config: dict[str, Any] = {
        "model_kind": "transcoder_set",
        "feature_input_hook": "mlp.hook_in",
        "feature_output_hook": "mlp.hook_out",
    }
    name = model_name or next(iter(by_layer.values())).metadata.get("model_name")
    if name:
        config["model_name"] = str(name)
    (architecture,) = architectures
    if architecture == "topk":
        ks = {sae.k for sae in by_layer.values()}
        if len(ks) != 1:
            raise SAEFormatError(f"circuit-tracer keeps one k for a set; got {sorted(ks)}")
        config["activation"], config["k"] = "topk", int(ks.pop())
    for layer, sae in sorted(by_layer.items()):
        tensors = {
            "W_enc": sae.W_enc.detach().T,
            "W_dec": sae.W_dec.detach(),
            "b_enc": sae.b_enc.detach(),
            "b_dec": sae.b_dec.detach(),
        }
        if architecture == "jumprelu":
            tensors["activation_function.threshold"] = sae.threshold.detach()
        tensors = {k: v.float().cpu().contiguous() for k, v in tensors.items()}
        save_file(tensors, str(folder / f"layer_{layer}.safetensors"))
    (folder / CONFIG).write_text(yaml.safe_dump(config, sort_keys=False))
    return folder
