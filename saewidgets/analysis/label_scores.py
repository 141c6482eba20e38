"""Scores for feature labels, measured the way the field measures explanations.

A label is a claim about where a feature fires. A *simulator* reads the label and judges
contexts of held-out text; the feature's real activations decide who was right.

- **detection**: contexts where the feature fires (drawn evenly across its activation
  quantiles, not only the strongest) and contexts where it does not; the simulator says which
  ones the label describes. Balanced accuracy: 0.5 is chance, 1.0 is perfect.
- **fuzzing**: contexts where the feature fires, each shown twice, once with its firing tokens
  marked and once with the same number of other tokens marked; the simulator says whether the
  marked tokens are what the label describes. Balanced accuracy again.

The offline simulator (`RuleSimulator`) turns a label's text into a rule over tokens: the
quoted strings of an automatic label (tokens, bigrams, or after "→" the next token), and for
free text the quoted pieces and content words. An LLM simulator (`llm.LLMSimulator`) answers
the same two questions from a prompt, so any label, automatic, the user's or an LLM's, is
scored on the same footing.

Contexts come from the odd windows of full statistics: automatic labels are fitted on the even
ones, so the scores are held out.
"""

from __future__ import annotations

import ast
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from saewidgets.analysis.stats import CompactStatsError, FeatureStats

SPAN_LEFT, SPAN_RIGHT = 24, 7  # a context: 24 tokens before the sampled token, 7 after
N_ACTIVE = 20  # contexts where the feature fires, per feature
N_INACTIVE = 20  # contexts where it does not
MIN_ACTIVE = 3  # fewer firing contexts than this: not enough to score

_QUOTED = re.compile(r"""'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*\"""")
_WORD = re.compile(r"[^\W_]+", re.UNICODE)
# Words that say nothing about where a feature fires; a free-text label's rule ignores them.
_STOPWORDS = frozenset(
    """a an the and or of in on at to for from by with as is are was were be been being it its
    this that these those token tokens word words feature fires firing fire activates active
    when after before about like such text context contexts mention mentions mentioning
    related relating other e g i ie eg etc not no very mostly often usually""".split()
)


class Simulator(Protocol):
    """Judges contexts against a label; contexts are lists of token texts."""

    def detect(self, label: str, contexts: list[list[str]]) -> list[bool]:
        """For each context: does the label describe something in it?"""
        ...

    def fuzz(self, label: str, contexts: list[list[str]], marked: list[list[int]]) -> list[bool]:
        """For each context: are the tokens at ``marked`` what the label describes?"""
        ...


@dataclass(frozen=True)
class LabelRule:
    """A label's text read as a rule over token positions."""

    strings: frozenset[str]  # exact texts ending at the position (one to three tokens)
    next_strings: frozenset[str]  # exact texts starting at the next token
    words: frozenset[str]  # lower-case words (and their plural/singular) the position is part of

    @classmethod
    def parse(cls, label: str) -> LabelRule:
        text = label.strip()
        for prefix in ("never fires;",):
            if text.startswith(prefix):
                text = text[len(prefix) :].strip()
        ahead = False
        for prefix in ("→", "->", "promotes", "before"):
            if text.startswith(prefix):
                text, ahead = text[len(prefix) :].strip(), True
                break
        quoted = [_literal(q) for q in _QUOTED.findall(text)]
        rest = _QUOTED.sub(" ", text)
        if quoted and not re.sub(r"[\s/,;|]+", "", rest):
            # An automatic label ('a' / ' b'): exact token texts.
            exact = frozenset(q for q in quoted if q)
            none = frozenset()
            return cls(none, exact, none) if ahead else cls(exact, none, none)
        # Free text: quoted pieces match as words too, and so do the content words.
        words = set()
        for piece in [*quoted, rest]:
            for w in _WORD.findall(piece.lower()):
                if w not in _STOPWORDS and (len(w) > 1 or w.isdigit()):
                    words |= _variants(w)
        exact = frozenset(q for q in quoted if q.strip())
        if ahead:
            return cls(frozenset(), exact, frozenset(words))
        return cls(exact, frozenset(), frozenset(words))

    @property
    def empty(self) -> bool:
        return not (self.strings or self.next_strings or self.words)

    def matches(self, texts: Sequence[str]) -> np.ndarray:
        """Per position of a context (token texts): does the rule hold there?"""
        n = len(texts)
        out = np.zeros(n, dtype=bool)
        here, ahead = self.strings, self.next_strings
        if here or ahead:
            for i in range(n):
                t = texts[i]
                if here and (
                    t in here
                    or (i >= 1 and texts[i - 1] + t in here)
                    or (i >= 2 and texts[i - 2] + texts[i - 1] + t in here)
                ):
                    out[i] = True
                elif ahead and i + 1 < n:
                    nxt = texts[i + 1]
                    if nxt in ahead or (i + 2 < n and nxt + texts[i + 2] in ahead):
                        out[i] = True
        if self.words:
            for i, word in enumerate(_words_at(texts)):
                if word and word in self.words:
                    out[i] = True
        return out


