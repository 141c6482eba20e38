"""Checking a graph against the model: change some nodes, measure, compare with the graph.

Three ways to run the change:

- ``"direct"``: the frozen replacement model with every dictionary site held at its clean value
  except the edit. Each read changes by exactly the graph's edge sum (the exactness check).
- ``"frozen"``: the same frozen model, but the graph's features downstream of the edit respond
  through their SAE encoders, so effects propagate (nonlinearly) from site to site.
- ``"free"``: the real model, nothing frozen and no SAE in the loop: the honest test.

The graph's prediction propagates the edit linearly through its edges: a feature whose
pre-activation moves by Δh moves its own outgoing edges by Δh / activation.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from saewidgets.analysis.attribution.targets import FINAL
from saewidgets.core.errors import SAEWidgetsError

MODES = ("direct", "frozen", "free")
SOURCE_TYPES = ("feature", "error", "token")


class ValidationError(SAEWidgetsError, ValueError):
    pass


@dataclass
class InterventionResult:
    """``targets``: each target's value before, predicted and actual change (free mode adds
    probabilities); ``features``: the same for every feature node with incoming edges."""

    targets: pd.DataFrame
    features: pd.DataFrame
    nodes: list[str]
    multiplier: float
    mode: str

    @property
    def correlation(self) -> float:
        """Pearson correlation of predicted and actual changes over targets and features."""
        both = pd.concat([self.targets, self.features])
        p, a = both["predicted"].to_numpy(), both["actual"].to_numpy()
        if len(p) < 2 or np.std(p) == 0 or np.std(a) == 0:
            return float("nan")
        return float(np.corrcoef(p, a)[0, 1])

    def to_dict(self) -> dict:
        return {
            "nodes": self.nodes,
            "multiplier": self.multiplier,
            "mode": self.mode,
            "correlation": None if np.isnan(self.correlation) else round(self.correlation, 4),
            "targets": self.targets.replace({np.nan: None}).to_dict("records"),
            "features": self.features.head(12).replace({np.nan: None}).to_dict("records"),
        }


def _context(graph):
    ctx = graph._ctx
    if ctx is None:
        raise ValidationError(
            "this graph was loaded from a file and has no live model; rebuild it with "
            "sw.attribute(model, prompt, saes) to run interventions"
        )
    return ctx


def _edits(graph, ctx, nodes, multiplier) -> tuple[dict, list[int], dict]:
    """Per write point, the [seq, d] change; the node rows; {(site k, row i): new act factor}."""
    if isinstance(nodes, (str, int, np.integer)):
        nodes = [nodes]
    idx = [graph.index(n) for n in nodes]
    if not idx:
        raise ValidationError("choose at least one node to intervene on")
    seq, d = ctx.embed.shape
    deltas: dict[str, torch.Tensor] = {}
    clamped: dict[tuple[int, int], float] = {}
    factor = float(multiplier) - 1.0
    for i in idx:
        row = graph.nodes.iloc[i]
        kind, pos = row["type"], int(row["pos"])
        if kind not in SOURCE_TYPES:
            raise ValidationError(
                f"{row['node_id']!r} is a {kind} node; intervene on {SOURCE_TYPES}"
            )
        if kind == "token":
            key, vec = "embed", ctx.embed[pos]
        elif kind == "error":
            k = [s.dictionary.write.name for s in ctx.sites].index(row["site"])
            key, vec = row["site"], ctx.folded_errors[k][pos]
        else:
            k, r = ctx.feature_ref[row["node_id"]]
            key, vec = row["site"], ctx.sites[k].write_vecs[r]
            clamped[(k, r)] = factor
        deltas.setdefault(key, torch.zeros(seq, d))
        deltas[key][pos] += factor * vec.detach().float().cpu()
    return deltas, idx, clamped


def _measure(graph, ctx, reads: dict) -> np.ndarray:
    """Value (without bias terms) of every node that has a read vector; NaN elsewhere."""
    out = np.full(graph.n_nodes, np.nan)
    rows = np.nonzero(graph.mask("feature"))[0]
    ids = graph.nodes["node_id"].to_numpy()[rows]
    positions = graph.nodes["pos"].to_numpy()[rows]
    by_site: dict[int, list[tuple[int, int, int]]] = {}
    for i, node_id, pos in zip(rows, ids, positions, strict=True):
        k, r = ctx.feature_ref[node_id]
        by_site.setdefault(k, []).append((int(i), r, int(pos)))
    for k, items in by_site.items():
        s = ctx.sites[k]
        x = reads[s.dictionary.read.name][0].float().cpu()
        ii, rr, pp = (np.array(v) for v in zip(*items, strict=True))
        vecs = s.read_vecs.cpu()[torch.from_numpy(rr)]
        out[ii] = (x[torch.from_numpy(pp)] * vecs).sum(-1).numpy()
    for t, node_id in zip(ctx.targets, ctx.target_ids, strict=True):
        if node_id in graph._index:
            x = reads[t.read][0, t.pos].float().cpu()
            out[graph._index[node_id]] = float(x @ t.vector.float().cpu())
    return out


def _frozen_pass(ctx, deltas: dict, clamped: dict, respond: bool) -> dict:
    reads: dict = {}
    leaves: dict = {"embed": ctx.embed + deltas.get("embed", 0)}
    for k, s in enumerate(ctx.sites):
        name = s.dictionary.write.name
        clean = s.write_value + deltas.get(name, 0)
        if not respond:
            leaves[name] = clean
            continue

        def respond_fn(value, k=k, s=s, clean=clean):
            sae = s.dictionary.sae
            scale = s.dictionary.scale
            now = sae.encode(reads[s.dictionary.read.name][0].to(sae.dtype)).float()
            vis = ctx.visited[k].to(s.pos.device)
            change = (now[s.pos, s.feat] - s.act) * vis
            for (kk, r), _ in clamped.items():
                if kk == k:
                    change[r] = 0.0  # intervened features hold their set value (already in deltas)
            out = clean.clone()
            out.index_add_(0, s.pos, change[:, None] * sae.W_dec.detach()[s.feat].float() / scale)
            return out[None].to(value.dtype)

        leaves[name] = respond_fn
    with torch.no_grad():
        ctx.frozen.replay(
            ctx.ids, {k: v if callable(v) else v[None] for k, v in leaves.items()}, reads=reads
        )
    return reads


def _free_pass(ctx, deltas: dict) -> tuple[dict, torch.Tensor]:
    """The real model with the edits added at their write points; reads and last logits."""
    model = ctx.model
    reads: dict = {}
    handles = []

    def add(name):
        def hook(module, args, out):
            delta = deltas.get(name)
            if delta is None:
                return None
            first = out[0] if isinstance(out, tuple) else out
            new = first + delta.to(first.dtype).to(first.device)[None]
            return (new, *out[1:]) if isinstance(out, tuple) else new

        return hook

    def capture(name):
        def hook(module, args, out):
            reads[name] = (out[0] if isinstance(out, tuple) else out).detach()

        def pre(module, args, kwargs):
            reads[name] = (args[0] if args else kwargs["hidden_states"]).detach()

        return hook, pre

    try:
        handles.append(model.module(model.family.embed).register_forward_hook(add("embed")))
        for s in ctx.sites:
            d = s.dictionary
            hook, pre = capture(d.read.name)
            module = model.module(d.read.module)
            if d.read.attr == "input":
                handles.append(module.register_forward_pre_hook(pre, with_kwargs=True))
            else:
                handles.append(module.register_forward_hook(hook))
            # Registered after the read, so a same-site read sees the value before the edit.
            handles.append(model.module(d.write.module).register_forward_hook(add(d.write.name)))
        hook, _ = capture(FINAL)
        handles.append(model.module(model.family.final_norm).register_forward_hook(hook))
        with torch.no_grad(), model.generation_lock:
            logits = model.hf_model(input_ids=ctx.ids, use_cache=False).logits[0, -1].float().cpu()
    finally:
        for h in handles:
            h.remove()
    return reads, logits


def _predict(graph, idx: list[int], multiplier: float, propagate: bool) -> np.ndarray:
    e = graph.edges
    n = graph.n_nodes
    f = np.zeros(n)
    fixed = np.zeros(n, dtype=bool)
    fixed[idx] = True
    f[idx] = multiplier - 1.0
    act = graph.nodes["activation"].to_numpy(dtype=np.float64)
    is_feature = graph.mask("feature") & (np.nan_to_num(act) > 0)
    dh = np.zeros(n)
    for _ in range(int(graph.nodes["stream"].max()) + 2):
        dh = np.bincount(e.target, e.weight * f[e.source], minlength=n)
        if not propagate:
            break
        new = np.where(
            is_feature & ~fixed, np.divide(dh, act, out=np.zeros(n), where=is_feature), 0.0
        )
        new[fixed] = multiplier - 1.0
        if np.allclose(new, f):
            break
        f = new
    return dh


def intervene(graph, nodes, multiplier: float = 0.0, *, mode: str = "free") -> InterventionResult:
    if mode not in MODES:
        raise ValidationError(f"mode must be one of {MODES}, got {mode!r}")
    if not isinstance(multiplier, (int, float)) or not np.isfinite(multiplier):
        raise ValidationError(f"multiplier must be a finite number, got {multiplier!r}")
    ctx = _context(graph)
    deltas, idx, clamped = _edits(graph, ctx, nodes, multiplier)
    probs_before = probs_after = None
    if mode == "free":
        if "free" not in ctx.clean:
            ctx.clean["free"] = _free_pass(ctx, {})
        clean_reads, clean_logits = ctx.clean["free"]
        new_reads, new_logits = _free_pass(ctx, deltas)
        probs_before, probs_after = torch.softmax(clean_logits, -1), torch.softmax(new_logits, -1)
    else:
        if "frozen" not in ctx.clean:
            ctx.clean["frozen"] = _frozen_pass(ctx, {}, {}, respond=False)
        clean_reads = ctx.clean["frozen"]
        new_reads = _frozen_pass(ctx, deltas, clamped, respond=mode == "frozen")
    before, after = _measure(graph, ctx, clean_reads), _measure(graph, ctx, new_reads)
    predicted = _predict(graph, idx, float(multiplier), propagate=mode != "direct")
    frame = pd.DataFrame(
        {
            "node_id": graph.nodes["node_id"],
            "type": graph.nodes["type"],
            "label": graph.nodes["label"],
            "before": before,
            "predicted": predicted,
            "actual": after - before,
        }
    )
    has_input = np.bincount(graph.edges.target, minlength=graph.n_nodes) > 0
    targets = frame[graph.mask("logit", "feature_target")].copy()
    if probs_before is not None:
        ids = graph.nodes.loc[targets.index, "token_id"].to_numpy()
        targets["prob_before"] = [float(probs_before[t]) if t >= 0 else np.nan for t in ids]
        targets["prob_after"] = [float(probs_after[t]) if t >= 0 else np.nan for t in ids]
    features = frame[graph.mask("feature") & has_input].drop(index=idx, errors="ignore")
    features = features.reindex(features["actual"].abs().sort_values(ascending=False).index)
    return InterventionResult(
        targets.reset_index(drop=True),
        features.reset_index(drop=True),
        [graph.nodes["node_id"].iloc[i] for i in idx],
        float(multiplier),
        mode,
    )
