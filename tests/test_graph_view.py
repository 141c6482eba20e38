"""GraphView: payload, cards, pins and supernodes, interventions, and the exported page."""

import numpy as np
import pytest
import torch
import traitlets
from browser import PageWatch
from playwright.sync_api import expect
from tiny import tiny_model

import saewidgets as sw
from saewidgets.analysis.logit_lens import logit_directions
from saewidgets.analysis.stats import feature_stats
from saewidgets.model.tokens import TokenDecoder
from saewidgets.model.tokens import visible as visible_text
from saewidgets.widgets.serialization import unpack

PROMPT = "the red box holds 3 stones"
HOSTILE = '<img src=x onerror="window.__pwned=1">'
CORPUS = sw.corpus.from_texts(
    [
        f"Item {i}: the {['red', 'blue', 'green'][i % 3]} box holds {i % 11} stones."
        for i in range(120)
    ]
)


@pytest.fixture(scope="module")
def setup():
    model = tiny_model("llama", seed=5)
    saes = []
    for layer in range(3):
        sae = sw.SAE(32, 48, "relu", site=f"blocks.{layer}.hook_resid_post", seed=layer)
        with torch.no_grad():
            sae.b_enc.fill_(0.05)
        saes.append(sae)
    graph = sw.attribute(model, PROMPT, saes, progress=False)
    stats = feature_stats(
        model, saes[1], CORPUS, n_tokens=1500, window=32, cache=False, progress=False
    )
    return model, saes, graph, stats


def _top_feature(graph, site):
    rows = graph.nodes[graph.mask("feature") & (graph.nodes["site"] == site).to_numpy()]
    return rows.sort_values("influence")["node_id"].iloc[0]


def test_payload_cards_pins_and_intervention(setup):
    _model, saes, graph, stats = setup
    labels = {f: f"label {f}" for f in range(stats.d_sae)}
    view = sw.GraphView(graph, stats=stats, labels={stats.site: labels})
    g = view._graph
    assert len(g["ids"]) == graph.n_nodes and len(g["ranks"]) == 1 + graph.mask("logit").sum()
    assert len(unpack(g["edge_src"])) == min(len(graph.edges.weight), 30_000)
    node = _top_feature(graph, stats.site)
    assert (
        g["labels"][graph.index(node)] == labels[int(graph.nodes.loc[graph.index(node), "feature"])]
    )
    view.clicked = node
    assert view._card["node_id"] == node and view._card["feature"] == int(node.split("_")[1])
    # a site without statistics: a light card from the graph's own SAE, built on the click
    other = _top_feature(graph, saes[2].site)
    view.clicked = other
    card = view._card
    feature = int(graph.nodes.loc[graph.index(other), "feature"])
    assert card["light"] and card["node_id"] == other and card["feature"] == feature
    logits = logit_directions(_model, saes[2].W_dec[feature][None])[0]
    decode = TokenDecoder(_model.tokenizer).texts
    assert [t for t, _ in card["logits"]["top"]] == decode(torch.topk(logits, 10).indices)
    assert [t for t, _ in card["logits"]["bottom"]] == decode(torch.topk(-logits, 10).indices)
    assert card["activation"] == pytest.approx(graph.nodes.loc[graph.index(other), "activation"])
    # a loaded graph has no SAEs: no card there
    loaded = sw.GraphView(sw.load_graph(graph.to_json()), stats=stats)
    loaded.clicked = other
    assert loaded._card == {}
    # pins and supernodes, from Python
    a, b = _top_feature(graph, saes[0].site), node
    view.pin(a, b)
    view.group("my group")
    assert view.supernodes == [["my group", a, b]]
    scores = view._pinned_scores  # the pinned features as a subgraph, from the kernel
    assert scores["pinned"] == [a, b]
    assert (scores["replacement"], scores["completeness"]) == pytest.approx(graph.scores([a, b]))
    with pytest.raises(ValueError, match="label"):
        view.group(" ", [a])
    with pytest.raises(KeyError, match="no node"):
        view.pin("99_99_99")
    with pytest.raises(traitlets.TraitError, match="node_threshold"):
        view.node_threshold = 0
    with pytest.raises(traitlets.TraitError, match="target"):
        view.target = 50
    # the front end's intervene message runs the validation and fills the result
    view._on_message(
        view, {"type": "intervene", "nodes": [b], "multiplier": 0.0, "mode": "free"}, []
    )
    view.wait()  # it runs on the view's task runner, never in the comm handler
    assert view._task["name"] == "intervene" and view._task["state"] == "done"
    result = view._intervention
    direct = graph.intervene([b], 0.0, mode="free")
    assert result["run"] == 1 and result["nodes"] == [b]
    assert [t["actual"] for t in result["targets"]] == pytest.approx(
        direct.targets["actual"].tolist()
    )
    # a bad request is reported in the view and leaves the last result in place
    view._on_message(view, {"type": "intervene", "nodes": [graph.nodes["node_id"].iloc[-1]]}, [])
    view.wait()
    assert view._task["state"] == "error" and "logit node" in view._task["message"]
    assert view._intervention["run"] == 1
    sub = view.subgraph()
    assert set(sub.nodes["node_id"]) == {a, b}