def _literal(quoted: str) -> str:
    try:
        value = ast.literal_eval(quoted)
    except (ValueError, SyntaxError):
        value = quoted[1:-1]
    return str(value).replace("↵", "\n")


def _variants(word: str) -> set[str]:
    out = {word, word + "s", word + "es"}
    if word.endswith("es") and len(word) > 4:
        out.add(word[:-2])
    if word.endswith("s") and len(word) > 3:
        out.add(word[:-1])
    return out


def _words_at(texts: Sequence[str]) -> list[str]:
    """The lower-case word each token belongs to ("" for punctuation and space): a word is a
    run of tokens joined without space, so ' coff' + 'ee' are both in 'coffee'."""
    spans, current, start = [], "", 0
    for i, text in enumerate(texts):
        starts_new = not text or not text[0].isalnum()
        core = "".join(_WORD.findall(text.lower()))
        if starts_new or not core:
            if current:
                spans.append((start, i, current))
            current, start = core, i
        else:
            current += core
    if current:
        spans.append((start, len(texts), current))
    out = [""] * len(texts)
    for lo, hi, word in spans:
        for i in range(lo, hi):
            if _WORD.search(texts[i]):
                out[i] = word
    return out


class RuleSimulator:
    """The offline simulator: a context matches when the label's rule holds at any of its
    tokens; a marking is right when the rule holds at at least half of the marked tokens."""

    def __init__(self) -> None:
        self._rule: tuple[str, LabelRule] | None = None
        self._seen: dict[tuple[str, ...], np.ndarray] = {}  # one label's contexts at a time

    def _matches(self, label: str, context: list[str]) -> np.ndarray:
        if self._rule is None or self._rule[0] != label:
            self._rule, self._seen = (label, LabelRule.parse(label)), {}
        key = tuple(context)
        if key not in self._seen:
            self._seen[key] = self._rule[1].matches(context)
        return self._seen[key]

    def detect(self, label: str, contexts: list[list[str]]) -> list[bool]:
        return [bool(self._matches(label, c).any()) for c in contexts]

    def fuzz(self, label: str, contexts: list[list[str]], marked: list[list[int]]) -> list[bool]:
        out = []
        for c, m in zip(contexts, marked, strict=True):
            hits = self._matches(label, c)[np.asarray(m, dtype=np.int64)] if m else None
            out.append(hits is not None and 2 * int(hits.sum()) >= len(hits))
        return out


@dataclass
class ScoringSet:
    """One feature's held-out contexts: token texts, and where the feature fires in each."""

    active: list[list[str]]
    firing: list[list[int]]  # per active context, the positions where the feature fires
    decoys: list[list[int]]  # per active context, as many positions where it does not
    inactive: list[list[str]]
    n_hits: int  # activations of the feature in the held-out windows


