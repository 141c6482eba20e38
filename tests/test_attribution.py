"""Attribution graphs: exact edges, validation against the model, targets, pruning, JSON."""

from __future__ import annotations

import ast
import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from tiny import tiny_model

import saewidgets as sw
from saewidgets.analysis.attribution.graph_json import cantor

PROMPT = "the cat sat on it"


def _saes(layers=(0, 1, 2), arch="relu", d_sae=64):
    out = []
    for layer in layers:
        sae = sw.SAE(
            32,
            d_sae,
            arch,
            site=f"blocks.{layer}.hook_resid_post",
            seed=layer,
            k=8 if arch == "topk" else None,
        )
        with torch.no_grad():
            if arch == "relu":
                sae.b_enc.fill_(0.05)  # about half the features fire
        out.append(sae)
    return out


@pytest.fixture(scope="module")
def tiny_graph():
    model = tiny_model("llama", seed=3)
    graph = sw.attribute(model, PROMPT, _saes(), max_feature_nodes=10_000, progress=False)
    return model, graph


def _check_columns(graph, sources, tol=1e-3):
    """Zero-ablating each source in the frozen model moves every row node by −edge."""
    a = graph.adjacency()
    for i in sources:
        r = graph.intervene([int(i)], 0.0, mode="direct")
        both = pd.concat([r.targets, r.features])
        rows = [graph.index(n) for n in both["node_id"]]
        expected = -a[rows, i]
        assert np.abs(expected).max() > 0
        # relative 1e-3 of the column, plus float32 rounding of the values being differenced
        noise = 1e-6 * np.nanmax(np.abs(both["before"].to_numpy()))
        err = np.abs(both["actual"].to_numpy() - expected).max()
        assert err <= tol * np.abs(expected).max() + noise, graph.nodes["node_id"][i]


@pytest.mark.parametrize("family", ["llama", "gpt2", "gemma2", "gpt_neox"])
def test_edges_are_exact_direct_effects(family):
    model = tiny_model(family, seed=1)
    graph = sw.attribute(model, PROMPT, _saes(), max_feature_nodes=10_000, progress=False)
    rng = np.random.default_rng(0)
    picks = []
    for kind in ("feature", "error", "token"):
        idx = np.nonzero(graph.mask(kind))[0]
        # sources that do reach something, so the check is not 0 == 0
        idx = [i for i in idx if np.any(graph.edges.source == i)]
        picks += list(rng.choice(idx, min(4, len(idx)), replace=False))
    _check_columns(graph, picks)


def test_frozen_model_matches_graph_prediction(tiny_graph):
    _, graph = tiny_graph
    assert graph.metadata["n_folded_into_errors"] == 0 or graph.metadata["n_feature_nodes"] > 0
    top = graph.nodes[graph.mask("feature")].sort_values("influence").head(3)["node_id"].tolist()
    r = graph.intervene(top, 0.8, mode="frozen")  # small change: no feature crosses zero
    both = pd.concat([r.targets, r.features])
    assert np.abs(both["actual"]).max() > 0
    np.testing.assert_allclose(
        both["predicted"], both["actual"], atol=1e-4 * np.abs(both["actual"]).max() + 1e-7
    )


def test_free_mode_equals_a_hand_made_edit(tiny_graph):
    model, graph = tiny_graph
    node = graph.nodes[graph.mask("feature")].sort_values("influence").iloc[0]
    r = graph.intervene([node["node_id"]], -1.0, mode="free")
    # the same edit by hand: subtract 2 × activation × decoder row at the node's site and token
    site, pos, vec = graph.context.write_vector(graph, node["node_id"])
    assert (site, pos) == (node["site"], int(node["pos"]))
    layer = model.module(model.site(node["site"]).module)

    def hook(module, args, out):
        first = out[0] if isinstance(out, tuple) else out
        first = first.clone()
        first[0, int(node["pos"])] -= 2 * vec
        return (first, *out[1:]) if isinstance(out, tuple) else first

    ids = torch.tensor([model.encode(PROMPT)])
    with torch.no_grad():
        clean = model.hf_model(input_ids=ids).logits[0, -1]
        handle = layer.register_forward_hook(hook)
        try:
            edited = model.hf_model(input_ids=ids).logits[0, -1]
        finally:
            handle.remove()
    for row in r.targets.itertuples():
        tid = int(graph.nodes.loc[graph.index(row.node_id), "token_id"])
        want = (edited[tid] - edited.mean()) - (clean[tid] - clean.mean())
        assert row.actual == pytest.approx(float(want), abs=1e-4)
        assert row.prob_after == pytest.approx(float(torch.softmax(edited, -1)[tid]), abs=1e-5)
    assert r.correlation > 0.5  # the graph's linear prediction tracks the real model here


