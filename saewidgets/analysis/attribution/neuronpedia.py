"""The attribution-graph JSON that Neuronpedia and circuit-tracer read and write.

Node ids follow their conventions: features ``{layer}_{feature}_{pos}``, errors
``{layer}_-1_{pos}``, tokens ``E_{token id}_{pos}``, logits ``{n_layers+1}_{token id}_{pos}``.
Fields this module does not know are kept on import and written back on export, so a graph from
a newer schema survives a round trip through saewidgets.

Reading lives here (it builds `AttributionGraph` objects); writing lives in `graph_json.py`,
which the graph calls. A loaded graph has no `ReplacementContext`.
"""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from saewidgets.analysis.attribution.graph import AttributionGraph
from saewidgets.analysis.attribution.graph_json import (
    FEATURE_TYPE,
    NODE_KEYS,
    OUR_NODE_KEYS,
    SCHEMA_VERSION,
)
from saewidgets.analysis.attribution.prune import Edges
from saewidgets.core.errors import SAEWidgetsError


class GraphFormatError(SAEWidgetsError, ValueError):
    """A graph file that does not follow the format; the message names the missing part."""


def _kind(node: dict) -> str:
    ftype = str(node.get("feature_type", "")).lower()
    if node.get("saew_type") in FEATURE_TYPE:
        return node["saew_type"]
    if ftype == "embedding":
        return "token"
    if ftype == "logit" or node.get("is_target_logit"):
        return "logit"
    if "error" in ftype:
        return "error"
    return "feature"


def _id_part(node_id: str, i: int, default: int = -1) -> int:
    parts = str(node_id).split("_")
    try:
        return int(parts[i])
    except (IndexError, ValueError):
        return default


def load_graph(source) -> AttributionGraph:
    """Read a Neuronpedia / circuit-tracer graph JSON (a path, JSON text or a parsed dict)."""
    doc = _read_document(source)
    meta = _metadata(doc)
    tokens = [str(t) for t in meta["prompt_tokens"]]
    nodes = _nodes(doc["nodes"])
    edges, link_extra = _links(doc["links"], nodes)
    extra = {k: v for k, v in doc.items() if k not in ("metadata", "qParams", "nodes", "links")}
    extra["_link_extra"] = link_extra
    return AttributionGraph(
        nodes,
        edges,
        prompt=str(meta.get("prompt", "".join(tokens))),
        tokens=tokens,
        metadata=meta,
        qparams=dict(doc.get("qParams") or {}),
        extra=extra,
    )


def _read_document(source) -> dict:
    if isinstance(source, dict):
        return source
    if isinstance(source, str) and source.lstrip().startswith("{"):
        text = source
    elif isinstance(source, (str, os.PathLike)):
        if not Path(source).is_file():
            raise FileNotFoundError(f"no graph file at {source!s}")
        text = Path(source).read_text(encoding="utf-8")
    else:
        raise GraphFormatError(
            f"load_graph takes a path, JSON text or a dict, not {type(source).__name__}"
        )
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise GraphFormatError(f"not a graph file or JSON text: {error}") from None


def _metadata(doc: dict) -> dict:
    missing = [k for k in ("metadata", "nodes", "links") if k not in doc]
    if missing:
        raise GraphFormatError(
            f"graph JSON lacks {missing}; it needs metadata, qParams, nodes and links"
        )
    meta = dict(doc["metadata"])
    lacking = [k for k in ("prompt_tokens",) if k not in meta]
    if lacking:
        raise GraphFormatError(f"graph metadata lacks {lacking}")
    version = meta.get("schema_version", SCHEMA_VERSION)
    if isinstance(version, (int, float)) and version > SCHEMA_VERSION:
        warnings.warn(
            f"graph schema_version {version} is newer than {SCHEMA_VERSION}; "
            "unknown fields are kept as they are",
            stacklevel=3,
        )
    return meta


def _nodes(raw: list[dict]) -> pd.DataFrame:
    layer_values = sorted(
        {_layer_num(n.get("layer")) for n in raw if _kind(n) in ("feature", "error")} - {None}
    )
    stream_of = {v: i + 1 for i, v in enumerate(layer_values)}
    records = [_node_record(n, stream_of, len(layer_values) + 1) for n in raw]
    nodes = pd.DataFrame.from_records(records)
    nodes["extra"] = [
        {k: v for k, v in n.items() if k not in NODE_KEYS + OUR_NODE_KEYS} or None for n in raw
    ]
    if nodes["influence"].isna().any():
        nodes = nodes.drop(columns="influence")
    return nodes


def _node_record(n: dict, stream_of: dict, logit_stream: int) -> dict:
    for key in ("node_id", "ctx_idx"):
        if key not in n:
            raise GraphFormatError(f"a node lacks {key!r}: {str(n)[:120]}")
    kind = _kind(n)
    nid = str(n["node_id"])
    layer = n.get("layer")
    if kind == "token":
        token_id, feature, stream = _id_part(nid, 1), -1, 0
    elif kind == "logit":
        token_id, feature, stream = _id_part(nid, 1), -1, logit_stream
    else:
        token_id = -1
        feature = -1 if kind == "error" else _id_part(nid, 1, n.get("feature") or -1)
        stream = stream_of.get(_layer_num(layer), 1)
    prob = float(n.get("token_prob") or 0.0)
    label = n.get("clerp") or ""
    if kind == "logit":
        label = _logit_label(label)
    elif kind == "token" and label.startswith('Emb: "'):
        label = label[6:-1]
    return dict(
        node_id=nid,
        type=kind,
        site=n.get("site"),
        layer=str(layer),
        stream=stream,
        pos=int(n["ctx_idx"]),
        feature=feature,
        token_id=token_id,
        activation=_float(n.get("activation")),
        value=_float(n.get("value")),
        prob=prob,
        weight=prob if kind == "logit" else 0.0,
        label=label,
        influence=_float(n.get("influence")),
    )


def _links(raw: list[dict], nodes: pd.DataFrame) -> tuple[Edges, dict]:
    index = {nid: i for i, nid in enumerate(nodes["node_id"])}
    src, tgt, wts, link_extra = [], [], [], {}
    for link in raw:
        try:
            s, t = index[str(link["source"])], index[str(link["target"])]
        except KeyError as error:
            raise GraphFormatError(
                f"a link names node {error.args[0]!r}, which is not in nodes"
            ) from None
        src.append(s)
        tgt.append(t)
        wts.append(float(link["weight"]))
        more = {k: v for k, v in link.items() if k not in ("source", "target", "weight")}
        if more:
            link_extra[(str(link["source"]), str(link["target"]))] = more
    edges = Edges(
        np.array(tgt, dtype=np.int64),
        np.array(src, dtype=np.int64),
        np.array(wts, dtype=np.float32),
        len(nodes),
    )
    return edges, link_extra


def _layer_num(layer):
    try:
        return int(layer)
    except (TypeError, ValueError):
        return None


def _float(value) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return float("nan")


def _logit_label(clerp: str) -> str:
    # 'Output "Paris" (p=0.812)' → 'Paris'
    if clerp.startswith('Output "') and '" (p=' in clerp:
        return clerp[len('Output "') : clerp.rindex('" (p=')]
    return clerp
