"""Widgets inside real JupyterLab and Notebook 7 servers, driven by headless Chromium."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import nbformat
import pytest
from browser import PageWatch

pytestmark = pytest.mark.browser
TESTS = Path(__file__).resolve().parent

CELLS = [
    f"import sys; sys.path.insert(0, {str(TESTS)!r})",
    "import ipywidgets\nimport saewidgets as sw\nfrom tiny import tiny_model\n"
    "model = tiny_model('llama')\n"
    "sae = sw.SAE(32, 96, 'topk', k=6, site='blocks.1.hook_resid_post', seed=0)\n"
    "tr = sw.trace(model, ['Hello world, a test.', 'Another doc'], sae)\n"
    "w = sw.TokenHeatmap(tr)\nw",
    "out = ipywidgets.Output()\n"
    "w.observe(lambda c: out.append_stdout(f\"python sees feature {c['new']}\\n\"),"
    " names='selected_feature')\nout",
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for_server(url: str, proc: subprocess.Popen, deadline_s: float = 120) -> None:
    """Poll the server's API until it answers (bounded), failing fast if the process died."""
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise RuntimeError(f"the Jupyter server exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/api/status", timeout=2) as r:
                json.load(r)
                return
        except OSError:
            time.sleep(0.25)  # polling interval of a bounded wait, not a fixed delay
    raise TimeoutError(f"no answer from {url} within {deadline_s} s")


@contextmanager
def _serve(app: str, tmp_path: Path, cells: list[str]):
    """A Jupyter server on loopback with one notebook of ``cells``; yields its URL."""
    port = _free_port()
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(c) for c in cells]
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nbformat.write(nb, tmp_path / "test.ipynb")
    env = {
        **os.environ,
        "JUPYTER_CONFIG_DIR": str(tmp_path / "config"),
        "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime"),
        "JUPYTERLAB_WORKSPACES_DIR": str(tmp_path / "workspaces"),
    }
    cmd = [
        sys.executable,
        "-m",
        "jupyterlab" if app == "lab" else "notebook",
        "--no-browser",
        f"--port={port}",
        "--ip=127.0.0.1",
        "--ServerApp.token=",
        "--ServerApp.password=",
        "--ServerApp.disable_check_xsrf=True",
        "--allow-root",
        f"--ServerApp.root_dir={tmp_path}",
    ]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_for_server(url, proc)
        path = "/lab/tree/test.ipynb" if app == "lab" else "/notebooks/test.ipynb"
        yield url + path
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture(params=["lab", "notebook"])
def server(request, tmp_path):
    with _serve(request.param, tmp_path, CELLS) as url:
        yield request.param, url


def _run_all(page, app: str, url: str) -> None:
    page.goto(url)
    page.wait_for_selector(".jp-Notebook")
    dialog = page.locator(".jp-Dialog .jp-mod-accept")
    try:
        dialog.wait_for(timeout=5000)  # "Select Kernel" appears on some first opens
        dialog.click()
    except Exception:
        pass
    if app == "lab":  # wait for the kernel before running (Notebook 7 queues the run)
        page.wait_for_selector(
            ".jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=120_000
        )
    page.click("text=Run", timeout=30_000)
    page.click("text=Run All Cells")


def test_heatmap_in_jupyter(server, chromium):
    app, url = server
    b = chromium
    page = b.new_page(viewport={"width": 1400, "height": 1000})
    watch = PageWatch(page, block_network=False)
    _run_all(page, app, url)
    page.wait_for_selector(".saew-heatmap[data-ready='true']", timeout=120_000)
    page.hover(".saew-docs .saew-tok >> nth=3")
    page.wait_for_selector(".saew-tooltip:not([hidden]) .saew-tip-feature")
    chip = page.locator(".saew-chip").nth(1)
    feature = chip.get_attribute("data-feature")
    chip.click()
    # The kernel-side observer prints into an Output widget: the Python trait changed.
    page.wait_for_selector(f"text=python sees feature {feature}", timeout=60_000)
    foreign = [u for u in watch.network if not u.startswith("http://127.0.0.1")]
    assert foreign == []


DASHBOARD_CELLS = [
    f"import sys; sys.path.insert(0, {str(TESTS)!r})",
    "import saewidgets as sw\nfrom tiny import tiny_model\n"
    "model = tiny_model('llama', seed=5)\n"
    "sae = sw.SAE(32, 40, 'topk', k=5, site='blocks.1.hook_resid_post', seed=2)\n"
    "texts = [f'Item {i}: the red box holds {i % 11} stones.' for i in range(60)]\n"
    "stats = sw.feature_stats(model, sae, sw.corpus.from_texts(texts), n_tokens=800,"
    " window=32, cache=False, progress=False)\n"
    "w = sw.FeatureDashboard(stats, model=model, sae=sae)\nw",
]


def test_dashboard_in_jupyterlab(tmp_path, chromium):
    """Live kernel round-trips: a clicked neighbour's card and typed text's activations."""
    b = chromium
    with _serve("lab", tmp_path, DASHBOARD_CELLS) as url:
        page = b.new_page(viewport={"width": 1400, "height": 1000})
        watch = PageWatch(page, block_network=False)
        _run_all(page, "lab", url)
        card = page.wait_for_selector(".saew-dashboard .saew-card", timeout=120_000)
        first = card.get_attribute("data-feature")
        neighbour = page.locator(".saew-related-item").first
        target = neighbour.get_attribute("data-feature")
        assert target != first
        neighbour.click()
        # the card for the clicked feature can only come from the kernel (nothing precomputed)
        page.wait_for_selector(f".saew-card[data-feature='{target}']", timeout=60_000)
        page.fill(".saew-query", "the red box holds 7 stones")
        page.press(".saew-query", "Enter")
        page.wait_for_selector(
            ".saew-probe-status[data-busy='false']", state="attached", timeout=60_000
        )
        page.wait_for_selector(".saew-test-result .saew-probe-tokens .saew-tok", timeout=60_000)
        summary = page.inner_text(".saew-test-summary")
        assert f"#{target}" in summary
        n_tokens = page.locator(".saew-test-result .saew-probe-tokens .saew-tok").count()
        assert n_tokens == len("the red box holds 7 stones")  # byte tokenizer: one per char
        foreign = [u for u in watch.network if not u.startswith("http://127.0.0.1")]
        assert foreign == []


