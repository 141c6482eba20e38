"""`sw.steer`: generate with feature interventions, stream the tokens, measure the effect.

Measures (after generation, one teacher-forced pass with the edits and one without):

- ``activation``: the steered feature's activation on the generated tokens (read after the
  edits, encoded by the intervention's SAE; NaN for an ablated feature, zero by construction);
- ``vocab_shift``: how much more probability the steered model gives to the feature's
  VocabProj tokens (the ten its decoder direction promotes most) than the unsteered model,
  averaged over the generated positions of the steered text;
- ``perplexity``: of the generated tokens under the unsteered model (fluency).
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import nnsight
import numpy as np
import pandas as pd
import torch

from saewidgets.analysis.logit_lens import logit_directions
from saewidgets.analysis.stats import FeatureStats
from saewidgets.analysis.steering import generate as gen
from saewidgets.analysis.steering.interventions import (
    APPLY_TO,
    Intervention,
    SteeringError,
    as_list,
    compile_edits,
    feature_unit,
    stats_for,
)
from saewidgets.model.model import Model, _remote_error

MAX_NEW_TOKENS = 512
N_VOCAB_TOKENS = 10

StatsArg = FeatureStats | Sequence[FeatureStats] | Mapping[str, FeatureStats] | None


@dataclass
class SteeringResult:
    """One generation: the text, its tokens, and the measures of every intervention.

    ``features`` has one row per intervention: site, feature, mode, strength, ``unit`` (the
    activation value of strength 1, or NaN when the strength is relative to ‖x‖),
    ``activation`` (mean on the generated tokens), ``activation_max`` and ``vocab_shift``.
    """

    prompt: str
    text: str
    prompt_ids: list[int]
    token_ids: list[int]
    interventions: list[Intervention]
    apply_to: str
    cancelled: bool
    seconds: float
    first_token_seconds: float | None
    perplexity: float | None = None
    features: pd.DataFrame = field(default_factory=pd.DataFrame)

    @property
    def n_tokens(self) -> int:
        return len(self.token_ids)

    @property
    def tokens_per_second(self) -> float:
        return self.n_tokens / self.seconds if self.seconds > 0 else float("nan")

    def __repr__(self) -> str:
        flags = " (cancelled)" if self.cancelled else ""
        ppl = f", perplexity {self.perplexity:.2f}" if self.perplexity is not None else ""
        return (
            f"SteeringResult({len(self.interventions)} interventions, {self.n_tokens} tokens"
            f"{ppl}{flags}): {self.text!r}"
        )


class _Text:
    """Text of the generated ids so far; holds back a trailing partial UTF-8 character."""

    def __init__(self, tokenizer) -> None:
        self.tokenizer = tokenizer
        self.text = ""

    def update(self, ids: list[int]) -> str:
        text = self.tokenizer.decode(ids, skip_special_tokens=True)
        if not text.endswith("\ufffd"):
            self.text = text
        return self.text


def prompt_ids(model: Model, prompt: str, chat: bool) -> list[int]:
    if not isinstance(prompt, str) or not prompt.strip():
        raise SteeringError("the prompt is empty; type a prompt to continue")
    if not chat:
        return model.encode(prompt)
    tokenizer = model.tokenizer
    if not getattr(tokenizer, "chat_template", None):
        raise SteeringError(f"{model.name} has no chat template; use chat=False")
    text = tokenizer.apply_chat_template(
        [{"role": "user", "content": prompt}], tokenize=False, add_generation_prompt=True
    )
    return list(tokenizer(text, add_special_tokens=False)["input_ids"])


def _check_settings(model: Model, n_prompt: int, max_new_tokens, temperature, apply_to) -> None:
    if isinstance(max_new_tokens, bool) or not isinstance(max_new_tokens, (int, np.integer)):
        raise SteeringError(f"max_new_tokens must be an integer, got {max_new_tokens!r}")
    if not 1 <= max_new_tokens <= MAX_NEW_TOKENS:
        raise SteeringError(f"max_new_tokens must be 1..{MAX_NEW_TOKENS}, got {max_new_tokens}")
    if n_prompt + max_new_tokens > model.context_length:
        raise SteeringError(
            f"the prompt ({n_prompt} tokens) plus {max_new_tokens} new tokens exceeds the "
            f"model's context of {model.context_length} tokens"
        )
    if not isinstance(temperature, (int, float)) or not 0 <= temperature <= 5:
        raise SteeringError(f"temperature must be 0 (greedy) to 5, got {temperature!r}")
    if apply_to not in APPLY_TO:
        raise SteeringError(f"apply_to {apply_to!r} is not one of {', '.join(APPLY_TO)}")


def steer(
    model: Model,
    prompt: str,
    interventions: Intervention | Iterable[Intervention] | None = (),
    *,
    stats: StatsArg = None,
    max_new_tokens: int = 40,
    temperature: float = 0.0,
    seed: int | None = 0,
    apply_to: str = "both",
    chat: bool = False,
    measure: bool = True,
    on_token: Callable[[str, list[int]], None] | None = None,
    cancel: threading.Event | None = None,
    generate_kwargs: dict | None = None,
) -> SteeringResult:
    """Generate a continuation of ``prompt`` with ``interventions`` applied at every step.

    - ``temperature`` 0 is greedy; above 0 samples, reproducibly for a given ``seed``.
    - ``apply_to``: "both" (prompt and generated positions), "prompt" or "generated".
    - ``chat=True`` wraps the prompt in the tokenizer's chat template (instruct models).
    - ``stats``: `FeatureStats` (one, a list, or ``{site: stats}``) make strengths multiples
      of each feature's max activation; without them strengths are multiples of ‖x‖.
    - ``on_token(text, ids)`` is called after every new token with the text so far;
      setting ``cancel`` stops the run after the current token (the result says so).
    - A model loaded with ``remote=True`` runs the same edits on NDIF (no streaming there:
      ``on_token`` is called once at the end).

    Exceptions raised mid-generation (including from ``on_token``) propagate; the model is left
    without edits either way.
    """
    items = as_list(interventions)
    ids = prompt_ids(model, prompt, chat)
    _check_settings(model, len(ids), max_new_tokens, temperature, apply_to)
    plans = compile_edits(model, items, stats)
    envoys = [model.envoy(plan.module) for plan in plans]
    kwargs = {"max_new_tokens": int(max_new_tokens), "pad_token_id": model.tokenizer.pad_token_id}
    if temperature > 0:
        kwargs.update(do_sample=True, temperature=float(temperature), top_p=1.0, top_k=0)
    else:
        kwargs.update(do_sample=False, temperature=None, top_p=None, top_k=None)
    kwargs.update(generate_kwargs or {})

    text = _Text(model.tokenizer)
    first_token: list[float] = []
    start = time.perf_counter()

    def report(new_ids: list[int]) -> None:
        if not first_token:
            first_token.append(time.perf_counter() - start)
        if on_token is not None:
            on_token(text.update(new_ids), new_ids)

    local = model.remote is False
    if not local:
        _ship_by_value()
    watcher = gen.TokenWatcher(len(ids), report, cancel) if local else None
    input_ids = torch.tensor([ids], device=model.device if local else "cpu")
    with model.generation_lock:
        if seed is not None:
            torch.manual_seed(int(seed))
        try:
            out = gen.generate(
                model.nnsight, input_ids, plans, envoys, apply_to, kwargs, model.remote, watcher
            )
        except Exception as error:
            if model.remote is True:
                raise _remote_error(error) from error
            raise
        seconds = time.perf_counter() - start
        new_ids = out[0, len(ids) :].tolist()
        eos = model.tokenizer.eos_token_id
        if eos is not None and eos in new_ids:
            new_ids = new_ids[: new_ids.index(eos)]
        final = text.update(new_ids)
        if not local and on_token is not None:
            on_token(final, new_ids)
        result = SteeringResult(
            prompt=prompt,
            text=model.tokenizer.decode(new_ids, skip_special_tokens=True),
            prompt_ids=ids,
            token_ids=new_ids,
            interventions=items,
            apply_to=apply_to,
            cancelled=bool(watcher and watcher.cancelled),
            seconds=seconds,
            first_token_seconds=first_token[0] if first_token else None,
        )
        if measure:
            _measure(model, result, plans, envoys, stats)
    return result


def _ship_by_value() -> None:
    # The edits call this package's code inside the trace; NDIF does not have the package
    # installed, so its code travels with the request (by value, as nnsight documents).
    nnsight.register("saewidgets")


def vocab_tokens(model: Model, item: Intervention, stats: FeatureStats | None) -> list[int]:
    """The tokens the feature's decoder direction promotes most (VocabProj)."""
    if stats is not None:
        return [int(t) for t in stats.vocab_top_ids[item.feature][:N_VOCAB_TOKENS]]
    logits = logit_directions(model, item.sae.W_dec[item.feature][None])[0]
    return torch.topk(logits, N_VOCAB_TOKENS).indices.tolist()


