"""Offline feature labels: what the text says where a feature fires, no external model needed.

For every feature at once, the tokens (and token bigrams) at its activations are counted and
ranked by smoothed log-odds against their frequency in the same corpus sample, so a label names
what is *special* about the feature's contexts, not just common words. The label is then scored
on held-out windows: how well "the token (bigram) is one of the label's" predicts "the feature
fires" (F1). Windows with even index build labels, odd ones score them.

Users can attach their own labels (persisted per SAE in the user cache) or plug in an explainer
callable, e.g. one that asks an LLM, which receives the feature's top examples as text.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from saewidgets.cache import cache_dir
from saewidgets.stats import FeatureStats

LABEL_TOKENS = 3
SMOOTHING = 0.5


@dataclass
class Labels:
    """Automatic labels with scores, plus user labels that override them."""

    auto: list[str]
    score: np.ndarray  # F1 of the label's tokens predicting activation on held-out windows
    user: dict[int, str]
    path: Path | None = None

    def __getitem__(self, feature: int) -> str:
        return self.user.get(int(feature), self.auto[int(feature)])

    def as_dict(self) -> dict[int, str]:
        return {f: self[f] for f in range(len(self.auto)) if self[f]}

    def set(self, feature: int, label: str) -> None:
        """Attach your own label (saved at once; an empty string removes it)."""
        if not 0 <= int(feature) < len(self.auto):
            raise IndexError(f"feature {feature} is out of range: 0..{len(self.auto) - 1}")
        if not isinstance(label, str):
            raise TypeError(f"a label must be a string, got {type(label).__name__}")
        if label:
            self.user[int(feature)] = label
        else:
            self.user.pop(int(feature), None)
        if self.path is not None:
            self.path.write_text(json.dumps({str(k): v for k, v in self.user.items()}, indent=1))


def _keys(stats: FeatureStats, bigrams: bool) -> tuple[np.ndarray, np.ndarray, int]:
    """Per flat token position: a key for its token (or bigram) and the window it belongs to."""
    ids = stats.token_ids.astype(np.int64)
    n_windows, context = ids.shape
    vocab = int(ids.max()) + 1
    if bigrams:
        prev = np.concatenate([np.full((n_windows, 1), -1), ids[:, :-1]], axis=1)
        keys = np.where(prev >= 0, prev * vocab + ids, -1).reshape(-1)
    else:
        keys = ids.reshape(-1)
    windows = np.repeat(np.arange(n_windows), context)
    return keys, windows, vocab


def _label_sets(stats: FeatureStats, keys: np.ndarray, windows: np.ndarray, fit: np.ndarray):
    """Top keys per feature by log-odds, from the fitting windows; vectorised over features."""
    rows = np.repeat(np.arange(len(stats.indptr) - 1), np.diff(stats.indptr))
    feats = stats.indices.astype(np.int64)
    use = fit[windows[rows]] & (keys[rows] >= 0)
    hit_keys, hit_feats = keys[rows[use]], feats[use]
    background = keys[fit[windows] & (keys >= 0)]
    uniq, inverse = np.unique(np.concatenate([background, hit_keys]), return_inverse=True)
    bg_counts = np.bincount(inverse[: len(background)], minlength=len(uniq)).astype(np.float64)
    key_idx = inverse[len(background) :]
    pair, pair_counts = np.unique(hit_feats * len(uniq) + key_idx, return_counts=True)
    pf, pk = pair // len(uniq), pair % len(uniq)
    n_f = np.bincount(hit_feats, minlength=stats.d_sae).astype(np.float64)
    total = bg_counts.sum()
    v = len(uniq)
    log_odds = np.log((pair_counts + SMOOTHING) / (n_f[pf] + SMOOTHING * v)) - np.log(
        (bg_counts[pk] + SMOOTHING) / (total + SMOOTHING * v)
    )
    # Ignore one-off coincidences: a label key must recur.
    log_odds[pair_counts < 2] = -np.inf
    order = np.lexsort((-log_odds, pf))
    pf, pk, lo = pf[order], pk[order], log_odds[order]
    starts = np.searchsorted(pf, np.arange(stats.d_sae))
    rank = np.arange(len(pf)) - starts[pf]
    keep = (rank < LABEL_TOKENS) & np.isfinite(lo) & (lo > 0)
    sets: list[list[int]] = [[] for _ in range(stats.d_sae)]
    for f, k in zip(pf[keep], uniq[pk[keep]], strict=True):
        sets[f].append(int(k))
    return sets


def _f1(stats, keys, windows, score_mask, sets) -> np.ndarray:
    """F1 of "key ∈ label set" predicting "feature fires" over the scoring windows."""
    rows = np.repeat(np.arange(len(stats.indptr) - 1), np.diff(stats.indptr))
    feats = stats.indices.astype(np.int64)
    in_score = score_mask[windows]
    hits = in_score[rows]
    hit_f, hit_k = feats[hits], keys[rows[hits]]
    # (feature, key) pairs as one integer each, so membership is one vectorised lookup.
    span = int(max(keys.max(), max((max(x) for x in sets if x), default=0))) + 2
    members = np.array([f * span + k for f, s in enumerate(sets) for k in s], dtype=np.int64)
    is_member = np.isin(hit_f * span + hit_k, members)
    tp = np.bincount(hit_f[is_member], minlength=stats.d_sae).astype(np.float64)
    fires = np.bincount(hit_f, minlength=stats.d_sae).astype(np.float64)
    vals, counts = np.unique(keys[in_score & (keys >= 0)], return_counts=True)
    key_counts = dict(zip(vals.tolist(), counts.tolist(), strict=True))
    predicted = np.array([sum(key_counts.get(k, 0) for k in s) for s in sets], dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        f1 = np.where(fires + predicted > 0, 2 * tp / (fires + predicted), 0.0)
    return f1


def _render(tokenizer, key: int, vocab: int, bigram: bool) -> str:
    parts = [key // vocab, key % vocab] if bigram else [key]
    return "".join(tokenizer.decode([p]) for p in parts).replace("\n", "↵")


def auto_labels(stats: FeatureStats, tokenizer, *, user_file: str | Path | None = None) -> Labels:
    """Label every feature from its contexts (tokens or bigrams, whichever scores better on the
    held-out windows), or from its VocabProj tokens when it never fires."""
    n_windows = stats.token_ids.shape[0]
    fit = np.arange(n_windows) % 2 == 0
    results = []
    for bigram in (False, True):
        keys, windows, vocab = _keys(stats, bigram)
        sets = _label_sets(stats, keys, windows, fit)
        results.append((sets, _f1(stats, keys, windows, ~fit, sets), vocab, bigram))
    labels, scores = [], np.zeros(stats.d_sae)
    for f in range(stats.d_sae):
        sets, f1, vocab, bigram = max(results, key=lambda r: r[1][f])
        if sets[f]:
            labels.append(" / ".join(repr(_render(tokenizer, k, vocab, bigram)) for k in sets[f]))
            scores[f] = f1[f]
        elif stats.density[f] == 0:
            promoted = [tokenizer.decode([int(t)]) for t in stats.vocab_top_ids[f][:3]]
            labels.append("never fires; promotes " + " / ".join(repr(t) for t in promoted))
        else:
            labels.append("")
    path = Path(user_file) if user_file else cache_dir("labels") / f"{stats.sae_hash}.json"
    user = {int(k): v for k, v in json.loads(path.read_text()).items()} if path.is_file() else {}
    return Labels(labels, scores, user, path)


def explain_with(
    stats: FeatureStats,
    tokenizer,
    explainer: Callable[[int, list[str]], str],
    features: list[int],
    labels: Labels,
    n_examples: int = 10,
) -> Labels:
    """Ask ``explainer(feature, examples)`` (any callable, e.g. one that prompts an LLM) for a
    label of each feature; examples are its top contexts with the firing token in [[ ]]."""
    for f in features:
        texts = []
        for ex in stats.top_examples(f, n=n_examples):
            pieces = [tokenizer.decode([t]) for t in ex["token_ids"]]
            pieces[ex["focus"]] = f"[[{pieces[ex['focus']]}]]"
            texts.append("".join(pieces))
        labels.set(f, str(explainer(f, texts)))
    return labels
