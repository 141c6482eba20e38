"""`sw.explore` on the embedded model: time to the first view, and a selection reaching the
linked views inside JupyterLab.

1. In a fresh Python process (the model already loaded, as in a notebook), the wall time of
   `sw.explore(model)` with the shipped statistics: the first call (cold file caches of the
   process: the SAEs, their statistics and labels are read) and a second call.
2. In JupyterLab driven by headless Chromium: a feature chip clicked in the heatmap, until the
   dashboard pane shows that feature's card (painted), measured in the page with
   `performance.now()`; the round trip goes through the kernel (the card is built there).
   Median of ``--clicks`` clicks on different features.
3. The exported page of the quickstart workspace (the default prompt, one steering row with
   five slider stops, the attribution graph): its size, and in Chromium with the network
   blocked the time from navigation to every view rendered.

    .venv/bin/python benchmarks/bench_explore.py --clicks 9
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

FIRST_VIEW = """
import json, time
import saewidgets as sw
model = sw.load_model()
t0 = time.perf_counter(); ws = sw.explore(model); first = time.perf_counter() - t0
t0 = time.perf_counter(); ws2 = sw.explore(model); second = time.perf_counter() - t0
ws.steer(strength=0.3); ws.steering.wait(); ws.build_graph(); ws.wait()
html = ws.to_html(PAGE, stops=5)
print("RESULT " + json.dumps({"first": first, "second": second, "page_bytes": len(html.encode())}))
"""

CELLS = ["import saewidgets as sw\nws = sw.explore()\nws"]

# Time from a click on a heatmap chip to the dashboard card of that feature, painted.
CLICK = """
(feature) => new Promise((resolve) => {
  const root = document.querySelector('.saew-explore');
  const chip = root.querySelector(`.saew-heatmap .saew-chip[data-feature='${feature}']`);
  const selector = `.saew-browser .saew-card[data-feature='${feature}']`;
  const t0 = performance.now();
  const check = () => {
    if (!root.querySelector(selector)) return false;
    requestAnimationFrame(() => setTimeout(() => resolve(performance.now() - t0)));
    return true;
  };
  const watch = new MutationObserver(() => { if (check()) watch.disconnect(); });
  watch.observe(root, { childList: true, subtree: true, attributes: true });
  chip.click();
})
"""


def first_view(page: Path) -> dict:
    code = f"PAGE = {str(page)!r}\n" + FIRST_VIEW
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    line = next(x for x in proc.stdout.splitlines() if x.startswith("RESULT "))
    return json.loads(line.split(" ", 1)[1])


def selection_latency(clicks: int) -> list[float]:
    from browser import browser
    from test_jupyter import _run_all, _serve

    with tempfile.TemporaryDirectory() as tmp, _serve("lab", Path(tmp), CELLS) as url:
        with browser() as b:
            page = b.new_page(viewport={"width": 1500, "height": 1100})
            _run_all(page, "lab", url)
            page.wait_for_selector(
                ".saew-explore .saew-browser[data-ready='true']", timeout=180_000
            )
            page.wait_for_selector(".saew-explore .saew-heatmap[data-ready='true']")
            chips = page.eval_on_selector_all(
                ".saew-explore .saew-heatmap .saew-chip",
                "els => els.map(e => e.getAttribute('data-feature'))",
            )
            times = []
            for feature in chips[1 : clicks + 1]:
                times.append(page.evaluate(CLICK, feature))
            return times


def page_paint(page: Path, runs: int = 5) -> float:
    from browser import PageWatch, browser

    times = []
    with browser() as b:
        for _ in range(runs):
            tab = b.new_page(viewport={"width": 1400, "height": 1000})
            PageWatch(tab)  # no network
            tab.goto(page.as_uri())
            tab.wait_for_selector("body[data-ready='true']", timeout=60_000)
            times.append(tab.evaluate("window.saewRenderedAt"))
            tab.close()
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clicks", type=int, default=9)
    parser.add_argument("--out", default=str(ROOT / "benchmarks/results/explore.json"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        page = Path(tmp) / "workspace.html"
        view = first_view(page)
        paint = page_paint(page)
    times = selection_latency(args.clicks)
    report = {
        "exported_page_bytes": view["page_bytes"],
        "exported_page_all_views_rendered_ms": round(paint, 1),
        "explore_first_call_s": round(view["first"], 3),
        "explore_second_call_s": round(view["second"], 3),
        "selection_to_dashboard_ms": [round(t, 1) for t in times],
        "selection_to_dashboard_median_ms": round(statistics.median(times), 1),
    }
    print(json.dumps(report, indent=1))
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
