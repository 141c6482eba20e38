"""`sw.explore` inside a real JupyterLab on the embedded model, driven by headless Chromium:
every selection reaches every view, steering from the dashboard, the graph on request, and a
saved state that restores the same views."""

from __future__ import annotations

import json
import re
import time
import urllib.request

import pytest
from browser import PageWatch
from test_jupyter import _run_all, _saved_widget_state, _serve

pytestmark = pytest.mark.browser

CELLS = [
    "import json\nimport saewidgets as sw\nws = sw.explore(prompt='The cat sat on the mat.')\nws",
    "def check(path='ws.json'):\n"
    "    ws.wait()\n"
    "    ws.save(path)\n"
    "    print('SAEW_STATE=' + json.dumps(ws.state()))",
    "",
    "",
]


def _run_in_last_cells(page, code: str, index: int) -> None:
    cell = page.locator(".jp-Cell").nth(index).locator(".cm-content")
    cell.click()
    page.keyboard.type(code)
    page.keyboard.press("Shift+Enter")


def _printed(page, tag: str) -> dict:
    # a case-sensitive pattern: has_text="..." would also match words inside the widgets
    output = page.locator(".jp-OutputArea-output", has_text=re.compile(f"{tag}=")).first
    output.wait_for(timeout=120_000)
    return json.loads(output.text_content().split(f"{tag}=", 1)[1].splitlines()[0])


def _widget_state_when_written(path) -> dict:
    try:  # the file is empty for a moment while JupyterLab writes it
        return _saved_widget_state(path)
    except Exception:
        return {}


def test_explore_links_every_view_inside_jupyterlab(tmp_path, chromium):
    from playwright.sync_api import expect

    with _serve("lab", tmp_path, CELLS) as url:
        page = chromium.new_page(viewport={"width": 1500, "height": 1100})
        watch = PageWatch(page, block_network=False)
        _run_all(page, "lab", url)
        root = page.locator(".saew-explore").first
        heatmap = root.locator(".saew-heatmap[data-ready='true']")
        expect(heatmap).to_have_count(1, timeout=180_000)
        expect(root.locator(".saew-browser[data-ready='true']")).to_have_count(1, timeout=60_000)

        # type a prompt and press Enter: the heatmap shows its tokens
        box = root.locator(".widget-text input").first
        box.fill("The Eiffel Tower is in Paris.")
        box.press("Enter")
        expect(heatmap.locator(".saew-docs")).to_contain_text("Eiffel", timeout=60_000)

        # a token's top feature, clicked in its tooltip: the dashboard shows that feature
        heatmap.locator(".saew-docs .saew-tok").nth(3).click()  # pins the token's tooltip
        top = page.locator(".saew-tooltip[data-pinned='true'] .saew-tip-feature").first
        top.wait_for(timeout=30_000)
        feature = top.get_attribute("data-feature")
        top.click()
        card = root.locator(f".saew-browser .saew-card[data-feature='{feature}']")
        expect(card).to_have_count(1, timeout=60_000)
        # the shipped statistics carry its telling tokens (mutual information)
        expect(card.locator(".saew-mi-here .saew-logit-tok").first).to_be_visible()
        # its top examples get their PruningMaxAct cores from the kernel a moment later
        cores = root.locator(".saew-browser .saew-feature-pane[data-cores='true'] .saew-core")
        expect(cores.first).to_be_visible(timeout=60_000)

        # "steer this feature": the panel gets it, and dragging its slider changes the text
        root.locator(".saew-browser .saew-steer-open").first.click()
        slider = root.locator(".saew-steer-slider")
        expect(slider).to_have_count(1, timeout=30_000)
        steered = root.locator(".saew-steer-out[data-role='steered']")
        baseline = root.locator(".saew-steer-out[data-role='baseline']")
        expect(steered).to_have_attribute("data-done", "true", timeout=120_000)
        slider.fill("0.8")
        expect(steered).to_have_attribute("data-strengths", "0.8", timeout=120_000)
        expect(steered).to_have_attribute("data-done", "true", timeout=120_000)
        base_text = baseline.locator(".saew-steer-text").text_content()
        assert steered.locator(".saew-steer-text").text_content() != base_text

        # the graph on request; a clicked node's feature reaches the dashboard and heatmap
        root.locator("button", has_text="Attribution graph").click()
        graph = root.locator(".saew-graph[data-ready='true']")
        expect(graph).to_have_count(1, timeout=240_000)
        node = graph.locator(".saew-graph-nodes .saew-node-feature").first
        node_id = node.get_attribute("data-node")
        layer, node_feature = node_id.split("_")[:2]
        node.click()
        expect(root.locator(".widget-dropdown select").first).to_have_value(
            f"blocks.{layer}.hook_resid_post", timeout=60_000
        )
        expect(
            root.locator(f".saew-browser .saew-card[data-feature='{node_feature}']")
        ).to_have_count(1, timeout=120_000)

        # save, then restore into a second workspace: the same state, the same card
        _run_in_last_cells(page, "check()", 2)
        saved = _printed(page, "SAEW_STATE")
        assert saved["prompt"] == "The Eiffel Tower is in Paris."
        assert saved["site"] == f"blocks.{layer}.hook_resid_post"
        assert saved["feature"] == int(node_feature)
        assert [r["feature"] for r in saved["steering"]["rows"]] == [int(feature)]
        assert saved["steering"]["rows"][0]["strength"] == pytest.approx(0.8)
        assert saved["graph"]["prompt"] == saved["prompt"]
        _run_in_last_cells(
            page,
            "ws2 = sw.explore(state='ws.json'); ws2.wait()\n"
            "print('SAEW_RESTORED=' + json.dumps(ws2.state()))\nws2",
            3,
        )
        restored = _printed(page, "SAEW_RESTORED")
        assert restored == saved
        second = page.locator(".saew-explore").nth(1)
        expect(
            second.locator(f".saew-browser .saew-card[data-feature='{node_feature}']")
        ).to_have_count(1, timeout=120_000)
        expect(second.locator(".saew-graph[data-ready='true']")).to_have_count(1, timeout=120_000)
        foreign = [u for u in watch.network if not u.startswith("http://127.0.0.1")]
        assert foreign == []

        # save the notebook, stop the kernel, reopen: the workspace shows its last views
        # (focus a cell's prompt, not a widget: keys typed in a view stay in the view)
        page.locator(".jp-InputPrompt").first.click()
        page.keyboard.press("Control+s")
        notebook = tmp_path / "test.ipynb"
        end = time.monotonic() + 60
        while not _widget_state_when_written(notebook) and time.monotonic() < end:
            time.sleep(0.25)  # polling interval of a bounded wait for the save, not a delay
        assert _widget_state_when_written(notebook), "the saved notebook has no widget state"
        base = url.split("/lab/")[0]
        for kernel in json.load(urllib.request.urlopen(f"{base}/api/kernels")):
            request = urllib.request.Request(f"{base}/api/kernels/{kernel['id']}", method="DELETE")
            urllib.request.urlopen(request)
        fresh = chromium.new_page(viewport={"width": 1500, "height": 1100})
        fresh.goto(url)
        reopened = fresh.locator(".saew-explore").first
        expect(reopened.locator(".saew-heatmap[data-ready='true']")).to_have_count(
            1, timeout=120_000
        )
        expect(reopened.locator(".saew-heatmap .saew-docs")).to_contain_text("Eiffel")
        expect(
            reopened.locator(f".saew-browser .saew-card[data-feature='{node_feature}']")
        ).to_have_count(1, timeout=60_000)
        expect(reopened.locator(".saew-steer-slider")).to_have_count(1)
        expect(reopened.locator(".saew-graph[data-ready='true']")).to_have_count(1)