def _measure(model: Model, result: SteeringResult, plans, envoys, stats: StatsArg) -> None:
    """Fill in perplexity and the per-feature measures (see the module docstring)."""
    ids, new = result.prompt_ids, result.token_ids
    rows = []
    if new:
        full = torch.tensor([ids + new], device=model.device if model.remote is False else "cpu")
        first = len(ids) - 1
        span = gen.teacher_forced_range(result.apply_to, len(ids), full.shape[1])
        try:  # steer() holds the generation lock around this
            steered_lp, values = gen.steered_forward(
                model.nnsight, full, plans, envoys, span, model.remote, first
            )
            plain_lp, _ = gen.steered_forward(
                model.nnsight, full, [], [], None, model.remote, first
            )
        except Exception as error:
            if model.remote is True:
                raise _remote_error(error) from error
            raise
        targets = torch.tensor(new)[:, None]
        nll = -plain_lp.gather(1, targets).mean()
        result.perplexity = float(torch.exp(nll))
        site_values = {plan.site: v for plan, v in zip(plans, values, strict=True)}
    for item in result.interventions:
        item_stats = stats_for(stats, item)
        unit = feature_unit(item_stats, item.feature)
        row = {
            "site": item.site,
            "feature": item.feature,
            "mode": item.mode,
            "strength": item.strength,
            "unit": unit if unit is not None else math.nan,
            "activation": math.nan,
            "activation_max": math.nan,
            "vocab_shift": math.nan,
        }
        if new:
            # An ablated feature is zero where it was edited by construction; re-encoding the
            # edited stream would report encoder leakage as if it were the feature.
            if item.mode != "ablate":
                h = site_values[item.site]
                with torch.no_grad():
                    acts = item.sae.encode(h.to(item.sae.device))[:, item.feature].float().cpu()
                row["activation"] = float(acts.mean())
                row["activation_max"] = float(acts.max())
            tokens = torch.tensor(vocab_tokens(model, item, item_stats))
            gain = steered_lp[:, tokens].exp().sum(1) - plain_lp[:, tokens].exp().sum(1)
            row["vocab_shift"] = float(gain.mean())
        rows.append(row)
    result.features = pd.DataFrame(rows)


