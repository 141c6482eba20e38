"""Feature absorption on the first-letter task (Chanin et al., arXiv 2409.14507; the way
SAEBench measures it).

A model knows the first letter of many words; a linear probe on a site's activations reads it.
An SAE ideally has a "starts with S" latent that fires on every S-word. Absorption is when it
does not: for " snake" a more specific latent fires instead and carries the S direction, so the
general latent has holes that its label never mentions.

1. Words: single-token, lower-case alphabetic vocabulary entries (" snake"), in a prompt with
   two worked examples: "... tree has the first letter: T. moon has the first letter: M.
   snake has the first letter:"; the activation is read at the word's token.
2. Ground truth: a logistic-regression probe per letter on raw activations (training words).
3. Main latents per letter: a k-sparse probe on the SAE's latents, ranked by class-mean gap,
   k grown while the F1 rises by at least `F1_JUMP` (SAEBench's rule), at most `MAX_K`.
4. On test words the probe gets right, each latent's projection onto the letter's probe
   direction is its activation times the cosine of its decoder row with the probe. The
   **absorption fraction** of a word: zero when the main latents carry the activation's own
   projection, or when the (at most `MAX_ABSORBERS`) strongest other latents aligned with the
   probe (cosine ≥ `ABSORBER_COS`) carry less than `SHARE` of it; otherwise the share of the
   projection those absorbers carry against the main latents. **Full absorption**: no main
   latent fires, and the single strongest latent along the probe (cosine ≥ `FULL_COS`) carries
   at least `SHARE` of the projection. The thresholds are SAEBench's defaults.
"""

from __future__ import annotations

import string
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from tqdm.auto import tqdm

from saewidgets.analysis.probing import _fit
from saewidgets.model.model import Model
from saewidgets.sae.module import SAE

F1_JUMP = 0.03  # grow a letter's k-sparse probe while its F1 rises by at least this much
MAX_K = 10
SHARE = 0.4  # absorbing latents must carry this share of the activation's projection
ABSORBER_COS = 0.1  # a latent may absorb (fraction) when its decoder is this aligned
FULL_COS = 0.025  # ... and for full absorption
MAX_ABSORBERS = 3
MIN_WORDS = 8  # a letter with fewer training words is left out (too few to fit a probe)
EXAMPLES = ("tree", "moon")  # the prompt's worked examples


@dataclass
class AbsorptionResult:
    """Per letter: words, probe accuracy, main latents and their F1, absorption."""

    site: str
    table: pd.DataFrame  # index: letter
    n_words: int

    @property
    def absorption_fraction(self) -> float:
        """Mean over letters of the mean absorption fraction (lower is better)."""
        return float(np.nanmean(self.table["absorption fraction"]))

    @property
    def full_absorption(self) -> float:
        """Mean over letters of the share of fully absorbed words (lower is better)."""
        return float(np.nanmean(self.table["full absorption"]))

    @property
    def sparse_f1(self) -> float:
        """Mean over letters of the main latents' k-sparse probe F1: how well the SAE's latents
        name first letters at all (absorption is measured against them)."""
        return float(np.nanmean(self.table["k-sparse F1"]))

    @property
    def probe_accuracy(self) -> float:
        """How well the ground-truth probes read the first letter on test words: absorption
        means little when this is low (the model does not know the letter)."""
        t = self.table
        return float((t["probe accuracy"] * t["test words"]).sum() / t["test words"].sum())

    def __repr__(self) -> str:
        return (
            f"AbsorptionResult({self.site}: absorption fraction {self.absorption_fraction:.3f}, "
            f"full absorption {self.full_absorption:.3f}, k-sparse F1 {self.sparse_f1:.2f}, "
            f"probe accuracy {self.probe_accuracy:.2f}, {self.n_words} words, "
            f"{len(self.table)} letters)"
        )


