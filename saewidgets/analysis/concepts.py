"""`sw.features_for_words`: which features stand for a concept given as a few words.

Two readings, no corpus needed:

- output: a feature whose decoder direction, passed through the final norm and the
  unembedding, raises the words far above the rest of the vocabulary (z-scores over the
  vocabulary, so large decoder norms do not win by size) writes the concept; late sites.
- input: a feature that fires on the words (read as a comma-separated list) much more than on
  a list of everyday control words reads the concept; early and middle sites, where decoder
  directions do not yet map onto output tokens.

``side="both"`` ranks by the mean of the two ranks.
"""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd
import torch

from saewidgets.analysis.logit_lens import logit_directions
from saewidgets.model.model import Model
from saewidgets.model.tokens import TokenDecoder
from saewidgets.sae.module import SAE

_BLOCK = 512  # features per matmul: the [block, vocab] logits stay small
# Everyday words with no shared topic: what a concept feature should not fire on.
_CONTROL = (
    "table, number, morning, yellow, quickly, paper, window, answer, small, idea, open, "
    "chair, week, because, green, people, letter, often, corner, heavy, simple, door, "
    "minute, under, friend, bright, question, slowly, piece, button, later, circle"
)
SIDES = ("both", "input", "output")


def word_tokens(model: Model, words: Iterable[str]) -> list[int]:
    """Token ids of the words that are one token as written, after a space, or capitalised."""
    ids: set[int] = set()
    for word in words:
        for variant in (word, " " + word, " " + word.capitalize(), word.capitalize()):
            pieces = model.tokenizer(variant, add_special_tokens=False)["input_ids"]
            if len(pieces) == 1:
                ids.add(int(pieces[0]))
    return sorted(ids)


def _input_scores(model: Model, sae: SAE, word_list: list[str]) -> torch.Tensor:
    """Per feature: mean activation over the words minus over the control words, divided by
    the larger of the two maxima (so it lies in [-1, 1])."""
    from saewidgets.analysis.trace import trace

    tr = trace(model, [", ".join(word_list), _CONTROL], sae, content_only=True)
    # position 0 (an attention sink, zeroed by content_only) is left out of both means
    concept, control = (torch.as_tensor(tr.dense(doc=i))[1:].float() for i in (0, 1))
    top = torch.maximum(concept.max(0).values, control.max(0).values).clamp_min(1e-6)
    return (concept.mean(0) - control.mean(0)) / top


def _output_scores(model: Model, sae: SAE, word_list: list[str]) -> torch.Tensor:
    tokens = torch.tensor(word_tokens(model, word_list))
    if len(tokens) == 0:
        raise ValueError(
            f"none of {word_list[:5]} is a single token of this model's vocabulary; "
            "pass common whole words"
        )
    scores = []
    w_dec = sae.W_dec.detach()
    for start in range(0, sae.d_sae, _BLOCK):
        logits = logit_directions(model, w_dec[start : start + _BLOCK])
        z = (logits - logits.mean(1, keepdim=True)) / logits.std(1, keepdim=True).clamp_min(1e-8)
        scores.append(z[:, tokens].mean(1))
    return torch.cat(scores)


def _ranks(score: torch.Tensor) -> torch.Tensor:
    order = torch.argsort(score, descending=True)
    ranks = torch.empty_like(order)
    ranks[order] = torch.arange(len(score))
    return ranks.float()


def features_for_words(
    model: Model, sae: SAE, words: str | Iterable[str], *, k: int = 10, side: str = "both"
) -> pd.DataFrame:
    """The ``k`` features of ``sae`` that best stand for ``words`` (a string of space-separated
    words, or a list); ``side``: "input" (fires on the words), "output" (its decoder direction
    raises them) or "both" (see the module). Columns: feature, input_score, output_score,
    promotes (the feature's five strongest output tokens, for a look)."""
    word_list = words.split() if isinstance(words, str) else [str(w) for w in words]
    if not word_list:
        raise ValueError("words is empty; pass words such as 'food meal bread'")
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ValueError(f"k must be a positive integer, got {k!r}")
    if side not in SIDES:
        raise ValueError(f"side must be one of {SIDES}, got {side!r}")
    out_score = _output_scores(model, sae, word_list)
    in_score = _input_scores(model, sae, word_list)
    rank = {
        "input": _ranks(in_score),
        "output": _ranks(out_score),
        "both": (_ranks(in_score) + _ranks(out_score)) / 2,
    }[side]
    chosen = torch.argsort(rank)[: min(k, sae.d_sae)]
    decoder = TokenDecoder(model.tokenizer)
    promotes = torch.topk(logit_directions(model, sae.W_dec.detach()[chosen]), 5, dim=1).indices
    return pd.DataFrame(
        {
            "feature": chosen.tolist(),
            "input_score": [round(float(in_score[f]), 3) for f in chosen],
            "output_score": [round(float(out_score[f]), 3) for f in chosen],
            "promotes": [" ".join(decoder.texts(row.tolist())) for row in promotes],
        }
    )