@dataclass
class SweepResult:
    """Concept against fluency over strengths of one intervention (`steering_sweep`)."""

    intervention: Intervention
    table: pd.DataFrame  # strength, activation, vocab_shift, perplexity, text

    def plot(self):
        """A plotly figure: VocabProj probability gain and perplexity against strength."""
        import plotly.graph_objects as go
        from plotly.subplots import make_subplots

        from saewidgets.core.plotting import themed

        t = self.table
        fig = make_subplots(specs=[[{"secondary_y": True}]])
        fig.add_trace(
            go.Scatter(x=t.strength, y=t.vocab_shift, name="concept: VocabProj gain"),
            secondary_y=False,
        )
        fig.add_trace(
            go.Scatter(x=t.strength, y=t.perplexity, name="fluency: perplexity", line_dash="dot"),
            secondary_y=True,
        )
        item = self.intervention
        fig.update_layout(
            title=f"feature {item.feature} at {item.site} ({item.mode})",
            xaxis_title="strength",
            height=320,
            margin={"l": 50, "r": 50, "t": 40, "b": 40},
        )
        fig.update_yaxes(title_text="probability gain", secondary_y=False)
        fig.update_yaxes(title_text="perplexity", type="log", secondary_y=True)
        return themed(fig)


def steering_sweep(
    model: Model,
    prompt: str,
    intervention: Intervention,
    strengths: Sequence[float] = (-8, -4, -2, 0, 2, 4, 8),
    *,
    max_new_tokens: int = 24,
    progress: bool = True,
    cancel: threading.Event | None = None,
    **steer_kwargs,
) -> SweepResult:
    """`steer` at each strength (other settings as in `steer`): where does the concept rise
    and the text stop being fluent?"""
    from tqdm.auto import tqdm

    if not isinstance(intervention, Intervention):
        raise TypeError(f"steering_sweep takes one sw.Intervention, got {type(intervention)}")
    strengths = [float(s) for s in strengths]
    if not strengths:
        raise SteeringError("give at least one strength to sweep")
    rows = []
    for strength in tqdm(strengths, desc="sweep", disable=not progress, leave=False):
        if cancel is not None and cancel.is_set():
            break
        result = steer(
            model,
            prompt,
            intervention.with_strength(strength),
            max_new_tokens=max_new_tokens,
            cancel=cancel,
            **steer_kwargs,
        )
        row = result.features.iloc[0].to_dict()
        rows.append(
            {
                "strength": strength,
                "activation": row["activation"],
                "vocab_shift": row["vocab_shift"],
                "perplexity": result.perplexity if result.perplexity is not None else math.nan,
                "text": result.text,
            }
        )
    return SweepResult(intervention, pd.DataFrame(rows))
