"""Activations for training: collected once per (model, sites, corpus), cached on disk.

`cache_activations` runs corpus windows (``window`` tokens each) through the model, reading
every requested site in one forward pass that stops after the deepest one, drops the first
position of each window (an attention sink with a huge norm) and BOS/pad tokens, and appends
the rows to one memory-mapped float16 ``.npy`` file per site. It is resumable: an interrupted
run continues where it stopped, and a finished cache is reused without running the model again.
`ActivationCache.batch_indices` gives the shuffled batches (of rows) to read from them.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from saewidgets.core.aliases import renamed
from saewidgets.corpus import Corpus, CorpusTooSmall
from saewidgets.model.model import Model

_FP16_MAX = 65504.0
META = "meta.json"


def _site_file(folder: Path, site: str) -> Path:
    return folder / f"{site}.npy"


@dataclass
class ActivationCache:
    """Rows of site activations on disk, ``[n_rows, d]`` float16 per site."""

    folder: Path
    meta: dict

    @property
    def sites(self) -> list[str]:
        return list(self.meta["sites"])

    @property
    def n_rows(self) -> int:
        return int(self.meta["rows"])

    @property
    def complete(self) -> bool:
        return self.n_rows >= int(self.meta["n_tokens"])

    def array(self, site: str) -> np.ndarray:
        if site not in self.meta["sites"]:
            raise KeyError(f"site {site!r} is not cached here; cached: {', '.join(self.sites)}")
        data = np.load(_site_file(self.folder, site), mmap_mode="r")
        return data[: self.n_rows]

    def batch_indices(
        self, batch_size: int, seed: int = 0, block: int = 1 << 16
    ) -> Iterator[np.ndarray]:
        """Endless batches of ``batch_size`` shuffled row indices (rows = tokens): blocks of
        ``block`` rows in random order, rows shuffled inside each block,
        a fresh order every epoch. Contiguous blocks keep reads from the memory map sequential
        enough to be fast; the order depends only on (seed, epoch)."""
        n = self.n_rows
        if n < batch_size:
            raise ValueError(f"the cache holds {n} rows, fewer than one batch of {batch_size}")
        epoch = 0
        carry = np.empty(0, dtype=np.int64)
        while True:
            rng = np.random.default_rng([seed, epoch])
            starts = rng.permutation(np.arange(0, n, block))
            for start in starts:
                rows = np.arange(start, min(start + block, n))
                rng.shuffle(rows)
                carry = np.concatenate([carry, rows])
                while len(carry) >= batch_size:
                    yield np.sort(carry[:batch_size])
                    carry = carry[batch_size:]
            epoch += 1

    def read(self, site: str, rows: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(np.asarray(self.array(site)[rows], dtype=np.float32))


def open_cache(folder: str | Path) -> ActivationCache:
    folder = Path(folder)
    meta_path = folder / META
    if not meta_path.is_file():
        raise FileNotFoundError(f"{folder} is not an activation cache (no {META})")
    return ActivationCache(folder, json.loads(meta_path.read_text()))


@renamed(context="window")
def cache_activations(
    model: Model,
    sites: Sequence[str],
    corpus: Corpus,
    n_tokens: int,
    folder: str | Path,
    *,
    window: int = 128,
    batch_windows: int = 16,
    skip_windows: int = 0,
    progress: bool = True,
) -> ActivationCache:
    """Collect ``n_tokens`` activation rows per site into ``folder`` (resuming if possible).

    ``window`` is the length in tokens of each corpus window run through the model (at most
    the model's context; ``context=`` is its deprecated name). ``batch_windows`` is the number
    of windows per forward pass. ``skip_windows`` starts that many windows into the corpus
    (how shards of one long run follow each other; ``meta["windows"]`` counts those a cache
    consumed).
    """
    sites = list(dict.fromkeys(sites))
    for site in sites:
        model.site(site)
    if not 2 <= window <= model.context_length:
        raise ValueError(
            f"window {window} must be between 2 and the model's context ({model.context_length})"
        )
    folder = Path(folder)
    identity = _identity(model, sites, corpus, n_tokens, window, skip_windows)
    meta = _resume_meta(folder, identity)
    folder.mkdir(parents=True, exist_ok=True)
    arrays = {
        site: _open_site(_site_file(folder, site), int(n_tokens), model.d_model) for site in sites
    }
    cache = ActivationCache(folder, meta)
    if cache.complete:
        return cache

    windows = corpus.windows(model.tokenizer, window)
    for _ in range(skip_windows + meta["windows"]):  # earlier shards', then this run's so far
        next(windows, None)
    bar = tqdm(
        total=int(n_tokens),
        initial=meta["rows"],
        unit="tok",
        desc="activations",
        disable=not progress,
    )
    try:
        while meta["rows"] < n_tokens:
            batch = [w for _, w in zip(range(batch_windows), windows, strict=False)]
            if not batch:
                break
            rows = _content_rows(model, batch, sites)
            meta["windows"] += len(batch)
            bad = _bad_rows(rows)
            if bad is not None:
                meta["skipped_batches"] += 1
                meta["nonfinite_rows"] += bad
                continue
            take = min(len(next(iter(rows.values()))), int(n_tokens) - meta["rows"])
            for s in sites:
                arrays[s][meta["rows"] : meta["rows"] + take] = rows[s][:take].numpy()
            meta["rows"] += take
            bar.update(take)
            if meta["windows"] % (batch_windows * 16) == 0:
                _flush(folder, arrays, meta)
    finally:
        bar.close()
        _flush(folder, arrays, meta)
    if meta["skipped_batches"]:
        warnings.warn(
            f"skipped {meta['skipped_batches']} batches with non-finite or float16-overflowing "
            f"activations ({meta['nonfinite_rows']} bad rows)",
            stacklevel=2,
        )
    if not cache.complete:
        raise CorpusTooSmall(
            f"{corpus.name} ran out after {meta['rows']:,} usable tokens; {int(n_tokens):,} "
            "were asked for"
        )
    return cache


def _identity(
    model: Model, sites: list[str], corpus: Corpus, n_tokens: int, window: int, skip: int
) -> dict:
    """What a cache holds; a folder holding another identity is never reused."""
    identity = {
        "model": model.name,
        "model_hash": model.fingerprint(),
        "sites": sites,
        "corpus": corpus.name,
        "corpus_hash": corpus.fingerprint() or f"name:{corpus.name}",
        "context": window,  # the on-disk name, kept so existing caches still match
        "n_tokens": int(n_tokens),
        "d": model.d_model,
    }
    if skip:  # only when set, so caches written before this option still match
        identity["skip_windows"] = int(skip)
    return identity


def _resume_meta(folder: Path, identity: dict) -> dict:
    """The saved progress of a cache with this identity, or a fresh start; another cache in the
    folder is an error (never overwritten)."""
    if not (folder / META).is_file():
        return {**identity, "rows": 0, "windows": 0, "skipped_batches": 0, "nonfinite_rows": 0}
    old = json.loads((folder / META).read_text())
    if {k: old.get(k) for k in identity} != identity:
        raise FileExistsError(
            f"{folder} holds a different activation cache ({old.get('model')}, "
            f"{old.get('sites')}, {old.get('corpus')}); choose another folder or delete it"
        )
    return old


def _open_site(path: Path, n_rows: int, d: int) -> np.ndarray:
    mode = "r+" if path.is_file() else "w+"
    return np.lib.format.open_memmap(path, mode=mode, dtype=np.float16, shape=(n_rows, d))


def _content_rows(model: Model, batch: list, sites: list[str]) -> dict[str, torch.Tensor]:
    """Activations at every site for the positions training uses (see `Model.content_mask`)."""
    ids = torch.from_numpy(np.stack(batch))
    acts = model.read_sites(ids, torch.ones_like(ids), sites)
    keep = model.content_mask(ids)
    return {s: acts[s][keep].float() for s in sites}


def _bad_rows(rows: dict[str, torch.Tensor]) -> int | None:
    """None when every row is finite and fits float16; else how many rows are non-finite."""
    if all(
        bool(torch.isfinite(r).all()) and float(r.abs().max()) < _FP16_MAX for r in rows.values()
    ):
        return None
    return int(sum((~torch.isfinite(r)).any(-1).sum() for r in rows.values()))


def _flush(folder: Path, arrays: dict, meta: dict) -> None:
    for array in arrays.values():
        array.flush()
    tmp = folder / (META + ".tmp")
    tmp.write_text(json.dumps(meta, indent=2))
    tmp.replace(folder / META)
