"""From the engine's edge rows to an `AttributionGraph` and the node index its context needs.

The engine computes one dense row per visited target/feature over every column (features,
error and token slots). Here the columns become nodes — visited features in (site, position,
feature) order, then one error node per (site, position), then tokens, then targets — features
the budget never visited are summed into their error node, and the rows become COO edges.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from saewidgets.analysis.attribution import prune as _prune
from saewidgets.analysis.attribution.graph import AttributionGraph
from saewidgets.analysis.attribution.replacement import NodeIndex, SiteNodes
from saewidgets.analysis.attribution.targets import Target
from saewidgets.model.model import Model


def layer_labels(sites: list[SiteNodes]) -> list[str]:
    """Node-id layer of each site: its model layer, or its number when layers repeat."""
    layers = [s.dictionary.write.layer for s in sites]
    if len(set(layers)) == len(layers):
        return [str(x) for x in layers]
    return [str(i + 1) for i in range(len(layers))]  # shared layers: number the sites instead


def fold_errors(
    sites: list[SiteNodes], feature_offsets: np.ndarray, visited_cols: list[int]
) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """Per site, the error vectors with the unvisited features added in, and the visited mask."""
    n_features = int(feature_offsets[-1])
    visited_mask = np.zeros(n_features, dtype=bool)
    visited_mask[visited_cols] = True
    folded, visited = [], []
    for k, s in enumerate(sites):
        lo, hi = feature_offsets[k], feature_offsets[k + 1]
        vis = torch.from_numpy(visited_mask[lo:hi])
        err = s.error.detach().cpu().clone()
        rest = ~vis
        if bool(rest.any()):
            err.index_add_(0, s.pos.cpu()[rest], s.write_vecs.cpu()[rest])
        folded.append(err)
        visited.append(vis)
    return folded, visited


def _node(node_id, kind, site, layer, stream, pos, **values) -> dict:
    row = dict(
        node_id=node_id,
        type=kind,
        site=site,
        layer=layer,
        stream=stream,
        pos=pos,
        feature=-1,
        token_id=-1,
        activation=float("nan"),
        value=float("nan"),
        prob=0.0,
        weight=0.0,
        label="",
    )
    row.update(values)
    return row


def assemble(
    model: Model,
    prompt: str,
    ids: torch.Tensor,
    sites: list[SiteNodes],
    targets: list[Target],
    rows: torch.Tensor,
    row_cols: list[int],
    feature_offsets: np.ndarray,
    settings: dict,
) -> tuple[AttributionGraph, NodeIndex]:
    """The graph of ``rows`` (targets first, then one per visited feature column in
    ``row_cols``) and how its nodes map back onto the sites' tensors."""
    seq = ids.shape[1]
    n_t = len(targets)
    n_features = int(feature_offsets[-1])
    n_cols = n_features + len(sites) * seq + seq
    visited_cols = row_cols[n_t:]
    site_of = np.repeat(np.arange(len(sites)), np.diff(feature_offsets))
    local = np.arange(n_features) - feature_offsets[site_of]
    pos_of = np.concatenate([s.pos.cpu().numpy() for s in sites]) if sites else np.zeros(0, int)
    feat_of = np.concatenate([s.feat.cpu().numpy() for s in sites]) if sites else np.zeros(0, int)
    order = sorted(visited_cols, key=lambda c: (site_of[c], pos_of[c], feat_of[c]))
    n_f = len(order)
    n_err = len(sites) * seq
    n_nodes = n_f + n_err + seq + n_t
    col_to_node = np.empty(n_cols, dtype=np.int64)
    # Unvisited features join their (site, position) error node, so rows stay complete.
    col_to_node[:n_features] = n_f + site_of * seq + pos_of
    col_to_node[np.array(order, dtype=np.int64)] = np.arange(n_f)
    col_to_node[n_features:] = n_f + np.arange(n_err + seq)
    dense = torch.zeros(rows.shape[0], n_nodes)
    dense.index_add_(1, torch.from_numpy(col_to_node), rows)
    row_nodes = np.concatenate(
        [
            n_f + n_err + seq + np.arange(n_t),
            col_to_node[np.array(visited_cols, dtype=np.int64)],
        ]
    ).astype(np.int64)
    r, c = torch.nonzero(dense, as_tuple=True)
    edges = _prune.Edges(
        row_nodes[r.numpy()],
        c.numpy().astype(np.int64),
        dense[r, c].numpy().astype(np.float32),
        n_nodes,
    )
    folded, visited = fold_errors(sites, feature_offsets, visited_cols)
    index = NodeIndex(folded_errors=folded, visited=visited)
    labels = layer_labels(sites)
    logit_layer = str(model.n_layers + 1)
    token_ids = ids[0].tolist()
    texts = [model.tokenizer.decode([i]) for i in token_ids]
    records = []
    for col in order:
        k, i = int(site_of[col]), int(local[col])
        s = sites[k]
        p, f = int(s.pos[i]), int(s.feat[i])
        node_id = f"{labels[k]}_{f}_{p}"
        index.feature_ref[node_id] = (k, i)
        records.append(
            _node(
                node_id,
                "feature",
                s.dictionary.write.name,
                labels[k],
                k + 1,
                p,
                feature=f,
                activation=float(s.act[i]),
                value=float(s.pre[i]),
            )
        )
    for k, s in enumerate(sites):
        norms = folded[k].norm(dim=-1)
        site = s.dictionary.write.name
        for p in range(seq):
            records.append(
                _node(
                    f"{labels[k]}_-1_{p}",
                    "error",
                    site,
                    labels[k],
                    k + 1,
                    p,
                    activation=float(norms[p]),
                    label=f"error {site} @ {texts[p]!r}",
                )
            )
    for p in range(seq):
        records.append(
            _node(
                f"E_{token_ids[p]}_{p}",
                "token",
                None,
                "E",
                0,
                p,
                token_id=token_ids[p],
                label=texts[p],
            )
        )
    site_names = [s.dictionary.write.name for s in sites]
    for t in targets:
        if t.kind == "feature":
            k = site_names.index(t.site)
            records.append(
                _node(
                    f"{labels[k]}_{t.feature}_{t.pos}",
                    "feature_target",
                    t.site,
                    labels[k],
                    k + 1,
                    t.pos,
                    feature=t.feature,
                    value=t.value,
                    weight=t.weight,
                    label=f"target {t.label}",
                )
            )
        else:
            tid = t.token_id if t.kind == "logit" else f"{t.token_id}-{t.other_id}"
            records.append(
                _node(
                    f"{logit_layer}_{tid}_{t.pos}",
                    "logit",
                    None,
                    logit_layer,
                    len(sites) + 1,
                    t.pos,
                    token_id=t.token_id,
                    value=t.value,
                    prob=t.prob,
                    weight=t.weight,
                    label=t.label,
                )
            )
    nodes = pd.DataFrame.from_records(records)
    index.target_ids = nodes["node_id"].iloc[len(nodes) - n_t :].tolist()
    metadata = {
        "scan": model.name,
        "model": model.name,
        "prompt": prompt,
        "prompt_tokens": texts,
        "sites": site_names,
        "generation_settings": settings,
        "n_active_features": n_features,
        "n_feature_nodes": n_f,
        "n_folded_into_errors": n_features - n_f,
    }
    graph = AttributionGraph(nodes, edges, prompt=prompt, tokens=texts, metadata=metadata)
    return graph, index