STEERING_CELLS = [
    f"import sys; sys.path.insert(0, {str(TESTS)!r})",
    "import json\nimport saewidgets as sw\nfrom tiny import tiny_model\n"
    "model = tiny_model('llama', seed=11)\n"
    "sae = sw.SAE(32, 48, 'topk', k=6, site='blocks.1.hook_resid_post', seed=4)\n"
    "panel = sw.SteeringPanel(model, sae, features=[3], prompt='the cat sat on',"
    " max_new_tokens=12)\npanel",
    "def check():\n"
    "    panel.wait()\n"
    "    direct = sw.steer(model, 'the cat sat on', panel.interventions(), max_new_tokens=12)\n"
    "    print('CHECK ' + json.dumps({'same': panel.result.text == direct.text,"
    " 'text': direct.text, 'run': panel._run}))",
    "",
]


def test_steering_panel_in_jupyterlab(tmp_path, chromium):
    """Drag a slider: the steered text changes, the baseline stays; rapid moves end with the
    text of the last setting only (runs cancelled, never mixed)."""
    from playwright.sync_api import expect

    b = chromium
    with _serve("lab", tmp_path, STEERING_CELLS) as url:
        page = b.new_page(viewport={"width": 1400, "height": 1000})
        watch = PageWatch(page, block_network=False)
        _run_all(page, "lab", url)
        steered = page.locator(".saew-steer-out[data-role='steered']")
        baseline = page.locator(".saew-steer-out[data-role='baseline']")
        expect(steered).to_have_attribute("data-done", "true", timeout=120_000)
        base_text = baseline.locator(".saew-steer-text").text_content()
        assert steered.locator(".saew-steer-text").text_content() == base_text  # strength 0
        slider = page.locator(".saew-steer-slider").first
        slider.fill("0.8")
        done = ".saew-steer-out[data-role='steered'][data-done='true']"
        page.wait_for_selector(f"{done}[data-strengths='0.8']", timeout=60_000)
        moved = steered.locator(".saew-steer-text").text_content()
        assert moved != base_text
        assert baseline.locator(".saew-steer-text").text_content() == base_text
        for value in ("0.1", "0.3", "0.5", "0.7", "0.9"):
            slider.fill(value)  # each release cancels the run in flight
        page.wait_for_selector(f"{done}[data-strengths='0.9']", timeout=60_000)
        shown = steered.locator(".saew-steer-text").text_content()
        run = steered.get_attribute("data-run")
        last = page.locator(".jp-Cell").last.locator(".cm-content")
        last.click()
        page.keyboard.type("check()")
        page.keyboard.press("Shift+Enter")
        output = page.locator(".jp-OutputArea-output", has_text="CHECK").first
        output.wait_for(timeout=60_000)
        report = json.loads(output.text_content().split("CHECK ", 1)[1])
        assert report["same"] and report["text"] == shown and str(report["run"]) == run
        assert baseline.locator(".saew-steer-text").text_content() == base_text
        foreign = [u for u in watch.network if not u.startswith("http://127.0.0.1")]
        assert foreign == []


GRAPH_CELLS = [
    f"import sys; sys.path.insert(0, {str(TESTS)!r})",
    "import json, torch\nimport saewidgets as sw\nfrom tiny import tiny_model\n"
    "model = tiny_model('llama', seed=5)\nsaes = []\n"
    "for layer in range(3):\n"
    "    sae = sw.SAE(32, 48, 'relu', site=f'blocks.{layer}.hook_resid_post', seed=layer)\n"
    "    with torch.no_grad():\n"
    "        sae.b_enc.fill_(0.05)\n"
    "    saes.append(sae)\n"
    "graph = sw.attribute(model, 'the red box holds 3 stones', saes, progress=False)\n"
    "texts = [f'Item {i}: the red box holds {i % 11} stones.' for i in range(80)]\n"
    "stats = sw.feature_stats(model, saes[1], sw.corpus.from_texts(texts), n_tokens=1000,"
    " window=32, cache=False, progress=False)\n"
    "features = graph.nodes[(graph.nodes['type'] == 'feature')"
    " & (graph.nodes['site'] == saes[1].site)]\n"
    "node = features.sort_values('influence')['node_id'].iloc[0]\n"
    "print('NODE ' + node)\n"
    "bare = graph.nodes[(graph.nodes['type'] == 'feature')"
    " & (graph.nodes['site'] == saes[0].site)]\n"
    "print('LIGHT ' + bare.sort_values('influence')['node_id'].iloc[0])\n"
    "view = sw.GraphView(graph, stats=stats)\nview",
    "def check():\n"
    "    r = view._intervention\n"
    "    direct = graph.intervene(view.pinned, r['multiplier'], mode=r['mode'])\n"
    "    print('CHECK ' + json.dumps({'pinned': view.pinned, 'threshold': view.node_threshold,"
    " 'run': r['run'], 'n_targets': len(r['targets']),"
    " 'replacement': graph.scores(view.pinned)[0],"
    " 'gap': max(abs(t['actual'] - a) for t, a in"
    " zip(r['targets'], direct.targets['actual'].tolist()))}))",
    "",
]


