"""Loading language models and reading sites from them through nnsight.

`load_model` returns a `Model`: the transformers model, its tokenizer and the nnsight wrapper,
plus the site mapping of its architecture family. Everything else in the package talks to the
network through `Model.read_sites`, so an nnsight API change touches only this file.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Literal

import nnsight
import torch
from nnsight import TransformersModel

from saewidgets.core.errors import SAEWidgetsError
from saewidgets.model import sites as _sites
from saewidgets.model.embedded import EMBEDDED_NAME, embedded_dir
from saewidgets.model.tokens import tokenizer_fingerprint

Remote = bool | Literal["local"]
EMBEDDED = "embedded"


class ModelLoadError(SAEWidgetsError, RuntimeError):
    """A model could not be loaded; the message says why and what to try."""


class RemoteUnavailable(SAEWidgetsError, RuntimeError):
    """Remote execution was asked for but NDIF cannot be used (no key, or unreachable)."""


def _resolve_dtype(dtype: torch.dtype | str | None, device: str) -> torch.dtype:
    if dtype is None:
        return torch.float32 if str(device).startswith("cpu") else torch.bfloat16
    if isinstance(dtype, torch.dtype):
        return dtype
    allowed = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}
    if dtype not in allowed:
        raise ValueError(f"dtype {dtype!r} is not one of {sorted(allowed)} (or a torch.dtype)")
    return allowed[dtype]


def _prepare_tokenizer(tokenizer):
    # nnsight batches invokes and HF generate needs a pad token and left padding; a tokenizer
    # handed to nnsight is used as is, so both are set here.
    tokenizer.padding_side = "left"
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


class Model:
    """A causal LM ready for tracing: the HF model, its tokenizer, nnsight, and its sites.

    Escape hatches: ``hf_model`` (the transformers module), ``tokenizer``, ``nnsight`` (the
    ``nnsight.TransformersModel`` wrapper).
    """

    def __init__(
        self,
        hf_model: torch.nn.Module,
        tokenizer,
        *,
        name: str,
        remote: Remote = False,
        nnsight_model: TransformersModel | None = None,
    ) -> None:
        self.hf_model = hf_model
        self.tokenizer = _prepare_tokenizer(tokenizer)
        self.name = name
        self.remote: Remote = remote
        self.nnsight = nnsight_model or TransformersModel(hf_model, tokenizer=self.tokenizer)
        self.config = hf_model.config
        text = self.config.get_text_config()
        self.family = _sites.family_for(self.config.model_type)
        self.n_layers: int = int(text.num_hidden_layers)
        self.d_model: int = int(text.hidden_size)
        self.context_length: int = int(getattr(text, "max_position_embeddings", 2048) or 2048)
        self.vocab_size: int = int(text.vocab_size)
        # Held by every pass through nnsight (reads, patched runs, generation, attribution): the
        # widgets' task threads and the notebook share the model, and two traces at once would
        # interleave their hooks. Re-entrant, so a generation can read sites inside it.
        self.generation_lock = threading.RLock()
        self._fingerprint: tuple[tuple, str] | None = None  # (weights' state, hash)

    def __repr__(self) -> str:
        where = {False: "local", True: "remote (NDIF)", "local": "remote='local' simulation"}
        return (
            f"Model({self.name!r}, {self.config.model_type}, {self.n_layers} layers, "
            f"d_model={self.d_model}, {where[self.remote]}, device={self.device})"
        )

    @property
    def device(self) -> torch.device:
        return next(self.hf_model.parameters()).device

    @property
    def dtype(self) -> torch.dtype:
        return next(self.hf_model.parameters()).dtype

    # -- sites ---------------------------------------------------------------

    @property
    def sites(self) -> list[str]:
        """Every site name this model has, in execution order."""
        return _sites.site_names(self.n_layers)

    def site(self, name: str) -> _sites.Site:
        return _sites.resolve(name, self.family, self.n_layers)

    def site_width(self, name: str) -> int:
        self.site(name)  # validates the name
        return self.d_model

    def module(self, path: str) -> torch.nn.Module:
        """The torch module at a dotted path (for example a `Site.module`)."""
        return self.hf_model.get_submodule(path)

    def envoy(self, path: str):
        """The nnsight envoy at a dotted path."""
        envoy = self.nnsight
        for part in path.split("."):
            envoy = envoy[int(part)] if part.isdigit() else getattr(envoy, part)
        return envoy

    # -- tokens --------------------------------------------------------------

    def encode(self, text: str) -> list[int]:
        """Token ids of one text, with the special tokens the tokenizer adds by default."""
        return list(self.tokenizer(text, add_special_tokens=True)["input_ids"])

    def content_mask(self, input_ids: torch.Tensor) -> torch.Tensor:
        """Positions whose activations describe text: not the first position of a window (an
        attention sink with a huge norm) and not a BOS or pad token. Training and evaluation
        both use exactly these positions."""
        keep = torch.ones_like(input_ids, dtype=torch.bool)
        keep[:, 0] = False
        for special in {self.tokenizer.bos_token_id, self.tokenizer.pad_token_id} - {None}:
            keep &= input_ids != special
        return keep

    def fingerprint(self) -> str:
        """A hash of the model's name, config, tokenizer and weights, for cache keys: per tensor
        its shape, dtype, a strided sample of values and the float64 sum of all of them (so an
        edit anywhere moves it). Recomputed only after a weight or the vocabulary size changes:
        in-place edits bump a tensor's version, replaced tensors have a new address. Weights on
        the meta device (remote models) contribute their shapes only. A bfloat16 and a float32
        copy of one checkpoint are different models here: their activations differ."""
        params = list(self.hf_model.named_parameters())
        state = (len(self.tokenizer), *((n, p.data_ptr(), p._version) for n, p in params))
        if self._fingerprint is not None and self._fingerprint[0] == state:
            return self._fingerprint[1]
        h = hashlib.blake2b(digest_size=12)
        h.update(self.name.encode())
        h.update(self.config.to_json_string(use_diff=False).encode())
        h.update(tokenizer_fingerprint(self.tokenizer).encode())
        with torch.no_grad():
            for name, p in params:
                h.update(f"{name}{tuple(p.shape)}{p.dtype}".encode())
                if p.device.type == "meta":
                    continue
                flat = p.detach().reshape(-1)
                sample = flat[:: max(1, flat.numel() // 256)].float().cpu()
                total = torch.sum(flat, dtype=torch.float64).cpu()
                h.update(sample.numpy().tobytes() + total.numpy().tobytes())
        self._fingerprint = (state, h.hexdigest())
        return self._fingerprint[1]

    # -- running ---------------------------------------------------------------

    def read_sites(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        sites: Sequence[str],
    ) -> dict[str, torch.Tensor]:
        """Activations ``[batch, seq, width]`` at each site, from one forward pass.

        The pass stops right after the deepest site. Inputs are taken as given (callers pad on
        the right so positions match the unpadded text). Under ``remote=True`` only these
        activations travel back from NDIF.
        """
        resolved = sorted((self.site(s) for s in dict.fromkeys(sites)), key=lambda s: s.order)
        if not resolved:
            raise ValueError("read_sites needs at least one site")
        plan = [(self.envoy(s.module), s.attr) for s in resolved]
        remote = self.remote
        if remote is False:
            input_ids = input_ids.to(self.device)
            attention_mask = attention_mask.to(self.device)
        try:
            with torch.no_grad(), self.generation_lock:
                values = _trace_sites(self.nnsight, input_ids, attention_mask, plan, remote)
        except Exception as error:
            if remote is True:
                raise _remote_error(error) from error
            raise
        return {s.name: v for s, v in zip(resolved, values, strict=True)}

    def run(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        *,
        read: Sequence[str] = (),
        patches: dict[str, Callable[[torch.Tensor], torch.Tensor]] | None = None,
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """A full forward pass: logits, the activations at ``read`` sites, with ``patches``
        (``{site: fn}``) replacing each patched site's value by ``fn(value)``.

        A site that is both read and patched is read before the patch. Patches run Python
        callables inside the trace, so this works locally (``remote`` False or "local" with
        plain tensor ops), not on NDIF.
        """
        if self.remote is True:
            raise RemoteUnavailable("Model.run with patches runs locally; NDIF cannot run them")
        patches = dict(patches or {})
        names = dict.fromkeys([*read, *patches])
        resolved = sorted((self.site(s) for s in names), key=lambda s: s.order)
        plan = [
            (self.envoy(s.module), s.attr, s.name in read, patches.get(s.name)) for s in resolved
        ]
        with torch.no_grad(), self.generation_lock:
            logits, values = _trace_patched(
                self.nnsight, input_ids.to(self.device), attention_mask.to(self.device), plan
            )
        reads = [s.name for s, step in zip(resolved, plan, strict=True) if step[2]]
        return logits, dict(zip(reads, values, strict=True))


def _trace_patched(lm, input_ids, attention_mask, plan):
    with lm.trace(input_ids, attention_mask=attention_mask):
        saved = nnsight.save([])
        for envoy, attr, keep, fn in plan:
            value = envoy.output if attr == "output" else envoy.input
            first = value[0] if isinstance(value, tuple) else value
            if keep:
                saved.append(first.clone())
            if fn is not None:
                new = fn(first)
                new = (new, *value[1:]) if isinstance(value, tuple) else new
                if attr == "output":
                    envoy.output = new
                else:
                    envoy.input = new
        logits = nnsight.save(lm.output.logits)
    return logits.detach(), [v.detach() for v in saved]


def _trace_sites(lm, input_ids, attention_mask, plan, remote):
    # Kept at module level: nnsight caches the parsed trace body per call site. The body uses
    # only nnsight and builtins so it can be shipped to NDIF as is.
    with lm.trace(input_ids, attention_mask=attention_mask, remote=remote) as tracer:
        saved = nnsight.save([])
        for envoy, attr in plan:
            value = envoy.output if attr == "output" else envoy.input
            if isinstance(value, tuple):
                value = value[0]
            saved.append(value)
        tracer.stop()
    return [v.detach() for v in saved]


def _remote_error(error: Exception) -> RemoteUnavailable:
    host = nnsight.CONFIG.API.HOST
    return RemoteUnavailable(
        f"the remote run on NDIF ({host}) failed: {error}. Check that the service is reachable, "
        "that NDIF_API_KEY is valid and that the model is hosted there; remote='local' runs the "
        "same path on this machine."
    )


def _load_hf(source: str | Path, device: str, dtype: torch.dtype, trust_remote_code: bool):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(source, trust_remote_code=trust_remote_code)
        hf = AutoModelForCausalLM.from_pretrained(
            source, dtype=dtype, trust_remote_code=trust_remote_code
        )
    except OSError as error:
        where = "local folder" if Path(source).exists() else "Hugging Face hub id"
        raise ModelLoadError(
            f"could not load {str(source)!r} as a {where}: {error}. Pass a folder with "
            "config.json and weights, a hub id (needs network or a filled HF cache), or nothing "
            "for the embedded default."
        ) from error
    return hf.to(device).eval(), tokenizer


def load_model(
    name: str | os.PathLike | None = None,
    *,
    device: str = "cpu",
    dtype: torch.dtype | str | None = None,
    remote: Remote = False,
    trust_remote_code: bool = False,
) -> Model:
    """Load a causal LM for tracing.

    - ``load_model()`` / ``load_model("embedded")``: SmolLM2-135M-Instruct, shipped with the
      package (offline; the first call de-quantises it into the user cache).
    - ``load_model("org/name")`` or ``load_model("path/to/folder")``: any HF causal LM of a
      supported family, on ``device`` in ``dtype`` (float32 on CPU, bfloat16 on GPU by default).
    - ``remote=True``: run on NDIF through nnsight; weights are not loaded here, only the
      config. Needs ``NDIF_API_KEY``. ``remote="local"`` loads locally but sends every trace
      through nnsight's serialise-and-execute path, for testing remote code offline.
    """
    if remote not in (False, True, "local"):
        raise ValueError(f"remote must be False, True or 'local', got {remote!r}")
    if name is None or name == EMBEDDED:
        source, label = embedded_dir(), EMBEDDED_NAME
        if remote is True:
            raise ValueError("the embedded model runs locally; remote=True needs an NDIF model id")
    else:
        source, label = name, str(name)
    torch_dtype = _resolve_dtype(dtype, device)

    if remote is True:
        if not nnsight.CONFIG.API.APIKEY:
            raise RemoteUnavailable(
                "remote=True needs an NDIF API key: set the NDIF_API_KEY environment variable "
                "(keys are issued at login.ndif.us), or use remote=False to run locally"
            )
        from transformers import AutoTokenizer

        try:
            tokenizer = _prepare_tokenizer(AutoTokenizer.from_pretrained(source))
            lm = TransformersModel(
                str(source), task="text-generation", tokenizer=tokenizer, dispatch=False
            )
        except OSError as error:
            raise ModelLoadError(
                f"could not read the config/tokenizer of {label!r} for remote use: {error}"
            ) from error
        return Model(lm._module, tokenizer, name=label, remote=True, nnsight_model=lm)

    hf, tokenizer = _load_hf(source, device, torch_dtype, trust_remote_code)
    return Model(hf, tokenizer, name=label, remote=remote)
