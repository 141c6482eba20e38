"""Offline feature labels: what the text says where a feature fires, no external model needed.

For every feature at once, the tokens at its activations (and the bigrams ending there, and the
tokens that come next) are counted against their frequency in the same corpus sample, and each
feature gets the few keys that best predict where it fires: precise ones first, as many as
raise the F1 of "the token (bigram, next token) is one of the label's" predicting "the feature
fires". Windows with even index build labels, odd ones score them, so the score is held out.
The best kind wins per feature. Next-token labels ("→ 'Paris'") name the output features of
late layers, which fire on varied tokens but before the same prediction.

Users can attach their own labels (persisted per SAE in the user cache) or plug in an explainer
callable, e.g. one that asks an LLM, which receives the feature's top examples as text.

The shipped SAEs come with their automatic labels (``labels.json.gz`` beside ``stats.npz``, made
from the full statistics before they were compacted); `shipped_labels` reads them, and
`auto_labels` of compact statistics returns them.
"""

from __future__ import annotations

import json
import threading
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from saewidgets.analysis.label_scores import (
    N_ACTIVE,
    N_INACTIVE,
    LabelSampler,
    RuleSimulator,
    Simulator,
    duplicate_labels,
    score_one,
)
from saewidgets.analysis.shipped import (
    FILE_FORMAT,
    LABELS_FILE,
    ShippedFileError,
    read_labels,
    site_folder,
)
from saewidgets.analysis.stats import CompactStatsError, FeatureStats
from saewidgets.core.cache import atomic_write, cache_dir

LABEL_TOKENS = 8  # at most this many tokens (bigrams, next tokens) in one label
PRECISION_PRIOR = 20.0  # see `_label_sets`; chosen on the shipped SAEs (benchmarks/bench_labels.py)
KINDS = ("token", "bigram", "next")  # what a label's keys are: see `_keys`
PROMOTES = "promotes"  # the kind of a label made from VocabProj tokens (nothing recurs)


