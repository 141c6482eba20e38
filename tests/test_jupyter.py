"""The heatmap inside real JupyterLab and Notebook 7 servers, driven by headless Chromium."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import nbformat
import pytest
from browser import PageWatch, browser

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


@pytest.fixture(params=["lab", "notebook"])
def server(request, tmp_path):
    app = request.param
    port = _free_port()
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(c) for c in CELLS]
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nbformat.write(nb, tmp_path / "heatmap.ipynb")
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
        path = "/lab/tree/heatmap.ipynb" if app == "lab" else "/notebooks/heatmap.ipynb"
        yield app, url + path
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


def test_heatmap_in_jupyter(server):
    app, url = server
    with browser() as b:
        page = b.new_page(viewport={"width": 1400, "height": 1000})
        watch = PageWatch(page, block_network=False)
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