def first_letter_words(tokenizer, limit: int | None = None, seed: int = 0) -> list[tuple[int, str]]:
    """(token id, word) for single-token lower-case words of at least 3 letters written with a
    leading space; ``limit`` of them at random, as evenly over first letters as they allow."""
    vocab = tokenizer.get_vocab()
    found = {}
    for token in vocab.values():
        text = tokenizer.decode([token])
        if text.startswith(" ") and len(text) >= 4 and text[1:].isascii():
            word = text[1:]
            if word.isalpha() and word.islower() and word not in EXAMPLES:
                found[word] = token
    words = sorted(found.items())
    if limit is not None and limit < len(words):
        rng = np.random.default_rng(seed)
        by_letter: dict[str, list] = {}
        for word, token in words:
            by_letter.setdefault(word[0], []).append((word, token))
        for group in by_letter.values():
            rng.shuffle(group)
        picked, depth = [], 0
        while len(picked) < limit:  # round-robin over letters: rare letters are not drowned
            layer = [g[depth] for g in by_letter.values() if depth < len(g)]
            if not layer:
                break
            picked.extend(layer[: limit - len(picked)])
            depth += 1
        words = sorted(picked)
    return [(token, word) for word, token in words]


def _prompt_ids(tokenizer, token: int) -> tuple[list[int], int]:
    a, b = EXAMPLES
    prefix = f"{a} has the first letter: {a[0].upper()}. {b} has the first letter: {b[0].upper()}."
    head = tokenizer(prefix, add_special_tokens=False)["input_ids"]
    tail = tokenizer(" has the first letter:", add_special_tokens=False)["input_ids"]
    bos = [tokenizer.bos_token_id] if tokenizer.bos_token_id is not None else []
    ids = bos + head + [token] + tail
    return ids, len(bos) + len(head)


@torch.no_grad()
def _activations(model, site, tokenizer, tokens, batch_size, progress) -> np.ndarray:
    out = []
    for start in tqdm(range(0, len(tokens), batch_size), desc="first-letter prompts",
                      disable=not progress):  # fmt: skip
        prompts = [_prompt_ids(tokenizer, t) for t in tokens[start : start + batch_size]]
        width = max(len(p) for p, _ in prompts)
        pad = tokenizer.pad_token_id or 0
        ids = torch.tensor([p + [pad] * (width - len(p)) for p, _ in prompts])
        mask = torch.tensor([[1] * len(p) + [0] * (width - len(p)) for p, _ in prompts])
        acts = model.read_sites(ids, mask, [site])[site].float().cpu()
        at = torch.tensor([i for _, i in prompts])
        out.append(acts[torch.arange(len(prompts)), at].numpy())
    return np.concatenate(out)


def _best_f1(score: np.ndarray, truth: np.ndarray) -> float:
    """F1 at the best threshold on ``score``: one letter in ~25 is rare, so a probe's default
    threshold would call every word "no" and hide what the latents know."""
    order = np.argsort(-score, kind="stable")
    tp = np.cumsum(truth[order])
    predicted = np.arange(1, len(score) + 1)
    return float((2 * tp / (predicted + truth.sum())).max()) if truth.any() else 0.0


def _main_latents(codes_train, is_letter) -> tuple[list[int], float]:
    gap = codes_train[is_letter].mean(0) - codes_train[~is_letter].mean(0)
    ranked = np.argsort(-gap, kind="stable")[:MAX_K]
    chosen, best = [], 0.0
    for latent in ranked:
        trial = [*chosen, int(latent)]
        weights, _ = _fit(codes_train[:, trial], is_letter.astype(np.float64), steps=100)
        f1 = _best_f1(codes_train[:, trial] @ weights, is_letter)
        if chosen and f1 < best + F1_JUMP:
            break
        chosen, best = trial, f1
    return chosen, best