@dataclass
class Labels:
    """Automatic labels with scores, plus user labels that override them.

    Every label carries held-out scores (`label_scores.py`): ``score`` is the F1 of an
    automatic label's tokens predicting activation, ``detection`` and ``fuzzing`` the balanced
    accuracies the field uses; `scores_of` gives those of the label a feature shows now,
    the user's included (scored when set, if full statistics are at hand)."""

    auto: list[str]
    score: np.ndarray  # F1 of the label's tokens predicting activation on held-out windows
    user: dict[int, str]
    path: Path | None = None
    kind: list[str] = field(default_factory=list)  # per feature: one of KINDS or PROMOTES
    detection: np.ndarray | None = None  # of the automatic labels (NaN: could not be scored)
    fuzzing: np.ndarray | None = None
    notes: list[str] | None = None  # why an automatic label could not be scored ("" if it was)
    # feature → {"label", "detection", "fuzzing", "note"}: scores of the user's labels, kept
    # with the text they scored so an edited label never shows a stale score.
    user_scores: dict[int, dict] = field(default_factory=dict)
    # feature → {"status": "explained" | "kept", "why"}: what `explain_with` did with it
    explained: dict[int, dict] = field(default_factory=dict)
    stats: FeatureStats | None = field(default=None, repr=False, compare=False)  # full: scorable
    tokenizer: object = field(default=None, repr=False, compare=False)  # reads their tokens
    # A widget's thread and the notebook may both set labels; one writer at a time.
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)
    _sampler: object = field(default=None, repr=False, compare=False)
    _auto_rows: dict = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.path is not None and not self.user_scores:
            self.user_scores = _read_user_scores(_scores_path(self.path))

    def __getitem__(self, feature: int) -> str:
        return self.user.get(int(feature), self.auto[int(feature)])

    def as_dict(self) -> dict[int, str]:
        return {f: self[f] for f in range(len(self.auto)) if self[f]}

    def set(self, feature: int, label: str) -> None:
        """Attach your own label (saved at once; an empty string removes it). With full
        statistics at hand it is scored at once, like the automatic ones."""
        if not 0 <= int(feature) < len(self.auto):
            raise IndexError(f"feature {feature} is out of range: 0..{len(self.auto) - 1}")
        if not isinstance(label, str):
            raise TypeError(f"a label must be a string, got {type(label).__name__}")
        with self._lock:
            if label:
                self.user[int(feature)] = label
            else:
                self.user.pop(int(feature), None)
                self.user_scores.pop(int(feature), None)
            if self.path is not None:
                self._save()
        if label and self.scorable:
            self.remember_score(int(feature), label, self._score(int(feature), label))

    @property
    def scorable(self) -> bool:
        return self.stats is not None and not self.stats.is_compact

    def _score(self, feature: int, text: str) -> dict:

        if self._sampler is None:
            self._sampler = LabelSampler(self.stats, tokenizer=self.tokenizer)
        return score_one(text, self._sampler.contexts(feature))

    def remember_score(self, feature: int, text: str, row: Mapping) -> None:
        """Keep the scores of the user's label ``text`` of ``feature`` (saved with the labels)."""
        entry = {"label": text, "note": str(row.get("note") or "")}
        for key in ("detection", "fuzzing"):
            entry[key] = _finite(row.get(key))
        with self._lock:
            self.user_scores[int(feature)] = entry
            if self.path is not None:
                text_out = json.dumps({str(k): v for k, v in self.user_scores.items()}, indent=1)
                atomic_write(_scores_path(self.path), text_out.encode("utf-8"))

    def ensure_scores(self, progress: bool = True) -> bool:
        """Score every automatic label now if it has no scores yet and full statistics are at
        hand; True when the scores exist afterwards."""
        if self.detection is not None:
            return True
        if not self.scorable:
            return False

        table = score_labels(
            self.stats, dict(enumerate(self.auto)), tokenizer=self.tokenizer, progress=progress
        )
        self.detection = table["detection"].to_numpy(np.float64)
        self.fuzzing = table["fuzzing"].to_numpy(np.float64)
        self.notes = table["note"].tolist()
        return True

    def scores_of(self, feature: int) -> dict | None:
        """Detection and fuzzing (None where not measurable, with ``note`` saying why) of the
        label ``feature`` shows now; None when it has not been scored."""
        f = int(feature)
        if f in self.user:
            found = self.user_scores.get(f)
            if found is not None and found.get("label") == self.user[f]:
                return {**found, "of": "user"}
            if not self.scorable:
                return None
            row = self._score(f, self.user[f])
            self.remember_score(f, self.user[f], row)
            return {**self.user_scores[f], "of": "user"}
        if self.detection is None:
            if not self.scorable:
                return None
            if f not in self._auto_rows:  # cards ask again on every selection
                self._auto_rows[f] = self._score(f, self.auto[f])
            row = self._auto_rows[f]
            return {
                "label": self.auto[f],
                "detection": _finite(row["detection"]),
                "fuzzing": _finite(row["fuzzing"]),
                "note": row["note"],
                "of": "auto",
            }
        return {
            "label": self.auto[f],
            "detection": _finite(self.detection[f]),
            "fuzzing": _finite(self.fuzzing[f]) if self.fuzzing is not None else None,
            "note": (self.notes[f] if self.notes else "") or "",
            "of": "auto",
        }

    def current_scores(self, key: str = "detection") -> np.ndarray:
        """``key`` ("detection" or "fuzzing") of the label every feature shows now, NaN where
        it is unscored (a user's label scored only once it was set with statistics at hand)."""
        auto = getattr(self, key)
        out = np.full(len(self.auto), np.nan) if auto is None else np.array(auto, np.float64)
        for f in self.user:
            found = self.user_scores.get(f)
            fresh = found is not None and found.get("label") == self.user[f]
            out[f] = np.nan if not fresh or found.get(key) is None else found[key]
        return out

    def duplicates(self) -> dict[int, list[int]]:
        """Features whose shown labels read the same, each with the others sharing its text."""

        return duplicate_labels([self[f] for f in range(len(self.auto))])

    def _save(self) -> None:
        text = json.dumps({str(k): v for k, v in self.user.items()}, indent=1)
        atomic_write(self.path, text.encode("utf-8"))  # never a truncated labels file


def _finite(value) -> float | None:
    try:
        value = float(value)
    except (TypeError, ValueError):
        return None
    return round(value, 4) if np.isfinite(value) else None


