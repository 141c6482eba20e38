"""`sw.feature_stats`: everything a feature dashboard shows, from one pass over a corpus.

All bookkeeping is vectorised over features: per batch the SAE's activations are reduced with
tensor operations (counts, sums, maxima, log-spaced histograms, a running top-N per feature,
co-occurrence counts, see `cooccurrence.py`). Per-token activations are kept as CSR, so context
windows for any feature are cut out afterwards without running the model again. Decoder-side
statistics (VocabProj logit effects, nearest features by decoder cosine) need no corpus.

Results are cached on disk as ``.npy`` files keyed by hashes of the model, the SAE's weights and
the corpus's contents (`Corpus.fingerprint`, not its name: two corpora may share one) with the
window settings, so asking again is instant; a damaged cache is rebuilt.

The shipped SAEs come with *compact* statistics (`FeatureStats.compacted`, one ``stats.npz``
per site, see `shipped.py`): every per-feature array, but per-token activations only where the
dashboard's examples need them. `feature_stats` returns those for a shipped SAE when asked for
the default sample, without running the model.
"""

from __future__ import annotations

import hashlib
import json
import os
import warnings
import weakref
from collections.abc import Callable
from dataclasses import MISSING, dataclass, field, fields, replace
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from saewidgets.analysis.cooccurrence import CooccurrenceCounter
from saewidgets.analysis.logit_lens import final_norm_scale, unembedding
from saewidgets.analysis.sae_inputs import sae_at
from saewidgets.analysis.shipped import (
    STATS_FILE,
    ShippedFileError,
    read_meta,
    read_npz,
    read_vocab,
    site_folder,
    vocab_hash,
    write_json,
    write_npz,
)
from saewidgets.core.aliases import renamed, warn_renamed
from saewidgets.core.cache import atomic_folder, cache_dir
from saewidgets.core.errors import SAEWidgetsError
from saewidgets.corpus import Corpus
from saewidgets.model.model import Model
from saewidgets.model.tokens import TokenDecoder
from saewidgets.sae.module import SAE

HIST_EDGES = np.linspace(-4.0, 3.0, 57)  # log10 activation, 1e-4 .. 1e3
N_TOP = 24
N_RELATED = 12
N_LOGITS = 12
LOGIT_BINS = 40
STATS_VERSION = 3
DEFAULT_TOKENS = 100_000  # the default sample of `feature_stats` (and of the shipped files)
DEFAULT_WINDOW = 128
EXAMPLE_LEFT, EXAMPLE_RIGHT = 16, 6  # `FeatureStats.example`'s default context
# The examples a dashboard card shows (`widgets/cards.py` reads these): compact statistics keep
# the activations of exactly these, so a card from them equals one from the full statistics.
CARD_TOP = 12
CARD_BINS, CARD_PER_BIN = 10, 4
CARD_LEFT, CARD_RIGHT = 20, 6


# Arrays a compact file may store as float16: displayed values only (the activations are float16
# already, and so are the top values read back from them; density, mean and maximum keep
# float32: the steering units come from the maximum).
_FLOAT16_IN_FILE = {
    "vocab_top_values",
    "vocab_bottom_values",
    "neighbour_values",
    "cooccur_values",
    "mi_values",
    "mi_next_values",
}


class StatsMismatch(SAEWidgetsError, ValueError):
    """Statistics built for a different SAE (or model) than the one given."""


class CompactStatsError(SAEWidgetsError, ValueError):
    """A request compact statistics cannot answer exactly (examples they did not keep)."""


# SAE → (what its weights and settings were when hashed, the hash). Hashing reads every weight
# (≈ 40 ms for 576 × 4,608), and steering checks its statistics on every run.
_FINGERPRINTS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def sae_fingerprint(sae: SAE) -> str:
    """A hash of an SAE's architecture and weights (recomputed only after they change)."""
    config = json.dumps(sae.config(), sort_keys=True, default=str)
    # In-place edits bump a tensor's version; replaced tensors have a new data pointer.
    state = (config, *((n, p.data_ptr(), p._version) for n, p in sae.named_parameters()))
    cached = _FINGERPRINTS.get(sae)
    if cached is not None and cached[0] == state:
        return cached[1]
    h = hashlib.blake2b(digest_size=12)
    h.update(config.encode())
    for name, p in sorted(sae.named_parameters()):
        h.update(name.encode())
        h.update(p.detach().float().cpu().contiguous().numpy().tobytes())
    _FINGERPRINTS[sae] = (state, h.hexdigest())
    return h.hexdigest()


