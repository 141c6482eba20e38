"""`sw.probe`: how well a binary concept can be read off one site, with a linear probe on the raw
activations against sparse probes on the k SAE features that separate the classes best.

Every text becomes one vector (its activations averaged over the positions that describe text:
not the first one, an attention sink, and no BOS or padding). Accuracy is cross-validated with
stratified folds, and everything a probe learns (the standardisation, the chosen features, the
weights) is learned on the training folds only, so a feature picked for separating the held-out
fold's texts cannot inflate its score.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from tqdm.auto import tqdm

from saewidgets.analysis.sae_inputs import sae_at
from saewidgets.core.errors import SAEWidgetsError
from saewidgets.model.model import Model
from saewidgets.sae.module import SAE

DEFAULT_K = (1, 2, 5, 20)
_SETS = Path(__file__).resolve().parent.parent / "data" / "probing"


class ProbeError(SAEWidgetsError, ValueError):
    """Texts or labels a probe cannot be fitted on; the message says what is allowed."""


@dataclass
class LabelledSet:
    """Texts with binary labels (1 = the concept), for `probe`."""

    name: str
    texts: list[str]
    labels: list[int]
    description: str = ""

    def __len__(self) -> int:
        return len(self.texts)


def labelled_set(name: str) -> LabelledSet:
    """A labelled set that ships with the package: ``"sentiment"`` (120 short reviews written
    for it, 1 = positive) or ``"code_vs_prose"`` (1 = Python source; 200 excerpts from the
    default corpus's held-out code and the held-out prose shipped with the package)."""
    if name == "sentiment":
        data = json.loads((_SETS / "sentiment.json").read_text(encoding="utf-8"))
        return LabelledSet(name, data["texts"], data["labels"], data["description"])
    if name == "code_vs_prose":
        return _code_vs_prose()
    raise ProbeError(f"no labelled set {name!r}; the package has 'sentiment' and 'code_vs_prose'")


def _code_vs_prose(per_class: int = 100, chars: int = 400) -> LabelledSet:
    from saewidgets.corpus import default, heldout_prose

    def excerpts(documents, keep) -> list[str]:
        out = []
        for doc in documents:
            text = doc.text.strip()
            if keep(doc) and len(text) >= chars // 2:
                out.append(text[:chars])
            if len(out) == per_class:
                break
        return out

    code = excerpts(default().split("heldout")._documents(), lambda d: d.source.startswith("code:"))
    prose = excerpts(heldout_prose()._documents(), lambda d: True)
    if len(code) < per_class or len(prose) < per_class:
        raise ProbeError(f"the corpus gave {len(code)} code and {len(prose)} prose excerpts")
    return LabelledSet(
        "code_vs_prose",
        code + prose,
        [1] * len(code) + [0] * len(prose),
        "Python standard-library source excerpts (1) and held-out prose excerpts (0), "
        f"{chars} characters each",
    )


@dataclass
class ProbeResult:
    """Cross-validated accuracies of the linear probe and the sparse probes, by name."""

    site: str
    linear: float  # mean accuracy over the folds
    sparse: dict[int, float]  # k -> mean accuracy of the probe on the top-k SAE features
    linear_std: float = 0.0
    sparse_std: dict[int, float] = field(default_factory=dict)
    # the top-k features chosen on all the texts (what a reader would look at next)
    features: dict[int, list[int]] = field(default_factory=dict)
    # the linear probe's direction in activation space, fitted on all the texts (unit norm);
    # steering with it is the baseline an SAE feature should beat
    direction: np.ndarray | None = None
    n_texts: int = 0
    n_positive: int = 0
    folds: int = 5
    majority: float = 0.5  # accuracy of always answering the larger class
    # the linear probe fitted on all the texts, in raw activation space (for `predict`)
    weights: np.ndarray | None = field(default=None, repr=False)
    bias: float = 0.0
    window: int = 128

    def predict(self, model: Model, texts: Sequence[str]) -> np.ndarray:
        """The linear probe's probability of the concept for each of ``texts`` (for example
        continuations a steering run wrote)."""
        if self.weights is None:
            raise ProbeError("this result carries no fitted probe")
        raw, _ = _pooled(model, self.site, list(texts), None, self.window, 16, False)
        return 1 / (1 + np.exp(-(raw @ self.weights + self.bias)))

    def steering_sae(self) -> SAE:
        """A one-feature SAE at this site whose decoder row is the probe's direction, so
        ``sw.Intervention(result.steering_sae(), 0, strength)`` steers along it like any SAE
        feature (strengths in × ‖x‖): the baseline an SAE feature should be compared with."""
        if self.direction is None:
            raise ProbeError("this result carries no probe direction")
        sae = SAE(len(self.direction), 1, "relu", site=self.site)
        with torch.no_grad():
            sae.W_dec.copy_(torch.from_numpy(self.direction).reshape(1, -1))
            sae.W_enc.copy_(torch.from_numpy(self.direction).reshape(-1, 1))
        return sae

    @property
    def table(self) -> pd.DataFrame:
        rows = [
            {
                "probe": "linear (all dimensions)",
                "k": None,
                "accuracy": self.linear,
                "std": self.linear_std,
            }
        ]
        rows += [
            {
                "probe": f"sparse (top {k} SAE features)",
                "k": k,
                "accuracy": acc,
                "std": self.sparse_std.get(k, 0.0),
            }
            for k, acc in self.sparse.items()
        ]
        return pd.DataFrame(rows)

    def figure(self):
        """Accuracy against k for the sparse probes, the linear probe and chance as lines."""
        import plotly.graph_objects as go

        from saewidgets.core.plotting import themed

        ks = list(self.sparse)
        fig = go.Figure()
        fig.add_trace(
            go.Scatter(
                x=ks,
                y=[self.sparse[k] for k in ks],
                error_y={"type": "data", "array": [self.sparse_std.get(k, 0.0) for k in ks]},
                mode="lines+markers",
                name="sparse probe (top-k SAE features)",
            )
        )
        fig.add_hline(
            y=self.linear, line_dash="dash", annotation_text=f"linear probe {self.linear:.2f}"
        )
        fig.add_hline(
            y=self.majority, line_dash="dot", annotation_text=f"majority {self.majority:.2f}"
        )
        fig.update_layout(
            title=f"Probing {self.site}: {self.n_texts} texts, {self.folds}-fold accuracy",
            xaxis={"title": "k (SAE features)", "type": "log", "tickvals": ks},
            yaxis={"title": "accuracy", "range": [min(0.4, self.majority - 0.05), 1.02]},
            height=360,
        )
        return themed(fig)

    def to_json(self) -> dict:
        """Everything but the fitted weights, as plain JSON types."""
        return {
            "site": self.site,
            "linear": self.linear,
            "linear_std": self.linear_std,
            "sparse": {str(k): v for k, v in self.sparse.items()},
            "sparse_std": {str(k): v for k, v in self.sparse_std.items()},
            "features": {str(k): v for k, v in self.features.items()},
            "n_texts": self.n_texts,
            "n_positive": self.n_positive,
            "folds": self.folds,
            "majority": self.majority,
        }

    def _repr_html_(self) -> str:
        return self.table.to_html(index=False, float_format=lambda v: f"{v:.3f}")


def probe(
    model: Model,
    site: str,
    texts: Sequence[str] | LabelledSet,
    labels: Sequence | None = None,
    *,
    sae: SAE | None = None,
    k: Sequence[int] = DEFAULT_K,
    folds: int = 5,
    positive=None,
    window: int = 128,
    batch_size: int = 16,
    seed: int = 0,
    progress: bool = True,
) -> ProbeResult:
    """Cross-validated accuracy of reading a binary concept off ``site``: a logistic regression on
    the raw activations (``linear``) against ones on the top-``k`` features of ``sae``, chosen by
    the difference of the class means on the training folds (``sparse[k]``).

    ``texts`` and ``labels``: the examples (or a `LabelledSet`, e.g. ``sw.labelled_set(
    "sentiment")``). Labels must take two values; with more, pass ``positive=`` (that value
    against the rest). Each text is read up to ``window`` tokens.
    """
    if isinstance(texts, LabelledSet):
        texts, labels = texts.texts, texts.labels
    texts = list(texts)
    if labels is None:
        raise ProbeError("labels are missing: pass one label per text (or a LabelledSet)")
    y = _binary_labels(list(labels), len(texts), positive)
    _check_folds(y, folds)
    ks = sorted({int(v) for v in k})
    if sae is not None:
        site, sae = sae_at(sae, model, site)
        if any(v < 1 or v > sae.d_sae for v in ks):
            raise ProbeError(f"k must be between 1 and the SAE's {sae.d_sae} features, got {ks}")
    else:
        model.site(site)
        ks = []
    raw, feats = _pooled(model, site, texts, sae, window, batch_size, progress)

    split = _stratified_folds(y, folds, seed)
    linear_acc, sparse_acc = [], {v: [] for v in ks}
    for test in split:
        train = np.setdiff1d(np.arange(len(y)), test)
        linear_acc.append(_fit_score(raw[train], y[train], raw[test], y[test]))
        if feats is not None:
            order = _by_class_mean_gap(feats[train], y[train])
            for v in ks:
                cols = order[:v]
                sparse_acc[v].append(
                    _fit_score(feats[train][:, cols], y[train], feats[test][:, cols], y[test])
                )
    chosen = {}
    if feats is not None:
        order = _by_class_mean_gap(feats, y)
        chosen = {v: [int(c) for c in order[:v]] for v in ks}
    weights, bias = _fit(raw, y)
    direction = (weights / max(np.linalg.norm(weights), 1e-12)).astype(np.float32)
    return ProbeResult(
        site=site,
        linear=float(np.mean(linear_acc)),
        linear_std=float(np.std(linear_acc)),
        sparse={v: float(np.mean(a)) for v, a in sparse_acc.items()},
        sparse_std={v: float(np.std(a)) for v, a in sparse_acc.items()},
        features=chosen,
        direction=direction,
        n_texts=len(y),
        n_positive=int(y.sum()),
        folds=folds,
        majority=float(max(y.mean(), 1 - y.mean())),
        weights=weights,
        bias=bias,
        window=window,
    )


# -- inputs -------------------------------------------------------------------------------------


def _binary_labels(labels: list, n_texts: int, positive) -> np.ndarray:
    if len(labels) != n_texts:
        raise ProbeError(f"{n_texts} texts but {len(labels)} labels: pass one label per text")
    values = sorted(set(labels), key=str)
    if positive is not None:
        if positive not in values:
            raise ProbeError(f"positive={positive!r} is not among the labels {values}")
        return np.array([label == positive for label in labels], dtype=np.int64)
    if len(values) != 2:
        raise ProbeError(
            f"labels must take exactly two values, got {len(values)}: {values[:10]}; pass "
            "positive=<one of them> to probe that value against the rest"
        )
    # 1 for the larger value when both are numbers or booleans (1/0, True/False), else the second
    high = max(values) if all(isinstance(v, (int, float, bool)) for v in values) else values[1]
    return np.array([label == high for label in labels], dtype=np.int64)


def _check_folds(y: np.ndarray, folds: int) -> None:
    if not isinstance(folds, int) or folds < 2:
        raise ProbeError(f"folds must be an integer ≥ 2, got {folds!r}")
    counts = {1: int(y.sum()), 0: int(len(y) - y.sum())}
    if min(counts.values()) < folds:
        raise ProbeError(
            f"too few examples for {folds}-fold cross-validation: {counts[1]} positive and "
            f"{counts[0]} negative; each class needs at least {folds} (lower folds= or add texts)"
        )


def _stratified_folds(y: np.ndarray, folds: int, seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    parts: list[list[int]] = [[] for _ in range(folds)]
    for cls in (0, 1):
        idx = rng.permutation(np.nonzero(y == cls)[0])
        for i, j in enumerate(idx):
            parts[i % folds].append(int(j))
    return [np.array(sorted(p)) for p in parts]


@torch.no_grad()
def _pooled(model, site, texts, sae, window, batch_size, progress):
    """Mean activations (and mean SAE feature values) over each text's content positions."""
    if not texts:
        raise ProbeError("no texts given")
    docs = []
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            raise ProbeError(f"texts[{i}] is {type(text).__name__}, not a string")
        ids = model.encode(text)[:window]
        if not ids:
            raise ProbeError(f"texts[{i}] produced no tokens: nothing to read")
        docs.append(ids)
    pad = model.tokenizer.pad_token_id or 0
    raw = np.zeros((len(docs), model.d_model), dtype=np.float32)
    feats = None if sae is None else np.zeros((len(docs), sae.d_sae), dtype=np.float32)
    order = sorted(range(len(docs)), key=lambda i: -len(docs[i]))
    batches = [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
    for batch in tqdm(batches, desc="probe activations", disable=not progress):
        longest = len(docs[batch[0]])
        ids = torch.full((len(batch), longest), pad, dtype=torch.long)
        mask = torch.zeros_like(ids)
        for row, i in enumerate(batch):
            ids[row, : len(docs[i])] = torch.tensor(docs[i])
            mask[row, : len(docs[i])] = 1
        acts = model.read_sites(ids, mask, [site])[site].float()
        keep = (model.content_mask(ids) & mask.bool()).to(acts.device)
        for row, i in enumerate(batch):
            x = acts[row][keep[row]]
            if len(x) == 0:  # a text of special tokens only: fall back to every real position
                x = acts[row][mask[row].bool().to(acts.device)]
            raw[i] = x.mean(0).cpu().numpy()
            if sae is not None:
                feats[i] = sae.encode(x.to(sae.W_enc.dtype)).float().mean(0).cpu().numpy()
    return raw, feats


# -- the probes ---------------------------------------------------------------------------------


def _by_class_mean_gap(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    gap = np.abs(x[y == 1].mean(0) - x[y == 0].mean(0))
    return np.argsort(-gap, kind="stable")


def _fit(x: np.ndarray, y: np.ndarray, l2: float = 1e-2, steps: int = 200):
    """L2-regularised logistic regression on standardised inputs (full-batch L-BFGS); returns
    the weights in the original input space and the bias."""
    mean, std = x.mean(0), x.std(0) + 1e-6
    xs = torch.from_numpy((x - mean) / std).double()
    yt = torch.from_numpy(y).double()
    w = torch.zeros(xs.shape[1], dtype=torch.float64, requires_grad=True)
    b = torch.zeros((), dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([w, b], max_iter=steps, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        logits = xs @ w + b
        loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, yt)
        loss = loss + 0.5 * l2 * (w * w).sum()
        loss.backward()
        return loss

    opt.step(closure)
    weights = w.detach().numpy() / std
    bias = float(b.detach()) - float((weights * mean).sum())
    return weights, bias


def _fit_score(x_train, y_train, x_test, y_test) -> float:
    weights, bias = _fit(x_train, y_train)
    predicted = (x_test @ weights + bias) > 0
    return float((predicted == y_test.astype(bool)).mean())