def test_graph_view_in_jupyterlab(tmp_path, chromium):
    """Live kernel round-trips on an attribution graph: a clicked node's card is built by the
    kernel, a shift-click pin reaches Python, and "intervene" runs the real model there."""
    from playwright.sync_api import expect

    b = chromium
    with _serve("lab", tmp_path, GRAPH_CELLS) as url:
        page = b.new_page(viewport={"width": 1400, "height": 1100})
        watch = PageWatch(page, block_network=False)
        _run_all(page, "lab", url)
        root = page.locator(".saew-graph[data-ready='true']")
        expect(root).to_have_count(1, timeout=120_000)
        node = page.locator(".jp-OutputArea-output", has_text="NODE ").first.text_content()
        node = node.split("NODE ", 1)[1].split()[0]
        feature = node.split("_")[1]
        target = page.locator(f".saew-graph-nodes [data-node='{node}']")
        # a widget in a kernel has no precomputed cards: this one comes from Python
        target.click()
        expect(page.locator(f".saew-graph-feature-card[data-feature='{feature}']")).to_have_count(
            1, timeout=60_000
        )
        # a site without statistics: the kernel builds a light card (what the decoder writes)
        light = page.locator(".jp-OutputArea-output", has_text="LIGHT ").first.text_content()
        light = light.split("LIGHT ", 1)[1].split()[0]
        page.locator(f".saew-graph-nodes [data-node='{light}']").click()
        card = page.locator(
            f".saew-graph-feature-card[data-light='true'][data-feature='{light.split('_')[1]}']"
        )
        expect(card).to_have_count(1, timeout=60_000)
        expect(card.locator(".saew-graph-logit-token")).to_have_count(12)  # 6 up, 6 down
        expect(page.locator("text=No card for this feature")).to_have_count(0)
        target.click()  # back to the first card: it may come from the kernel again
        expect(page.locator(f".saew-graph-feature-card[data-feature='{feature}']")).to_have_count(
            1, timeout=60_000
        )
        target.click(modifiers=["Shift"])
        expect(page.locator(f".saew-graph-pin-list li[data-node='{node}']")).to_have_count(1)
        # the pinned subgraph's scores come back from the kernel
        pin_scores = page.locator(".saew-graph-pin-scores[data-current='true']")
        expect(pin_scores).to_have_count(1, timeout=60_000)
        shown_replacement = float(pin_scores.get_attribute("data-replacement"))
        page.locator(".saew-graph-threshold").fill("0.5")
        run = page.locator(".saew-graph-run")
        expect(run).to_be_enabled()
        page.locator(".saew-graph-multiplier").select_option("0")
        run.click()
        result = page.locator(".saew-graph-result[data-run='1']")
        expect(result).to_have_count(1, timeout=120_000)
        shown = result.locator("tbody tr").count()
        assert shown > 0 and result.locator(".saew-graph-actual").count() == shown
        last = page.locator(".jp-Cell").last.locator(".cm-content")
        last.click()
        page.keyboard.type("check()")
        page.keyboard.press("Shift+Enter")
        output = page.locator(".jp-OutputArea-output", has_text="CHECK").first
        output.wait_for(timeout=60_000)
        report = json.loads(output.text_content().split("CHECK ", 1)[1])
        assert report["pinned"] == [node] and report["threshold"] == 0.5
        assert report["run"] == 1 and report["n_targets"] == shown
        assert report["replacement"] == pytest.approx(shown_replacement)
        assert report["gap"] < 1e-5  # the shown result is the real model's, recomputed here
        foreign = [u for u in watch.network if not u.startswith("http://127.0.0.1")]
        assert foreign == []


# ---------------------------------------------------------------------------------------------
# Every view in one notebook, served once per app (JupyterLab, Notebook 7) for the three checks
# below: tooltips escape the output area, Enter and other keys stay in our inputs, and no stale
# tooltip outlives the content under it. A kernel-side log (an Output widget fed by trait
# observers) proves what reached Python.

ALL_CELLS = [
    # the printed lines put room above the widgets: any of them can be scrolled to either edge
    f"import sys; sys.path.insert(0, {str(TESTS)!r})\nprint('\\n'.join(['room above'] * 40))",
    "import ipywidgets, json, torch\nimport saewidgets as sw\nfrom tiny import tiny_model\n"
    "model = tiny_model('llama', seed=5)\nsaes = []\n"
    "for layer in range(3):\n"
    "    sae = sw.SAE(32, 48, 'relu', site=f'blocks.{layer}.hook_resid_post', seed=layer)\n"
    "    with torch.no_grad():\n"
    "        sae.b_enc.fill_(0.05)\n"
    "    saes.append(sae)\n"
    "log = ipywidgets.Output()\nlog.append_stdout('KERNEL LOG\\n')\n"
    "def watch(widget, name, *traits):\n"
    "    widget.observe(lambda c: log.append_stdout(f\"{name}.{c['name']}={c['new']!r}\\n\"),"
    " names=list(traits))",
    "tr = sw.trace(model, ['Hello world, a test of the heat map. ' * 8, 'Another doc ' * 12,"
    " 'The last document, at the bottom.'], saes[1:])\n"
    "w = sw.TokenHeatmap(tr)\nwatch(w, 'heatmap', 'selected_feature', 'selected_token', 'site')\n"
    "print('DEFAULTS ' + json.dumps({s: w._summary[s][0][0] for s in tr.sites}))\nw",
    "texts = [f'Item {i}: the red box holds {i % 11} stones.' for i in range(60)]\n"
    "stats = sw.feature_stats(model, saes[1], sw.corpus.from_texts(texts), n_tokens=800,"
    " window=32, cache=False, progress=False)\n"
    "dash = sw.FeatureDashboard(stats, model=model, sae=saes[1])\n"
    "watch(dash, 'dash', 'selected_feature')\ndash",
    "fb = sw.FeatureBrowser(model, saes[1], stats)\nfb",
    "panel = sw.SteeringPanel(model, saes[1], features=[3], prompt='the cat sat on',"
    " max_new_tokens=12)\n"
    "watch(panel, 'panel', 'max_new_tokens', 'temperature', 'seed', '_search')\npanel",
    "graph = sw.attribute(model, 'the red box holds 3 stones', saes, progress=False)\n"
    "view = sw.GraphView(graph, stats=stats)\nwatch(view, 'view', 'supernodes')\nview",
    "log",  # last, so that its growing never moves the widgets
]

# every scroll box between a widget and its cell: none may grow (or start) to scroll
_SCROLL_BOXES = """root => {
  const out = [];
  for (let e = root; e && !e.classList.contains('jp-Cell'); e = e.parentElement) {
    const s = getComputedStyle(e);
    if (s.overflowY !== 'visible' || s.overflowX !== 'visible')
      out.push([e.className, e.scrollHeight, e.clientHeight]);
  }
  return out;
}"""

_TIP = ".saew-tooltip:not([hidden])"

# scroll every box around the element until it sits at the bottom (or top) edge of the
# notebook's visible part
_TO_BOTTOM = "e => e.scrollIntoView({block: 'end'})"
_TO_TOP = "e => e.scrollIntoView({block: 'start'})"