def test_targets_logits_diff_and_feature():
    model = tiny_model("llama", seed=3)
    saes = _saes()
    ids = torch.tensor([model.encode(PROMPT)])
    with torch.no_grad():
        logits = model.hf_model(input_ids=ids).logits[0, -1]
    probs = torch.softmax(logits, -1)
    g = sw.attribute(model, PROMPT, saes, max_n_logits=3, desired_logit_prob=0.99, progress=False)
    top = torch.topk(probs, 3)
    got = g.nodes[g.mask("logit")]
    assert got["token_id"].tolist() == top.indices.tolist()
    np.testing.assert_allclose(got["prob"], top.values.numpy(), rtol=1e-5)
    np.testing.assert_allclose(
        got["value"], (logits - logits.mean())[top.indices].numpy(), atol=1e-4
    )
    # a logit difference
    a, b = "x", "y"
    ia, ib = model.encode(a)[-1], model.encode(b)[-1]
    d = sw.attribute(model, PROMPT, saes, target=(a, b), progress=False)
    (value,) = d.nodes[d.mask("logit")]["value"]
    assert value == pytest.approx(float(logits[ia] - logits[ib]), abs=1e-4)
    # a feature's pre-activation as the target: only upstream sites are sources
    sae1 = saes[1]
    f = sw.attribute(model, PROMPT, saes, target=(sae1.site, 7), progress=False)
    (row,) = f.nodes[f.mask("feature_target")].to_dict("records")
    with torch.no_grad():
        out = model.hf_model(input_ids=ids, output_hidden_states=True).hidden_states[2][0, -1]
        want = float(sae1.pre_activations(out[None])[0, 7])
    assert row["value"] == pytest.approx(want, abs=1e-4)
    assert set(f.nodes.loc[f.mask("feature"), "site"]) <= {saes[0].site}