def test_exported_graph_page(setup, tmp_path, chromium):
    _model, saes, graph, stats = setup
    node = _top_feature(graph, stats.site)
    feature = int(node.split("_")[1])
    labels = {f: f"label {f}" for f in range(stats.d_sae)}
    labels[feature] = HOSTILE
    view = sw.GraphView(graph, stats=stats, labels={stats.site: labels}, node_threshold=0.8)
    view.pin(node)
    path = tmp_path / "graph.html"
    view.to_html(path)
    b = chromium
    page = b.new_page()
    page.set_viewport_size({"width": 1400, "height": 1000})
    watch = PageWatch(page)
    page.goto(path.as_uri())
    root = page.locator(".saew-graph[data-ready='true']")
    expect(root).to_have_count(1)
    count = page.locator(".saew-graph-count")
    before = int(count.get_attribute("data-visible"))
    assert before == page.locator(".saew-graph-nodes [data-node]").count()
    # the slider prunes: fewer nodes, and the count says how many
    page.locator(".saew-graph-threshold").fill("0.3")
    expect(count).not_to_have_attribute("data-visible", str(before))
    after = int(count.get_attribute("data-visible"))
    assert after < before and after == page.locator(".saew-graph-nodes [data-node]").count()
    page.locator(".saew-graph-threshold").fill("0.8")
    expect(count).to_have_attribute("data-visible", str(before))
    # hover: the neighbourhood stays bright, the rest dims; the tooltip shows the label as text
    target = page.locator(f".saew-graph-nodes [data-node='{node}']")
    target.hover()
    expect(root).to_have_attribute("data-hovered", node)
    expect(page.locator(".saew-tooltip:not([hidden])")).to_contain_text(HOSTILE)
    assert page.locator(".saew-graph-nodes .saew-dim").count() > 0
    # click: the feature card from the page's cards, then the whole dashboard
    target.click()
    expect(page.locator(f".saew-graph-feature-card[data-feature='{feature}']")).to_have_count(1)
    page.locator(".saew-graph-dashboard").click()
    expect(page.locator(f".saew-graph-card .saew-card[data-feature='{feature}']")).to_have_count(1)
    # the saved pins' subgraph scores are in the page; a changed pin set needs a kernel
    pin_scores = page.locator(".saew-graph-pin-scores")
    expect(pin_scores).to_have_attribute("data-current", "true")
    shown = float(pin_scores.get_attribute("data-replacement"))
    assert shown == pytest.approx(graph.scores([node])[0])
    # pin another node with shift-click, then group the pinned nodes into a supernode
    other = _top_feature(graph, saes[0].site)
    page.locator(f".saew-graph-nodes [data-node='{other}']").click(modifiers=["Shift"])
    expect(pin_scores).to_have_attribute("data-current", "false")
    expect(page.locator(f".saew-graph-pin-list li[data-node='{other}']")).to_have_count(1)
    page.locator(".saew-graph-group-label").fill("two features")
    page.locator(".saew-graph-group").click()
    expect(page.locator(".saew-graph-supernode")).to_have_text("two features")
    # interventions need a kernel: the button is disabled in a file
    assert page.locator(".saew-graph-run").is_disabled()
    assert int(page.locator(".saew-graph-edges").get_attribute("data-edges")) > 0
    assert page.evaluate("window.__pwned") is None
    assert watch.errors == [] and watch.network == []