def _scores_path(path: Path) -> Path:
    return Path(path).with_suffix(".scores.json")


def _read_user_scores(path: Path) -> dict[int, dict]:
    try:
        table = json.loads(path.read_text())
        return {int(k): dict(v) for k, v in table.items() if isinstance(v, dict)}
    except (OSError, ValueError, AttributeError, TypeError):
        return {}  # scores are recomputable: a damaged file only costs a rescore


def _read_user_labels(path: Path) -> dict[int, str]:
    if not path.is_file():
        return {}
    try:
        table = json.loads(path.read_text())
        return {int(k): str(v) for k, v in table.items()}
    except (ValueError, AttributeError) as error:
        raise ValueError(
            f"the saved labels in {path} are damaged ({error}); they are left untouched: fix "
            "the file (a JSON object of feature id → label) or move it away to start afresh"
        ) from error


def _keys(stats: FeatureStats, kind: str) -> tuple[np.ndarray, np.ndarray, int]:
    """Per flat token position: a key (its token, the bigram ending there, or the next token;
    -1 where there is none) and the window it belongs to."""
    ids = stats.token_ids.astype(np.int64)
    n_windows, context = ids.shape
    vocab = int(ids.max()) + 1
    none = np.full((n_windows, 1), -1)
    if kind == "bigram":
        prev = np.concatenate([none, ids[:, :-1]], axis=1)
        keys = np.where(prev >= 0, prev * vocab + ids, -1)
    elif kind == "next":
        keys = np.concatenate([ids[:, 1:], none], axis=1)
    else:
        keys = ids.copy()
    keys[:, 0] = -1  # a window's first position never counts as firing (see content_mask)
    windows = np.repeat(np.arange(n_windows), context)
    return keys.reshape(-1), windows, vocab


def _label_sets(stats: FeatureStats, keys: np.ndarray, windows: np.ndarray, fit: np.ndarray):
    """Per feature, the set of at most `LABEL_TOKENS` keys that best predicts where it fires on
    the fitting windows; vectorised over features.

    A position has one key of each kind, so a set's true positives and predictions are sums
    over its keys, and the F1-best set of any size is a prefix of the keys sorted by precision.
    Keys are sorted by precision shrunk towards zero (`PRECISION_PRIOR` extra predictions), so
    rare coincidences come last, and each feature keeps its best prefix.
    """
    rows = np.repeat(np.arange(len(stats.indptr) - 1), np.diff(stats.indptr))
    feats = stats.indices.astype(np.int64)
    use = fit[windows[rows]] & (keys[rows] >= 0)
    hit_keys, hit_feats = keys[rows[use]], feats[use]
    background = keys[fit[windows] & (keys >= 0)]
    uniq, inverse = np.unique(np.concatenate([background, hit_keys]), return_inverse=True)
    predicted = np.bincount(inverse[: len(background)], minlength=len(uniq)).astype(np.float64)
    pair, tp = np.unique(hit_feats * len(uniq) + inverse[len(background) :], return_counts=True)
    fires = np.bincount(hit_feats, minlength=stats.d_sae).astype(np.float64)
    recurs = tp >= 2  # a key seen once where the feature fires is a coincidence, not a label
    pf, pk, tp = pair[recurs] // len(uniq), pair[recurs] % len(uniq), tp[recurs].astype(float)
    order = np.lexsort((-tp / (predicted[pk] + PRECISION_PRIOR), pf))
    pf, pk, tp, pred = pf[order], pk[order], tp[order], predicted[pk[order]]
    starts = np.searchsorted(pf, np.arange(stats.d_sae))
    rank = np.arange(len(pf)) - starts[pf]
    # Running sums within each feature's run give every prefix's true positives and predictions.
    cum_tp, cum_pred = np.cumsum(tp), np.cumsum(pred)
    before_tp = np.concatenate([[0.0], cum_tp])[starts[pf]]
    before_pred = np.concatenate([[0.0], cum_pred])[starts[pf]]
    f1 = 2 * (cum_tp - before_tp) / (fires[pf] + cum_pred - before_pred)
    f1[rank >= LABEL_TOKENS] = -1.0
    by_f1 = np.lexsort((-f1, pf))
    first = np.ones(len(by_f1), dtype=bool)
    first[1:] = pf[by_f1][1:] != pf[by_f1][:-1]
    best_rank = np.full(stats.d_sae, -1)
    best_rank[pf[by_f1][first]] = rank[by_f1][first]
    fit_f1 = np.full(stats.d_sae, -1.0)  # -1: no label of this kind
    fit_f1[pf[by_f1][first]] = f1[by_f1][first]
    keep = rank <= best_rank[pf]
    sets: list[list[int]] = [[] for _ in range(stats.d_sae)]
    for f, k in zip(pf[keep], uniq[pk[keep]], strict=True):
        sets[f].append(int(k))
    return sets, fit_f1


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