@pytest.fixture(scope="module", params=["lab", "notebook"])
def notebook_page(request, tmp_path_factory, _chromium_browser):
    """One server and one page with every view rendered, shared by the tests of one app."""
    app = request.param
    with _serve(app, tmp_path_factory.mktemp(app), ALL_CELLS) as url:
        context = _chromium_browser.new_context(viewport={"width": 1400, "height": 900})
        try:
            page = context.new_page()
            watch = PageWatch(page, block_network=False)
            _run_all(page, app, url)
            # one deadline for the whole notebook: under a loaded CI machine the cells' total
            # time varies several-fold, and a timeout names the views still missing
            deadline = time.monotonic() + 480
            for ready in (".saew-heatmap", ".saew-dashboard", ".saew-browser", ".saew-graph"):
                left_ms = max(1_000, int((deadline - time.monotonic()) * 1000))
                try:
                    page.wait_for_selector(f"{ready}[data-ready='true']", timeout=left_ms)
                except Exception as error:
                    raise AssertionError(
                        f"{ready} not ready after 480 s; kernel log: {_log_lines(page)[-20:]}"
                    ) from error
            page.wait_for_selector(
                ".saew-steer-out[data-role='steered'][data-done='true']", timeout=120_000
            )
            yield page
            foreign = [u for u in watch.network if not u.startswith("http://127.0.0.1")]
            assert foreign == []
        finally:
            context.close()


def _log_length(page) -> int:
    return len(_log_lines(page))


def _log_lines(page) -> list[str]:
    return page.evaluate(
        """() => {
        const o = [...document.querySelectorAll('.jp-OutputArea-output')]
          .find(e => e.textContent.includes('KERNEL LOG'));
        return o ? o.textContent.split('\\n').map(l => l.trim()).filter(Boolean) : [];
    }"""
    )


def _kernel_says(page, line: str, after: int, timeout: float = 60_000) -> None:
    """Wait until the kernel log has `line` among the lines after the first `after` ones."""
    page.wait_for_function(
        """([line, after]) => {
        const o = [...document.querySelectorAll('.jp-OutputArea-output')]
          .find(e => e.textContent.includes('KERNEL LOG'));
        if (!o) return false;
        const lines = o.textContent.split('\\n').map(l => l.trim()).filter(Boolean);
        return lines.slice(after).includes(line);
    }""",
        arg=[line, after],
        timeout=timeout,
    )


def _frames(page, n: int = 2) -> None:
    """Let the page render n frames (scroll events are dispatched on the next frame)."""
    page.evaluate(
        "n => new Promise(r => { const f = k => k ? requestAnimationFrame(() => f(k - 1)) : r();"
        " f(n); })",
        n,
    )


def _tip_fully_shown(page, root_selector: str, before: list) -> None:
    """The visible tooltip lies inside the viewport with nothing of it cut off, and no scroll
    box around the widget grew because of it."""
    from playwright.sync_api import expect

    expect(page.locator(_TIP)).to_have_count(1)
    after = page.locator(root_selector).evaluate(_SCROLL_BOXES)
    for (cls, height, client), (_, was, _) in zip(after, before, strict=True):
        assert height <= max(was, client) + 1, f"{cls} scrolls: {height} > {client}"
    box = page.evaluate(
        """() => { const t = document.querySelector('.saew-tooltip:not([hidden])');
        const r = t.getBoundingClientRect();
        return {left: r.left, top: r.top, right: r.right, bottom: r.bottom,
                w: innerWidth, h: innerHeight, sh: t.scrollHeight, ch: t.clientHeight,
                sw: t.scrollWidth, cw: t.clientWidth}; }"""
    )
    assert box["left"] >= 0 and box["top"] >= 0, box
    assert box["right"] <= box["w"] and box["bottom"] <= box["h"], box
    assert box["sh"] <= box["ch"] + 1 and box["sw"] <= box["cw"] + 1, box  # nothing clipped


def _notebook_shape(page) -> tuple[int, int]:
    return page.locator(".jp-Cell").count(), page.locator(".jp-MarkdownCell").count()


def test_tooltips_escape_the_output_area(notebook_page):
    """Item 1: a tooltip is never clipped by the output area, never makes it scroll, and stays
    on screen (it flips above a token at the bottom of the viewport)."""
    from playwright.sync_api import expect

    page = notebook_page
    heatmap = ".saew-heatmap"
    before = page.locator(heatmap).evaluate(_SCROLL_BOXES)
    assert before, "the output area has no scroll box: nothing to check"
    last = page.locator(f"{heatmap} .saew-docs .saew-tok").last
    last.hover()
    expect(page.locator(f"{_TIP} .saew-tip-feature").first).to_be_visible()
    _tip_fully_shown(page, heatmap, before)
    page.mouse.move(0, 0)
    expect(page.locator(_TIP)).to_have_count(0)
    # the same token at the very bottom of the viewport: the tooltip stays on screen
    last.evaluate(_TO_BOTTOM)
    _frames(page)
    bottom = last.evaluate("e => e.getBoundingClientRect().bottom")
    assert bottom > page.viewport_size["height"] - 120  # no room below it for the tooltip
    last.hover()
    expect(page.locator(f"{_TIP} .saew-tip-feature").first).to_be_visible()
    _tip_fully_shown(page, heatmap, before)
    page.mouse.move(0, 0)
    # the dashboard's example tooltips and the graph's hover card
    for root, target in (
        (".saew-dashboard", ".saew-top-examples .saew-example >> nth=-1 >> .saew-focus"),
        (".saew-graph", ".saew-graph-nodes [data-node] >> nth=-1"),
    ):
        node = page.locator(f"{root} {target}")
        node.scroll_into_view_if_needed()
        _frames(page)
        before = page.locator(root).evaluate(_SCROLL_BOXES)
        node.hover()
        expect(page.locator(_TIP)).to_have_count(1)
        _tip_fully_shown(page, root, before)
        page.mouse.move(0, 0)
        expect(page.locator(_TIP)).to_have_count(0)