@dataclass
class FeatureStats:
    """Per-feature statistics of one SAE over a corpus sample (arrays indexed by feature)."""

    site: str
    d_sae: int
    model_name: str
    sae_hash: str
    corpus_name: str
    n_tokens: int  # content tokens seen (first positions and BOS/pad excluded)
    token_ids: np.ndarray  # [n_windows, window] the windows that were read
    indptr: np.ndarray  # CSR over flat token positions of token_ids
    indices: np.ndarray
    values: np.ndarray
    density: np.ndarray  # fraction of content tokens where the feature fires
    mean_active: np.ndarray  # mean activation when it fires
    max_activation: np.ndarray
    hist_counts: np.ndarray  # [d_sae, len(HIST_EDGES) - 1] over log10 activation
    top_positions: (
        np.ndarray
    )  # [d_sae, N_TOP] flat token positions of the strongest hits (-1: none)
    top_values: np.ndarray
    vocab_top_ids: np.ndarray  # [d_sae, N_LOGITS] tokens the decoder direction promotes
    vocab_top_values: np.ndarray
    vocab_bottom_ids: np.ndarray  # ... and suppresses
    vocab_bottom_values: np.ndarray
    logit_hist_counts: np.ndarray  # [d_sae, LOGIT_BINS]
    logit_hist_range: np.ndarray  # [d_sae, 2] (min, max) of the logit effects
    neighbour_ids: np.ndarray  # [d_sae, N_RELATED] nearest by decoder cosine
    neighbour_values: np.ndarray
    cooccur_ids: np.ndarray  # [d_sae, N_RELATED] most co-active (Jaccard)
    cooccur_values: np.ndarray
    hist_edges: np.ndarray = field(default_factory=lambda: HIST_EDGES.copy())
    corpus_hash: str = ""  # of the corpus's contents and the windows, so names cannot mix
    model_hash: str = ""  # `Model.fingerprint()` of the model that produced the activations
    vocab: list[str] = field(default_factory=list)  # display text of every token id
    # Compact statistics (`compacted`) keep activations only inside their examples' contexts;
    # ``compact`` names those examples (empty: full statistics, every activation kept).
    compact: dict = field(default_factory=dict)
    quantile_positions: np.ndarray | None = None  # [d_sae, n_bins, per_bin] positions, -1: none
    quantile_counts: np.ndarray | None = None  # [d_sae, n_bins] hits in each bin
    quantile_max: np.ndarray | None = None  # [d_sae] top of the binned range (largest value)
    source: str = ""  # the file these were read from (compact statistics)
    # Mutual-information tokens (`mutual_information.py`), [d_sae, N_MI] each: computed from
    # the activations on first use, and stored in compact statistics (which cannot recompute).
    mi_ids: np.ndarray | None = None
    mi_values: np.ndarray | None = None
    mi_next_ids: np.ndarray | None = None
    mi_next_values: np.ndarray | None = None

    @property
    def is_compact(self) -> bool:
        return bool(self.compact)

    def _mutual_information(self) -> dict[str, np.ndarray] | None:
        """The MI token arrays, computed (once) from the activations when not stored; None for
        compact statistics written before they existed."""
        if self.mi_ids is None:
            if self.compact:
                return None
            from saewidgets.analysis.mutual_information import mutual_information_tokens

            arrays = mutual_information_tokens(
                np.asarray(self.token_ids), self.indptr, self.indices, self.d_sae
            )
            for name, value in arrays.items():
                object.__setattr__(self, name, value)
        return {
            "mi_ids": self.mi_ids,
            "mi_values": self.mi_values,
            "mi_next_ids": self.mi_next_ids,
            "mi_next_values": self.mi_next_values,
        }

    def mi_tokens(self, feature: int, next_token: bool = False) -> list[tuple[int, float]]:
        """The tokens (or, with ``next_token``, the tokens just after) that tell the most
        about where ``feature`` fires, as (token id, mutual information in bits), best first;
        empty for compact statistics written before this was stored."""
        feature = self.check_feature(feature)
        arrays = self._mutual_information()
        if arrays is None:
            return []
        kind = "mi_next" if next_token else "mi"
        ids, values = arrays[f"{kind}_ids"][feature], arrays[f"{kind}_values"][feature]
        return [(int(t), float(v)) for t, v in zip(ids, values, strict=True) if t >= 0]

    def token_text(self, token_id: int) -> str:
        token_id = int(token_id)
        return self.vocab[token_id] if 0 <= token_id < len(self.vocab) else f"<id {token_id}>"

    def __repr__(self) -> str:
        dead = float((self.density == 0).mean())
        return (
            f"FeatureStats({self.site}, {self.d_sae} features, {self.n_tokens:,} tokens, "
            f"{dead:.1%} never active{', compact' if self.compact else ''})"
        )

    @property
    def window(self) -> int:
        """Tokens per window read (the columns of ``token_ids``)."""
        return int(self.token_ids.shape[1])

    @property
    def context(self) -> int:
        """Deprecated name of `window`."""
        warn_renamed("FeatureStats.context", "FeatureStats.window")
        return self.window

    def check_feature(self, feature: int) -> int:
        if not isinstance(feature, (int, np.integer)) or not 0 <= feature < self.d_sae:
            raise IndexError(
                f"feature {feature!r} is out of range: this SAE has features 0..{self.d_sae - 1}"
            )
        return int(feature)

    def check_sae(self, sae: SAE, model: Model | None = None) -> None:
        """Raise `StatsMismatch` unless these statistics were built for ``sae``. With ``model``,
        also warn when they were built from another model's activations: still a fair picture
        when only the dtype or device differs, wrong after a fine-tune or an edit."""
        if sae_fingerprint(sae) != self.sae_hash:
            raise StatsMismatch(
                f"these statistics were built for a different SAE (hash {self.sae_hash}); "
                "rebuild them with sw.feature_stats for the SAE you pass"
            )
        if model is not None and self.source and model.name == self.model_name:
            # Shipped statistics describe the shipped SAE on the model of that name; another
            # dtype or device of it reads nearly the same activations (and checking would
            # hash every weight, seconds on CPU).
            return
        if model is not None and self.model_hash and model.fingerprint() != self.model_hash:
            warnings.warn(
                f"these statistics were built from the activations of another model than the "
                f"one passed ({self.model_name!r} then, {model.name!r} now, with other weights, "
                "dtype or config); the live text box uses the model passed. Rebuild them with "
                "sw.feature_stats(model, sae) if the weights changed.",
                stacklevel=3,
            )

    def feature_values(self, feature: int, positions: np.ndarray) -> np.ndarray:
        """Activation of ``feature`` at flat token positions (0 where it does not fire; compact
        statistics keep activations only inside their examples' contexts)."""
        feature = self.check_feature(feature)
        out = np.zeros(len(positions), dtype=np.float32)
        for i, pos in enumerate(positions):
            lo, hi = self.indptr[pos], self.indptr[pos + 1]
            hit = np.nonzero(self.indices[lo:hi] == feature)[0]
            if len(hit):
                out[i] = self.values[lo + hit[0]]
        return out

    def example(
        self, feature: int, position: int, left: int = EXAMPLE_LEFT, right: int = EXAMPLE_RIGHT
    ) -> dict:
        """A context window around one flat token position, with this feature's activations."""
        row, col = divmod(int(position), self.window)
        start, stop = max(0, col - left), min(self.window, col + right + 1)
        flat = np.arange(row * self.window + start, row * self.window + stop)
        return {
            "token_ids": self.token_ids[row, start:stop].tolist(),
            "values": self.feature_values(feature, flat).tolist(),
            "focus": col - start,
            "window": row,
        }

    def top_examples(self, feature: int, n: int = 10, **window) -> list[dict]:
        feature = self.check_feature(feature)
        if self.compact and n > self.compact["n_top"]:
            self._cannot(f"{n} top examples")
        self._check_window(window)
        positions = [p for p in self.top_positions[feature] if p >= 0][:n]
        return [self.example(feature, p, **window) for p in positions]

    def quantile_examples(
        self, feature: int, n_bins: int = 10, per_bin: int = 5, seed: int = 0, **window
    ) -> list[dict]:
        """Examples spread over the activation range: ``n_bins`` equal-width bins from 0 to the
        maximum, up to ``per_bin`` random hits from each (highest bin first)."""
        feature = self.check_feature(feature)
        self._check_window(window)
        if self.compact:
            return self._kept_quantiles(feature, n_bins, per_bin, seed, window)
        hits = np.nonzero(self.indices == feature)[0]
        if len(hits) == 0:
            return []
        rows = np.searchsorted(self.indptr, hits, side="right") - 1
        return [
            {
                "bin": [float(edges[b]), float(edges[b + 1])],
                "count": count,
                "examples": [self.example(feature, int(rows[m]), **window) for m in chosen],
            }
            for b, edges, count, chosen in _quantile_pick(self.values[hits], n_bins, per_bin, seed)
        ]

    def _kept_quantiles(self, feature, n_bins, per_bin, seed, window) -> list[dict]:
        kept = self.compact
        if (n_bins, per_bin, seed) != (kept["n_bins"], kept["per_bin"], kept["seed"]):
            self._cannot(f"quantile examples with n_bins={n_bins}, per_bin={per_bin}, seed={seed}")
        edges = np.linspace(0, float(self.quantile_max[feature]), n_bins + 1)
        groups = []
        for b in range(n_bins - 1, -1, -1):
            count = int(self.quantile_counts[feature, b])
            if count == 0:
                continue
            positions = [int(p) for p in self.quantile_positions[feature, b] if p >= 0]
            groups.append(
                {
                    "bin": [float(edges[b]), float(edges[b + 1])],
                    "count": count,
                    "examples": [self.example(feature, p, **window) for p in positions],
                }
            )
        return groups

    def _check_window(self, window: dict) -> None:
        if self.compact and (
            window.get("left", EXAMPLE_LEFT) > self.compact["left"]
            or window.get("right", EXAMPLE_RIGHT) > self.compact["right"]
        ):
            self._cannot(f"contexts of {window} tokens")

    def _cannot(self, what: str) -> None:
        k = self.compact
        raise CompactStatsError(
            f"these statistics are compact (as shipped with the package): they keep the "
            f"activations of the dashboard's examples only (the top {k['n_top']}, quantile "
            f"examples with n_bins={k['n_bins']}, per_bin={k['per_bin']}, seed={k['seed']}; "
            f"{k['left']} tokens left and {k['right']} right), not {what}. Build full "
            f"statistics for that: sw.feature_stats(model, sae, n_tokens={DEFAULT_TOKENS:_})"
        )

    def compacted(
        self,
        *,
        n_top: int = N_TOP,
        n_bins: int = CARD_BINS,
        per_bin: int = CARD_PER_BIN,
        seed: int = 0,
        left: int = CARD_LEFT,
        right: int = CARD_RIGHT,
    ) -> FeatureStats:
        """A copy that keeps every per-feature array and the windows, but per-token activations
        only where examples need them: per feature, its own activations inside the contexts
        (``left`` / ``right`` tokens) of its ``n_top`` top examples and of the quantile examples
        that ``quantile_examples(f, n_bins, per_bin, seed)`` picks, whose positions are stored.
        Those examples come out exactly as from these statistics; others are refused
        (`CompactStatsError`). Labels need every activation: compute them first."""
        if self.compact:
            raise CompactStatsError("these statistics are compact already")
        d, n_pos = self.d_sae, self.token_ids.size
        rows = np.repeat(np.arange(n_pos), np.diff(self.indptr))
        feats = self.indices.astype(np.int64)
        by_feature = np.argsort(feats, kind="stable")  # each feature's hits in position order
        bounds = np.searchsorted(feats[by_feature], np.arange(d + 1))
        q_pos = np.full((d, n_bins, per_bin), -1, dtype=np.int64)
        q_count = np.zeros((d, n_bins), dtype=np.int32)
        q_max = np.zeros(d, dtype=np.float32)
        for f in np.nonzero(np.diff(bounds))[0]:
            hits = by_feature[bounds[f] : bounds[f + 1]]
            vals = self.values[hits]
            q_max[f] = vals.max()
            for b, _, count, chosen in _quantile_pick(vals, n_bins, per_bin, seed):
                q_count[f, b] = count
                q_pos[f, b, : len(chosen)] = rows[hits[chosen]]
        # Keep a hit of feature f when it lies in the context of one of f's examples: contexts
        # as intervals of keys f * n_pos + position, sorted by start; a hit is inside one iff
        # the furthest end among the intervals starting at or before it reaches it.
        centres = np.concatenate([self.top_positions[:, :n_top], q_pos.reshape(d, -1)], axis=1)
        owner = np.repeat(np.arange(d), centres.shape[1])
        centres = centres.reshape(-1)
        owner, centres = owner[centres >= 0], centres[centres >= 0]
        row_start = centres - centres % self.window
        lo = owner * n_pos + np.maximum(centres - left, row_start)
        hi = owner * n_pos + np.minimum(centres + right, row_start + self.window - 1)
        order = np.argsort(lo)
        lo, reach = lo[order], np.maximum.accumulate(hi[order])
        keys = feats * n_pos + rows
        before = np.searchsorted(lo, keys, side="right") - 1
        keep = (before >= 0) & (reach[np.maximum(before, 0)] >= keys)
        counts = np.bincount(rows[keep], minlength=n_pos)
        mi = self._mutual_information()  # needs every activation: computed before dropping them
        return replace(
            self,
            **mi,
            indptr=np.concatenate([[0], np.cumsum(counts)]).astype(np.int64),
            indices=self.indices[keep],
            values=self.values[keep],
            compact={
                "n_top": int(n_top),
                "n_bins": int(n_bins),
                "per_bin": int(per_bin),
                "seed": int(seed),
                "left": int(left),
                "right": int(right),
            },
            quantile_positions=q_pos,
            quantile_counts=q_count,
            quantile_max=q_max,
        )

    # -- storage -----------------------------------------------------------------------------

    def save(self, folder: str | Path) -> Path:
        meta = {"version": STATS_VERSION}
        with atomic_folder(Path(folder)) as tmp:
            for f in fields(self):
                value = getattr(self, f.name)
                if isinstance(value, np.ndarray):
                    np.save(tmp / f"{f.name}.npy", value)
                else:
                    meta[f.name] = value
            (tmp / "meta.json").write_text(json.dumps(meta, indent=2))
        return Path(folder)

    @classmethod
    def load(cls, folder: str | Path) -> FeatureStats:
        folder = Path(folder)
        meta = json.loads((folder / "meta.json").read_text())
        if meta.pop("version", None) != STATS_VERSION:
            raise ValueError(f"{folder}: statistics from another version")
        arrays = {}
        for f in fields(cls):
            path = folder / f"{f.name}.npy"
            optional = f.default is not MISSING or f.default_factory is not MISSING
            if f.name in meta or (optional and not path.exists()):
                continue  # fields added later keep their default in older caches
            arrays[f.name] = np.load(path, mmap_mode="r", allow_pickle=False)
        stats = cls(**meta, **arrays)
        stats._check_shapes(folder)
        return stats

    def _check_shapes(self, where) -> None:
        d = self.d_sae
        n_pos = self.token_ids.size
        ok = (
            self.density.shape == (d,)
            and self.top_positions.shape[0] == d
            and self.indptr.shape == (n_pos + 1,)
            and self.indptr[-1] == len(self.indices) == len(self.values)
        )
        if ok and self.compact:
            ok = (
                self.quantile_positions is not None
                and self.quantile_positions.shape
                == (d, self.compact["n_bins"], self.compact["per_bin"])
                and self.quantile_counts.shape == (d, self.compact["n_bins"])
                and self.quantile_max.shape == (d,)
            )
        if not ok:
            raise ValueError(f"{where}: arrays do not fit together")

    def save_npz(self, path: str | Path, *, vocab_file: str | Path | None = None) -> int:
        """Write compact statistics to one compressed ``.npz`` file (no pickle); returns its
        size in bytes. With ``vocab_file`` the token texts go there (shared by several files,
        which record its hash) instead of into this file.

        The kept activations are stored by feature (their count per feature; positions as
        steps from the feature's previous one; values). Example positions are stored as
        references to their feature's kept activations (every example's centre is one), and
        ``top_values`` not at all: they are those activations' values."""
        if not self.compact:
            raise CompactStatsError("only compact statistics are written as .npz: .compacted()")
        if self.compact["n_top"] < self.top_positions.shape[1]:
            raise CompactStatsError("a compact file keeps the contexts of every top position")
        skip = {"indptr", "indices", "values", "top_positions", "top_values", "source"}
        arrays, meta = {}, {}
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name in skip or (f.name == "vocab" and vocab_file is not None):
                continue
            if isinstance(value, np.ndarray):
                arrays[f.name] = value
            else:
                meta[f.name] = value
        path = Path(path)
        if vocab_file is not None:
            vocab_file = Path(vocab_file)
            write_json(vocab_file, list(self.vocab))
            meta["vocab_file"] = os.path.relpath(vocab_file, path.parent)
            meta["vocab_hash"] = vocab_hash(list(self.vocab))
        rows = np.repeat(np.arange(self.token_ids.size), np.diff(self.indptr))
        hits = _Hits.from_csr(rows, self.indices, self.values, self.d_sae, self.token_ids.size)
        arrays["kept_per_feature"] = hits.counts
        arrays["position_steps"] = hits.steps()
        arrays["values"] = hits.values
        arrays["top_refs"] = hits.refs(self.top_positions)
        arrays["quantile_positions"] = hits.refs(self.quantile_positions)
        return write_npz(path, arrays, meta, lossy=_FLOAT16_IN_FILE)

    @classmethod
    def load_npz(cls, path: str | Path) -> FeatureStats:
        """Compact statistics from a file written by `save_npz` (`ShippedFileError` when it,
        or the vocabulary file it names, is missing, damaged or of another format)."""
        path = Path(path)
        arrays, meta = read_npz(path)
        meta.pop("format", None)
        try:
            if "vocab_file" in meta:
                shared = path.parent / meta.pop("vocab_file")
                meta["vocab"] = read_vocab(shared, meta.pop("vocab_hash"))
            n_pos = arrays["token_ids"].size
            hits = _Hits.from_file(
                arrays.pop("kept_per_feature"),
                arrays.pop("position_steps"),
                arrays["values"],
                n_pos,
            )
            arrays["indptr"], arrays["indices"], arrays["values"] = hits.csr()
            refs = arrays.pop("top_refs")
            arrays["top_positions"] = hits.positions(refs)
            arrays["top_values"] = hits.values_at(refs)
            arrays["quantile_positions"] = hits.positions(arrays["quantile_positions"])
            stats = cls(**meta, **arrays, source=str(path))
            stats._check_shapes(path)
        except (KeyError, TypeError, ValueError, IndexError, AttributeError) as error:
            raise ShippedFileError(f"{path}: damaged ({error})") from error
        return stats


