"""`sw.search_features`: find features by what they do, by whole words, ranked.

The one ranking rule (the front end's copy is ``js/src/lib/search.js``; both are tested on the
same cases, ``tests/search_cases.json``):

- The query and every field are split into words: runs of Unicode letters, digits and ``_``,
  compared in lower case. Punctuation only separates words, so "#123" is the word "123".
- A query word matches a field word that equals it (exact) or, for query words of at least
  `MIN_PREFIX` characters, one that starts with it (prefix): "food" finds "foods", "Paris"
  never finds "comparison".
- Fields, by weight: the feature id (a query word of digits equal to it), the label, the
  tokens at its strongest activations (`SEARCH_TOKENS` distinct ones), the tokens it promotes
  most (the first `SEARCH_TOKENS` logit effects). An exact match adds `EXACT_BONUS`, less
  than the gap between fields, so a field never falls below the one after it.
- A query word counts once, with its best match (ties: the earlier field, the earlier token,
  the earlier position in the text). Features that match more query words come first, then
  the higher sum of best matches, then the higher max activation, then the lower id.

The id outranks the label: an id is exact and names one feature, and a user typing a number
means that feature far more often than a label that contains the number.
"""

from __future__ import annotations

import bisect
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from saewidgets.analysis.labels import Labels
from saewidgets.analysis.stats import FeatureStats

FIELDS = ("id", "label", "top_tokens", "promoted")  # in order of weight
WEIGHTS = {"id": 8, "label": 6, "top_tokens": 4, "promoted": 2}
EXACT_BONUS = 1
MIN_PREFIX = 3  # shorter query words match whole words only ("on" must not find "one")
SEARCH_TOKENS = 5  # tokens per feature searched in each token field (and sent to the browser)
N_RESULTS = 20

# Python's \w is str.isalnum() plus "_": Unicode letters and digits, as [\p{L}\p{N}_] in JS.
_WORD = re.compile(r"\w+")
_ID = re.compile(r"[0-9]+")


@lru_cache(maxsize=1 << 16)
def _words(text: str) -> tuple[tuple[str, int, int], ...]:
    # Token texts repeat a lot across features; the cache makes splitting them nearly free.
    return tuple((m.group().lower(), m.start(), m.end()) for m in _WORD.finditer(text))


def query_words(query: str) -> list[str]:
    """The distinct lower-case words of a query, in order (``TypeError`` for a non-string)."""
    if not isinstance(query, str):
        raise TypeError(f"a search query must be a string, got {type(query).__name__}")
    return list(dict.fromkeys(word for word, _, _ in _words(query)))


def _utf16(text: str, index: int) -> int:
    # Offsets for the browser, where strings count UTF-16 code units, not code points.
    return len(text[:index].encode("utf-16-le")) // 2


@dataclass(frozen=True)
class SearchMatch:
    """Where one query word matched: a field, the text of that field item and the span of
    the matched word in it."""

    field: str  # one of FIELDS
    text: str  # the label, the token's text, or the id
    start: int
    end: int
    query: str  # the query word (lower case)
    exact: bool

    @property
    def word(self) -> str:
        """The matched word as written in the text."""
        return self.text[self.start : self.end]

    @property
    def value(self) -> int:
        return WEIGHTS[self.field] + (EXACT_BONUS if self.exact else 0)

    def to_json(self) -> dict:
        return {
            "field": self.field,
            "text": self.text,
            "start": _utf16(self.text, self.start),
            "end": _utf16(self.text, self.end),
            "query": self.query,
            "exact": self.exact,
        }


@dataclass(frozen=True)
class SearchHit:
    """One feature found: ``matches`` holds one `SearchMatch` per matched query word, best
    first (``match`` is the one to show)."""

    feature: int
    score: int
    words: int  # query words matched
    matches: tuple[SearchMatch, ...]
    max_activation: float = 0.0
    site: str | None = None
    label: str = ""

    @property
    def match(self) -> SearchMatch:
        return self.matches[0]

    def rank_key(self) -> tuple:
        return (-self.words, -self.score, -self.max_activation, self.feature)

    def to_json(self) -> dict:
        out = {
            "feature": self.feature,
            "label": self.label,
            "score": self.score,
            "words": self.words,
            "matches": [m.to_json() for m in self.matches],
        }
        if self.site is not None:
            out["site"] = self.site
        return out