def test_enter_applies_inputs_and_keys_stay_in_the_widget(notebook_page):
    """Item 2: Enter applies each single-line input (the kernel sees the trait change), and
    letters typed into our controls never run notebook shortcuts (a, b, m, d d)."""

    page = notebook_page
    shape = _notebook_shape(page)

    def letters(selector: str) -> None:
        page.locator(selector).click()
        page.keyboard.type("abm")
        page.keyboard.press("d")
        page.keyboard.press("d")
        assert _notebook_shape(page) == shape

    def enter(selector: str, value: str, line: str) -> None:
        letters(selector)
        start = _log_length(page)
        page.locator(selector).fill(value)
        page.locator(selector).press("Enter")
        _kernel_says(page, line, start)

    picker = page.locator(".saew-heatmap .saew-picker")
    feature = (int(picker.input_value() or 0) + 1) % 48
    enter(".saew-heatmap .saew-picker", str(feature), f"heatmap.selected_feature={feature}")
    shown = int(page.locator(".saew-dashboard .saew-card").get_attribute("data-feature"))
    other = (shown + 1) % 48
    enter(".saew-dashboard .saew-picker", str(other), f"dash.selected_feature={other}")
    page.wait_for_selector(f".saew-dashboard .saew-card[data-feature='{other}']", timeout=60_000)
    enter(".saew-steer-max", "9", "panel.max_new_tokens=9")
    enter(".saew-steer-temp", "0.7", "panel.temperature=0.7")
    enter(".saew-steer-seed", "11", "panel.seed=11")
    enter(".saew-steer-search", "3", "panel._search='3'")
    # controls that are not text fields (a chip button, a slider) keep their keys too
    for selector in (".saew-heatmap .saew-chip >> nth=0", ".saew-steer-slider >> nth=0"):
        page.locator(selector).focus()
        page.keyboard.type("abm")
        page.keyboard.press("d")
        page.keyboard.press("d")
        assert _notebook_shape(page) == shape


def _point_on(page, rect: dict, selector: str):
    """A point inside `rect` (viewport pixels) where the topmost element is in `selector`."""
    return page.evaluate(
        """([r, selector]) => {
        for (let y = r.top + 4; y < r.bottom - 2; y += 6)
          for (let x = r.left + 4; x < r.right - 2; x += 6) {
            const e = document.elementFromPoint(x, y);
            if (e && e.closest(selector)) return [x, y];
          }
        return null;
    }""",
        [rect, selector],
    )


def _tip_rect(page) -> dict:
    return page.locator(_TIP).evaluate(
        "t => { const r = t.getBoundingClientRect();"
        " return {left: r.left, top: r.top, right: r.right, bottom: r.bottom}; }"
    )


def test_no_stale_tooltips(notebook_page):
    """Item 3: switching the heatmap's site hides its tooltip and opens the new site on its own
    default feature; new text in the browser's live box leaves no old tooltip; a click where
    the old tooltip was lands on the text."""
    from playwright.sync_api import expect

    page = notebook_page
    text = page.locator(".jp-OutputArea-output", has_text="DEFAULTS ").first.text_content()
    defaults = json.loads(text.split("DEFAULTS ", 1)[1].splitlines()[0])
    first_site, second_site = list(defaults)
    heatmap = ".saew-heatmap"
    if page.locator(f"{heatmap} .saew-site").input_value() != first_site:
        page.locator(f"{heatmap} .saew-site").select_option(first_site)
    # select a feature that the second site does not open on
    start = _log_length(page)
    chips = page.locator(f"{heatmap} .saew-chip:not(.saew-active)")
    chip = next(
        chips.nth(i)
        for i in range(chips.count())
        if chips.nth(i).get_attribute("data-feature") != str(defaults[second_site])
    )
    picked = chip.get_attribute("data-feature")
    chip.click()
    _kernel_says(page, f"heatmap.selected_feature={picked}", start)
    token = page.locator(f"{heatmap} .saew-docs .saew-tok").nth(3)
    token.evaluate(_TO_TOP)  # so that the tooltip goes below it, over more text
    _frames(page)
    token.hover()
    expect(page.locator(f"{_TIP} .saew-tip-feature").first).to_be_visible()
    old = _tip_rect(page)
    start = _log_length(page)
    page.locator(f"{heatmap} .saew-site").select_option(second_site)
    _kernel_says(page, f"heatmap.site={second_site!r}", start)
    _kernel_says(page, f"heatmap.selected_feature={defaults[second_site]}", start)
    expect(page.locator(f"{heatmap} .saew-legend-name")).to_have_text(
        re.compile(rf"^#{defaults[second_site]}\b")
    )
    expect(page.locator(_TIP)).to_have_count(0)
    point = _point_on(page, old, f"{heatmap} .saew-docs .saew-tok")
    assert point is not None, "the old tooltip's place still holds something else than text"
    start = _log_length(page)
    page.mouse.click(*point)
    where = page.locator(f"{_TIP}[data-pinned='true'] .saew-tip-where")
    expect(where).to_have_count(1)
    doc, pos = re.findall(r"\d+", where.text_content())
    _kernel_says(page, f"heatmap.selected_token=[{doc}, {pos}]", start)
    page.keyboard.press("Escape")
    expect(page.locator(_TIP)).to_have_count(0)

    # the browser's live box: new text replaces the tokens under a tooltip
    browser = ".saew-browser .saew-search"
    query = page.locator(f"{browser} .saew-query")
    status = page.locator(f"{browser} .saew-probe-status")
    tokens = page.locator(f"{browser} .saew-probe-tokens .saew-tok")
    first = "the red box holds 7 stones; " * 8
    second = "a blue cup holds 3 marbles. " * 8

    def run(text: str) -> None:
        query.fill(text)
        query.press("Enter")
        expect(status).to_have_attribute("data-busy", "false", timeout=60_000)
        expect(tokens).to_have_count(len(text))

    run(first)
    tokens.nth(6).evaluate(_TO_TOP)
    _frames(page)
    tokens.nth(6).hover()
    expect(page.locator(f"{_TIP} .saew-tip-token")).to_have_count(1)
    old = _tip_rect(page)
    pointer = tokens.nth(6).evaluate(
        "e => { const r = e.getBoundingClientRect();"
        " return [(r.left + r.right) / 2, (r.top + r.bottom) / 2]; }"
    )
    # new text, typed while the pointer stays on the token: whatever tooltip shows afterwards
    # is about the token now under the pointer, never the old one
    run(second)
    _frames(page)
    stale = page.evaluate(
        """([x, y]) => {
        const t = document.querySelector('.saew-tooltip:not([hidden]) .saew-tip-token');
        if (!t) return null;
        const under = document.elementFromPoint(x, y)?.closest('.saew-tok');
        return under && under.textContent === t.textContent ? null : t.textContent;
    }""",
        pointer,
    )
    assert stale is None, f"a tooltip about replaced text stays: {stale!r}"
    # the pointer moves to the box to type again: no tooltip stays over the text
    query.click()
    run(first)
    expect(page.locator(_TIP)).to_have_count(0)
    # a token of the new text, a feature chip or a row of the list: each opens on a click
    clickable = (
        f"{browser} .saew-probe-tokens .saew-tok, .saew-browser .saew-chip, {browser} .saew-row"
    )
    point = _point_on(page, old, clickable)
    assert point is not None, "nothing clickable under the old tooltip's place"
    target = page.evaluate(
        "([x, y]) => { const e = document.elementFromPoint(x, y);"
        " return e.closest('.saew-row, .saew-chip') ? 'row' : 'token'; }",
        point,
    )
    page.mouse.click(*point)
    if target == "token":
        expect(page.locator(f"{_TIP}[data-pinned='true'] .saew-tip-token")).to_have_count(1)
        page.keyboard.press("Escape")
    else:
        expect(page.locator(".saew-browser[data-view='feature']")).to_have_count(1)
        page.locator(".saew-browser .saew-back").click()
    expect(page.locator(_TIP)).to_have_count(0)