def test_transcoder_graph_is_exact():
    model = tiny_model("llama", seed=4)
    tc = sw.SAE(
        32,
        48,
        "relu",
        site="blocks.1.ln2.hook_normalized",
        site_out="blocks.1.hook_mlp_out",
        d_out=32,
        seed=0,
    )
    with torch.no_grad():
        tc.b_enc.fill_(0.05)
    g = sw.attribute(model, PROMPT, [tc, *_saes((2,))], max_feature_nodes=10_000, progress=False)
    assert set(g.nodes.loc[g.mask("feature"), "site"]) == {
        "blocks.1.hook_mlp_out",
        "blocks.2.hook_resid_post",
    }
    idx = [
        i for i in np.nonzero(g.mask("feature", "error", "token"))[0] if np.any(g.edges.source == i)
    ]
    _check_columns(g, idx[:: max(1, len(idx) // 10)])


def test_budget_folds_the_rest_into_errors():
    model = tiny_model("llama", seed=3)
    saes = _saes()
    g = sw.attribute(model, PROMPT, saes, max_feature_nodes=20, batch_size=8, progress=False)
    assert g.metadata["n_feature_nodes"] <= 20
    assert (
        g.metadata["n_folded_into_errors"]
        == g.metadata["n_active_features"] - g.metadata["n_feature_nodes"]
    )
    # rows stay exact: an error node now carries the folded features
    errs = [i for i in np.nonzero(g.mask("error"))[0] if np.any(g.edges.source == i)]
    _check_columns(g, errs[:4])


def test_prune_and_scores(tiny_graph):
    _, g = tiny_graph
    small, smaller = g.prune(0.8, 0.98), g.prune(0.3, 0.9)
    assert len(smaller) < len(small) < len(g)
    for p in (small, smaller):
        assert p.mask("token").sum() == g.mask("token").sum()  # inputs and targets always stay
        assert p.mask("logit").sum() == g.mask("logit").sum()
        sources = set(p.edges.source.tolist())
        kept = np.nonzero(p.mask("feature", "error"))[0]
        assert all(i in sources for i in kept)  # nothing left dangling
    replacement, completeness = g.scores()
    assert 0 <= replacement <= 1 and 0 <= completeness <= 1
    ranks = g.nodes["influence"].to_numpy()
    feat = g.mask("feature", "error")
    assert ranks[feat].min() >= 0 and ranks[feat].max() == pytest.approx(1.0)


def _dense_scores(g, kept_features: set[int]) -> tuple[float, float]:
    """Subgraph scores from a dense matrix inverse: an independent check of the sparse sweeps."""
    n = g.n_nodes
    outside = g.mask("feature") & ~np.isin(np.arange(n), list(kept_features))
    a = np.zeros((n, n))
    for t, src, w in zip(g.edges.target, g.edges.source, g.edges.weight, strict=True):
        if not outside[t]:
            a[t, src] += abs(w)
    rows = a.sum(1, keepdims=True)
    a = np.divide(a, rows, out=np.zeros_like(a), where=rows > 0)
    w = g.weights.astype(np.float64)
    infl = np.linalg.solve((np.eye(n) - a).T, w) - w  # w (A + A² + ...)
    unexplained = g.mask("error") | outside
    tok, err = infl[g.mask("token")].sum(), infl[unexplained].sum()
    err_share = (a * unexplained[None, :]).sum(1)
    mass = (infl + w) * (rows[:, 0] > 0)
    return tok / (tok + err), ((1 - err_share) * mass).sum() / mass.sum()


def test_subgraph_scores(tiny_graph):
    _, g = tiny_graph
    features = np.nonzero(g.mask("feature"))[0]
    assert g.scores(g.nodes["node_id"].iloc[features]) == pytest.approx(g.scores())
    top = features[np.argsort(g.nodes["influence"].to_numpy()[features])[:8]]
    pinned = g.scores(g.nodes["node_id"].iloc[top].tolist())
    assert pinned == pytest.approx(_dense_scores(g, set(top.tolist())), rel=1e-6)
    # pinning more features can only hand more influence on to the tokens
    none = g.scores([])
    assert none[0] <= pinned[0] <= g.scores()[0] and none[0] < g.scores()[0]
    with pytest.raises(KeyError, match="no node"):
        g.scores(["99_99_99"])
    with pytest.raises(TypeError, match="list of node ids"):
        g.scores(g.nodes["node_id"].iloc[top[0]])


def test_json_round_trip_keeps_unknown_fields(tiny_graph, tmp_path):
    _, g = tiny_graph
    path = tmp_path / "g.json"
    doc = g.to_json(path, slug="cat")
    assert {"metadata", "qParams", "nodes", "links"} <= set(doc)
    assert doc["metadata"]["slug"] == "cat" and doc["metadata"]["prompt_tokens"] == g.tokens
    assert "NaN" not in path.read_text()
    feats = [n for n in doc["nodes"] if n["feature_type"] == "cross layer transcoder"]
    layer, fid, _ = feats[0]["node_id"].split("_")
    assert feats[0]["feature"] == cantor(int(layer), int(fid))
    logits = [n for n in doc["nodes"] if n["is_target_logit"]]
    assert all(n["clerp"].startswith('Output "') and "(p=" in n["clerp"] for n in logits)
    # a graph from a newer schema with fields we do not know
    doc["metadata"]["schema_version"] = 7
    doc["metadata"]["future_block"] = {"a": [1, 2]}
    doc["nodes"][0]["qk_tracing_results"] = {"pair_wise_contributors": []}
    doc["links"][0]["head_loadings"] = [0.5, 0.5]
    doc["new_top_level"] = "kept"
    doc["qParams"]["pinnedIds"] = [doc["nodes"][0]["node_id"]]
    with pytest.warns(UserWarning, match="newer"):
        back = sw.load_graph(json.dumps(doc))
    again = back.to_json(node_threshold=None)
    assert again["nodes"] == doc["nodes"] and again["links"] == doc["links"]
    assert again["metadata"]["future_block"] == {"a": [1, 2]} and again["new_top_level"] == "kept"
    assert again["qParams"]["pinnedIds"] == doc["qParams"]["pinnedIds"]
    assert back.scores() == pytest.approx(sw.load_graph(path).scores())
    with pytest.raises(sw.GraphFormatError, match="lacks"):
        sw.load_graph({"metadata": {}, "nodes": []})
    bad = dict(doc, links=[{"source": "nope", "target": doc["nodes"][0]["node_id"], "weight": 1.0}])
    with pytest.raises(sw.GraphFormatError, match="nope"):
        sw.load_graph(bad)


def test_loads_a_circuit_tracer_style_graph():
    """A hand-written graph in circuit-tracer's conventions (CLT features, old error ids)."""
    doc = {
        "metadata": {
            "slug": "x",
            "scan": "gemma-2-2b",
            "prompt_tokens": ["<bos>", "The", " cat"],
            "prompt": "The cat",
        },
        "qParams": {
            "pinnedIds": [],
            "supernodes": [["animals", "1_77_2"]],
            "linkType": "both",
            "clickedId": "",
            "sg_pos": "",
        },
        "nodes": [
            {
                "node_id": "E_2_1",
                "feature": 1,
                "layer": "E",
                "ctx_idx": 1,
                "feature_type": "embedding",
                "jsNodeId": "E_2-1",
                "clerp": 'Emb: "The"',
            },
            {
                "node_id": "0_12_1",
                "feature": cantor(0, 12),
                "layer": "0",
                "ctx_idx": 1,
                "feature_type": "cross layer transcoder",
                "jsNodeId": "0_12-0",
                "clerp": "det",
                "influence": 0.2,
                "activation": 3.0,
            },
            {
                "node_id": "0_1_2",
                "feature": None,
                "layer": "0",
                "ctx_idx": 2,
                "feature_type": "mlp reconstruction error",
                "jsNodeId": "0_1-2",
                "clerp": "err",
            },
            {
                "node_id": "1_77_2",
                "feature": cantor(1, 77),
                "layer": "1",
                "ctx_idx": 2,
                "feature_type": "cross layer transcoder",
                "jsNodeId": "1_77-0",
                "clerp": "cat",
                "influence": 0.5,
                "activation": 2.0,
            },
            {
                "node_id": "27_9_2",
                "feature": 9,
                "layer": "27",
                "ctx_idx": 2,
                "feature_type": "logit",
                "jsNodeId": "L_9-2",
                "clerp": 'Output " sat" (p=0.420)',
                "token_prob": 0.42,
                "is_target_logit": True,
            },
        ],
        "links": [
            {"source": "E_2_1", "target": "0_12_1", "weight": 1.5},
            {"source": "0_12_1", "target": "1_77_2", "weight": 0.7},
            {"source": "0_1_2", "target": "1_77_2", "weight": 0.3},
            {"source": "1_77_2", "target": "27_9_2", "weight": 2.0},
        ],
    }
    g = sw.load_graph(doc)
    assert g.nodes.set_index("node_id").loc["1_77_2", "feature"] == 77
    assert g.nodes.set_index("node_id").loc["27_9_2", "label"] == " sat"
    assert list(g.nodes["type"]) == ["token", "feature", "error", "feature", "logit"]
    assert g.nodes["stream"].tolist() == [0, 1, 1, 2, 3]
    assert g.incoming("1_77_2")["source"].tolist() == ["0_12_1", "0_1_2"]
    with pytest.raises(ValueError, match="loaded from a file"):
        g.intervene(["0_12_1"])
    view = sw.GraphView(g)
    assert view.supernodes == [["animals", "1_77_2"]] and not view._can_intervene


def test_bad_input_is_explained(tiny_graph):
    model, g = tiny_graph
    saes = _saes()
    with pytest.raises(sw.AttributionError, match=r"window=4.*GiB"):
        sw.attribute(model, PROMPT, saes, window=4, progress=False)
    with pytest.raises(sw.TargetError, match="not one"):
        sw.attribute(model, PROMPT, saes, target="xyz", progress=False)
    with pytest.raises(sw.TargetError, match="out of range"):
        sw.attribute(model, PROMPT, saes, target=(saes[0].site, 999), progress=False)
    other = _saes((0,))[0]
    other.metadata["model_name"] = "gpt2"
    with pytest.raises(sw.AttributionError, match="trained on 'gpt2'"):
        sw.attribute(model, PROMPT, [other], progress=False)
    wide = sw.SAE(48, 16, "relu", site="blocks.0.hook_resid_post")
    with pytest.raises(sw.AttributionError, match="d_in=48"):
        sw.attribute(model, PROMPT, [wide], progress=False)
    with pytest.raises(sw.AttributionError, match="non-empty"):
        sw.attribute(model, "  ", saes, progress=False)
    with pytest.raises(ValueError, match="is a logit node"):
        g.intervene([g.nodes.loc[g.mask("logit"), "node_id"].iloc[0]])
    with pytest.raises(KeyError, match="no node"):
        g.intervene(["99_99_99"])
    with pytest.raises(ValueError, match="mode"):
        g.intervene([0], mode="sideways")
    # the model is left as it was: no hooks, the usual attention implementation
    assert all(not m._forward_hooks and not m._forward_pre_hooks for m in model.hf_model.modules())
    assert model.hf_model.config._attn_implementation != "saewidgets_frozen"


def test_embedded_model_graph(embedded_model):
    saes = sw.load_saes()
    prompt = "The capital of France is Paris. The capital of Italy is"
    g = sw.attribute(embedded_model, prompt, saes, max_feature_nodes=300, progress=False)
    assert g.metadata["sites"] == sorted(saes, key=lambda s: int(s.split(".")[1]))
    assert 0 < g.metadata["n_feature_nodes"] <= 300
    top = g.nodes[g.mask("logit")].sort_values("prob", ascending=False).iloc[0]
    assert top["label"] == " Rome"
    # exact on the real model too, for sources at three different depths
    by_stream = g.nodes[g.mask("feature")].sort_values("influence").groupby("stream").head(1)
    sources = [g.index(n) for n in by_stream["node_id"]]
    sources += np.nonzero(g.mask("token", "error"))[0].tolist()
    sources = [i for i in sources if np.any(g.edges.source == i)]
    assert len(set(g.nodes.loc[sources, "stream"])) >= 3
    _check_columns(g, sources[:3] + sources[-2:])
    r = g.intervene(by_stream["node_id"].tolist()[-1:], 0.0, mode="free")
    assert np.isfinite(r.targets["actual"]).all()


def test_graph_is_plain_data_and_the_context_is_separate(tiny_graph, tmp_path):
    model, g = tiny_graph
    # graph.py imports neither torch nor the live side; the JSON format imports the graph
    tree = ast.parse(Path(sw.AttributionGraph.__module__.replace(".", "/") + ".py").read_text())
    imported = {
        a.name if isinstance(n, ast.Import) else n.module or ""
        for n in ast.walk(tree)
        if isinstance(n, (ast.Import, ast.ImportFrom))
        for a in n.names
    }
    assert not {m for m in imported if m.split(".")[0] == "torch"}
    assert not {m for m in imported if m.rsplit(".", 1)[-1] in ("engine", "replacement")}
    ctx = g.context
    assert isinstance(ctx, sw.ReplacementContext) and ctx.model is model
    assert (
        ctx.tokens == g.tokens and [d.write.name for d in ctx.dictionaries] == g.metadata["sites"]
    )
    pruned = g.prune(0.5, 0.9)
    assert pruned.context is ctx  # a handle: pruned graphs share it
    assert "context" not in json.dumps(g.to_json(node_threshold=None))
    # the context runs interventions on its graph, and on the same graph saved and loaded back
    node = g.nodes[g.mask("feature")].sort_values("influence")["node_id"].iloc[0]
    direct = g.intervene([node], 0.0, mode="direct")
    same = ctx.intervene(g, [node], 0.0, mode="direct")
    pd.testing.assert_frame_equal(direct.targets, same.targets)
    loaded = sw.load_graph(g.to_json(tmp_path / "g.json", node_threshold=None))
    assert loaded.context is None
    with pytest.raises(ValueError, match="loaded from a file"):
        loaded.intervene([node])
    again = ctx.intervene(loaded, [node], 0.0, mode="direct")
    np.testing.assert_allclose(again.targets["actual"], direct.targets["actual"], atol=1e-6)
    view = sw.GraphView(loaded, context=ctx)
    assert view._can_intervene and view.context is ctx
    assert sw.GraphView(g).context is ctx and not sw.GraphView(loaded)._can_intervene
    # a context of another prompt is refused with the reason
    other = sw.attribute(model, "a dog ran", _saes(), max_feature_nodes=20, progress=False)
    with pytest.raises(sw.SAEWidgetsError, match="built for the prompt"):
        other.context.intervene(g, [node])
    with pytest.raises(ValueError, match="built for the prompt"):
        sw.GraphView(g, context=other.context)
    with pytest.raises(TypeError, match="ReplacementContext"):
        sw.GraphView(g, context=model)
    # same prompt, another budget: its error nodes hold other features, so it is refused too
    small = sw.attribute(model, PROMPT, _saes(), max_feature_nodes=20, progress=False)
    with pytest.raises(sw.SAEWidgetsError, match="max_feature_nodes"):
        small.context.intervene(g, [node])


def test_window_renames_max_prompt_tokens(tiny_graph, monkeypatch):
    from saewidgets.core import aliases

    model, _ = tiny_graph
    monkeypatch.setattr(aliases, "_warned", set())
    saes = _saes()
    with pytest.warns(DeprecationWarning, match="max_prompt_tokens"):
        with pytest.raises(sw.AttributionError, match=r"window=4"):
            sw.attribute(model, PROMPT, saes, max_prompt_tokens=4, progress=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the old name works, and warns only once
        g = sw.attribute(
            model, PROMPT, saes, max_prompt_tokens=32, max_feature_nodes=5, progress=False
        )
    assert len(g.tokens) <= 32 and g.context is not None
    with pytest.raises(TypeError, match="only window="):
        sw.attribute(model, PROMPT, saes, max_prompt_tokens=8, window=8, progress=False)
    with pytest.warns(DeprecationWarning, match="n_tokens"):
        old = sw.attribution_memory(model, n_tokens=24, n_sites=3)
    assert (
        old
        == sw.attribution_memory(model, 24, n_sites=3)
        == sw.attribution_memory(model, window=24, n_sites=3)
    )
    assert "24 tokens" in old


def test_total_effects_agree_with_the_graphs_own_prediction(tiny_graph):
    """One backward sweep gives, for every node, what `predict(node, 0)` says removing it
    does to the target."""
    _, g = tiny_graph
    target = int(np.nonzero(g.mask("logit"))[0][np.argmax(g.nodes["prob"][g.mask("logit")])])
    effects = g.total_effects()
    assert np.allclose(effects, g.total_effects(target))
    picks = [
        *np.nonzero(g.mask("feature"))[0][:6],
        *np.nonzero(g.mask("token"))[0][:3],
        *np.nonzero(g.mask("error"))[0][:3],
    ]
    for i in picks:
        assert effects[i] == pytest.approx(-g.predict(int(i), 0.0)[target], rel=1e-6, abs=1e-9)
    with pytest.raises(ValueError, match="not a target"):
        g.total_effects(int(picks[0]))


def test_contrast_ranks_what_moves_the_target_between_prompts():
    model = tiny_model("llama", seed=3)
    saes = _saes()
    c = sw.contrast(model, "the cat sat on it", "the dog sat on it", " ", saes)
    t = c.table
    assert {"kind", "site", "feature", "effect_a", "effect_b", "difference"} <= set(t.columns)
    assert np.allclose(t["difference"], t["effect_a"] - t["effect_b"])
    assert list(np.abs(t["difference"])) == sorted(np.abs(t["difference"]), reverse=True)
    assert set(t["kind"]) <= {"feature", "error", "token"} and (t["kind"] == "feature").any()
    # the token that differs is among the rows with a difference; the shared ones are in both
    tokens = t[t["kind"] == "token"].set_index("label")
    assert tokens.loc["c", "effect_b"] == 0 and tokens.loc["d", "effect_a"] == 0
    assert c.value_a != c.value_b
    assert len(c.figure().data) == 2
    with pytest.raises(sw.AttributionError, match="one target for both"):
        sw.contrast(model, "a", "b", None, saes)
    many = sw.attribute(model, "the cat", saes, progress=False)
    with pytest.raises(sw.AttributionError, match="exactly one"):
        sw.Contrast.from_graphs(many, many)
