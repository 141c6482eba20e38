"""`sw.explore` in the kernel, on the embedded model and its shipped SAEs: one selection reaches
every view, new prompts and sites flow through, the graph builds in the background and its
clicks lead, the state round-trips, and bad input is refused before anything changes."""

from __future__ import annotations

import copy
import json

import pytest
import torch
from browser import PageWatch

import saewidgets as sw

pytestmark = pytest.mark.integration

SITE = "blocks.21.hook_resid_post"


@pytest.fixture(scope="module")
def model():
    return sw.load_model()


@pytest.fixture(scope="module")
def saes():
    return sw.load_saes("embedded")


@pytest.fixture
def ws(model, saes):
    workspace = sw.explore(model, saes)
    yield workspace
    workspace.close()


def test_one_selection_reaches_every_view(ws):
    assert ws.site == SITE and ws.heatmap.site == SITE and ws.dashboard.site == SITE
    ws.select(100)
    assert ws.dashboard.selected_feature == 100 and ws.heatmap.selected_feature == 100
    ws.dashboard.selected_feature = 200  # a click in the dashboard (a neighbour, a search hit)
    assert ws.heatmap.selected_feature == 200
    ws.heatmap.selected_feature = 300  # a click in the heatmap
    assert ws.dashboard.selected_feature == 300
    ws.steer(strength=0.25)  # "steer this feature" adds the selected one
    assert [(r["site"], r["feature"], r["strength"]) for r in ws.steering.rows] == [
        (SITE, 300, 0.25)
    ]
    # the dashboard's own "steer this feature" button reaches the same panel
    ws.dashboard._on_message(ws.dashboard, {"type": "steer", "feature": 7}, [])
    assert [r["feature"] for r in ws.steering.rows] == [300, 7]
    ws.heatmap.selected_feature = 11  # and the bar's "Steer" takes the selection of any view
    ws.steer_button.click()
    assert [r["feature"] for r in ws.steering.rows] == [300, 7, 11]


def test_a_new_prompt_and_a_new_site_flow_through(ws):
    ws.prompt_box.value = "Bread and cheese for breakfast."
    ws.wait()
    assert "".join(ws.heatmap.trace.token_texts[0]).replace("·", " ") == (
        "Bread and cheese for breakfast."
    )
    assert ws.steering.prompt == ws.prompt and ws.dashboard.query == ws.prompt
    ws.site_picker.value = "blocks.9.hook_resid_post"
    ws.wait()
    assert ws.heatmap.site == ws.dashboard.site == "blocks.9.hook_resid_post"
    assert ws.dashboard.selected_feature == ws.heatmap.selected_feature >= 0
    ws.heatmap.site = "blocks.3.hook_resid_post"  # the heatmap's own site menu
    assert ws.site_picker.value == "blocks.3.hook_resid_post"
    assert ws.dashboard.site == "blocks.3.hook_resid_post"


def test_the_graph_builds_in_the_background_and_its_clicks_lead(ws):
    ws.prompt_box.value = "The capital of France is"
    ws.wait()
    fractions = []
    ws.observe(lambda c: fractions.append(c["new"]["progress"]), names="_task")
    ws.build_graph()
    ws.wait()
    assert ws.graph is not None and ws._graph_box.children == (ws.graph,)
    assert any(f is not None and 0 < f < 1 for f in fractions)  # progress was reported
    nodes = ws.graph.graph.nodes
    row = nodes[(nodes["type"] == "feature") & (nodes["site"] == "blocks.9.hook_resid_post")]
    row = row.iloc[0]
    ws.graph.clicked = str(row["node_id"])
    assert ws.site == row["site"] and ws.dashboard.site == row["site"]
    assert ws.heatmap.selected_feature == ws.dashboard.selected_feature == int(row["feature"])
    ws.select(int(row["feature"]))  # and a selection elsewhere highlights its node
    assert ws.graph.clicked.split("_")[1] == str(int(row["feature"]))


def test_a_prompt_too_long_for_the_graph_leaves_the_other_views_working(ws):
    long_prompt = " ".join(["The quick brown fox jumps over the lazy dog."] * 12)
    ws.prompt_box.value = long_prompt
    ws.wait()
    assert len(ws.heatmap.trace.token_texts[0]) > 64
    ws.build_graph()
    ws.wait()
    assert ws.graph is None and ws._task["state"] == "error"
    assert "64" in ws._task["message"]  # says the limit
    shown = ws._graph_box.children[0].value
    assert "64" in shown and "<" not in ws._task["message"]
    ws.select(5)
    assert ws.dashboard.selected_feature == 5


def test_the_build_can_be_cancelled(ws):
    ws.prompt_box.value = "The capital of France is"
    ws.wait()
    ws.build_graph()
    ws.cancel()
    ws.wait()
    assert ws.graph is None and ws._task["state"] == "cancelled"