def _saved_widget_state(path: Path) -> dict:
    return nbformat.read(path, as_version=4).metadata.get("widgets", {})


def test_saved_notebook_reopens_with_its_widgets(tmp_path, chromium):
    """Save, stop the kernel, reopen: the heatmap shows its last state, not "model not found"
    (scripts/setup.sh turns on JupyterLab's saved widget state for this environment)."""
    b = chromium
    with _serve("lab", tmp_path, CELLS) as url:
        page = b.new_page(viewport={"width": 1400, "height": 1000})
        _run_all(page, "lab", url)
        page.wait_for_selector(".saew-heatmap[data-ready='true']", timeout=120_000)
        page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']")
        page.click(".jp-Notebook")
        page.keyboard.press("Control+s")
        notebook = tmp_path / "test.ipynb"
        end = time.monotonic() + 60
        while not _saved_widget_state(notebook) and time.monotonic() < end:
            time.sleep(0.25)  # polling interval of a bounded wait for the save, not a delay
        assert _saved_widget_state(notebook), "the saved notebook carries no widget state"
        base = url.split("/lab/")[0]
        for kernel in json.load(urllib.request.urlopen(f"{base}/api/kernels")):
            request = urllib.request.Request(f"{base}/api/kernels/{kernel['id']}", method="DELETE")
            urllib.request.urlopen(request)
        fresh = b.new_page(viewport={"width": 1400, "height": 1000})
        fresh.goto(url)
        fresh.wait_for_selector(".saew-heatmap[data-ready='true']", timeout=120_000)
        assert fresh.locator(".saew-docs .saew-tok").count() > 0
        assert fresh.locator("text=model not found").count() == 0


def test_feature_search_matches_whole_words_and_shows_the_match(notebook_page):
    """Item 6 inside the notebook: the browser's search finds by id and by whole tokens, ranks,
    and marks what matched in each row. (The tiny model's vocabulary is single characters; the
    word-boundary cases on real words are in tests/search_cases.json, run by pytest and node.)"""
    from playwright.sync_api import expect

    page = notebook_page
    browser = ".saew-browser"
    if page.locator(f"{browser}[data-view='feature']").count():
        page.locator(f"{browser} .saew-back").click()
    search = page.locator(f"{browser} .saew-filter")
    rows = page.locator(f"{browser} .saew-list .saew-row")
    search.fill("#7")
    expect(rows.first).to_have_attribute("data-match", "id")
    expect(rows.first).to_have_attribute("data-feature", "7")
    expect(rows.first.locator("mark.saew-match")).to_have_text("#7")
    # a letter some feature promotes: one-letter queries match whole tokens only
    search.fill("")
    expect(rows.nth(10)).to_be_visible()  # the whole catalogue again (the filter waits a beat)
    texts = page.locator(f"{browser} .saew-list .saew-row-tokens").all_text_contents()
    letter = next(p for t in texts for p in t.split(" / ") if re.fullmatch(r"[A-Za-z]", p))
    search.fill(letter.lower())
    expect(rows.first).to_have_attribute("data-match", re.compile(r"^(top_tokens|promoted)$"))
    assert all(r.get_attribute("data-match") for r in rows.all())  # every row says why
    marks = page.locator(f"{browser} .saew-list mark.saew-match").all_text_contents()
    assert marks and all(m.strip("· ").lower() == letter.lower() for m in marks), marks
    search.fill("qxz")  # nobody's word
    expect(rows).to_have_count(0)
    search.fill("")
    expect(rows.first).to_be_visible()


def _active_class(page, selector: str) -> str | None:
    return page.evaluate(
        "s => { const e = document.activeElement; return e && e.matches(s) ? e.className.baseVal"
        " ?? e.className : null; }",
        selector,
    )