def _word_absorption(projection, total, activation, cos, main) -> tuple[float, bool]:
    """One word: (absorption fraction, fully absorbed) from each latent's projection onto the
    probe direction and the activation's own projection ``total``."""
    main_part = float(projection[main].sum())
    others = np.ones(len(projection), bool)
    others[main] = False
    candidates = projection[others & (cos >= ABSORBER_COS) & (projection > 0)]
    absorbed = float(np.sort(candidates)[::-1][:MAX_ABSORBERS].sum())
    if total <= 0 or main_part >= total or absorbed / total < SHARE:
        fraction = 0.0
    elif main_part <= 0:
        fraction = 1.0
    else:
        absorbed = min(absorbed, total - main_part)
        fraction = float(np.clip(absorbed / (absorbed + main_part), 0.0, 1.0))
    top = int(np.argmax(projection))
    whole = bool(
        activation[main].max() <= 0
        and cos[top] >= FULL_COS
        and total > 0
        and projection[top] / total >= SHARE
    )
    return fraction, whole


def absorption(
    model: Model,
    sae: SAE,
    site: str | None = None,
    *,
    n_words: int = 2_000,
    test_fraction: float = 0.3,
    batch_size: int = 64,
    seed: int = 0,
    progress: bool = True,
) -> AbsorptionResult:
    """Feature absorption of ``sae`` on the first-letter task over ``n_words`` vocabulary
    words (see the module's docstring); `AbsorptionResult.table` has one row per letter."""
    site = site or sae.site
    if not site:
        raise ValueError("the SAE names no site; pass site=")
    if not 0.05 <= test_fraction <= 0.8:
        raise ValueError(f"test_fraction must be 0.05..0.8, got {test_fraction}")
    words = first_letter_words(model.tokenizer, n_words, seed)
    if len(words) < 26 * MIN_WORDS // 2:
        raise ValueError(
            f"{model.name}'s vocabulary has only {len(words)} single-token lower-case words; "
            "the first-letter task needs a few hundred"
        )
    tokens = [t for t, _ in words]
    letters = np.array([w[0] for _, w in words])
    x = _activations(model, site, model.tokenizer, tokens, batch_size, progress)
    with torch.no_grad():
        encoded = sae.encode(torch.from_numpy(x).to(sae.W_dec.device, sae.W_dec.dtype))
    codes = encoded.float().cpu().numpy()
    decoder = sae.W_dec.detach().float().cpu().numpy()
    decoder = decoder / (np.linalg.norm(decoder, axis=1, keepdims=True) + 1e-12)
    rng = np.random.default_rng(seed)
    test = rng.random(len(words)) < test_fraction
    present = [c for c in string.ascii_lowercase if (letters[~test] == c).sum() >= MIN_WORDS]
    # ground truth: one probe per letter, on raw activations; a word's letter is the argmax
    probes, biases = [], []
    for c in present:
        w, b = _fit(x[~test], (letters[~test] == c).astype(np.float64))
        probes.append(w)
        biases.append(b)
    scores = x[test] @ np.stack(probes).T + np.array(biases)
    guessed = np.array(present)[scores.argmax(1)]
    rows = []
    for li, c in enumerate(present):
        is_c = letters == c
        main, f1 = _main_latents(codes[~test], is_c[~test])
        direction = probes[li] / (np.linalg.norm(probes[li]) + 1e-12)
        mine = is_c[test]
        right = mine & (guessed == c)
        fractions, full = [], []
        cos = decoder @ direction  # per latent: cosine of its decoder row with the probe
        for row in np.nonzero(right)[0]:
            fraction, whole = _word_absorption(codes[test][row] * cos, x[test][row] @ direction,
                                               codes[test][row], cos, main)  # fmt: skip
            fractions.append(fraction)
            full.append(whole)
        rows.append(
            {
                "letter": c,
                "train words": int((is_c & ~test).sum()),
                "test words": int(mine.sum()),
                "probe accuracy": float(right.sum() / max(1, mine.sum())),
                "main latents": main,
                "k-sparse F1": round(f1, 3),
                "absorption fraction": float(np.mean(fractions)) if fractions else np.nan,
                "full absorption": float(np.mean(full)) if full else np.nan,
            }
        )
    table = pd.DataFrame(rows).set_index("letter")
    return AbsorptionResult(site=site, table=table, n_words=len(words))


__all__ = ["AbsorptionResult", "absorption", "first_letter_words"]
