"""TokenHeatmap vs CircuitsVis colored_tokens_multi on the same data.

Data: 2,000 real tokens (the offline corpus through the embedded model) × the 50 most active
features of a TopK SAE at layer 9. Measures payload bytes (the offline page and the data part
alone) and time to first render in headless Chromium with the network blocked (median of runs),
plus TokenHeatmap's first render at 10,000 tokens.

    .venv/bin/python benchmarks/bench_heatmap.py --runs 5
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch

import saewidgets as sw
from saewidgets.analysis.trace import FeatureTrace, SiteFeatures
from saewidgets.widgets.serialization import state_json

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from browser import browser

SITE = "blocks.9.hook_resid_post"
# Records when the selector first matches, then waits for the next frame to be laid out and
# painted (rAF, then a task), so the figure is what a person would see, not just DOM built.
READY = """
(() => {
  const selector = %s;
  let seen = false;
  const done = () => { if (!seen && document.querySelector(selector)) { seen = true;
    requestAnimationFrame(() => setTimeout(() => { window.__readyAt = performance.now(); })); } };
  const all = { childList: true, subtree: true, attributes: true };
  new MutationObserver(done).observe(document, all);
})();
"""


def real_trace(n_tokens: int) -> FeatureTrace:
    model = sw.load_model()
    sae = sw.SAE(576, 4608, "topk", k=32, site=SITE, seed=0)
    texts, total = [], 0
    for doc in sw.corpus.default():
        texts.append(doc.text[:1500])
        total += len(model.encode(texts[-1]))
        if total >= n_tokens:
            break
    return sw.trace(model, texts, sae, progress=False)


def top_features_only(trace: FeatureTrace, n_tokens: int, n_features: int):
    """The first n_tokens tokens × the n_features most active features, dense and as a trace."""
    dense = np.concatenate([trace.dense(d) for d in range(trace.n_docs)])[:n_tokens]
    chosen = np.argsort(-(dense > 0).sum(0))[:n_features]
    values = dense[:, chosen]
    tokens = [t for doc in trace.token_texts for t in doc][:n_tokens]
    rows, cols = np.nonzero(values)
    counts = np.bincount(rows, minlength=n_tokens)
    sf = SiteFeatures(
        SITE,
        n_features,
        np.concatenate([[0], np.cumsum(counts)]),
        cols.astype(np.int32),
        values[rows, cols].astype(np.float32),
        np.zeros(n_tokens, np.float32),
        np.ones(n_tokens, np.float32),
    )
    small = FeatureTrace(
        texts=["".join(tokens)],
        token_ids=[np.arange(n_tokens)],
        token_texts=[tokens],
        site_features={SITE: sf},
    )
    return tokens, values, chosen, small


def tile(trace: FeatureTrace, n_tokens: int) -> FeatureTrace:
    """Repeat a one-document trace until it has n_tokens tokens."""
    sf = trace.site_features[SITE]
    reps = -(-n_tokens // trace.n_tokens)
    counts = np.tile(np.diff(sf.indptr), reps)[:n_tokens]
    nnz = int(counts.sum())
    big = SiteFeatures(
        SITE,
        sf.d_sae,
        np.concatenate([[0], np.cumsum(counts)]),
        np.tile(sf.indices, reps)[:nnz],
        np.tile(sf.values, reps)[:nnz],
        np.zeros(n_tokens, np.float32),
        np.ones(n_tokens, np.float32),
    )
    tokens = (trace.token_texts[0] * reps)[:n_tokens]
    return FeatureTrace(
        texts=["".join(tokens)],
        token_ids=[np.arange(n_tokens)],
        token_texts=[tokens],
        site_features={SITE: big},
    )


FCP = "() => (performance.getEntriesByName('first-contentful-paint')[0] || {}).startTime"


def first_render_ms(
    page_html: str, selector: str, runs: int, since_mark: str = "", paint: bool = False
) -> float:
    """Median ms from navigation start (or from a performance mark) to the painted frame after
    ``selector`` matched, or, with ``paint``, to the browser's first contentful paint (the
    page is empty until the widget renders, so that is the widget's first frame)."""
    times = []
    with tempfile.TemporaryDirectory() as tmp, browser() as b:
        path = Path(tmp) / "page.html"
        path.write_text(page_html, encoding="utf-8")
        for _ in range(runs):
            context = b.new_context()
            context.add_init_script(READY % json.dumps(selector))
            page = context.new_page()
            page.route("http*://**/*", lambda route: route.abort())
            page.goto(path.as_uri())
            page.wait_for_function("() => window.__readyAt !== undefined", timeout=60_000)
            if paint:
                page.wait_for_function(f"() => ({FCP})() !== undefined", timeout=60_000)
            start = 0.0
            if since_mark:
                start = page.evaluate(
                    "m => performance.getEntriesByName(m)[0].startTime", since_mark
                )
            end = page.evaluate(FCP if paint else "() => window.__readyAt")
            times.append(end - start)
            context.close()
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--out", default="benchmarks/results/heatmap.json")
    args = parser.parse_args()
    from circuitsvis.tokens import colored_tokens_multi

    trace = real_trace(2000)
    tokens, values, chosen, small = top_features_only(trace, 2000, 50)
    ours = sw.TokenHeatmap(small)
    ours_page = ours.to_html()
    ours_data = len(state_json(ours._state_for_export()).encode())
    cv = colored_tokens_multi(tokens, torch.from_numpy(values), [str(f) for f in chosen])
    head = "<!doctype html><html><head><meta charset='utf-8'></head>"
    cv_page = f"{head}<body>{cv.local_src}</body></html>"
    cv_data = len(cv.cdn_src.encode())  # the props plus a CDN loader line: the data part

    first = ".saew-heatmap[data-first-render='true']"
    complete = ".saew-heatmap[data-ready='true']"
    ours_ms = first_render_ms(ours_page, first, args.runs, paint=True)
    ours_all_ms = first_render_ms(ours_page, complete, args.runs)
    cv_ms = first_render_ms(cv_page, "[id^='circuits-vis'] span", args.runs, paint=True)
    big_page = sw.TokenHeatmap(tile(small, 10_000)).to_html()
    big_ms = first_render_ms(big_page, first, args.runs, paint=True)
    big_all_ms = first_render_ms(big_page, complete, args.runs)
    big_render_ms = first_render_ms(
        big_page, first, args.runs, since_mark="saew-render-start", paint=True
    )

    rows = [
        ("offline page bytes", len(ours_page.encode()), len(cv_page.encode())),
        ("data bytes (state vs props)", ours_data, cv_data),
        ("first contentful paint ms, 2,000 tokens", round(ours_ms, 1), round(cv_ms, 1)),
        ("all tokens rendered ms, 2,000 tokens", round(ours_all_ms, 1), round(cv_ms, 1)),
    ]
    print(f"2,000 tokens × 50 features ({int((values > 0).sum())} non-zero); {args.runs} runs")
    print("| measure | TokenHeatmap | CircuitsVis | ratio |\n|---|---|---|---|")
    for name, a, c in rows:
        print(f"| {name} | {a:,} | {c:,} | {a / c:.3f} |")
    print(
        f"TokenHeatmap at 10,000 tokens (page {len(big_page.encode()):,} bytes): first "
        f"contentful paint {big_ms:.1f} ms after navigation start "
        f"({big_render_ms:.1f} ms after render() began), all tokens {big_all_ms:.1f} ms"
    )
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(
        json.dumps(
            {
                "rows": rows,
                "ten_thousand_first_ms": big_ms,
                "ten_thousand_all_ms": big_all_ms,
                "ten_thousand_render_ms": big_render_ms,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
