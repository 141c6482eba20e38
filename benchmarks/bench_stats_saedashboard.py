"""sw.feature_stats against SAEDashboard itself, on the same model, SAE and token windows.

SAEDashboard (sae-dashboard 0.8.0) needs transformers < 4.57 and transformer-lens 2.x, so it
runs in its own venv as a subprocess (``_saedashboard_runner.py``); set it up once with

    python3 -m venv .venv-saedash
    .venv-saedash/bin/pip install torch==2.13.0
    .venv-saedash/bin/pip install sae-dashboard==0.8.0 "pyarrow<19" "pandas<3"
    .venv-saedash/bin/pip uninstall -y torchvision   # a CUDA build that breaks transformers

then

    .venv/bin/python benchmarks/bench_stats_saedashboard.py --n-tokens 20000

Both sides get the same windows of the held-out split, ignore the same positions (the first of
each window, BOS and pad), run on the same number of threads and build data for every feature.
SAEDashboard caches the model's activations on disk between feature batches (its fastest
setting; without it the model runs once per batch of 256 features). The script also checks that
the two agree: the strongest example and its activation, the density and the promoted tokens
of every feature. It writes one offline page of 40 features with each tool and reports sizes.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

import saewidgets as sw
from saewidgets.model.embedded import embedded_dir

ROOT = Path(__file__).resolve().parent.parent
RUNNER = ROOT / "benchmarks" / "_saedashboard_runner.py"
SAEDASH_PYTHON = ROOT / ".venv-saedash" / "bin" / "python"
SHIPPED = ROOT / "saewidgets" / "data" / "saes" / "blocks.9.hook_resid_post"


def run_saedashboard(args, model, sae, windows: np.ndarray, work: Path) -> dict:
    sae.save(work / "sae", dtype=torch.float32, overwrite=True)
    np.save(work / "tokens.npy", windows)
    special = {model.tokenizer.bos_token_id, model.tokenizer.pad_token_id} - {None}
    command = [
        str(args.saedash_python),
        str(RUNNER),
        "--model-dir", str(embedded_dir()),
        "--sae-dir", str(work / "sae"),
        "--tokens", str(work / "tokens.npy"),
        "--features", str(args.features),
        "--threads", str(args.threads),
        "--html", str(work / "saedashboard.html"),
        "--out", str(work / "saedashboard.json"),
        "--ignore-tokens", *map(str, sorted(special)),
    ]  # fmt: skip
    if not args.no_act_cache:
        command += ["--cache-dir", str(work / "act-cache")]
    start = time.perf_counter()
    subprocess.run(command, check=True)
    result = json.loads((work / "saedashboard.json").read_text())
    result["process_s"] = time.perf_counter() - start
    return result


def banded_maxima(stats: sw.FeatureStats, context: int) -> tuple[np.ndarray, np.ndarray]:
    """Per feature, the strongest activation and its flat position among the positions
    SAEDashboard can show as a top example: it needs its context buffer (5 tokens before plus
    one, 5 after) inside the window, so it never picks the first 6 or last 5 positions."""
    rows = np.repeat(np.arange(len(stats.indptr) - 1), np.diff(stats.indptr))
    position = rows % context
    keep = (position >= 6) & (position < context - 5)
    feats, vals, rows = stats.indices[keep], stats.values[keep], rows[keep]
    order = np.lexsort((-vals, feats))
    first = np.ones(len(order), dtype=bool)
    first[1:] = feats[order][1:] != feats[order][:-1]
    best = order[first]
    maxima = np.zeros(stats.d_sae)
    where = np.full(stats.d_sae, -1)
    maxima[feats[best]] = vals[best]
    where[feats[best]] = rows[best]
    return maxima, where


def agreement(stats: sw.FeatureStats, theirs: dict, windows: np.ndarray) -> dict:
    n = theirs["features"]
    banded, banded_at = banded_maxima(stats, windows.shape[1])
    ours_max, ours_at = banded[:n], banded_at[:n]
    their_max = np.asarray(theirs["max"])
    alive = (ours_max > 0) | (their_max > 0)
    rel = np.abs(ours_max - their_max)[alive] / np.maximum(ours_max, their_max)[alive]
    their_at = np.asarray(theirs["top_window"]) * windows.shape[1] + theirs["top_position"]
    # Their density counts every position in the denominator, ours only the content tokens.
    ours_density = stats.density[:n] * stats.n_tokens / windows.size
    density_gap = np.abs(ours_density - np.asarray(theirs["density"]))
    overlap = [
        len(set(stats.vocab_top_ids[f, :10].tolist()) & set(theirs["vocab_top"][f])) / 10
        for f in range(n)
        if theirs["vocab_top"][f]
    ]
    edge_better = stats.max_activation[:n] > ours_max * (1 + 1e-4)
    differ = np.nonzero(alive & (ours_at != their_at))[0]
    gap = np.abs(ours_max - their_max) / np.maximum(np.maximum(ours_max, their_max), 1e-12)
    # Most differing tokens are ties (the corpus repeats phrases). The rest: the two forward
    # passes differ by float rounding (relative 5e-7), which can move a feature across the TopK
    # threshold at a token.
    far = np.nonzero(alive & (gap > 0.01))[0]
    examples = [
        f"#{f}: ours {ours_max[f]:.3f} at {ours_at[f]}, theirs {their_max[f]:.3f} at "
        f"{their_at[f]}, density {stats.density[f]:.2e}"
        for f in list(far[:8]) + [f for f in differ if f not in far][: max(0, 8 - len(far))]
    ]
    return {
        "features compared": n,
        "features active in either": int(alive.sum()),
        "top example (same positions): median relative gap": float(np.median(rel)),
        "top example (same positions): worst relative gap": float(rel.max()),
        "top example at the same token": float((ours_at == their_at)[alive].mean()),
        "top example differs by more than 1%": len(far),
        "where they differ (>1% first, 8 shown)": "; ".join(examples) or "none",
        "features whose strongest hit SAEDashboard cannot show (window edges)": float(
            edge_better[alive].mean()
        ),
        "density: worst absolute gap (their 3-decimal %)": float(density_gap.max()),
        "top-10 promoted tokens: mean overlap": float(np.mean(overlap)),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n-tokens", type=int, default=20_000)
    parser.add_argument("--features", type=int, default=4608, help="SAEDashboard: first N")
    parser.add_argument("--sae", type=Path, default=SHIPPED)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--no-act-cache", action="store_true")
    parser.add_argument("--saedash-python", type=Path, default=SAEDASH_PYTHON)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/stats_saedash.json")
    args = parser.parse_args()
    if not args.saedash_python.exists():
        sys.exit(f"{args.saedash_python} is missing; see this script's docstring for the venv")
    torch.set_num_threads(args.threads)

    model = sw.load_model()
    sae = sw.load_sae(args.sae)
    corpus = sw.corpus.default().split("heldout")
    windows = corpus.take(model.tokenizer, args.n_tokens, window=128)

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        theirs = run_saedashboard(args, model, sae, windows, work)
        start = time.perf_counter()
        stats = sw.feature_stats(model, sae, corpus, n_tokens=args.n_tokens, cache=False)
        ours_s = time.perf_counter() - start
        if not np.array_equal(stats.token_ids, windows):
            raise SystemExit("feature_stats read other windows than SAEDashboard got")
        ours_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        dashboard = sw.FeatureDashboard(stats, feature=0)
        start = time.perf_counter()
        html = dashboard.to_html(work / "ours.html", features=list(range(40)))
        ours_html_s = time.perf_counter() - start
        ours_html_bytes = (work / "ours.html").stat().st_size
        cdn = [u for u in ("cdn.plot.ly", "d3js.org") if u in html]
        their_html = (work / "saedashboard.html").read_text(encoding="utf-8")
        their_cdn = [u for u in ("cdn.plot.ly", "d3js.org") if u in their_html]
        checks = agreement(stats, theirs, windows)

    per_feature = theirs["features"] / stats.d_sae
    rows = {
        "tokens": int(windows.size),
        "features": f"{stats.d_sae} (ours) / {theirs['features']} (SAEDashboard)",
        "saewidgets feature_stats s (all features)": ours_s,
        "SAEDashboard SaeVisRunner.run s": theirs["run_s"],
        "SAEDashboard run s scaled to all features": theirs["run_s"] / per_feature,
        "speed-up (SAEDashboard / ours, all features)": theirs["run_s"] / per_feature / ours_s,
        "SAEDashboard model load + import s": theirs["load_s"] + theirs["import_s"],
        "saewidgets peak RSS MB (process)": ours_rss,
        "SAEDashboard peak RSS MB (process)": theirs["peak_rss_mb"],
        "offline page, 40 features: saewidgets bytes": ours_html_bytes,
        "offline page, 40 features: SAEDashboard bytes": theirs.get("html_bytes"),
        "page write s: saewidgets / SAEDashboard": f"{ours_html_s:.2f} / {theirs['html_s']:.2f}",
        "CDN URLs in page: saewidgets / SAEDashboard": f"{cdn or 'none'} / {their_cdn or 'none'}",
        **checks,
    }
    for key, value in rows.items():
        shown = f"{value:,.4g}" if isinstance(value, float) else str(value)
        print(f"| {key} | {shown} |")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)  # absent on a fresh clone
    args.out.write_text(json.dumps(rows, indent=1, default=str))


if __name__ == "__main__":
    main()
