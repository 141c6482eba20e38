"""Widgets inside real JupyterLab and Notebook 7 servers, driven by headless Chromium."""

from __future__ import annotations

import json
import os
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
