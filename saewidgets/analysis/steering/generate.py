"""Generation with edits at every step, through nnsight, with streaming and cancellation.

nnsight binds a plain intervention to the first forward pass (the prefill) only; the edits
here run inside ``tracer.iter[:]`` so they apply at every generated step. Step 0 sees every
prompt position, later steps one new position each. Which positions are edited:

- ``"prompt"``: prompt positions (not position 0, an attention sink that other positions
  read as a fixed anchor);
- ``"generated"``: the positions that produce new tokens (the last prompt position, then
  every generated one);
- ``"both"``: all of these.

Streaming and cancellation use a stopping criterion: HF calls it after every new token, so
it reports the token and ends the run when the cancel event is set.
"""

from __future__ import annotations

import threading
import warnings
from collections.abc import Callable, Sequence

import nnsight
import torch
from transformers import StoppingCriteria, StoppingCriteriaList

from saewidgets.analysis.steering.interventions import SitePlan, apply_edits


def edit_range(apply_to: str, step: int, length: int) -> tuple[int, int] | None:
    """Positions ``[start, stop)`` of a step's activations to edit (None: leave it alone).

    ``length`` is the step's sequence length (the prompt length at step 0, then 1).
    """
    if step == 0:
        if apply_to == "generated":
            return length - 1, length
        return (1, length) if length > 1 else None
    return None if apply_to == "prompt" else (0, length)


def teacher_forced_range(apply_to: str, prompt_len: int, total: int) -> tuple[int, int] | None:
    """The same positions as `edit_range` over a whole ``prompt + generated`` sequence."""
    start = prompt_len - 1 if apply_to == "generated" else 1
    stop = prompt_len if apply_to == "prompt" else total
    return (start, stop) if stop > start else None


def edit_value(value, plan: SitePlan, span: tuple[int, int] | None):
    """Edit positions ``span`` of a site's value in place (tuples: their first element)."""
    if span is None:
        return
    h = value[0] if isinstance(value, tuple) else value
    start, stop = span
    h[:, start:stop, :] = apply_edits(h[:, start:stop, :], plan.edits)


class TokenWatcher(StoppingCriteria):
    """Reports each new token to ``on_token`` and stops the run once ``cancel`` is set."""

    def __init__(
        self,
        prompt_len: int,
        on_token: Callable[[list[int]], None] | None,
        cancel: threading.Event | None,
    ) -> None:
        self.prompt_len = prompt_len
        self.on_token = on_token
        self.cancel = cancel
        self.cancelled = False

    def __call__(self, input_ids: torch.LongTensor, scores, **kwargs) -> torch.BoolTensor:
        stop = self.cancel is not None and self.cancel.is_set()
        if stop:
            self.cancelled = True
        elif self.on_token is not None:
            self.on_token(input_ids[0, self.prompt_len :].tolist())
        return torch.full((input_ids.shape[0],), stop, dtype=torch.bool, device=input_ids.device)


def generate(
    lm,
    input_ids: torch.Tensor,
    plans: Sequence[SitePlan],
    envoys: Sequence,
    apply_to: str,
    gen_kwargs: dict,
    remote,
    watcher: TokenWatcher | None,
) -> torch.Tensor:
    """Token ids ``[prompt + generated]`` of one steered generation."""
    kwargs = dict(gen_kwargs)
    if watcher is not None:
        kwargs["stopping_criteria"] = StoppingCriteriaList([watcher])
    steps = list(zip(plans, envoys, strict=True))
    attention_mask = torch.ones_like(input_ids)
    with warnings.catch_warnings():
        # An open iter[:] loop ends when generation stops; nnsight warns about that by design.
        warnings.filterwarnings("ignore", message=".*was never reached.*")
        return _generate_body(lm, input_ids, attention_mask, steps, apply_to, kwargs, remote)


def _generate_body(lm, input_ids, attention_mask, steps, apply_to, kwargs, remote):
    # Module level so nnsight parses it once; the open loop is followed by its own invoke, as
    # statements after an open loop in the same invoke never run.
    with lm.generate(remote=remote, **kwargs) as tracer:
        with tracer.invoke(input_ids, attention_mask=attention_mask):
            if steps:
                for step in tracer.iter[:]:
                    for plan, envoy in steps:
                        value = envoy.output if plan.attr == "output" else envoy.input
                        length = (value[0] if isinstance(value, tuple) else value).shape[1]
                        edit_value(value, plan, edit_range(apply_to, step, length))
        with tracer.invoke():
            ids = nnsight.save(tracer.result)
    return ids.detach().cpu()


def steered_forward(
    lm,
    input_ids: torch.Tensor,
    plans: Sequence[SitePlan],
    envoys: Sequence,
    span: tuple[int, int] | None,
    remote,
    first: int,
) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """One teacher-forced pass with the edits at ``span``: log-probabilities from position
    ``first`` on and each plan's edited site value from ``first + 1`` on (the generated
    tokens)."""
    steps = list(zip(plans, envoys, strict=True))
    attention_mask = torch.ones_like(input_ids)
    with torch.no_grad():
        return _forward_body(lm, input_ids, attention_mask, steps, span, remote, first)


def _forward_body(lm, input_ids, attention_mask, steps, span, remote, first):
    with lm.trace(input_ids, attention_mask=attention_mask, remote=remote):
        saved = nnsight.save([])
        for plan, envoy in steps:
            value = envoy.output if plan.attr == "output" else envoy.input
            edit_value(value, plan, span)
            h = value[0] if isinstance(value, tuple) else value
            saved.append(h[0, first + 1 :, :].clone())
        logprobs = nnsight.save(lm.output.logits[0, first:-1, :].float().log_softmax(-1))
    return logprobs.detach().cpu(), [v.detach().cpu() for v in saved]