def test_keyboard_reaches_tokens_and_graph_nodes(notebook_page):
    """Keyboard use: Tab reaches a token text and a graph as one stop each, arrows move a
    visible active item and show its tooltip, Enter does what a click does (pins, selects,
    opens the card; the kernel sees it), Shift+Enter pins a node, Escape closes and gives the
    focus back; every focused control shows a focus ring."""
    from playwright.sync_api import expect

    page = notebook_page
    heatmap = ".saew-heatmap"
    page.keyboard.press("Escape")
    page.locator(f"{heatmap} .saew-picker").focus()
    seen = []
    for _ in range(30):  # from the feature picker, Tab reaches the text (chips come between)
        page.keyboard.press("Tab")
        seen.append(page.evaluate("() => String(document.activeElement.className)"))
        if _active_class(page, f"{heatmap} .saew-docs"):
            break
    assert _active_class(page, f"{heatmap} .saew-docs"), f"Tab never reached the text: {seen}"
    ring = page.evaluate("() => getComputedStyle(document.activeElement).outlineStyle")
    assert ring != "none"
    # earlier clicks may have selected a token: go to another one (Home, then right)
    chosen = [line for line in _log_lines(page) if line.startswith("heatmap.selected_token=")]
    steps = 4 if chosen and chosen[-1] == "heatmap.selected_token=[0, 3]" else 3
    page.keyboard.press("Home")
    for _ in range(steps):
        page.keyboard.press("ArrowRight")
    active = page.locator(f"{heatmap} .saew-docs .saew-tok.saew-kbd-active")
    expect(active).to_have_count(1)
    expect(page.locator(f"{_TIP} .saew-tip-feature").first).to_be_visible()
    start = _log_length(page)
    page.keyboard.press("Enter")  # pins the tooltip and selects the token, like a click
    expect(page.locator(f"{_TIP}[data-pinned='true']")).to_have_count(1)
    _kernel_says(page, f"heatmap.selected_token=[0, {steps}]", start)
    # the focus is on the tooltip's first feature; Enter picks it in the kernel
    feature = page.evaluate("() => document.activeElement.dataset.feature")
    assert feature is not None, "the focus did not move into the pinned tooltip"
    picked = [line for line in _log_lines(page) if line.startswith("heatmap.selected_feature=")]
    if picked and picked[-1] == f"heatmap.selected_feature={feature}":  # already selected:
        page.keyboard.press("Tab")  # Tab goes on to the tooltip's next feature
        feature = page.evaluate("() => document.activeElement.dataset.feature")
        assert feature is not None, "Tab left the pinned tooltip"
    ring = page.evaluate("() => getComputedStyle(document.activeElement).outlineStyle")
    assert ring != "none"
    start = _log_length(page)
    page.keyboard.press("Enter")
    _kernel_says(page, f"heatmap.selected_feature={feature}", start)
    page.locator(f"{heatmap} .saew-docs").focus()
    page.keyboard.press("ArrowRight")
    page.keyboard.press("Enter")
    expect(page.locator(f"{_TIP}[data-pinned='true']")).to_have_count(1)
    page.keyboard.press("Escape")
    expect(page.locator(_TIP)).to_have_count(0)
    assert _active_class(page, f"{heatmap} .saew-docs"), "Escape did not give the focus back"

    # the graph: one tab stop, arrows through the nodes, Enter opens, Shift+Enter pins
    nodes = page.locator(".saew-graph .saew-graph-nodes")
    assert nodes.get_attribute("tabindex") == "0"
    nodes.focus()
    page.keyboard.press("ArrowRight")
    active = page.locator(".saew-graph-nodes .saew-kbd-active")
    expect(active).to_have_count(1)
    expect(page.locator(f"{_TIP} .saew-graph-tip")).to_have_count(1)
    node = active.get_attribute("data-node")
    page.keyboard.press("Enter")
    expect(page.locator(f".saew-graph-nodes [data-node='{node}'].saew-clicked")).to_have_count(1)
    expect(page.locator(".saew-graph-card .saew-graph-pin")).to_be_visible()
    page.keyboard.press("Shift+Enter")
    expect(page.locator(f".saew-graph-pin-list li[data-node='{node}']")).to_have_count(1)
    page.keyboard.press("Shift+Enter")  # and unpins
    expect(page.locator(f".saew-graph-pin-list li[data-node='{node}']")).to_have_count(0)


_TICK = re.compile(r"^-?\d+(\.\d+)?(k|%)?$")


def test_charts_and_steering_semantics_inside_the_notebook(notebook_page):
    """Items 4, 5 and 9 inside the notebook: the dashboard's histograms and the sweep chart have
    named axes with units and short ticks; the graph card states density in %; a sweep leaves
    the texts current (not greyed); an ablated row cannot be swept or slid and reports no
    activation for the feature it zeroed."""
    from playwright.sync_api import expect

    page = notebook_page
    page.keyboard.press("Escape")
    hist = page.locator(".saew-dashboard .saew-chart").first
    expect(hist.locator(".saew-y-label")).to_have_text("tokens")
    expect(hist.locator(".saew-x-label")).to_contain_text("activation")
    ticks = page.locator(".saew-dashboard .saew-chart .saew-tick").all_text_contents()
    assert ticks and all(_TICK.match(t) and len(t) <= 6 for t in ticks), ticks

    # the graph card of a feature with statistics: density as a percentage
    graph_nodes = page.locator(".saew-graph-nodes [data-node^='1_']")  # the stats' layer
    node = graph_nodes.first.get_attribute("data-node")
    page.locator(f".saew-graph-nodes [data-node='{node}']").click()
    card = page.locator(f".saew-graph-feature-card[data-feature='{node.split('_')[1]}']")
    expect(card).to_contain_text(re.compile(r"density \d+(\.\d+)?\s?%"), timeout=60_000)

    # a sweep: a chart with both axes named, the strength's unit, readable ticks
    row = page.locator(".saew-steer-row").first
    if row.locator(".saew-steer-mode").input_value() != "add":
        row.locator(".saew-steer-mode").select_option("add")
    row.locator(".saew-steer-sweep").click()
    chart = page.locator(".saew-steer-sweepchart .saew-sweep-chart")
    expect(chart).to_have_count(1, timeout=120_000)
    expect(chart.locator(".saew-sweep-concept-label")).to_contain_text("Δp")
    expect(chart.locator(".saew-sweep-ppl-label")).to_contain_text("perplexity")
    expect(chart.locator(".saew-x-label")).to_have_text("strength (× ‖x‖)")
    ticks = chart.locator(".saew-tick").all_text_contents()
    assert ticks and all(len(t) <= 6 for t in ticks), ticks
    expect(page.locator(".saew-steer-out[data-done='true']")).to_have_count(2, timeout=60_000)
    expect(page.locator(".saew-steer-out.saew-stale")).to_have_count(0)

    # ablate: nothing to slide or sweep, and no activation reported for the zeroed feature
    row.locator(".saew-steer-mode").select_option("ablate")
    expect(row.locator(".saew-steer-sweep")).to_be_disabled()
    expect(row.locator(".saew-steer-slider")).to_be_disabled()
    feature = row.get_attribute("data-feature")
    measure = page.locator(
        f".saew-steer-out[data-role='steered'][data-done='true'] "
        f".saew-steer-measure[data-feature='{feature}']"
    )
    expect(measure).to_contain_text("ablated", timeout=120_000)
    assert "activation" not in measure.text_content()
    row.locator(".saew-steer-mode").select_option("add")