def test_large_graph_renders(setup, tmp_path, chromium):
    """A graph with 1,000+ visible nodes still draws (edges on canvas)."""
    _model, _saes, graph, _stats = setup
    assert graph.n_nodes > 1000
    view = sw.GraphView(graph, node_threshold=1.0)
    path = tmp_path / "big.html"
    view.to_html(path)
    b = chromium
    page = b.new_page()
    page.set_viewport_size({"width": 1400, "height": 1000})
    watch = PageWatch(page)
    page.goto(path.as_uri())
    count = page.locator(".saew-graph-count")
    expect(count).to_have_attribute("data-visible", str(graph.n_nodes))
    assert page.locator(".saew-graph-nodes [data-node]").count() == graph.n_nodes
    assert watch.errors == []


def test_ranks_follow_the_target_picker(setup):
    graph = setup[2]
    view = sw.GraphView(graph)
    ranks = [unpack(r) for r in view._graph["ranks"]]
    targets = view._graph["targets"]
    np.testing.assert_allclose(ranks[1], graph.ranks(targets[0]), rtol=1e-6, atol=1e-7)
    assert not np.allclose(ranks[1], ranks[2])  # each target has its own ranking


def test_loaded_graph_with_an_explicit_context(setup):
    """A saved graph has no live model; given its context, the view intervenes again."""
    _model, _saes, graph, _stats = setup
    loaded = sw.load_graph(graph.to_json(node_threshold=None))
    node = _top_feature(graph, _saes[1].site)
    plain = sw.GraphView(loaded)
    assert not plain._can_intervene and plain.context is None
    with pytest.raises(ValueError, match="loaded from a file"):
        plain.intervene([node])
    plain._on_message(plain, {"type": "intervene", "nodes": [node]}, [])  # a click says why
    plain.wait()
    assert plain._task["state"] == "error" and "loaded from a file" in plain._task["message"]
    live = sw.GraphView(loaded, context=graph.context)
    assert live._can_intervene and live.context is graph.context
    result = live.intervene([node], 0.0, mode="direct")
    assert result.targets["actual"].tolist() == pytest.approx(
        graph.intervene([node], 0.0, mode="direct").targets["actual"].tolist()
    )
    assert live._intervention["run"] == 1 and live.subgraph().context is None


def test_statistics_of_another_sae_are_refused(setup):
    model, saes, graph, _stats = setup
    site = saes[1].site
    opts = dict(n_tokens=200, window=16, cache=False, progress=False)
    other = sw.SAE(saes[1].d_in, saes[1].d_sae, "topk", k=4, site=site, seed=123)
    corpus = sw.corpus.from_texts([f"another text {i}, with other words" for i in range(30)])
    wrong = sw.feature_stats(model, other, corpus, **opts)
    with pytest.raises(sw.StatsMismatch, match="different SAE"):
        sw.GraphView(graph, stats=wrong)
    # a loaded graph cannot check the SAE, but statistics too narrow for its features are caught
    loaded = sw.load_graph(graph.to_json(node_threshold=None))
    with pytest.raises(sw.StatsMismatch, match="different SAE"):  # its SAE hashes travel along
        sw.GraphView(loaded, stats=wrong)
    # a graph from another tool has no hashes: at least its feature ids must fit
    doc = graph.to_json(node_threshold=None)
    del doc["metadata"]["saew_sae_hashes"]
    foreign = sw.load_graph(doc)
    narrow = sw.SAE(saes[1].d_in, 2, "relu", site=site, seed=0)
    tiny = sw.feature_stats(model, narrow, corpus, **opts)
    assert int(graph.nodes.loc[graph.nodes["site"] == site, "feature"].max()) >= 2
    with pytest.raises(sw.StatsMismatch, match="cover features 0..1"):
        sw.GraphView(foreign, stats=tiny)


