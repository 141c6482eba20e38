"""`sw.trace`: run text through a model, encode sites with SAEs, keep sparse per-token features.

A `FeatureTrace` stores, per site, a CSR matrix over all tokens of all documents (``indptr``,
``indices``, ``values``) plus the reconstruction-error norm of every token. That is compact
(k values per token for a TopK SAE), fast to query, and ships to widgets as binary buffers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch
from tqdm.auto import tqdm

from saewidgets.analysis.inputs import SAEInput, saes_by_site, shipped_labels_exist
from saewidgets.analysis.stats import sae_fingerprint
from saewidgets.core.aliases import renamed
from saewidgets.core.errors import SAEWidgetsError
from saewidgets.model.model import Model
from saewidgets.model.tokens import TokenDecoder, visible


class TraceError(SAEWidgetsError, ValueError):
    """Bad input to `sw.trace` or a bad query on a `FeatureTrace`; the message says why."""


@dataclass
class SiteFeatures:
    """Sparse feature activations of one site over every token (CSR rows = tokens)."""

    site: str
    d_sae: int
    indptr: np.ndarray  # int64 [n_tokens + 1]
    indices: np.ndarray  # int32 [nnz]
    values: np.ndarray  # float32 [nnz]
    error_norm: np.ndarray  # float32 [n_tokens]: ‖x − x̂‖
    input_norm: np.ndarray  # float32 [n_tokens]: ‖x‖
    # The SAE's fingerprint where the package ships labels for this site (so a heatmap can
    # show them if it is the shipped SAE); "" elsewhere, where hashing the weights buys nothing.
    sae_hash: str = ""

    def row(self, token: int) -> tuple[np.ndarray, np.ndarray]:
        lo, hi = self.indptr[token], self.indptr[token + 1]
        return self.indices[lo:hi], self.values[lo:hi]

    def column(self, feature: int, start: int, stop: int) -> np.ndarray:
        """Dense activations of one feature over tokens ``start:stop``."""
        lo, hi = self.indptr[start], self.indptr[stop]
        hits = np.nonzero(self.indices[lo:hi] == feature)[0] + lo
        out = np.zeros(stop - start, dtype=np.float32)
        rows = np.searchsorted(self.indptr, hits, side="right") - 1
        out[rows - start] = self.values[hits]
        return out

    def dense(self, start: int, stop: int) -> np.ndarray:
        out = np.zeros((stop - start, self.d_sae), dtype=np.float32)
        lo, hi = self.indptr[start], self.indptr[stop]
        rows = np.repeat(np.arange(stop - start), np.diff(self.indptr[start : stop + 1]))
        out[rows, self.indices[lo:hi]] = self.values[lo:hi]
        return out


@dataclass
class FeatureTrace:
    """Per-token SAE features of one or more documents at one or more sites.

    ``tokens[doc]`` are display strings (whitespace made visible), ``token_texts[doc]`` the
    exact text of each token, ``token_ids[doc]`` the ids.
    """

    texts: list[str]
    token_ids: list[np.ndarray]
    token_texts: list[list[str]]
    site_features: dict[str, SiteFeatures]
    model_name: str = ""
    window: int = 0  # tokens per forward window; longer documents were split at multiples of it
    # False at each window's first position (an attention sink) and at BOS/pad tokens: the
    # positions statistics and training skip. With ``content_only=True`` their activations
    # were left out too. None only for traces made by hand.
    content: np.ndarray | None = None
    tokens: list[list[str]] = field(init=False)
    doc_offsets: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        self.tokens = [[visible(t) for t in doc] for doc in self.token_texts]
        lengths = [len(ids) for ids in self.token_ids]
        self.doc_offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)

    def __repr__(self) -> str:
        return (
            f"FeatureTrace({self.n_docs} docs, {self.n_tokens} tokens, sites={self.sites}, "
            f"model={self.model_name!r})"
        )

    # -- shape -----------------------------------------------------------------------------

    @property
    def n_docs(self) -> int:
        return len(self.texts)

    @property
    def n_tokens(self) -> int:
        return int(self.doc_offsets[-1])

    @property
    def sites(self) -> list[str]:
        return list(self.site_features)

    def d_sae(self, site: str | None = None) -> int:
        return self._site(site).d_sae

    # -- lookups with clear errors -----------------------------------------------------------

    def _site(self, site: str | None) -> SiteFeatures:
        if site is None:
            return next(iter(self.site_features.values()))
        if site not in self.site_features:
            raise KeyError(f"site {site!r} is not in this trace; it has: {', '.join(self.sites)}")
        return self.site_features[site]

    def _doc(self, doc: int) -> tuple[int, int]:
        if not isinstance(doc, (int, np.integer)) or not -self.n_docs <= doc < self.n_docs:
            raise IndexError(f"doc {doc!r} is out of range: this trace has {self.n_docs} documents")
        doc = int(doc) % self.n_docs
        return int(self.doc_offsets[doc]), int(self.doc_offsets[doc + 1])

    def _token(self, doc: int, pos: int) -> int:
        start, stop = self._doc(doc)
        length = stop - start
        if not isinstance(pos, (int, np.integer)) or not -length <= pos < length:
            raise IndexError(f"pos {pos!r} is out of range: document {doc} has {length} tokens")
        return start + int(pos) % length

    def _feature(self, feature: int, sf: SiteFeatures) -> int:
        if not isinstance(feature, (int, np.integer)) or not 0 <= feature < sf.d_sae:
            raise IndexError(
                f"feature {feature!r} is out of range: the SAE at {sf.site} has features "
                f"0..{sf.d_sae - 1}"
            )
        return int(feature)

    # -- queries ---------------------------------------------------------------------------

    def feature(
        self, feature: int, site: str | None = None, doc: int | None = None
    ) -> list[np.ndarray] | np.ndarray:
        """Activation of one feature at every token: a list with one array per document, or
        one array when ``doc`` is given."""
        sf = self._site(site)
        feature = self._feature(feature, sf)
        docs = range(self.n_docs) if doc is None else [doc]
        arrays = [sf.column(feature, *self._doc(d)) for d in docs]
        return arrays if doc is None else arrays[0]

    def dense(self, doc: int = 0, site: str | None = None) -> np.ndarray:
        """All feature activations of one document as a dense ``[tokens, d_sae]`` array."""
        return self._site(site).dense(*self._doc(doc))

    def error_norm(self, doc: int = 0, site: str | None = None) -> np.ndarray:
        start, stop = self._doc(doc)
        return self._site(site).error_norm[start:stop]

    def top_features(
        self,
        doc: int | None = None,
        pos: int | None = None,
        k: int = 10,
        site: str | None = None,
        *,
        content_only: bool = True,
    ) -> pd.DataFrame:
        """The ``k`` strongest features.

        - ``doc`` and ``pos``: at that token (columns ``feature``, ``activation``);
        - ``doc`` only: over that document, by maximum (adds ``pos`` of the maximum and
          ``n_tokens`` active);
        - neither: over every document (adds ``doc``).

        Over documents, ``content_only`` (the default) ranks only the positions that are not an
        attention sink or BOS (see `content`): the first position's huge, text-independent
        activations would otherwise top every list. A single token (``pos``) is always shown.
        """
        if not isinstance(k, int) or k <= 0:
            raise TraceError(f"k must be a positive integer, got {k!r}")
        sf = self._site(site)
        if pos is not None:
            if doc is None:
                if self.n_docs != 1:
                    raise TraceError("pos= needs doc= when the trace holds several documents")
                doc = 0
            token = self._token(doc, pos)
            idx, vals = sf.row(token)
            order = np.argsort(-vals, kind="stable")[:k]
            return pd.DataFrame({"feature": idx[order].astype(np.int64), "activation": vals[order]})
        start, stop = (0, self.n_tokens) if doc is None else self._doc(doc)
        lo, hi = sf.indptr[start], sf.indptr[stop]
        idx, vals = sf.indices[lo:hi], sf.values[lo:hi]
        rows = np.repeat(np.arange(start, stop), np.diff(sf.indptr[start : stop + 1]))
        if content_only and self.content is not None:
            keep = self.content[rows]
            idx, vals, rows = idx[keep], vals[keep], rows[keep]
        best = np.full(sf.d_sae, -np.inf, dtype=np.float32)
        np.maximum.at(best, idx, vals)
        counts = np.bincount(idx, minlength=sf.d_sae)
        candidates = np.nonzero(counts)[0]
        chosen = candidates[np.argsort(-best[candidates], kind="stable")[:k]]
        # Token of each chosen feature's maximum: first hit equal to the best value.
        where = []
        for f in chosen:
            hits = np.nonzero((idx == f) & (vals == best[f]))[0]
            where.append(int(rows[hits[0]]))
        where = np.asarray(where, dtype=np.int64)
        docs = np.searchsorted(self.doc_offsets, where, side="right") - 1
        frame = pd.DataFrame(
            {
                "feature": chosen.astype(np.int64),
                "activation": best[chosen],
                "doc": docs,
                "pos": where - self.doc_offsets[docs],
                "n_tokens": counts[chosen],
            }
        )
        return frame.drop(columns="doc") if doc is not None else frame

    def to_pandas(self, site: str | None = None) -> pd.DataFrame:
        """Every non-zero activation, one row each: doc, pos, token, feature, activation."""
        sf = self._site(site)
        rows = np.repeat(np.arange(self.n_tokens), np.diff(sf.indptr))
        docs = np.searchsorted(self.doc_offsets, rows, side="right") - 1
        flat_tokens = np.asarray([t for doc in self.tokens for t in doc], dtype=object)
        return pd.DataFrame(
            {
                "doc": docs,
                "pos": rows - self.doc_offsets[docs],
                "token": flat_tokens[rows] if len(rows) else np.array([], dtype=object),
                "site": sf.site,
                "feature": sf.indices.astype(np.int64),
                "activation": sf.values,
            }
        )


# -- tracing ------------------------------------------------------------------------------------


def _normalise_texts(texts: str | Sequence[str]) -> list[str]:
    if isinstance(texts, str):
        texts = [texts]
    if not isinstance(texts, Sequence) or isinstance(texts, (bytes, bytearray)):
        raise TypeError(f"texts must be a string or a list of strings, got {type(texts).__name__}")
    if len(texts) == 0:
        raise TraceError("texts is empty: pass at least one non-empty string")
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            raise TypeError(f"texts[{i}] is {type(text).__name__}, expected str")
        if text == "":
            raise TraceError(f"texts[{i}] is an empty string; every document needs some text")
    return list(texts)


@dataclass
class _Window:
    doc: int
    start: int
    ids: list[int]


def _windows(docs: list[list[int]], size: int) -> list[_Window]:
    return [
        _Window(d, start, ids[start : start + size])
        for d, ids in enumerate(docs)
        for start in range(0, len(ids), size)
    ]


def _to_csr(features: torch.Tensor) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rows, cols = features.nonzero(as_tuple=True)
    counts = torch.bincount(rows, minlength=features.shape[0])
    return counts.numpy(), cols.to(torch.int32).numpy(), features[rows, cols].float().numpy()


@renamed(max_length="window")
def trace(
    model: Model,
    texts: str | Sequence[str],
    saes: SAEInput,
    *,
    batch_size: int = 8,
    window: int | None = None,
    content_only: bool = False,
    progress: bool | None = None,
) -> FeatureTrace:
    """Trace documents through ``model`` and decompose the given sites with SAEs.

    ``saes`` is an SAE with ``.site`` set, a list of them, a ``{site: SAE}`` dict or
    "embedded". All sites are read in one forward pass per batch of ``batch_size`` windows,
    which stops after the deepest site.

    Documents longer than ``window`` tokens (default: the model's context) are split into
    consecutive windows; each window is run on its own, so tokens at the start of a later
    window do not see the text before it.

    Each window's first position is an attention sink whose activations are huge and alike
    for any text. ``FeatureTrace.content`` marks it and BOS/pad tokens (exactly the positions
    statistics and training skip); "strongest feature" queries leave them out by default.
    ``content_only=True`` also stores their activations as zero. By default every position's
    activations are kept.
    """
    texts = _normalise_texts(texts)
    site_saes = saes_by_site(saes, model)
    if not isinstance(batch_size, int) or batch_size <= 0:
        raise TraceError(f"batch_size must be a positive integer, got {batch_size!r}")
    limit = model.context_length if window is None else int(window)
    if limit <= 0:
        raise TraceError(f"window must be a positive number of tokens, got {window!r}")
    limit = min(limit, model.context_length)

    docs = [model.encode(text) for text in texts]
    for i, ids in enumerate(docs):
        if not ids:
            raise TraceError(f"texts[{i}] produced no tokens")
    windows = _windows(docs, limit)
    # Longest first, so each batch pads little; results are put back in document order.
    order = sorted(range(len(windows)), key=lambda w: -len(windows[w].ids))
    batches = [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
    pad = model.tokenizer.pad_token_id or 0
    parts: dict[str, list] = {site: [None] * len(windows) for site in site_saes}
    content = [None] * len(windows)
    show = progress if progress is not None else len(batches) > 4
    for batch in tqdm(batches, desc="tracing", unit="batch", disable=not show):
        longest = len(windows[batch[0]].ids)
        ids = torch.full((len(batch), longest), pad, dtype=torch.long)
        mask = torch.zeros((len(batch), longest), dtype=torch.long)
        for row, w in enumerate(batch):
            n = len(windows[w].ids)
            # Right padding: real tokens keep the positions they have without padding.
            ids[row, :n] = torch.tensor(windows[w].ids)
            mask[row, :n] = 1
        acts = model.read_sites(ids, mask, list(site_saes))
        lengths = [len(windows[w].ids) for w in batch]
        keep = model.content_mask(ids)
        for row, w in enumerate(batch):
            content[w] = keep[row, : lengths[row]].numpy()
        flat_keep = torch.cat([keep[row, :n] for row, n in enumerate(lengths)])
        for site, sae in site_saes.items():
            x = torch.cat([acts[site][row, :n] for row, n in enumerate(lengths)])
            with torch.no_grad():
                features, recon = sae.encode_decode(x)
                if content_only:
                    features[~flat_keep.to(features.device)] = 0
                x = x.to(recon.dtype)
                error = (x - recon).norm(dim=-1).float().cpu().numpy()
                norms = x.norm(dim=-1).float().cpu().numpy()
            counts, cols, vals = _to_csr(features.cpu())
            bounds = np.concatenate([[0], np.cumsum(lengths)])
            nnz_bounds = np.concatenate([[0], np.cumsum(counts)])
            for row, w in enumerate(batch):
                a, b = bounds[row], bounds[row + 1]
                parts[site][w] = (
                    counts[a:b],
                    cols[nnz_bounds[a] : nnz_bounds[b]],
                    vals[nnz_bounds[a] : nnz_bounds[b]],
                    error[a:b],
                    norms[a:b],
                )

    site_features = {}
    for site, sae in site_saes.items():
        pieces = parts[site]  # windows are already in (doc, start) order
        counts = np.concatenate([p[0] for p in pieces])
        site_features[site] = SiteFeatures(
            site=site,
            d_sae=sae.d_sae,
            indptr=np.concatenate([[0], np.cumsum(counts)]).astype(np.int64),
            indices=np.concatenate([p[1] for p in pieces]),
            values=np.concatenate([p[2] for p in pieces]),
            error_norm=np.concatenate([p[3] for p in pieces]),
            input_norm=np.concatenate([p[4] for p in pieces]),
            sae_hash=sae_fingerprint(sae) if shipped_labels_exist(site) else "",
        )
    decoder = TokenDecoder(model.tokenizer)
    return FeatureTrace(
        texts=texts,
        token_ids=[np.asarray(ids, dtype=np.int64) for ids in docs],
        token_texts=[decoder.texts(ids) for ids in docs],
        site_features=site_features,
        model_name=model.name,
        window=limit,
        content=np.concatenate(content),
    )
