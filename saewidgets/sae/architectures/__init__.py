"""The registry of SAE architectures: one module per architecture, looked up by name.

``get("topk")`` returns the architecture object that `SAE`, the file readers and writer and
the trainer consult. A new architecture is a subclass of `Architecture` in one file plus
``register(MyArchitecture)``; nothing else in the package changes.
"""

from __future__ import annotations

from typing import TypeVar

from saewidgets.sae.architectures.base import Architecture, StepResult, TrainingLoss
from saewidgets.sae.architectures.batchtopk import BatchTopK
from saewidgets.sae.architectures.gated import Gated
from saewidgets.sae.architectures.jumprelu import JumpReLU
from saewidgets.sae.architectures.relu import ReLU
from saewidgets.sae.architectures.topk import TopK
from saewidgets.sae.errors import SAEConfigError

A = TypeVar("A", bound=Architecture | type[Architecture])

_REGISTRY: dict[str, Architecture] = {}


def register(architecture: A, *, replace: bool = False) -> A:
    """Make an architecture (an `Architecture` subclass or instance) available by its name.

    Usable as a class decorator. Registering another architecture under a taken name is an
    error unless ``replace=True``; registering the same class again is a no-op.
    """
    instance = architecture() if isinstance(architecture, type) else architecture
    if not isinstance(instance, Architecture):
        raise TypeError(f"register() needs an Architecture, got {type(instance).__name__}")
    name = instance.name
    if not isinstance(name, str) or not name:
        raise SAEConfigError(f"{type(instance).__name__} has no name; set the class's `name`")
    old = _REGISTRY.get(name)
    if old is not None and type(old) is not type(instance) and not replace:
        raise SAEConfigError(
            f"architecture {name!r} is already registered ({type(old).__name__}); "
            "pass replace=True to replace it"
        )
    _REGISTRY[name] = instance
    return architecture


def unregister(name: str) -> None:
    """Forget an architecture (SAEs already built with it keep working)."""
    _REGISTRY.pop(name, None)


def names() -> tuple[str, ...]:
    """Registered names, built-ins first, in registration order."""
    return tuple(_REGISTRY)


def registered() -> tuple[Architecture, ...]:
    return tuple(_REGISTRY.values())


def get(name: str) -> Architecture:
    """The architecture called ``name``; an unknown name lists the known ones."""
    found = _REGISTRY.get(name) if isinstance(name, str) else None
    if found is None:
        raise SAEConfigError(f"unknown architecture {name!r}; choose one of {', '.join(names())}")
    return found


def find(field: str, value: str) -> Architecture | None:
    """The architecture whose tuple attribute ``field`` (``saelens_reads``,
    ``dictionary_learning_classes``, ``sparsify_activations``) lists ``value``."""
    for arch in _REGISTRY.values():
        if value in getattr(arch, field):
            return arch
    return None


def known(field: str) -> list[str]:
    """Every value of ``field`` over the registered architectures, sorted (for messages)."""
    return sorted({v for arch in _REGISTRY.values() for v in getattr(arch, field)})


for _builtin in (ReLU, TopK, BatchTopK, JumpReLU, Gated):
    register(_builtin)

BUILTIN: tuple[str, ...] = names()

__all__ = [
    "BUILTIN",
    "Architecture",
    "StepResult",
    "TrainingLoss",
    "find",
    "get",
    "known",
    "names",
    "register",
    "registered",
    "unregister",
]