def test_explore_in_notebook_7(tmp_path, chromium):
    """The same workspace in Notebook 7: it renders, a typed prompt re-traces, and a token's
    top feature opens in the dashboard."""
    from playwright.sync_api import expect

    with _serve("notebook", tmp_path, CELLS[:1]) as url:
        page = chromium.new_page(viewport={"width": 1400, "height": 1100})
        watch = PageWatch(page, block_network=False)
        _run_all(page, "notebook", url)
        root = page.locator(".saew-explore").first
        heatmap = root.locator(".saew-heatmap[data-ready='true']")
        expect(heatmap).to_have_count(1, timeout=180_000)
        expect(root.locator(".saew-browser[data-ready='true']")).to_have_count(1, timeout=60_000)
        box = root.locator(".widget-text input").first
        box.fill("Rain fell on the old harbour.")
        box.press("Enter")
        expect(heatmap.locator(".saew-docs")).to_contain_text("harbour", timeout=60_000)
        heatmap.locator(".saew-docs .saew-tok").nth(2).click()
        top = page.locator(".saew-tooltip[data-pinned='true'] .saew-tip-feature").first
        top.wait_for(timeout=30_000)
        feature = top.get_attribute("data-feature")
        top.click()
        expect(root.locator(f".saew-browser .saew-card[data-feature='{feature}']")).to_have_count(
            1, timeout=60_000
        )
        width = root.bounding_box()["width"]
        panes = [root.locator(s).bounding_box() for s in (".saew-heatmap", ".saew-browser")]
        assert all(p["width"] > 0.3 * width for p in panes)  # side by side, neither squeezed
        foreign = [u for u in watch.network if not u.startswith("http://127.0.0.1")]
        assert foreign == []