def feature_tokens(
    stats: FeatureStats, n: int = SEARCH_TOKENS
) -> tuple[list[tuple[str, ...]], list[tuple[str, ...]]]:
    """Per feature, the text of up to ``n`` distinct tokens at its strongest activations
    (strongest first) and of the first ``n`` distinct tokens it promotes."""
    flat = np.asarray(stats.token_ids).reshape(-1)
    positions = np.asarray(stats.top_positions)
    at_top = np.where(positions >= 0, flat[np.clip(positions, 0, None)], -1)
    promoted_ids = np.asarray(stats.vocab_top_ids)

    def distinct(ids) -> tuple[str, ...]:
        texts = dict.fromkeys(stats.token_text(t) for t in ids if t >= 0)
        return tuple(texts)[:n]

    top = [distinct(row) for row in at_top.tolist()]
    promoted = [distinct(row) for row in promoted_ids.tolist()]
    return top, promoted


def _finite(x) -> float:
    x = float(x)
    return x if math.isfinite(x) else 0.0


class SearchIndex:
    """Every feature's words, split once; `search` ranks features for a query.

    ``labels[f]`` is feature f's label ("" for none); ``top_tokens[f]`` / ``promoted[f]`` the
    texts of its tokens (see `feature_tokens`); ``max_activation`` breaks ties.
    """

    def __init__(
        self,
        labels: Sequence[str],
        top_tokens: Sequence[Sequence[str]] | None = None,
        promoted: Sequence[Sequence[str]] | None = None,
        max_activation: Sequence[float] | np.ndarray | None = None,
        *,
        site: str | None = None,
    ) -> None:
        self.labels = [str(label or "") for label in labels]
        self.d_sae = n = len(self.labels)
        self.top_tokens = [tuple(t) for t in top_tokens] if top_tokens is not None else [()] * n
        self.promoted = [tuple(t) for t in promoted] if promoted is not None else [()] * n
        self.max_activation = (
            [_finite(x) for x in np.asarray(max_activation).tolist()]
            if max_activation is not None
            else [0.0] * n
        )
        if not len(self.top_tokens) == len(self.promoted) == len(self.max_activation) == n:
            raise ValueError(
                f"search fields disagree on the number of features: {n} labels, "
                f"{len(self.top_tokens)} top-token rows, {len(self.promoted)} promoted rows, "
                f"{len(self.max_activation)} maxima"
            )
        self.site = site
        # word -> [(feature, field rank, item, text, start, end)] in scan order, and the words
        # sorted, so a prefix is a range found by bisection.
        postings: dict[str, list[tuple[int, int, int, str, int, int]]] = {}
        for f in range(n):
            items = ((self.labels[f],), self.top_tokens[f], self.promoted[f])
            for rank, texts in enumerate(items, start=1):
                for item, text in enumerate(texts):
                    for word, start, end in _words(text):
                        postings.setdefault(word, []).append((f, rank, item, text, start, end))
        self._postings = postings
        self._sorted = sorted(postings)

    @classmethod
    def from_stats(
        cls,
        stats: FeatureStats | None = None,
        labels: Labels | Mapping[int, str] | Sequence[str] | None = None,
        *,
        d_sae: int | None = None,
        site: str | None = None,
    ) -> SearchIndex:
        """An index over ``stats`` (tokens, maxima) and ``labels``; without statistics, over
        labels and ids only (``d_sae`` features, or as many as the labels cover)."""
        if stats is not None and not isinstance(stats, FeatureStats):
            raise TypeError(
                f"stats must be FeatureStats (from sw.feature_stats), not {type(stats).__name__}"
            )
        n = stats.d_sae if stats is not None else d_sae
        if n is None:
            if isinstance(labels, Labels):
                n = len(labels.auto)
            elif isinstance(labels, Sequence) and not isinstance(labels, str):
                n = len(labels)
            else:
                raise ValueError("search_features needs stats= or d_sae= to know the features")
        texts = _label_texts(labels, n)
        if stats is None:
            return cls(texts, site=site)
        top, promoted = feature_tokens(stats)
        return cls(texts, top, promoted, stats.max_activation, site=site or stats.site)

    def _best(self, q: str) -> dict[int, SearchMatch]:
        """The best match of query word ``q`` per feature."""
        best: dict[int, tuple[tuple, SearchMatch]] = {}

        def offer(f: int, key: tuple, match: SearchMatch) -> None:
            if f not in best or key < best[f][0]:
                best[f] = (key, match)

        if _ID.fullmatch(q) and int(q) < self.d_sae and str(int(q)) == q:
            match = SearchMatch("id", q, 0, len(q), q, True)
            offer(int(q), (-match.value, 0, 0, 0), match)
        words = [q] if q in self._postings else []
        if len(q) >= MIN_PREFIX:
            at = bisect.bisect_right(self._sorted, q)
            while at < len(self._sorted) and self._sorted[at].startswith(q):
                words.append(self._sorted[at])
                at += 1
        for word in words:
            exact = word == q
            for f, rank, item, text, start, end in self._postings[word]:
                match = SearchMatch(FIELDS[rank], text, start, end, q, exact)
                offer(f, (-match.value, rank, item, start), match)
        return {f: match for f, (_, match) in best.items()}

    def search(self, query: str, limit: int | None = N_RESULTS) -> list[SearchHit]:
        """Features matching ``query``, best first (at most ``limit``; None: all). A query
        with no words finds nothing; a non-string is a ``TypeError``."""
        words = query_words(query)
        if limit is not None and (not isinstance(limit, int) or limit < 0):
            raise ValueError(f"limit must be a whole number ≥ 0 or None, got {limit!r}")
        found: dict[int, list[SearchMatch]] = {}
        for q in words:
            for f, match in self._best(q).items():
                found.setdefault(f, []).append(match)
        hits = [
            SearchHit(
                feature=f,
                score=sum(m.value for m in matches),
                words=len(matches),
                # stable: among equal values the earlier query word first
                matches=tuple(sorted(matches, key=lambda m: -m.value)),
                max_activation=self.max_activation[f],
                site=self.site,
                label=self.labels[f],
            )
            for f, matches in found.items()
        ]
        hits.sort(key=SearchHit.rank_key)
        return hits if limit is None else hits[:limit]