class LabelSampler:
    """Held-out contexts for every feature of full statistics, drawn once per feature."""

    def __init__(self, stats: FeatureStats, *, seed: int = 0, tokenizer=None) -> None:
        if stats.is_compact:
            raise CompactStatsError(
                "label scores need every activation of a held-out sample, and these statistics "
                "are compact (shipped); build full ones first, e.g. "
                "sw.feature_stats(model, sae, n_tokens=50_000), and score with those"
            )
        self.stats, self.seed = stats, seed
        width = stats.token_ids.shape[1]
        rows = np.repeat(np.arange(len(stats.indptr) - 1), np.diff(stats.indptr))
        held_out = (rows // width) % 2 == 1
        feats = stats.indices[held_out].astype(np.int64)
        order = np.argsort(feats, kind="stable")
        self._positions = rows[held_out][order]  # flat positions, grouped by feature
        self._values = stats.values[held_out][order]
        self._starts = np.searchsorted(feats[order], np.arange(stats.d_sae + 1))
        self._width = width
        self._windows = np.arange(1, stats.token_ids.shape[0], 2)
        self._ids = np.asarray(stats.token_ids)  # read once: the statistics may be memory-mapped
        top = int(self._ids.max()) + 1
        if stats.vocab:
            self._vocab = [stats.token_text(t) for t in range(top)]
        elif tokenizer is not None:
            from saewidgets.model.tokens import TokenDecoder

            self._vocab = TokenDecoder(tokenizer).texts(range(top))
        else:
            raise ValueError(
                "these statistics carry no token texts; pass the model's tokenizer "
                "(tokenizer=model.tokenizer) so the contexts can be read"
            )

    def _span(self, row: int, lo: int, hi: int) -> list[str]:
        vocab = self._vocab
        return [vocab[t] for t in self._ids[row, lo:hi].tolist()]

    def contexts(self, feature: int, n_active: int = N_ACTIVE, n_inactive: int = N_INACTIVE):
        f = self.stats.check_feature(feature)
        lo, hi = self._starts[f], self._starts[f + 1]
        positions, values = self._positions[lo:hi], self._values[lo:hi]
        rng = np.random.default_rng(self.seed + f)
        width = self._width
        # Firing contexts at evenly spaced activation quantiles, so weak firings count too.
        chosen = []
        if len(positions):
            by_value = np.argsort(values, kind="stable")
            ranks = ((np.arange(n_active) + 0.5) / n_active * len(positions)).astype(int)
            chosen = sorted(set(by_value[np.minimum(ranks, len(positions) - 1)].tolist()))
        active, firing, decoys = [], [], []
        for i in chosen:
            row, col = divmod(int(positions[i]), width)
            start, stop = max(1, col - SPAN_LEFT), min(width, col + SPAN_RIGHT + 1)
            first = row * width + start
            inside = positions[(positions >= first) & (positions < first + stop - start)]
            fire = sorted({int(p) - first for p in inside})
            quiet = [j for j in range(stop - start) if j not in set(fire)]
            active.append(self._span(row, start, stop))
            firing.append(fire)
            enough = len(quiet) >= len(fire)
            pick = rng.choice(quiet, size=len(fire), replace=False) if enough else []
            decoys.append(sorted(int(j) for j in pick))
        # Quiet contexts: random spans of held-out windows without a single activation.
        inactive, span, seen = [], SPAN_LEFT + SPAN_RIGHT + 1, set()
        sorted_pos = np.sort(positions)
        for _ in range(n_inactive * 4 + 20):
            if len(inactive) >= n_inactive:
                break
            row = int(rng.choice(self._windows))
            start = int(rng.integers(1, max(2, width - span + 1)))
            a, b = row * width + start, row * width + start + span
            if (row, start) in seen:
                continue  # the same context twice would count twice
            seen.add((row, start))
            if np.searchsorted(sorted_pos, b) - np.searchsorted(sorted_pos, a) == 0:
                inactive.append(self._span(row, start, min(width, start + span)))
        return ScoringSet(active, firing, decoys, inactive, int(hi - lo))


def _balanced(right_pos: list[bool], right_neg: list[bool]) -> float:
    if not right_pos or not right_neg:
        return math.nan
    return 0.5 * (float(np.mean(right_pos)) + float(np.mean(right_neg)))


def score_one(label: str, contexts: ScoringSet, simulator: Simulator | None = None) -> dict:
    """Detection and fuzzing of one label on one feature's contexts, with a note when it
    cannot be scored."""
    simulator = simulator if simulator is not None else RuleSimulator()
    row = {
        "detection": math.nan,
        "fuzzing": math.nan,
        "n_active": len(contexts.active),
        "n_inactive": len(contexts.inactive),
        "note": "",
    }
    if not label.strip():
        row["note"] = "no label"
    elif contexts.n_hits == 0:
        row["note"] = "never fires in the held-out sample"
    elif len(contexts.active) < MIN_ACTIVE:
        row["note"] = f"fires {contexts.n_hits}× in the held-out sample; too few to score"
    elif not contexts.inactive:
        row["note"] = "fires in nearly every context; nothing to contrast with"
    if row["note"]:
        return row
    said_pos = simulator.detect(label, contexts.active)
    said_neg = simulator.detect(label, contexts.inactive)
    row["detection"] = _balanced(said_pos, [not s for s in said_neg])
    with_decoys = [i for i, d in enumerate(contexts.decoys) if d]
    if with_decoys:
        texts = [contexts.active[i] for i in with_decoys]
        right = simulator.fuzz(label, texts, [contexts.firing[i] for i in with_decoys])
        wrong = simulator.fuzz(label, texts, [contexts.decoys[i] for i in with_decoys])
        row["fuzzing"] = _balanced(right, [not w for w in wrong])
    return row


def duplicate_labels(texts: Sequence[str]) -> dict[int, list[int]]:
    """Features whose labels read the same (ignoring case and spacing), each with the others
    that share its text."""
    groups: dict[str, list[int]] = {}
    for f, text in enumerate(texts):
        key = " ".join(text.lower().split())
        if key:
            groups.setdefault(key, []).append(f)
    shared = [group for group in groups.values() if len(group) > 1]
    return {f: [g for g in group if g != f] for group in shared for f in group}


__all__ = [
    "LabelRule",
    "LabelSampler",
    "RuleSimulator",
    "Simulator",
    "duplicate_labels",
    "score_one",
]
