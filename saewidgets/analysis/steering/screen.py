"""`sw.find_steering_features`: which feature, steered, makes the model talk about a concept.

A feature that fires on "bread" or whose decoder direction promotes " bread" is not always one
that turns a continuation to food when added: many such directions only nudge the next token,
or wreck fluency first. So candidates are checked the way they will be used. For each SAE:

1. Candidates: the best ``candidates`` of `features_for_words` on each side (fires on the
   words; writes the words), pooled.
2. Screen: every candidate is added (``strength`` × ‖x‖ at every position but the first, as
   `steer` does without statistics) while the model continues a few neutral prompts, greedily.
   All candidates of one prompt and strength run as one batch, one row per feature, through
   the same nnsight generation path as `steer`.
3. Each continuation counts as on topic when it contains one of the words (whole words,
   case-insensitive); fluency is its perplexity under the unsteered model divided by the
   unsteered continuation's.

Each feature keeps its best strength: the most prompts on topic within the perplexity bound
(ties: the lower perplexity). The table is ranked the same way; features that never stay
within the bound come last.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import pandas as pd
import torch

from saewidgets.analysis.concepts import features_for_words
from saewidgets.analysis.sae_inputs import SAEInput, saes_by_site
from saewidgets.analysis.steering import generate as gen
from saewidgets.analysis.steering.interventions import (
    Edit,
    SitePlan,
    SteeringError,
    check_steerable,
)
from saewidgets.model.model import Model
from saewidgets.sae.module import SAE

# Neutral openers with no topic of their own; a user's own prompts replace them.
DEFAULT_PROMPTS = (
    "Let me tell you about my day.",
    "The plan for tomorrow is simple:",
    "Yesterday afternoon I went out and",
    "Let me explain what happened next.",
    "There is one thing everyone should know:",
    "It started on an ordinary Tuesday when",
)
DEFAULT_STRENGTHS = (0.3, 0.45, 0.6)


@dataclass
class _Screen:
    """Per candidate and strength: prompts on topic and mean perplexity ratio."""

    hits: torch.Tensor  # [n_strengths, n_features]
    ratio: torch.Tensor  # [n_strengths, n_features]
    examples: list[list[str]]  # [n_strengths][n_features], the first prompt's continuation


def words_in(text: str, words: set[str]) -> bool:
    """Whether ``text`` contains one of ``words`` as a whole word (case-insensitive)."""
    return any(w in words for w in re.findall(r"[a-z0-9]+", text.lower()))


def _check(words, prompts, strengths, candidates, new_tokens, max_ratio, batch_size):
    word_list = words.split() if isinstance(words, str) else [str(w) for w in words]
    if not word_list:
        raise ValueError("words is empty; pass words such as 'food meal bread'")
    prompt_list = list(DEFAULT_PROMPTS if prompts is None else prompts)
    if not prompt_list or not all(isinstance(p, str) and p.strip() for p in prompt_list):
        raise ValueError("prompts must be a non-empty list of non-empty strings")
    strength_list = [float(s) for s in strengths]
    if not strength_list or any(not s > 0 for s in strength_list):
        raise ValueError(f"strengths must be positive numbers, got {list(strengths)!r}")
    for name, value in (
        ("candidates", candidates),
        ("new_tokens", new_tokens),
        ("batch_size", batch_size),
    ):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    if not max_ratio > 0:
        raise ValueError(f"max_perplexity_ratio must be positive, got {max_ratio!r}")
    return word_list, prompt_list, strength_list


def find_steering_features(
    model: Model,
    saes: SAEInput,
    words: str | Iterable[str],
    *,
    prompts: Sequence[str] | None = None,
    strengths: Sequence[float] = DEFAULT_STRENGTHS,
    candidates: int = 32,
    new_tokens: int = 24,
    max_perplexity_ratio: float = 2.0,
    batch_size: int = 64,
) -> pd.DataFrame:
    """Features of ``saes`` that, added while the model writes, turn its text to ``words``.

    ``words``: the concept as space-separated words (or a list); a continuation counts as on
    topic when it contains one of them. ``prompts``: neutral openers to continue (a built-in
    six by default); ``strengths``: multiples of ‖x‖ to try; ``candidates``: features taken
    from each side of `features_for_words` per SAE. Columns: site, feature, strength (× ‖x‖),
    on_topic (share of prompts), perplexity_ratio (mean over prompts), fluent (within
    ``max_perplexity_ratio``), example (the first prompt's continuation). Best first; use a
    row as ``sw.Intervention(sae, row.feature, row.strength)``.

    Cost: (candidates pooled) × strengths × prompts continuations of ``new_tokens``, run
    ``batch_size`` at a time — 2 to 4 minutes per SAE with the defaults on two CPU cores.
    """
    word_list, prompt_list, strength_list = _check(
        words, prompts, strengths, candidates, new_tokens, max_perplexity_ratio, batch_size
    )
    if model.remote is not False:
        raise SteeringError(
            "find_steering_features runs hundreds of batched generations and needs the model "
            "here; load it with remote=False"
        )
    keywords = {w.lower() for w in word_list}
    tables = []
    for site, sae in saes_by_site(saes, model).items():
        pool = _pool(model, sae, word_list, candidates)
        screen = _screen(
            model, sae, site, pool, prompt_list, strength_list, keywords, new_tokens, batch_size
        )
        tables.append(
            _best_rows(site, pool, strength_list, screen, len(prompt_list), max_perplexity_ratio)
        )
    table = pd.concat(tables, ignore_index=True)
    order = table.sort_values(
        ["fluent", "on_topic", "perplexity_ratio"], ascending=[False, False, True]
    )
    return order.reset_index(drop=True)


def _pool(model: Model, sae: SAE, words: list[str], k: int) -> list[int]:
    pool: set[int] = set()
    for side in ("output", "input"):
        pool |= set(features_for_words(model, sae, words, k=k, side=side).feature.tolist())
    return sorted(pool)


def _directions(sae: SAE, pool: list[int], device, dtype) -> torch.Tensor:
    check_steerable(sae)
    rows = sae.W_dec.detach().float()[pool]
    # Unit directions: a global input scale of the SAE cancels out.
    return (rows / rows.norm(dim=1, keepdim=True).clamp_min(1e-12)).to(device=device, dtype=dtype)


def _screen(model, sae, site, pool, prompts, strengths, keywords, new_tokens, batch_size):
    from tqdm.auto import tqdm

    where = model.site(site)
    envoy = model.envoy(where.module)
    dirs = _directions(sae, pool, model.device, model.dtype)
    hits = torch.zeros(len(strengths), len(pool))
    ratio = torch.zeros(len(strengths), len(pool))
    examples: list[list[str]] = [[""] * len(pool) for _ in strengths]
    kwargs = {
        "max_new_tokens": int(new_tokens),
        "do_sample": False,
        "temperature": None,
        "top_p": None,
        "top_k": None,
        "pad_token_id": model.tokenizer.pad_token_id,
    }
    with model.generation_lock:
        for p, prompt in enumerate(prompts):
            ids = torch.tensor([model.encode(prompt)], device=model.device)
            base = gen.generate(model.nnsight, ids, [], [], "both", kwargs, False, None)
            base_nll = _continuation_nll(model, base, ids.shape[1])[0]
            steps = tqdm(
                list(enumerate(strengths)),
                desc=f"{site}, prompt {p + 1}/{len(prompts)}",
                leave=False,
            )
            for i, strength in steps:
                for start in range(0, len(pool), batch_size):
                    block = dirs[start : start + batch_size]
                    edit = Edit(sae=sae, add_rel=strength * block[:, None, :])
                    plan = SitePlan(site, where.module, where.attr, [edit])
                    batch = ids.expand(len(block), -1)
                    out = gen.generate(
                        model.nnsight, batch, [plan], [envoy], "both", kwargs, False, None
                    )
                    nll = _continuation_nll(model, out, ids.shape[1])
                    texts = _texts(model, out, ids.shape[1])
                    stop = start + len(block)
                    hits[i, start:stop] += torch.tensor(
                        [float(words_in(t, keywords)) for t in texts]
                    )
                    ratio[i, start:stop] += (nll - base_nll).exp() / len(prompts)
                    if p == 0:
                        examples[i][start:stop] = texts
    return _Screen(hits, ratio, examples)


def _new_ids(model: Model, row: torch.Tensor) -> list[int]:
    new = row.tolist()
    eos = model.tokenizer.eos_token_id
    return new[: new.index(eos)] if eos is not None and eos in new else new


def _texts(model: Model, out: torch.Tensor, prompt_len: int) -> list[str]:
    return [
        model.tokenizer.decode(_new_ids(model, row), skip_special_tokens=True)
        for row in out[:, prompt_len:]
    ]


def _continuation_nll(model: Model, out: torch.Tensor, prompt_len: int) -> torch.Tensor:
    """Mean negative log-likelihood per row of the generated tokens (up to the end-of-text
    token) under the unsteered model."""
    eos = model.tokenizer.eos_token_id
    new = out[:, prompt_len:]
    keep = torch.ones_like(new, dtype=torch.bool)
    if eos is not None:
        ended = (new == eos).int().cumsum(1) > 0
        keep = ~ended
    keep[:, 0] = True  # an empty continuation still scores its first token
    with torch.no_grad():
        logits = model.hf_model(out.to(model.device)).logits[:, prompt_len - 1 : -1]
    logprobs = logits.float().log_softmax(-1).cpu()
    token_lp = logprobs.gather(2, new.cpu()[..., None])[..., 0]
    return -(token_lp * keep).sum(1) / keep.sum(1)


def _best_rows(site, pool, strengths, screen: _Screen, n_prompts, max_ratio) -> pd.DataFrame:
    rows = []
    for j, feature in enumerate(pool):
        options = [
            (
                float(screen.ratio[i, j]) <= max_ratio,
                float(screen.hits[i, j]),
                -float(screen.ratio[i, j]),
                i,
            )
            for i in range(len(strengths))
        ]
        fluent, hits, neg_ratio, i = max(options)
        rows.append(
            {
                "site": site,
                "feature": int(feature),
                "strength": strengths[i],
                "on_topic": round(hits / n_prompts, 3),
                "perplexity_ratio": round(-neg_ratio, 3),
                "fluent": fluent,
                "example": screen.examples[i][j],
            }
        )
    return pd.DataFrame(rows)


__all__ = ["find_steering_features", "words_in"]
