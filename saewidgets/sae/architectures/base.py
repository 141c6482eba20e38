"""What an SAE architecture is: the one object that knows its parameters, its encoder, how its
weights fold, how it maps to other tools' files, and how it trains.

`SAE` (``sae/module.py``), the readers and the writer (``sae/formats/``) and the trainer
(``training/trainer.py``) ask the architecture instead of branching on its name, so a new
architecture is one subclass of `Architecture` in one file plus `register` (see
``architectures/__init__.py``).

Every architecture shares the dictionary ``W_enc [d_in, d_sae]``, ``W_dec [d_sae, d_out]`` and
``b_dec [d_out]``; `Architecture.parameter_shapes` lists what it adds. Arguments called ``sae``
are the `saewidgets.sae.SAE` module (this package cannot import it: the module imports the
registry). The training part uses torch only; ``cfg`` there is the trainer's ``TrainConfig``,
read by attribute name.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from torch import nn

from saewidgets.sae.errors import SAEConfigError

SHARED_PARAMETERS = ("W_enc", "W_dec", "b_dec")

# A reader's accessor for named tensors in a foreign state dict: the first name present wins,
# and a missing one is a clear format error raised by the reader.
Take = Callable[..., torch.Tensor]


# -- training-time parts --------------------------------------------------------------------------


@dataclass
class StepResult:
    """The terms of one training step, in the trainer's (input-scaled) space."""

    recon: torch.Tensor  # [batch, d_out] reconstruction
    fired: torch.Tensor  # [d_sae] bool: features active on some token of the batch
    l0: float  # mean number of active features per token
    sparsity: torch.Tensor  # the sparsity penalty, a 0-dim tensor (zero if there is none)
    aux: torch.Tensor  # auxiliary losses, a 0-dim tensor (zero if there are none)

    @classmethod
    def dense(
        cls,
        sae: nn.Module,
        features: torch.Tensor,
        *,
        sparsity: torch.Tensor | None = None,
        aux: torch.Tensor | None = None,
    ) -> StepResult:
        """Decode dense ``features [batch, d_sae]`` and count what fired."""
        zero = features.new_zeros(())
        active = features > 0
        return cls(
            recon=features @ sae.W_dec + sae.b_dec,
            fired=active.any(0),
            l0=float(active.sum(-1).float().mean()),
            sparsity=zero if sparsity is None else sparsity,
            aux=zero if aux is None else aux,
        )


class TrainingLoss:
    """The training-time part of an architecture: its loss terms and any state of its own.

    The trainer owns the data, optimiser, schedule, checkpoints and dead-feature counts. It
    calls `step` on every (input-scaled) batch, `after_step` after each optimiser step, and
    `finish` once before saving. The default trains the architecture's own encoder on the
    reconstruction error alone.
    """

    #: the reconstruction term: "mse" (mean squared error per dimension) or "fvu" (fraction of
    #: variance unexplained, against the batch mean)
    reconstruction: ClassVar[str] = "mse"

    def __init__(self, sae: nn.Module, cfg: Any) -> None:
        self.sae, self.cfg = sae, cfg

    def parameters(self) -> list[nn.Parameter]:
        """Trained tensors that are not SAE parameters (optimised and checkpointed too)."""
        return []

    def state(self) -> dict[str, torch.Tensor]:
        """Untrained tensors a checkpoint must keep to resume exactly."""
        return {}

    def load_state(self, tensors: Mapping[str, torch.Tensor]) -> None:
        """Restore what `state` returned (names an older checkpoint lacks are absent)."""

    def step(self, x: torch.Tensor, dead: torch.Tensor) -> StepResult:
        """The loss terms of batch ``x [batch, d_in]``. ``dead [d_sae]`` marks the features
        that have not fired for ``cfg.dead_after_tokens`` tokens."""
        sae = self.sae
        return StepResult.dense(sae, sae.arch.encode(sae, sae.center_input(x)))

    def after_step(self) -> None:
        """Runs after every optimiser step (e.g. renormalise the decoder)."""

    def finish(self) -> None:
        """Write what training learned outside the SAE's parameters into it (e.g. thresholds)."""


