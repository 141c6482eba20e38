"""`sw.feature_stats`: everything a feature dashboard shows, from one pass over a corpus.

All bookkeeping is vectorised over features: per batch the SAE's activations are reduced with
tensor operations (counts, sums, maxima, log-spaced histograms, a running top-N per feature,
co-occurrence counts, see `cooccurrence.py`). Per-token activations are kept as CSR, so context
windows for any feature are cut out afterwards without running the model again. Decoder-side
statistics (VocabProj logit effects, nearest features by decoder cosine) need no corpus.

Results are cached on disk as ``.npy`` files keyed by hashes of the model, the SAE's weights and
the corpus's contents (`Corpus.fingerprint`, not its name: two corpora may share one) with the
window settings, so asking again is instant; a damaged cache is rebuilt.
"""

from __future__ import annotations

import hashlib
import json
import warnings
import weakref
from dataclasses import dataclass, field, fields
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from saewidgets.analysis.cooccurrence import CooccurrenceCounter
from saewidgets.analysis.logit_lens import final_norm_scale, unembedding
from saewidgets.analysis.sae_inputs import sae_at
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


class StatsMismatch(SAEWidgetsError, ValueError):
    """Statistics built for a different SAE (or model) than the one given."""


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

    def token_text(self, token_id: int) -> str:
        token_id = int(token_id)
        return self.vocab[token_id] if 0 <= token_id < len(self.vocab) else f"<id {token_id}>"

    def __repr__(self) -> str:
        dead = float((self.density == 0).mean())
        return (
            f"FeatureStats({self.site}, {self.d_sae} features, {self.n_tokens:,} tokens, "
            f"{dead:.1%} never active)"
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
        if model is not None and self.model_hash and model.fingerprint() != self.model_hash:
            warnings.warn(
                f"these statistics were built from the activations of another model than the "
                f"one passed ({self.model_name!r} then, {model.name!r} now, with other weights, "
                "dtype or config); the live text box uses the model passed. Rebuild them with "
                "sw.feature_stats(model, sae) if the weights changed.",
                stacklevel=3,
            )

    def feature_values(self, feature: int, positions: np.ndarray) -> np.ndarray:
        """Activation of ``feature`` at flat token positions (0 where it does not fire)."""
        feature = self.check_feature(feature)
        out = np.zeros(len(positions), dtype=np.float32)
        for i, pos in enumerate(positions):
            lo, hi = self.indptr[pos], self.indptr[pos + 1]
            hit = np.nonzero(self.indices[lo:hi] == feature)[0]
            if len(hit):
                out[i] = self.values[lo + hit[0]]
        return out

    def example(self, feature: int, position: int, left: int = 16, right: int = 6) -> dict:
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
        positions = [p for p in self.top_positions[feature] if p >= 0][:n]
        return [self.example(feature, p, **window) for p in positions]

    def quantile_examples(
        self, feature: int, n_bins: int = 10, per_bin: int = 5, seed: int = 0, **window
    ) -> list[dict]:
        """Examples spread over the activation range: ``n_bins`` equal-width bins from 0 to the
        maximum, up to ``per_bin`` random hits from each (highest bin first)."""
        feature = self.check_feature(feature)
        hits = np.nonzero(self.indices == feature)[0]
        if len(hits) == 0:
            return []
        rows = np.searchsorted(self.indptr, hits, side="right") - 1
        vals = self.values[hits]
        edges = np.linspace(0, float(vals.max()), n_bins + 1)
        which = np.clip(np.searchsorted(edges, vals, side="right") - 1, 0, n_bins - 1)
        rng = np.random.default_rng(seed)
        groups = []
        for b in range(n_bins - 1, -1, -1):
            members = np.nonzero(which == b)[0]
            if len(members) == 0:
                continue
            chosen = rng.choice(members, size=min(per_bin, len(members)), replace=False)
            groups.append(
                {
                    "bin": [float(edges[b]), float(edges[b + 1])],
                    "count": len(members),
                    "examples": [self.example(feature, int(rows[m]), **window) for m in chosen],
                }
            )
        return groups

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
        arrays = {
            f.name: np.load(folder / f"{f.name}.npy", mmap_mode="r", allow_pickle=False)
            for f in fields(cls)
            if f.name not in meta
        }
        stats = cls(**meta, **arrays)
        if stats.density.shape != (stats.d_sae,) or stats.indptr[-1] != len(stats.indices):
            raise ValueError(f"{folder}: arrays do not fit together")
        return stats


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


@renamed(context="window")
def feature_stats(
    model: Model,
    sae: SAE,
    corpus: Corpus | None = None,
    *,
    n_tokens: int = 100_000,
    window: int = 128,
    batch_windows: int = 8,
    site: str | None = None,
    cache: bool | str | Path = True,
    progress: bool = True,
) -> FeatureStats:
    """Dashboard statistics for every feature of ``sae`` over ``n_tokens`` tokens of ``corpus``
    (default: the held-out split of the offline corpus), in one pass. Cached on disk."""
    from saewidgets.corpus import default

    site, sae = sae_at(sae, model, site)  # the checks every entry point shares
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