def _render(tokenizer, keys: list[int], vocab: int, kind: str) -> str:
    def text(key: int) -> str:
        parts = [key // vocab, key % vocab] if kind == "bigram" else [key]
        return repr("".join(tokenizer.decode([p]) for p in parts).replace("\n", "↵"))

    label = " / ".join(text(k) for k in keys)
    return f"→ {label}" if kind == "next" else label


def auto_labels(
    stats: FeatureStats,
    tokenizer,
    *,
    user_file: str | Path | None = None,
    kinds: tuple[str, ...] = KINDS,
) -> Labels:
    """Label every feature from its contexts: the tokens where it fires, the bigrams ending
    there or the tokens that follow (``kinds``, any of "token", "bigram", "next"), whichever
    predicts its firing best; from its VocabProj tokens when nothing recurs where it fires or
    it never fires. Labels and their kind are chosen on the even windows and ``score`` is
    measured on the odd ones. User labels are read from ``user_file`` (default: one file per
    SAE in the user cache). Compact statistics (the shipped ones) give the labels shipped with
    them, made from the full statistics."""
    unknown = [k for k in kinds if k not in KINDS]
    if unknown or not kinds:
        raise ValueError(f"kinds must be some of {KINDS}, got {tuple(kinds)!r}")
    path = Path(user_file) if user_file else cache_dir("labels") / f"{stats.sae_hash}.json"
    if stats.is_compact:
        return _labels_of_compact(stats, kinds, path)
    n_windows = stats.token_ids.shape[0]
    fit = np.arange(n_windows) % 2 == 0
    results = []
    for kind in kinds:
        keys, windows, vocab = _keys(stats, kind)
        sets, fit_f1 = _label_sets(stats, keys, windows, fit)
        results.append((sets, fit_f1, _f1(stats, keys, windows, ~fit, sets), vocab, kind))
    labels, scores, kind_of = [], np.zeros(stats.d_sae), []
    # The kind is chosen on the fitting windows too (ties go to the first; a kind with no label
    # scores -1), so the score stays a held-out measure.
    best = np.argmax(np.stack([r[1] for r in results]), axis=0)
    for f in range(stats.d_sae):
        sets, _, heldout_f1, vocab, kind = results[best[f]]
        if sets[f]:
            labels.append(_render(tokenizer, sets[f], vocab, kind))
            scores[f] = heldout_f1[f]
            kind_of.append(kind)
        else:  # nothing recurs where it fires (or it never fires): say what it writes out
            top = stats.vocab_top_ids[f][:3]
            promoted = " / ".join(repr(tokenizer.decode([int(t)])) for t in top)
            never = "never fires; " if stats.density[f] == 0 else ""
            labels.append(f"{never}promotes {promoted}")
            kind_of.append(PROMOTES)
    return Labels(
        labels, scores, _read_user_labels(path), path, kind_of, stats=stats, tokenizer=tokenizer
    )


def _labels_of_compact(stats: FeatureStats, kinds, path: Path) -> Labels:
    # Compact statistics lack most activations, so their labels are the ones computed from the
    # full statistics before compaction and shipped beside them.
    found = None
    if stats.source and tuple(kinds) == KINDS:
        found = _labels_file(Path(stats.source).with_name(LABELS_FILE), stats.sae_hash, path)
    if found is None:
        why = (
            "no readable labels were shipped with them"
            if tuple(kinds) == KINDS
            else f"their shipped labels use kinds={KINDS}"
        )
        raise CompactStatsError(
            f"these statistics are compact and {why}; automatic labels need every activation: "
            "build full statistics with sw.feature_stats(model, sae, n_tokens=100_000)"
        )
    return found


def labels_document(labels: Labels, sae_hash: str, site: str) -> dict:
    """The JSON document of a shipped ``labels.json.gz`` (automatic labels only, with their
    detection and fuzzing scores when the labels' statistics are full)."""
    document = {
        "format": FILE_FORMAT,
        "site": site,
        "sae_hash": sae_hash,
        "labels": list(labels.auto),
        "scores": [round(float(x), 4) for x in labels.score],
        "kinds": list(labels.kind),
    }
    if labels.ensure_scores():
        document["detection"] = [_finite(x) for x in labels.detection]
        document["fuzzing"] = [_finite(x) for x in labels.fuzzing]
        document["notes"] = list(labels.notes or [""] * len(labels.auto))
    return document


# (path, mtime, size) → the parsed document: views ask for labels on every construction.
_SHIPPED: dict[tuple[str, int, int], dict] = {}


def shipped_labels(
    sae_hash: str,
    *,
    site: str,
    root: str | Path | None = None,
    user_file: str | Path | None = None,
) -> Labels | None:
    """The automatic labels shipped for the SAE with fingerprint ``sae_hash`` at ``site``
    (``labels.json.gz`` in the site's folder under ``root``, default the shipped SAEs' folder),
    with the user's own labels (``user_file``, default the per-SAE file in the user cache)
    over them; None when none were shipped for it. A damaged file warns and gives None."""
    return _labels_file(site_folder(site, root) / LABELS_FILE, sae_hash, user_file)


def _labels_file(path: Path, sae_hash: str, user_file: str | Path | None) -> Labels | None:
    try:
        stat = path.stat()
    except OSError:
        return None  # nothing shipped for this site
    key = (str(path.resolve()), stat.st_mtime_ns, stat.st_size)
    try:
        if key not in _SHIPPED:
            _SHIPPED[key] = read_labels(path)
    except ShippedFileError as error:
        warnings.warn(
            f"the shipped labels cannot be read, so none are shown: {error}", stacklevel=2
        )
        return None
    document = _SHIPPED[key]
    if document.get("sae_hash") != sae_hash:
        return None
    user = Path(user_file) if user_file else cache_dir("labels") / f"{sae_hash}.json"

    def scores(key: str) -> np.ndarray | None:
        values = document.get(key)
        return None if values is None else np.array([np.nan if v is None else v for v in values])

    return Labels(
        list(document["labels"]),
        np.asarray(document["scores"], dtype=np.float64),
        _read_user_labels(user),
        user,
        list(document["kinds"]),
        detection=scores("detection"),
        fuzzing=scores("fuzzing"),
        notes=document.get("notes"),
    )


def score_labels(
    stats: FeatureStats,
    labels=None,
    *,
    features: Sequence[int] | None = None,
    simulator: Simulator | None = None,
    n_active: int = N_ACTIVE,
    n_inactive: int = N_INACTIVE,
    seed: int = 0,
    tokenizer=None,
    progress: bool = True,
) -> pd.DataFrame:
    """Detection and fuzzing scores of feature labels on held-out contexts of ``stats`` (full
    statistics; the odd windows).

    ``labels``: a `sw.Labels` (each feature's current label: the user's where set, else the
    automatic one), a mapping feature → text, or None for the automatic labels of ``stats``.
    ``simulator``: who judges the contexts (default `RuleSimulator`, offline; an
    `sw.LLMSimulator` asks a language model). One row per feature: ``label``, ``detection``,
    ``fuzzing`` (balanced accuracies, NaN with a ``note`` when the feature cannot be scored),
    and the number of firing and quiet contexts used. A `sw.Labels` keeps the scores of the
    user's labels it was given (shown beside them in the views)."""
    sampler = LabelSampler(stats, seed=seed, tokenizer=tokenizer)
    if labels is None:
        labels = auto_labels(stats, tokenizer or _tokenizer_free(stats))
    if isinstance(labels, Labels):
        text_of = labels.__getitem__
        default = range(stats.d_sae)
    elif isinstance(labels, Mapping):
        table = {stats.check_feature(int(k)): str(v) for k, v in labels.items()}
        text_of, default = table.__getitem__, sorted(table)
    else:
        raise TypeError(
            f"labels must be sw.Labels, a mapping feature id → text or None, "
            f"not {type(labels).__name__}"
        )
    chosen = list(default) if features is None else [stats.check_feature(f) for f in features]
    simulator = simulator if simulator is not None else RuleSimulator()
    rows = []
    for f in tqdm(chosen, desc="label scores", disable=not progress or len(chosen) < 50):
        text = text_of(f)
        row = {"feature": f, "label": text}
        row.update(score_one(text, sampler.contexts(f, n_active, n_inactive), simulator))
        rows.append(row)
        if isinstance(labels, Labels) and f in labels.user:
            labels.remember_score(f, text, row)
    columns = ["feature", "label", "detection", "fuzzing", "n_active", "n_inactive", "note"]
    return pd.DataFrame(rows, columns=columns).set_index("feature")


class _tokenizer_free:
    """`auto_labels` renders keys with a tokenizer; the statistics' own token texts do."""

    def __init__(self, stats: FeatureStats) -> None:
        self._stats = stats

    def decode(self, ids) -> str:
        return "".join(self._stats.token_text(int(i)) for i in ids)


def explain_with(
    stats: FeatureStats,
    tokenizer,
    explainer,
    features: list[int],
    labels: Labels,
    n_examples: int = 10,
    *,
    model=None,
    sae=None,
    simulator=None,
) -> Labels:
    """Label ``features`` with an explainer and score each new label like every other.

    ``explainer``: an OpenAI-compatible endpoint (`sw.ChatEndpoint`, or its URL as a string),
    which reads `llm.explain_prompt` (top contexts, with their PruningMaxAct cores when
    ``model`` and ``sae`` are given, mutual-information tokens and promoted tokens); or any
    callable ``explainer(feature, examples) -> str``, whose examples are the top contexts with
    the firing token in [[ ]].

    Each label is scored with ``simulator`` (default the offline `RuleSimulator`; pass
    `sw.LLMSimulator(endpoint)` to let a model judge) when ``stats`` are full. A feature whose
    explainer fails (endpoint down or slow after one retry, an answer that is not a label)
    keeps its label, and ``labels.explained[feature]`` says why; a warning lists them."""
    from saewidgets.analysis.llm import ChatEndpoint, LLMError, clean_label, explain_prompt

    if isinstance(explainer, str):
        explainer = ChatEndpoint(explainer)
    if not callable(explainer):
        raise TypeError(
            "explainer must be sw.ChatEndpoint, an endpoint URL or a callable "
            f"(feature, examples) -> str, not {type(explainer).__name__}"
        )
    if (model is None) != (sae is None):
        raise ValueError("pass both model= and sae= (for PruningMaxAct cores), or neither")
    failed = []
    for f in features:
        f = stats.check_feature(f)
        try:
            if isinstance(explainer, ChatEndpoint):
                cores = None
                if model is not None:
                    from saewidgets.analysis.pruning import prune_examples

                    cores = [r["length"] for r in prune_examples(model, sae, stats, f, n_examples)]
                text = clean_label(explainer(explain_prompt(stats, f, cores, n_examples)))
            else:
                text = str(explainer(f, _marked_examples(stats, tokenizer, f, n_examples)))
        except LLMError as error:
            labels.explained[f] = {"status": "kept", "why": str(error)}
            failed.append(f"#{f} ({error})")
            continue
        labels.set(f, text)
        labels.explained[f] = {"status": "explained", "why": ""}
        if simulator is not None and labels.scorable:
            sampler = LabelSampler(stats, tokenizer=tokenizer)
            labels.remember_score(f, text, score_one(text, sampler.contexts(f), simulator))
    if failed:
        warnings.warn(
            f"{len(failed)} feature(s) kept their labels: " + "; ".join(failed), stacklevel=2
        )
    return labels


def _marked_examples(stats: FeatureStats, tokenizer, feature: int, n: int) -> list[str]:
    texts = []
    for ex in stats.top_examples(feature, n=n):
        pieces = [tokenizer.decode([t]) for t in ex["token_ids"]]
        pieces[ex["focus"]] = f"[[{pieces[ex['focus']]}]]"
        texts.append("".join(pieces))
    return texts