def test_state_round_trips_into_a_new_workspace(ws, model, saes, tmp_path):
    ws.prompt_box.value = "A walk in the park."
    ws.wait()
    ws.site_picker.value = "blocks.15.hook_resid_post"
    ws.select(1234)
    ws.steer(strength=0.3)
    ws.steering.wait()
    path = ws.save(tmp_path / "ws.json")
    saved = json.loads(path.read_text())
    again = sw.explore(model, saes, state=path)
    again.wait()
    try:
        assert again.state() == saved
        assert again.dashboard.selected_feature == 1234
        assert again.steering.result is not None  # the restored rows ran
    finally:
        again.close()


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda s: s.update(model_hash="0" * 24), "saved with the model"),
        (lambda s: s["saes"].update({SITE: "ffff"}), "different weights"),
        (lambda s: s["saes"].update({"blocks.5.hook_resid_post": "ffff"}), "not loaded"),
        (lambda s: s.update(feature=99_999), "not a feature"),
        (lambda s: s.update(saewidgets_workspace=7), "not a saewidgets workspace"),
        (lambda s: s["steering"]["rows"].append({"site": SITE, "feature": -3}), "steering row"),
    ],
)
def test_a_state_that_does_not_fit_changes_nothing(ws, change, message):
    ws.select(42)
    state = copy.deepcopy(ws.state())
    state["prompt"] = "Something else entirely."
    change(state)
    before = ws.state()
    with pytest.raises(sw.WorkspaceStateError, match=message):
        ws.restore(state)
    assert ws.state() == before


def test_an_unreadable_state_file_is_refused(ws, tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(sw.WorkspaceStateError, match="cannot read"):
        ws.restore(bad)


def test_saes_for_another_model_are_refused_before_anything_renders(model):
    other = sw.SAE(576, 64, "topk", k=4, site=SITE)
    other.metadata["model_name"] = "gpt2"
    with pytest.raises(sw.SAEConfigError, match="trained on gpt2"):
        sw.explore(model, other)
    narrow = sw.SAE(768, 64, "topk", k=4, site=SITE)
    with pytest.raises(sw.SAEConfigError):
        sw.explore(model, narrow)
    with pytest.raises(ValueError, match="has no SAE here"):
        sw.explore(model, "embedded", site="blocks.5.hook_resid_post")
    with pytest.raises(ValueError, match="prompt is empty"):
        sw.explore(model, "embedded", prompt="   ")


def test_a_site_without_statistics_gets_them_in_the_background(model, saes, tmp_path, monkeypatch):
    # an empty statistics cache, so the pass really runs (and reports) on every machine
    monkeypatch.setenv("SAEWIDGETS_CACHE", str(tmp_path / "cache"))
    fresh = sw.SAE(576, 96, "topk", k=4, site="blocks.5.hook_resid_post", seed=1)
    with torch.no_grad():
        fresh.b_enc.fill_(0.01)
    ws = sw.explore(model, fresh, stats_tokens=2_000)
    try:
        assert ws.dashboard is None  # the first view does not wait for the pass
        assert "Loading statistics" in ws._dash_box.children[0].value
        ws.wait()
        assert ws.dashboard is not None and ws._dash_box.children == (ws.dashboard,)
        assert ws.dashboard.stats.n_tokens >= 2_000
    finally:
        ws.close()
    # picked later, with the progress watched: it reports fractions and a time left
    other = sw.SAE(576, 96, "topk", k=4, site="blocks.6.hook_resid_post", seed=2)
    ws = sw.explore(model, {**saes, other.site: other}, site=SITE, stats_tokens=4_000)
    seen = []
    ws.observe(lambda c: seen.append(c["new"]), names="_task")
    try:
        ws.site_picker.value = other.site
        ws.wait()
        assert ws.dashboard.site == other.site
        reports = [t for t in seen if t["name"] == "stats" and t["progress"] is not None]
        assert any(0 < t["progress"] < 1 and "%" in t["message"] for t in reports), seen
    finally:
        ws.close()


def test_the_exported_page_has_every_view_and_sliders_that_work_offline(ws, tmp_path, chromium):
    ws.prompt_box.value = "My favourite thing about the weekend is"
    ws.wait()
    ws.select(1598)  # any feature works; this one writes about food at layer 21
    ws.steer(strength=0.3)
    ws.steering.wait()
    ws.build_graph()
    ws.wait()
    path = tmp_path / "workspace.html"
    page_html = ws.to_html(path, stops=3)
    precomputed = ws.steering.precompute(3, progress=False)
    stops = precomputed["rows"][0]["stops"]
    assert stops == [0.0, 0.3, 0.6]
    texts = [t["text"] for t in precomputed["rows"][0]["texts"]]
    assert texts[1] == ws.steering.result.text  # the row's own strength: what the kernel ran
    for bundle in ("heatmap", "browser", "steering", "graphview"):  # each inlined once
        assert page_html.count(f"id='saew-bundle-{bundle}'") == 1

    page = chromium.new_page(viewport={"width": 1400, "height": 1000})
    watch = PageWatch(page)  # every network request is blocked
    page.goto(path.as_uri())
    page.wait_for_selector("body[data-ready='true']")
    for view in (".saew-heatmap", ".saew-browser", ".saew-steering", ".saew-graph"):
        page.wait_for_selector(f"{view}[data-ready='true']")
    # linked in the page: a chip clicked in the heatmap opens that feature's card
    chip = page.locator(".saew-heatmap .saew-chip").nth(2)
    feature = chip.get_attribute("data-feature")
    chip.click()
    page.wait_for_selector(f".saew-browser .saew-card[data-feature='{feature}']")
    # the slider moves between the carried stops and shows their texts
    slider = page.locator(".saew-steer-slider")
    steered = page.locator(".saew-steer-out[data-role='steered'] .saew-steer-text")
    for value, expected in ((0.58, texts[2]), (0.02, texts[0]), (0.31, texts[1])):
        slider.fill(str(value))
        page.wait_for_function(
            "([sel, text]) => document.querySelector(sel).textContent === text",
            arg=[".saew-steer-out[data-role='steered'] .saew-steer-text", expected],
        )
    assert steered.text_content() == texts[1]
    assert texts[0] != texts[2]  # the stops carry different texts
    assert watch.network == [] and watch.errors == []
