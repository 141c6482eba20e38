"""What an attribution graph explains: top next-token logits, chosen tokens, a logit
difference, or one feature's pre-activation. Each target is a read vector at a read point."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from saewidgets.core.errors import SAEWidgetsError
from saewidgets.model.model import Model

# Read point of logit targets: the final norm's output, frozen scale.
FINAL = "final"


class TargetError(SAEWidgetsError, ValueError):
    """A target that cannot be attributed; the message says what is allowed."""


@dataclass
class Target:
    kind: str  # "logit", "logit_diff" or "feature"
    read: str  # FINAL or a read-site name
    pos: int
    vector: torch.Tensor  # [d_model], float32
    weight: float  # share of the graph's attention (probability for logits)
    label: str
    token_id: int = -1  # logit: the token; feature: -1
    other_id: int = -1  # logit_diff: the subtracted token
    site: str | None = None  # feature targets: write site name
    feature: int = -1
    prob: float = 0.0
    value: float = 0.0  # the target's value on the clean prompt


def single_token(model: Model, token: str | int) -> int:
    if isinstance(token, bool):
        raise TargetError(f"a target token must be a string or a token id, not {token!r}")
    if isinstance(token, int):
        if not 0 <= token < model.vocab_size:
            raise TargetError(
                f"token id {token} is outside the vocabulary 0..{model.vocab_size - 1}"
            )
        return token
    if not isinstance(token, str) or not token:
        raise TargetError(f"a target token must be a non-empty string or an id, not {token!r}")
    ids = model.tokenizer(token, add_special_tokens=False)["input_ids"]
    if len(ids) != 1:
        pieces = [model.tokenizer.decode([i]) for i in ids]
        raise TargetError(
            f"target {token!r} is {len(ids)} tokens {pieces}, not one; pass a single token "
            "(mind the leading space, e.g. ' Paris') or its id"
        )
    return int(ids[0])


def logit_targets(
    model: Model,
    logits: torch.Tensor,
    unembed: torch.Tensor,
    spec,
    pos: int,
    max_n_logits: int,
    desired_logit_prob: float,
) -> list[Target]:
    """Targets on the next-token logits at ``pos`` (``spec`` is None, a token, a list of tokens
    or a pair (A, B) for the logit difference A − B)."""
    probs = torch.softmax(logits.float(), dim=-1)
    mean_u = unembed.mean(dim=0)

    def text(tid: int) -> str:
        return model.tokenizer.decode([tid])

    def one(tid: int) -> Target:
        return Target(
            "logit",
            FINAL,
            pos,
            unembed[tid] - mean_u,
            float(probs[tid]),
            text(tid),
            token_id=tid,
            prob=float(probs[tid]),
        )

    if spec is None:
        if not 0 < desired_logit_prob <= 1:
            raise TargetError(f"desired_logit_prob must be in (0, 1], got {desired_logit_prob}")
        if not isinstance(max_n_logits, int) or max_n_logits < 1:
            raise TargetError(f"max_n_logits must be a positive integer, got {max_n_logits!r}")
        top = torch.topk(probs, max_n_logits)
        cum = torch.cumsum(top.values, 0)
        n = int((cum < desired_logit_prob).sum()) + 1
        return [one(int(t)) for t in top.indices[: min(n, max_n_logits)]]
    if isinstance(spec, tuple) and len(spec) == 2:
        a, b = single_token(model, spec[0]), single_token(model, spec[1])
        if a == b:
            raise TargetError("a logit difference needs two different tokens")
        return [
            Target(
                "logit_diff",
                FINAL,
                pos,
                unembed[a] - unembed[b],
                1.0,
                f"{text(a)} − {text(b)}",
                token_id=a,
                other_id=b,
                prob=float(probs[a]),
            )
        ]
    tokens = spec if isinstance(spec, list) else [spec]
    if not tokens:
        raise TargetError("the list of target tokens is empty")
    ids = list(dict.fromkeys(single_token(model, t) for t in tokens))
    return [one(t) for t in ids]