# -- the architecture ------------------------------------------------------------------------------


class Architecture:
    """One SAE architecture. Subclasses set `name`, implement `activate`, and override the rest
    only where they differ from a plain ``x @ W_enc + b_enc`` encoder."""

    #: the name ``SAE(..., architecture=name)`` takes
    name: ClassVar[str] = ""
    #: the SAE keyword options this architecture reads: "k" (features kept per token; required),
    #: "threshold" (initial threshold), "l1_coefficient" (recorded from training)
    options: ClassVar[tuple[str, ...]] = ()
    #: parameters in the units of the feature activations (biases, thresholds): they scale with
    #: a feature in `fold_decoder_norm` and divide by the factor in `fold_input_scale`
    feature_unit_parameters: ClassVar[tuple[str, ...]] = ("b_enc",)
    #: False where rescaling a feature changes which features fire (rank-based encoders)
    rescalable: ClassVar[bool] = True

    #: SAELens's name for it in cfg.json (None: SAELens has no such architecture; our own name
    #: is written and SAELens will refuse the file)
    saelens_name: ClassVar[str | None] = None
    #: SAELens's name for a transcoder of this architecture (default: `saelens_name`)
    saelens_transcoder_name: ClassVar[str | None] = None
    #: the cfg.json architecture names (SAELens) read as this architecture
    saelens_reads: ClassVar[tuple[str, ...]] = ()
    #: dictionary_learning ``dict_class`` names read as this architecture
    dictionary_learning_classes: ClassVar[tuple[str, ...]] = ()
    #: sparsify ``activation`` names read as this architecture
    sparsify_activations: ClassVar[tuple[str, ...]] = ()

    #: the training part (see `TrainingLoss`)
    training_loss: ClassVar[type[TrainingLoss]] = TrainingLoss

    def __repr__(self) -> str:
        return f"<architecture {self.name!r}>"

    # Architectures are stateless: copies of an SAE share the registered object.
    def __copy__(self) -> Architecture:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> Architecture:
        return self

    # -- construction ----------------------------------------------------------------------

    def validate(self, d_sae: int, options: Mapping[str, Any]) -> None:
        """Refuse options that do not describe a valid SAE of this architecture."""
        if "k" in self.options:
            k = options.get("k")
            if k is None:
                raise SAEConfigError(
                    f"architecture {self.name!r} needs k (features kept per token)"
                )
            if not isinstance(k, int) or isinstance(k, bool) or not 0 < k <= d_sae:
                raise SAEConfigError(f"k must be an integer in 1..d_sae={d_sae}, got {k!r}")

    def parameter_shapes(self, d_in: int, d_sae: int, d_out: int) -> dict[str, tuple[int, ...]]:
        """The parameters this architecture adds to ``W_enc``, ``W_dec`` and ``b_dec``."""
        return {"b_enc": (d_sae,)}

    def shapes(self, d_in: int, d_sae: int, d_out: int) -> dict[str, tuple[int, ...]]:
        """Every parameter's shape (what a file must hold, names included)."""
        return {
            "W_enc": (d_in, d_sae),
            "W_dec": (d_sae, d_out),
            "b_dec": (d_out,),
            **self.parameter_shapes(d_in, d_sae, d_out),
        }

    def initial_parameters(
        self, d_in: int, d_sae: int, d_out: int, options: Mapping[str, Any]
    ) -> dict[str, torch.Tensor]:
        """Initial values of the added parameters (float32; zeros unless overridden)."""
        return {n: torch.zeros(s) for n, s in self.parameter_shapes(d_in, d_sae, d_out).items()}

    # -- inference (``x`` is already normalised and, where the SAE does so, centred on b_dec) ---

    def pre_activations(self, sae: nn.Module, x: torch.Tensor) -> torch.Tensor:
        """Encoder pre-activations ``[..., d_sae]`` (what attribution differentiates)."""
        return x @ sae.W_enc + sae.b_enc

    def activate(self, sae: nn.Module, x: torch.Tensor, pre: torch.Tensor) -> torch.Tensor:
        """Feature activations from the pre-activations (``x`` for encoders that need it)."""
        raise NotImplementedError(f"architecture {self.name!r} does not define activate")

    def encode(self, sae: nn.Module, x: torch.Tensor) -> torch.Tensor:
        """Feature activations ``[..., d_sae]``."""
        return self.activate(sae, x, self.pre_activations(sae, x))

    # -- folding -----------------------------------------------------------------------------

    def fold_decoder_norm(self, sae: nn.Module, norms: torch.Tensor) -> None:
        """Scale the encoder side so each feature grows by its decoder row's norm ``norms``
        (the SAE then divides the rows); refused where that would change the function."""
        if not self.rescalable:
            raise SAEConfigError(
                f"fold_decoder_norm would change which features a {self.name} SAE keeps"
            )
        sae.W_enc.mul_(norms[None, :])
        for name in self.feature_unit_parameters:
            getattr(sae, name).mul_(norms)

    def fold_input_scale(self, sae: nn.Module, factor: float) -> None:
        """Make an SAE trained on ``factor · x`` read ``x``: every bias and threshold divides by
        the factor (feature activations shrink by it; the reconstruction is in raw scale)."""
        for name in (*self.feature_unit_parameters, "b_dec"):
            getattr(sae, name).div_(factor)

    # -- other tools' files ------------------------------------------------------------------

    def saelens_architecture(self, transcoder: bool) -> str:
        """The ``architecture`` written to cfg.json."""
        if transcoder and self.saelens_transcoder_name:
            return self.saelens_transcoder_name
        return self.saelens_name or self.name

    def saelens_fields(self, sae: nn.Module) -> dict[str, Any]:
        """Extra top-level cfg.json fields SAELens needs for this architecture."""
        return {}

    def saelens_tensors(self, tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Rename or convert a SAELens weights file's tensors to ours (in place is fine)."""
        return tensors

    def from_dictionary_learning(
        self, take: Take, trainer: Mapping[str, Any]
    ) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
        """Our tensors and SAE options from a dictionary_learning ``ae.pt`` state (read through
        ``take(*names)``) and its ``config.json`` ``trainer`` block."""
        raise NotImplementedError(f"architecture {self.name!r} has no dictionary_learning layout")

    # -- training ----------------------------------------------------------------------------

    def check_training(self, cfg: Any) -> None:
        """Refuse a training configuration this architecture cannot train with."""
        if "k" in self.options and not getattr(cfg, "k", None):
            raise SAEConfigError(f"{self.name} training needs k")

    def training_options(self, cfg: Any) -> dict[str, Any]:
        """SAE keyword options taken from the training configuration."""
        return {}

    def training(self, sae: nn.Module, cfg: Any) -> TrainingLoss:
        """The training part for ``sae``."""
        return self.training_loss(sae, cfg)


# -- helpers several architectures share ----------------------------------------------------------


def autoencoder_state(take: Take) -> dict[str, torch.Tensor]:
    """dictionary_learning's ``nn.Linear`` encoder/decoder state in our layout."""
    return {
        "W_enc": take("encoder.weight").T.contiguous(),
        "b_enc": take("encoder.bias"),
        "W_dec": take("decoder.weight").T.contiguous(),
        "b_dec": take("b_dec", "bias", "decoder_bias"),
    }


def threshold_from_log(tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Files that store ``log_threshold`` (some SAELens versions) hold ``threshold = exp``."""
    if "log_threshold" in tensors and "threshold" not in tensors:
        tensors["threshold"] = tensors.pop("log_threshold").exp()
    return tensors