class _Hits:
    """Kept activations by feature (by position within a feature): how a compact file stores
    them, and how example positions become small references ("the feature's i-th kept
    activation") and back."""

    def __init__(self, counts, rows, values, n_pos) -> None:
        self.counts = counts.astype(np.int64)  # [d_sae] kept activations per feature
        self.first = np.concatenate([[0], np.cumsum(self.counts)[:-1]])
        self.feats = np.repeat(np.arange(len(counts)), self.counts)
        self.rows, self.values, self.n_pos = rows, values, n_pos
        if len(rows) and not (rows.min() >= 0 and rows.max() < n_pos):
            raise ValueError("positions out of range")
        self.keys = self.feats * n_pos + rows  # ascending

    @classmethod
    def from_csr(cls, rows, indices, values, d_sae, n_pos) -> _Hits:
        order = np.lexsort((rows, indices))
        counts = np.bincount(indices, minlength=d_sae)
        return cls(counts, rows[order], values[order], n_pos)

    @classmethod
    def from_file(cls, counts, steps, values, n_pos) -> _Hits:
        if counts.min(initial=0) < 0 or counts.sum() != len(steps) or len(values) != len(steps):
            raise ValueError("kept activations do not fit together")
        # Each feature's first step is its first position; later ones add to it.
        total = np.cumsum(steps)
        first = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)
        base = np.where(first > 0, total[np.maximum(first - 1, 0)] if len(total) else 0, 0)
        rows = total - np.repeat(base, counts)
        return cls(counts, rows, values, n_pos)

    def steps(self) -> np.ndarray:
        steps = np.diff(self.rows, prepend=0)
        starts = self.first[self.counts > 0]
        steps[starts] = self.rows[starts]
        return steps

    def csr(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``indptr``, ``indices``, ``values`` over positions (features in order within one)."""
        order = np.lexsort((self.feats, self.rows))
        counts = np.bincount(self.rows, minlength=self.n_pos)
        indptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        return indptr, self.feats[order].astype(np.int32), self.values[order]

    def refs(self, positions: np.ndarray) -> np.ndarray:
        valid = positions >= 0
        if not len(self.keys):  # nothing kept: there can be no examples either
            if valid.any():
                raise CompactStatsError("an example position is not among the kept activations")
            return np.full(positions.shape, -1, dtype=np.int64)
        owner = np.repeat(np.arange(positions.shape[0]), positions[0].size).reshape(positions.shape)
        wanted = owner * self.n_pos + positions
        where = np.minimum(np.searchsorted(self.keys, wanted), len(self.keys) - 1)
        if not (self.keys[where] == wanted)[valid].all():
            raise CompactStatsError("an example position is not among the kept activations")
        return np.where(valid, where - self.first[owner], -1)

    def _at(self, refs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        owner = np.repeat(np.arange(refs.shape[0]), refs[0].size).reshape(refs.shape)
        valid = refs >= 0
        if (refs >= self.counts[owner]).any():
            raise ValueError("an example refers past its feature's kept activations")
        return valid, np.where(valid, self.first[owner] + refs, 0)

    def positions(self, refs: np.ndarray) -> np.ndarray:
        valid, at = self._at(refs)
        return np.where(valid, self.rows[at] if len(self.rows) else 0, -1).astype(np.int64)

    def values_at(self, refs: np.ndarray) -> np.ndarray:
        valid, at = self._at(refs)
        return np.where(valid, self.values[at] if len(self.values) else 0, 0).astype(np.float32)


def _quantile_pick(vals: np.ndarray, n_bins: int, per_bin: int, seed: int):
    """Per non-empty bin (highest first): its index, the edges, its hit count and the chosen
    hits (indices into ``vals``). One definition, so compact statistics store exactly the
    examples `FeatureStats.quantile_examples` shows from full ones."""
    edges = np.linspace(0, float(vals.max()), n_bins + 1)
    which = np.clip(np.searchsorted(edges, vals, side="right") - 1, 0, n_bins - 1)
    rng = np.random.default_rng(seed)
    picks = []
    for b in range(n_bins - 1, -1, -1):
        members = np.nonzero(which == b)[0]
        if len(members) == 0:
            continue
        chosen = rng.choice(members, size=min(per_bin, len(members)), replace=False)
        picks.append((b, edges, len(members), chosen))
    return picks


# -- the pass -------------------------------------------------------------------------------------


def _merge_top(best_v, best_p, new_v, new_p, n):
    values = torch.cat([best_v, new_v], dim=1)
    positions = torch.cat([best_p, new_p], dim=1)
    top_v, where = torch.topk(values, n, dim=1)
    return top_v, torch.gather(positions, 1, where)


def _decoder_stats(model: Model, sae: SAE) -> dict:
    """VocabProj and decoder-cosine neighbours: no corpus needed."""
    w_dec = sae.W_dec.detach().float().cpu()
    scale = final_norm_scale(model)
    direction = w_dec * scale if scale is not None else w_dec
    unembed = unembedding(model)  # [vocab, d]
    out = {k: [] for k in ("vt_i", "vt_v", "vb_i", "vb_v", "lh", "lr", "nb_i", "nb_v")}
    unit = torch.nn.functional.normalize(w_dec, dim=1)
    for start in range(0, sae.d_sae, 256):
        block = direction[start : start + 256] @ unembed.T  # [chunk, vocab]
        top = torch.topk(block, N_LOGITS, dim=1)
        bottom = torch.topk(-block, N_LOGITS, dim=1)
        out["vt_i"].append(top.indices)
        out["vt_v"].append(top.values)
        out["vb_i"].append(bottom.indices)
        out["vb_v"].append(-bottom.values)
        lo, hi = block.min(1).values, block.max(1).values
        width = (hi - lo).clamp_min(1e-12)
        bins = ((block - lo[:, None]) / width[:, None] * LOGIT_BINS).long().clamp(0, LOGIT_BINS - 1)
        counts = torch.zeros(len(block), LOGIT_BINS, dtype=torch.int64)
        counts.scatter_add_(1, bins, torch.ones_like(bins))
        out["lh"].append(counts)
        out["lr"].append(torch.stack([lo, hi], 1))
        cos = unit[start : start + 256] @ unit.T
        cos[torch.arange(len(cos)), torch.arange(start, start + len(cos))] = -2  # not itself
        near = torch.topk(cos, min(N_RELATED, sae.d_sae - 1), dim=1)
        out["nb_i"].append(near.indices)
        out["nb_v"].append(near.values)
    cat = {k: torch.cat(v).numpy() for k, v in out.items()}
    return {
        "vocab_top_ids": cat["vt_i"].astype(np.int32),
        "vocab_top_values": cat["vt_v"].astype(np.float32),
        "vocab_bottom_ids": cat["vb_i"].astype(np.int32),
        "vocab_bottom_values": cat["vb_v"].astype(np.float32),
        "logit_hist_counts": cat["lh"].astype(np.int32),
        "logit_hist_range": cat["lr"].astype(np.float32),
        "neighbour_ids": cat["nb_i"].astype(np.int32),
        "neighbour_values": cat["nb_v"].astype(np.float32),
    }


def _vocab(model: Model) -> list[str]:
    # Stored with the statistics so dashboards render examples without the tokenizer.
    decoder = TokenDecoder(model.tokenizer)
    return decoder.texts(range(len(model.tokenizer)))


def _cache_key(identity: dict[str, str]) -> str:
    key = json.dumps([STATS_VERSION, *sorted(identity.items())])
    return hashlib.blake2b(key.encode(), digest_size=10).hexdigest()


def _load_cached(folder: Path, expected: dict[str, str]) -> FeatureStats | None:
    """The statistics saved in ``folder`` if they are whole and were built from the expected
    model, SAE, site and windows, else None. Nothing is removed here: a rebuild replaces the
    folder only once it has succeeded (`atomic_folder`), so a failed one loses nothing."""
    if not (folder / "meta.json").is_file():
        return None
    try:
        stats = FeatureStats.load(folder)
    except (OSError, ValueError, KeyError, TypeError, json.JSONDecodeError):
        return None  # damaged
    return stats if all(getattr(stats, k) == v for k, v in expected.items()) else None


# (path, mtime, size) → the compact statistics read from it: every view asks again.
_SHIPPED: dict[tuple[str, int, int], FeatureStats] = {}


def _from_folder(sae: SAE, root: Path) -> bool:
    source = sae.metadata.get("source")
    return bool(source) and Path(source).resolve().parent == root.resolve()


def shipped_stats(
    sae: SAE,
    *,
    site: str | None = None,
    model: Model | None = None,
    root: str | Path | None = None,
) -> FeatureStats | None:
    """The compact statistics shipped for ``sae`` (``stats.npz`` in its site's folder under
    ``root``, default the shipped SAEs' folder), or None when there are none for it: the file
    must record this SAE's fingerprint and, with ``model``, that model's name (not its full
    fingerprint: the float32 and bfloat16 copies of the embedded model, on any device, share
    them). A missing or damaged file of a shipped SAE warns and gives None."""
    site = site or sae.site
    path = site_folder(site, root) / STATS_FILE if site else None
    # An SAE loaded from the shipped folder should find its statistics there.
    ours = path is not None and _from_folder(sae, path.parent.parent)

    def fall_back(why: str) -> None:
        warnings.warn(
            f"{why}; sw.feature_stats runs its pass over the corpus instead (minutes on a CPU). "
            "Maintainers regenerate the file with `python -m saewidgets ship-stats`.",
            stacklevel=3,
        )

    if path is None or not path.is_file():
        if ours:
            fall_back(f"the statistics shipped for {site} are missing ({path})")
        return None
    try:
        meta = read_meta(path)  # one small member: decide before reading the arrays
        if meta.get("sae_hash") != sae_fingerprint(sae):
            if ours:
                fall_back(f"{path} describes other weights than the shipped SAE at {site}")
            return None
        if model is not None and meta.get("model_name") != model.name:
            return None  # statistics of another model's activations
        stat = path.stat()
        key = (str(path.resolve()), stat.st_mtime_ns, stat.st_size)
        if key not in _SHIPPED:
            _SHIPPED[key] = FeatureStats.load_npz(path)
        return _SHIPPED[key]
    except (ShippedFileError, OSError) as error:
        fall_back(f"the statistics shipped for {site} cannot be read ({error})")
        return None


@renamed(context="window")
def feature_stats(
    model: Model,
    sae: SAE,
    corpus: Corpus | None = None,
    *,
    n_tokens: int | None = None,
    window: int = DEFAULT_WINDOW,
    batch_windows: int = 8,
    site: str | None = None,
    cache: bool | str | Path = True,
    progress: bool = True,
    on_progress: Callable[[float], None] | None = None,
) -> FeatureStats:
    """Dashboard statistics for every feature of ``sae`` over ``n_tokens`` tokens (default
    100,000) of ``corpus`` (default: the held-out split of the offline corpus), in one pass.
    Cached on disk.

    For an SAE shipped with the package, asked with the default corpus, ``n_tokens`` and
    ``window`` (and no cache folder), this returns the compact statistics shipped with it
    at once, without running the model (`shipped_stats`; their sample is held-out text of the
    broad corpus). Pass ``corpus`` or ``n_tokens`` to run the pass instead.
    ``on_progress(fraction)`` is called after each batch of windows (an exception it raises,
    such as a cancellation, stops the pass)."""
    from saewidgets.corpus import default

    site, sae = sae_at(sae, model, site)  # the checks every entry point shares
    if corpus is None and n_tokens is None and window == DEFAULT_WINDOW and cache in (True, False):
        found = shipped_stats(sae, site=site, model=model)
        if found is not None:
            return found
    n_tokens = DEFAULT_TOKENS if n_tokens is None else n_tokens
    corpus = corpus if corpus is not None else default().split("heldout")
    corpus_key, windows = corpus.fingerprint(), None
    if corpus_key is None:  # the corpus cannot vouch for its contents: key on what it yields
        windows = corpus.take(model.tokenizer, n_tokens, window=window)
        corpus_key = hashlib.blake2b(windows.tobytes(), digest_size=16).hexdigest()
    windows_key = json.dumps([corpus_key, n_tokens, window])
    identity = {
        "site": site,
        "model_hash": model.fingerprint(),
        "sae_hash": sae_fingerprint(sae),
        "corpus_hash": hashlib.blake2b(windows_key.encode(), digest_size=12).hexdigest(),
    }
    folder = None
    if cache:
        folder = cache_dir("stats") / _cache_key(identity) if cache is True else Path(cache)
        cached = _load_cached(folder, identity)
        if cached is not None:
            return cached

    if windows is None:
        windows = corpus.take(model.tokenizer, n_tokens, window=window, cache=True)
    d = sae.d_sae
    count = torch.zeros(d, dtype=torch.float64)
    total = torch.zeros(d, dtype=torch.float64)
    peak = torch.zeros(d)
    hist = torch.zeros(d * (len(HIST_EDGES) - 1), dtype=torch.int64)
    edges = torch.from_numpy(HIST_EDGES).float()
    best_v = torch.full((d, N_TOP), -1.0)
    best_p = torch.full((d, N_TOP), -1, dtype=torch.int64)
    cooccur = CooccurrenceCounter(d)
    counts, cols, vals = [], [], []
    content = 0
    for start in tqdm(
        range(0, len(windows), batch_windows), desc="feature stats", disable=not progress
    ):
        if on_progress is not None:
            on_progress(start / max(1, len(windows)))
        ids = torch.from_numpy(windows[start : start + batch_windows])
        acts = model.read_sites(ids, torch.ones_like(ids), [site])[site]
        keep = model.content_mask(ids).reshape(-1)
        with torch.no_grad():
            f = sae.encode(acts.reshape(-1, acts.shape[-1])).float().cpu()
        f[~keep] = 0
        content += int(keep.sum())
        # Work on the hits only (a TopK SAE has k per token out of d_sae): every statistic below
        # is a scatter over (row, feature, value) triples, never a dense pass over features.
        rows, feats = (f > 0).nonzero(as_tuple=True)  # row-major, so rows are sorted
        hit_vals = f[rows, feats]
        per_feature = torch.bincount(feats, minlength=d)
        count += per_feature.double()
        total += torch.bincount(feats, weights=hit_vals.double(), minlength=d)
        peak.scatter_reduce_(0, feats, hit_vals, reduce="amax")
        b = torch.bucketize(torch.log10(hit_vals), edges[1:-1])
        hist.index_add_(0, feats * (len(HIST_EDGES) - 1) + b, torch.ones_like(b))
        # Running top-N per feature: sort hits by value, then (stably) by feature; the first N
        # of each feature's run are its strongest hits in this batch.
        by_value = torch.argsort(hit_vals, descending=True, stable=True)
        order = by_value[torch.argsort(feats[by_value], stable=True)]
        f_sorted = feats[order]
        starts = torch.cumsum(per_feature, 0) - per_feature
        rank = torch.arange(len(order)) - starts[f_sorted]
        take = rank < N_TOP
        new_v = torch.full((d, N_TOP), -1.0)
        new_p = torch.full((d, N_TOP), -1, dtype=torch.int64)
        new_v[f_sorted[take], rank[take]] = hit_vals[order][take]
        new_p[f_sorted[take], rank[take]] = rows[order][take] + start * window
        best_v, best_p = _merge_top(best_v, best_p, new_v, new_p, N_TOP)
        per_row = torch.bincount(rows, minlength=f.shape[0])
        cooccur.add(rows, feats, per_row)
        counts.append(per_row.numpy())
        cols.append(feats.to(torch.int32).numpy())
        vals.append(hit_vals.numpy().astype(np.float16))

    indptr = np.concatenate([[0], np.cumsum(np.concatenate(counts))]).astype(np.int64)
    indices = np.concatenate(cols)
    cooccur_ids, cooccur_values = cooccur.related(indptr, indices, N_RELATED)
    dens = (count / max(content, 1)).float().numpy()
    stats = FeatureStats(
        **identity,
        d_sae=d,
        model_name=model.name,
        corpus_name=corpus.name,
        n_tokens=content,
        token_ids=windows.astype(np.int32),
        indptr=indptr,
        indices=indices,
        values=np.concatenate(vals),
        density=dens,
        mean_active=(total / count.clamp_min(1)).float().numpy(),
        max_activation=peak.numpy(),
        hist_counts=hist.reshape(d, -1).numpy().astype(np.int32),
        top_positions=best_p.numpy(),
        top_values=best_v.clamp_min(0).numpy(),
        cooccur_ids=cooccur_ids,
        cooccur_values=cooccur_values,
        vocab=_vocab(model),
        **_decoder_stats(model, sae),
    )
    if folder is not None:
        stats.save(folder)
    return stats