def _label_texts(labels, n: int) -> list[str]:
    if labels is None:
        return [""] * n
    if isinstance(labels, Labels):
        return [labels[f] for f in range(n)]
    if isinstance(labels, Mapping):
        return [str(labels.get(f, labels.get(str(f), "")) or "") for f in range(n)]
    if isinstance(labels, Callable):  # a lookup feature → (label, score), as widgets hold
        return [labels(f)[0] for f in range(n)]
    if isinstance(labels, Sequence) and not isinstance(labels, str):
        if len(labels) != n:
            raise ValueError(f"{len(labels)} labels given for {n} features")
        return [str(label or "") for label in labels]
    raise TypeError(
        "labels must be sw.Labels, {feature: text}, a list of texts or None; "
        f"got {type(labels).__name__}"
    )


def search_features(
    query: str,
    stats: FeatureStats | None = None,
    labels: Labels | Mapping[int, str] | Sequence[str] | None = None,
    *,
    d_sae: int | None = None,
    limit: int | None = N_RESULTS,
) -> list[SearchHit]:
    """Features whose id, label, top-activation tokens or promoted tokens match ``query`` by
    whole words (a prefix for words of 3+ characters), ranked by the rule in this module's
    docstring. Each `SearchHit` says what matched (``hit.match.field``, ``hit.match.word``).

    ``sw.search_features("food", stats, labels)``; without ``stats`` give ``d_sae`` and only
    labels and ids are searched. An empty query (or one with no words) finds nothing.
    """
    index = SearchIndex.from_stats(stats, labels, d_sae=d_sae)
    return index.search(query, limit)


__all__ = [
    "EXACT_BONUS",
    "FIELDS",
    "MIN_PREFIX",
    "SEARCH_TOKENS",
    "WEIGHTS",
    "SearchHit",
    "SearchIndex",
    "SearchMatch",
    "feature_tokens",
    "query_words",
    "search_features",
]
