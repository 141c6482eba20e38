"""Writing an attribution graph as the JSON that Neuronpedia and circuit-tracer read.

Node ids follow their conventions: features ``{layer}_{feature}_{pos}``, errors
``{layer}_-1_{pos}``, tokens ``E_{token id}_{pos}``, logits ``{n_layers+1}_{token id}_{pos}``.
Fields read from another tool's file ride along and are written back. This module works on any
object shaped like `AttributionGraph` and imports no graph code, so ``graph.to_json`` can call
it; reading (`neuronpedia.load_graph`) builds graphs and imports them.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from saewidgets.core.version import VERSION

SCHEMA_VERSION = 1
NODE_KEYS = (
    "node_id",
    "feature",
    "layer",
    "ctx_idx",
    "feature_type",
    "token_prob",
    "is_target_logit",
    "run_idx",
    "reverse_ctx_idx",
    "jsNodeId",
    "clerp",
    "influence",
    "activation",
)
OUR_NODE_KEYS = ("site", "value", "saew_type")
FEATURE_TYPE = {
    "feature": "cross layer transcoder",
    "error": "mlp reconstruction error",
    "token": "embedding",
    "logit": "logit",
    "feature_target": "cross layer transcoder",
}


def cantor(a: int, b: int) -> int:
    return (a + b) * (a + b + 1) // 2 + b


def _num(value):
    if value is None:
        return None
    value = float(value)
    return None if not np.isfinite(value) else round(value, 6)


def _clerp(row, tokens: list[str]) -> str:
    kind = row["type"]
    label = row["label"] if isinstance(row.get("label"), str) else ""
    tok = tokens[int(row["pos"])] if 0 <= int(row["pos"]) < len(tokens) else ""
    if kind == "logit":
        return f'Output "{label}" (p={float(row["prob"]):.3f})'
    if kind == "token":
        return f'Emb: "{label}"'
    if kind == "error":
        return f'Err: {row.get("site") or "site"} "{tok}"'
    return label


def _js_id(row) -> str:
    kind, nid = row["type"], str(row["node_id"])
    if kind == "logit":
        return f"L_{nid.split('_')[1]}-{int(row['pos'])}"
    if kind == "token":
        return f"E_{int(row['token_id'])}-{int(row['pos'])}"
    if kind == "error":
        return f"{row['layer']}_-1-{int(row['pos'])}"
    return f"{row['layer']}_{int(row['feature'])}-0"


def to_json(
    graph,
    path=None,
    *,
    slug: str | None = None,
    node_threshold: float | None = 0.8,
    edge_threshold: float = 0.98,
) -> dict:
    """``graph`` in the Neuronpedia / circuit-tracer JSON format (pruned with the given
    thresholds first unless ``node_threshold`` is None); written to ``path`` if given. Also
    ``graph.to_json(path, ...)``. The graph's live ``context`` is not part of it."""
    g = graph.prune(node_threshold, edge_threshold) if node_threshold is not None else graph
    tokens = g.tokens
    seq = len(tokens)
    nodes = []
    extras = g.nodes["extra"] if "extra" in g.nodes.columns else [None] * g.n_nodes
    for row, extra in zip(g.nodes.to_dict("records"), extras, strict=True):
        kind = row["type"]
        layer = row["layer"]
        try:
            feature = (
                cantor(int(layer), int(row["feature"]))
                if kind in ("feature", "feature_target")
                else None
            )
        except (TypeError, ValueError):
            feature = int(row["feature"]) if row["feature"] is not None else None
        if kind == "token":
            feature = int(row["pos"])
        elif kind == "logit":
            feature = int(row["token_id"])
        elif kind == "error":
            feature = -1
        node = {
            "node_id": str(row["node_id"]),
            "feature": feature,
            "layer": str(layer),
            "ctx_idx": int(row["pos"]),
            "feature_type": FEATURE_TYPE[kind],
            "token_prob": _num(row.get("prob")) or 0.0,
            "is_target_logit": kind == "logit",
            "run_idx": 0,
            "reverse_ctx_idx": seq - 1 - int(row["pos"]),
            "jsNodeId": _js_id(row),
            "clerp": _clerp(row, tokens),
            "influence": _num(row.get("influence")),
            "activation": _num(row.get("activation")),
            "site": row["site"] if isinstance(row.get("site"), str) else None,
            "value": _num(row.get("value")),
            "saew_type": kind,
        }
        if isinstance(extra, dict):
            node = {**node, **{k: v for k, v in extra.items() if k not in ("node_id",)}}
        nodes.append(node)
    ids = g.nodes["node_id"].to_numpy()
    link_extra = g.extra.get("_link_extra") or {}
    links = []
    for s, t, w in zip(ids[g.edges.source], ids[g.edges.target], g.edges.weight, strict=True):
        link = {"source": str(s), "target": str(t), "weight": round(float(w), 7)}
        more = link_extra.get((str(s), str(t)))
        links.append({**link, **more} if more else link)
    meta = {k: v for k, v in g.metadata.items() if k not in ("seconds",)}
    meta.update(
        {
            "slug": slug or meta.get("slug") or _slug(g.prompt),
            "scan": meta.get("scan") or "unknown",
            "prompt_tokens": tokens,
            "prompt": g.prompt,
            "schema_version": meta.get("schema_version", SCHEMA_VERSION),
        }
    )
    if node_threshold is not None:
        meta["node_threshold"] = node_threshold
        meta["pruning_settings"] = {
            "node_threshold": node_threshold,
            "edge_threshold": edge_threshold,
        }
    info = dict(meta.get("info") or {})
    info.setdefault("generator", {"name": "saewidgets", "version": _version()})
    info.setdefault("create_time_ms", int(time.time() * 1000))
    meta["info"] = info
    qparams = {"pinnedIds": [], "supernodes": [], "linkType": "both", "clickedId": "", "sg_pos": ""}
    qparams.update(g.qparams)
    doc = {
        **{k: v for k, v in g.extra.items() if not k.startswith("_")},
        "metadata": meta,
        "qParams": qparams,
        "nodes": nodes,
        "links": links,
    }
    if path is not None:
        Path(path).write_text(
            json.dumps(doc, ensure_ascii=False, allow_nan=False), encoding="utf-8"
        )
    return doc


def _version() -> str:
    return VERSION


def _slug(prompt: str) -> str:
    keep = "".join(c.lower() if c.isalnum() else "-" for c in prompt)[:40].strip("-")
    return "-".join(p for p in keep.split("-") if p) or "graph"