def test_stale_pins_in_an_imported_graph_are_dropped_with_a_warning(setup):
    """A file whose qParams name nodes it does not hold still opens; the view names each
    stale id it dropped and keeps the rest (pins and supernode members alike)."""
    _model, _saes, graph, _stats = setup
    doc = graph.to_json(node_threshold=None)
    real = [n["node_id"] for n in doc["nodes"] if n["feature_type"] != "embedding"][:3]
    doc["qParams"]["pinnedIds"] = [real[0], "31_7042_6", real[1]]
    doc["qParams"]["supernodes"] = [["kept", real[1], real[2], "2_999_9"], ["gone", "1_1_99"]]
    with pytest.warns(UserWarning) as caught:
        view = sw.GraphView(sw.load_graph(doc))
    said = " ".join(str(w.message) for w in caught)
    assert "31_7042_6" in said and "2_999_9" in said and "1_1_99" in said
    assert view.pinned == [real[0], real[1]]
    assert view.supernodes == [["kept", real[1], real[2]]]


def test_target_and_supernode_labels_do_not_overlap(setup, tmp_path, chromium):
    """Ten target labels never overlap; a supernode's label covers no node."""
    _model, _saes, graph, _stats = setup
    logits = graph.nodes[graph.mask("logit")]
    assert len(logits) >= 10
    view = sw.GraphView(graph, node_threshold=0.8)
    path = tmp_path / "labels.html"
    view.to_html(path)
    page = chromium.new_page()
    page.set_viewport_size({"width": 1100, "height": 900})
    watch = PageWatch(page)
    page.goto(path.as_uri())
    expect(page.locator(".saew-graph[data-ready='true']")).to_have_count(1)
    # the target labels: one per target, the full text in a title, no two boxes overlapping
    labels = page.locator(".saew-graph-logit")
    expect(labels).to_have_count(len(logits))
    boxes = labels.evaluate_all(
        "els => els.map(e => { const r = e.getBoundingClientRect();"
        " const title = e.parentNode.querySelector('title')?.textContent;"
        " return [r.left, r.top, r.right, r.bottom, title]; })"
    )

    def overlap(a, b, slack=0.5):
        return (
            a[0] < b[2] - slack
            and b[0] < a[2] - slack
            and a[1] < b[3] - slack
            and b[1] < a[3] - slack
        )

    for i, a in enumerate(boxes):
        assert all(not overlap(a, b) for b in boxes[i + 1 :]), f"target label {i} overlaps"
    g = view._graph
    assert sorted(b[4] for b in boxes) == sorted(
        visible_text(label)
        for label, t in zip(g["labels"], g["types"], strict=True)
        if t == "logit"
    )
    # group a feature with another node right above it in its cell (where a label just above
    # the group would sit on that node)
    member = page.evaluate(
        """() => {
          const at = new Map();
          for (const c of document.querySelectorAll('.saew-graph-nodes circle.saew-node-feature'))
            at.set(`${c.getAttribute('cx')},${+c.getAttribute('cy')}`, c);
          for (const c of at.values()) {
            const above = at.get(`${c.getAttribute('cx')},${+c.getAttribute('cy') - 9}`);
            if (above && +c.getAttribute('r') > 3 && +above.getAttribute('r') > 3)
              return c.dataset.node;
          }
          return null;
        }"""
    )
    assert member is not None
    page.locator(f".saew-graph-nodes [data-node='{member}']").click(modifiers=["Shift"])
    page.locator(".saew-graph-group-label").fill("a supernode label")
    page.locator(".saew-graph-group").click()
    expect(page.locator(".saew-graph-supernode")).to_have_text("a supernode label")
    label_boxes = page.locator(".saew-graph-supernode, .saew-graph-supernode-bg").evaluate_all(
        "els => els.map(e => { const r = e.getBoundingClientRect();"
        " return [r.left, r.top, r.right, r.bottom]; })"
    )
    node_boxes = page.locator(".saew-graph-nodes [data-node]").evaluate_all(
        "els => els.map(e => { const r = e.getBoundingClientRect();"
        " return [r.left, r.top, r.right, r.bottom, e.dataset.node]; })"
    )
    for box in label_boxes:
        covered = [n[4] for n in node_boxes if overlap(box, n)]
        assert covered == [], f"the supernode label covers {covered}"
    assert watch.errors == []