def test_first_positions_are_explained_where_they_show(notebook_page):
    """Item 7 inside the notebook: each document's first position is marked in the heatmap and
    its tooltip says why (an attention sink, left out of the rankings)."""
    from playwright.sync_api import expect

    page = notebook_page
    page.keyboard.press("Escape")
    sinks = page.locator(".saew-heatmap .saew-docs .saew-tok.saew-sink")
    assert sinks.count() >= 3  # one per document
    sinks.nth(1).scroll_into_view_if_needed()
    sinks.nth(1).hover()
    expect(page.locator(f"{_TIP} .saew-tip-sink")).to_contain_text("attention sink")
    page.mouse.move(0, 0)
    expect(page.locator(_TIP)).to_have_count(0)


# a point of the graph's drawing with nothing under it (not a node): where a drag pans
_BACKGROUND_POINT = """stage => {
  const box = stage.getBoundingClientRect();
  for (let y = box.top + 20; y < box.bottom - 20; y += 15)
    for (let x = box.left + 20; x < box.right - 140; x += 15) {
      const hit = document.elementFromPoint(x, y);
      if (hit && stage.contains(hit) && hit.saewIndex === undefined
          && !hit.closest('[data-node]')) return [x, y];
    }
  return null;
}"""


def test_graph_zoom_pan_and_suggested_supernodes_inside_the_notebook(notebook_page):
    """Zoom buttons and ctrl+wheel scale the drawing, a drag on its background pans it, and
    accepting a suggested group makes a supernode in Python."""
    from playwright.sync_api import expect

    page = notebook_page
    graph = page.locator(".saew-graph").first
    stage = graph.locator(".saew-graph-stage")
    stage.scroll_into_view_if_needed()
    nodes = graph.locator("svg.saew-graph-nodes")
    width = float(nodes.get_attribute("width"))
    for _ in range(3):  # 100 % → 125 % → 150 % → 200 %
        graph.locator(".saew-graph-zoom-step[aria-label='zoom in']").click()
    expect(stage).to_have_attribute("data-zoom", "2")
    expect(graph.locator(".saew-graph-zoom-value")).to_have_text("200%")
    assert float(nodes.get_attribute("width")) == pytest.approx(2 * width, rel=0.01)
    stage.evaluate("e => { e.scrollLeft = 0; e.scrollTop = 0; }")
    point = stage.evaluate(_BACKGROUND_POINT)
    assert point is not None, "no background point in the drawing"
    page.mouse.move(*point)
    page.mouse.down()
    page.mouse.move(point[0] - 120, point[1] - 60, steps=6)
    page.mouse.up()
    scrolled = stage.evaluate("e => [e.scrollLeft, e.scrollTop]")
    assert scrolled[0] > 0 or scrolled[1] > 0  # the drawing moved with the pointer
    graph.locator(".saew-graph-zoom-reset").click()
    expect(stage).to_have_attribute("data-zoom", "1")
    point = stage.evaluate(_BACKGROUND_POINT)
    page.mouse.move(*point)
    page.mouse.wheel(0, -100)  # a plain wheel scrolls the notebook, never zooms
    expect(stage).to_have_attribute("data-zoom", "1")
    stage.scroll_into_view_if_needed()
    page.mouse.move(*stage.evaluate(_BACKGROUND_POINT))  # the notebook may have moved
    page.keyboard.down("Control")
    page.mouse.wheel(0, -100)
    page.keyboard.up("Control")
    expect(stage).to_have_attribute("data-zoom", "1.25")
    graph.locator(".saew-graph-zoom-reset").click()

    suggestions = graph.locator(".saew-graph-suggestion")
    expect(suggestions.first).to_be_visible()
    label = suggestions.first.locator(".saew-graph-suggestion-label").text_content()
    members = suggestions.first.get_attribute("data-members")
    after = _log_length(page)
    suggestions.first.locator(".saew-graph-accept").click()
    page.wait_for_function(
        """([label, after]) => {
        const o = [...document.querySelectorAll('.jp-OutputArea-output')]
          .find(e => e.textContent.includes('KERNEL LOG'));
        const lines = o ? o.textContent.split('\\n').slice(after) : [];
        return lines.some(l => l.includes('view.supernodes=') && l.includes(label));
    }""",
        arg=[label, after],
        timeout=60_000,
    )
    expect(graph.locator(".saew-graph-supernode-label")).to_have_count(1)
    expect(graph.locator(f".saew-graph-suggestion[data-members='{members}']")).to_have_count(0)


def test_label_scores_show_with_every_label_and_filter_the_browser(notebook_page):
    """A label never shows without its score or the reason it has none; labels that read the
    same are flagged; the browser filters and sorts by score."""
    from playwright.sync_api import expect

    page = notebook_page
    head = page.locator(".saew-dashboard .saew-card-head").first
    # a random tiny SAE fires everywhere: no quiet context to contrast with, and it says so
    expect(head.locator(".saew-label-score")).to_contain_text("nearly every context")
    expect(head.locator(".saew-label-twins")).to_contain_text("same label as #")
    browser = page.locator(".saew-browser").first
    rows = browser.locator(".saew-list .saew-row")
    # the list is a table: the notebook's own button styles must not turn rows into flex boxes
    assert rows.first.evaluate("r => getComputedStyle(r).display") == "grid"
    browser.locator(".saew-quality").select_option("twins")
    expect(browser.locator(".saew-count")).to_contain_text("of 48 features")
    assert rows.count() > 1
    expect(rows.first.locator(".saew-row-score")).to_contain_text("≡")
    browser.locator(".saew-quality").select_option("detection>=0.7")
    expect(rows).to_have_count(0)
    expect(browser.locator(".saew-count")).to_have_text("0 of 48 features")
    browser.locator(".saew-quality").select_option("all")
    browser.locator(".saew-sort").select_option("detection")
    expect(rows.first.locator(".saew-row-score")).to_contain_text("—")  # unscored, listed