def test_nodes_are_described_in_words(setup):
    """The payload says where each node sits ("layer 1 residual stream"), so the view never
    has to show a raw id such as 1_7_4 to name a node."""
    _model, _saes, graph, _stats = setup
    payload = sw.GraphView(graph)._payload()
    places = dict(zip(payload["ids"], payload["places"], strict=True))
    nodes = graph.nodes.set_index("node_id")
    for node_id, place in places.items():
        kind = nodes.loc[node_id, "type"]
        if kind == "feature":
            layer = int(nodes.loc[node_id, "site"].split(".")[1])
            assert place == f"layer {layer} residual stream"
        elif kind == "error":
            assert place.endswith("residual stream error")
        elif kind == "token":
            assert place == "input token"
    from saewidgets.widgets.graph_view import _place

    row = {"type": "feature", "site": "blocks.12.hook_mlp_out", "layer": 12}
    assert _place(row) == "layer 12 MLP output"


def test_a_site_without_statistics_gets_full_cards_after_its_first_click(setup):
    """In a live view, clicking a feature of a site with no statistics shows the light card,
    computes that site's statistics in the background, then shows the full card (examples);
    `card_tokens=0` keeps cards light."""
    _model, saes, graph, _stats = setup
    site = saes[2].site
    node = _top_feature(graph, site)
    view = sw.GraphView(graph, card_tokens=600)  # no stats at all
    view.clicked = node
    assert view._card["light"] is True
    assert view.tasks.wait(timeout=120)
    card = view._card
    assert not card.get("light") and card["node_id"] == node
    assert card["top"], "a full card has top examples"
    assert site in view._stats and view._stats[site].n_tokens >= 600
    still_light = sw.GraphView(graph, card_tokens=0)
    still_light.clicked = node
    assert still_light.tasks.wait(timeout=5)
    assert still_light._card["light"] is True
    with pytest.raises(ValueError, match="card_tokens must be a whole number"):
        sw.GraphView(graph, card_tokens=-1)


def test_suggested_supernodes_accept_and_reject(setup):
    """Features writing the same direction at the same token are suggested as one group;
    accepting makes it a supernode, rejecting keeps it from coming back."""
    from saewidgets.analysis.attribution.supernodes import suggest_groups

    # the pure grouping: same label anywhere, or alike directions at one position
    labels = ["", "dogs", "", "Dogs", "", ""]
    groups = suggest_groups(
        np.array([1, 2, 3, 4, 5]),
        labels,
        np.array([0, 1, 1, 2, 1, 1]),
        np.array([0, 0.5, 0.2, 0.3, 0.1, 0.4]),
        np.array([[1, 0], [0, 1], [0, 0.9], [1, 0.05], [1, 0]], dtype=float),
    )
    # 1 and 3 share a label (across positions); 1, 4 and 5 write alike at position 1; 2 is
    # alone (3, the only direction like it, sits elsewhere). Members by rank, best first.
    assert groups == [[4, 3, 5, 1]]
    # one feature at two positions is one thing, whatever its direction's neighbours
    same = suggest_groups(
        np.array([0, 1, 2]),
        ["", "", ""],
        np.array([0, 1, 2]),
        np.array([0.3, 0.1, 0.2]),
        identities=["L1#5", "L2#7", "L1#5"],
    )
    assert same == [[2, 0]]

    _model, saes, graph, _stats = setup
    view = sw.GraphView(graph, node_threshold=1.0)
    before = view.suggest_supernodes()
    nodes = graph.nodes
    feats = nodes[graph.mask("feature")]
    pos = feats["pos"].value_counts().index[0]
    here = feats[(feats["pos"] == pos)]
    a = here[here["site"] == saes[1].site].iloc[0]
    b = here[here["site"] == saes[2].site].iloc[0]
    with torch.no_grad():  # b now writes what a writes
        saves = saes[2].W_dec[int(b["feature"])].clone()
        saes[2].W_dec[int(b["feature"])] = saes[1].W_dec[int(a["feature"])] * 3
    try:
        view.node_threshold = 0.99  # observers recompute the suggestions
        view.node_threshold = 1.0
        pair = {a["node_id"], b["node_id"]}
        found = [k for k, s in enumerate(view._suggestions) if pair <= set(s[1:])]
        assert found and len(view._suggestions) > len([s for s in before if pair <= set(s)])
        k = found[0]
        view.accept_suggestion(k)
        assert any(pair <= set(s[1:]) for s in view.supernodes)
        assert not any(pair & set(s[1:]) for s in view._suggestions)  # grouped: not suggested
        view.supernodes = []
        k = next(k for k, s in enumerate(view._suggestions) if pair <= set(s[1:]))
        view.reject_suggestion(k)
        assert not any(pair <= set(s[1:]) for s in view._suggestions)
        with pytest.raises(ValueError, match="no suggestion 99"):
            view.accept_suggestion(99)
    finally:
        with torch.no_grad():
            saes[2].W_dec[int(b["feature"])] = saves


def test_node_labels_zoom_and_pan(setup, tmp_path, chromium):
    """The strongest features carry their names on the drawing, on no node and no other
    label; the zoom buttons and ctrl+wheel scale the drawing; dragging the background pans."""
    _model, _saes, graph, _stats = setup
    view = sw.GraphView(graph, node_threshold=0.8)
    path = tmp_path / "zoom.html"
    view.to_html(path)
    page = chromium.new_page()
    page.set_viewport_size({"width": 1100, "height": 700})
    watch = PageWatch(page)
    page.goto(path.as_uri())
    expect(page.locator(".saew-graph[data-ready='true']")).to_have_count(1)
    names = page.locator(".saew-graph-node-label")
    assert names.count() >= 3
    boxes = page.evaluate(
        """() => {
          const box = e => { const r = e.getBoundingClientRect();
                             return [r.left, r.top, r.right, r.bottom]; };
          return {
            labels: [...document.querySelectorAll('.saew-graph-node-label, .saew-graph-logit')]
              .map(box),
            nodes: [...document.querySelectorAll('.saew-graph-nodes .saew-node')].map(box),
          };
        }"""
    )

    def overlap(a, b, slack=0.5):
        return (
            a[0] < b[2] - slack
            and b[0] < a[2] - slack
            and a[1] < b[3] - slack
            and (b[1] < a[3] - slack)
        )

    labels = boxes["labels"]
    for i, a in enumerate(labels):
        assert not any(overlap(a, b) for b in labels[i + 1 :]), f"label {i} overlaps a label"
    for a in labels[: names.count()]:
        assert not any(overlap(a, n) for n in boxes["nodes"]), "a node label covers a node"
    stage = page.locator(".saew-graph-stage")
    svg = page.locator(".saew-graph-nodes")
    width = float(svg.get_attribute("width"))
    page.locator(".saew-graph-zoom-step[title='zoom in']").click()
    expect(stage).to_have_attribute("data-zoom", "1.25")
    assert float(svg.get_attribute("width")) == pytest.approx(width * 1.25, rel=1e-3)
    expect(page.locator(".saew-graph-zoom-value")).to_have_text("125%")
    stage.hover()
    page.keyboard.down("Control")
    page.mouse.wheel(0, -100)
    page.keyboard.up("Control")
    expect(stage).to_have_attribute("data-zoom", "1.5")
    # drag the empty background: the stage scrolls the other way
    box = stage.bounding_box()
    page.evaluate(
        "() => { const s = document.querySelector('.saew-graph-stage');"
        " s.scrollLeft = 60; s.scrollTop = 40; }"
    )
    start = page.evaluate("() => document.querySelector('.saew-graph-stage').scrollLeft")
    page.mouse.move(box["x"] + 4, box["y"] + 4)  # the top-left corner: no node there
    page.mouse.down()
    page.mouse.move(box["x"] + 44, box["y"] + 4, steps=4)
    page.mouse.up()
    after = page.evaluate("() => document.querySelector('.saew-graph-stage').scrollLeft")
    assert after == pytest.approx(start - 40, abs=2)
    page.locator(".saew-graph-zoom-reset").click()
    expect(stage).to_have_attribute("data-zoom", "1")
    # edges are drawn at the new scale too
    assert int(page.locator(".saew-graph-edges").get_attribute("data-edges")) > 0
    assert watch.errors == []
