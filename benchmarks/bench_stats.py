"""sw.feature_stats throughput against the bare forward-to-site + SAE encode on the same tokens.

The corpus pass (everything per token) is timed apart from the decoder-side statistics
(VocabProj, decoder-cosine neighbours), which cost the same for any corpus size, and from
reading and tokenising the corpus, which happens once per corpus (the windows are cached).
Peak resident memory of the process is reported too.

    .venv/bin/python benchmarks/bench_stats.py --n-tokens 50000 [--sae PATH]
"""

from __future__ import annotations

import argparse
import json
import resource
import time
from pathlib import Path

import numpy as np
import torch

import saewidgets as sw
from saewidgets.analysis import stats as stats_module


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n-tokens", type=int, default=50_000)
    parser.add_argument("--sae", default=None, help="SAE folder (default: a fresh TopK 4608)")
    parser.add_argument("--out", default="benchmarks/results/stats.json")
    parser.add_argument("--split", default="heldout", help="corpus split (train is larger)")
    parser.add_argument(
        "--memory-only", action="store_true", help="only the stats pass and its peak RSS"
    )
    parser.add_argument("--repeats", type=int, default=3, help="alternating runs of each")
    args = parser.parse_args()
    model = sw.load_model()
    site = "blocks.9.hook_resid_post"
    sae = sw.load_sae(args.sae) if args.sae else sw.SAE(576, 4608, "topk", k=32, site=site)
    site = sae.site or site

    timings: dict[str, float] = {}
    original = stats_module._decoder_stats

    def timed_decoder_stats(*a):
        t = time.perf_counter()
        out = original(*a)
        timings["decoder"] = time.perf_counter() - t
        return out

    stats_module._decoder_stats = timed_decoder_stats  # time that phase on its own
    corpus = sw.corpus.default().split(args.split)
    # Reading the corpus happens once per corpus and tokenizer (the windows are cached, and
    # every later SAE reuses them); it is timed on its own, and the passes below read the cache.
    start = time.perf_counter()
    corpus.take(model.tokenizer, args.n_tokens, window=128)
    timings["read"] = time.perf_counter() - start
    windows = torch.from_numpy(corpus.take(model.tokenizer, args.n_tokens, 128, cache=True))

    def stats_pass() -> float:
        start = time.perf_counter()
        sw.feature_stats(model, sae, corpus, n_tokens=args.n_tokens, site=site, cache=False)
        return time.perf_counter() - start - timings["decoder"]

    def bare_pass() -> float:
        start = time.perf_counter()
        for i in range(0, len(windows), 8):
            ids = windows[i : i + 8]
            acts = model.read_sites(ids, torch.ones_like(ids), [site])[site]
            with torch.no_grad():
                sae.encode(acts.reshape(-1, acts.shape[-1]))
        return time.perf_counter() - start

    if args.memory_only:
        corpus_pass = stats_pass()
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"| tokens | {windows.numel():,} |\n| features | {sae.d_sae:,} |")
        print(f"| stats tok/s | {windows.numel() / corpus_pass:,.0f} |")
        print(f"| peak RSS MB | {peak_mb:,.0f} |")
        return

    # Alternate the two so drift on a shared machine hits both runs of a pair; the headline is
    # the median of the pairs' ratios (the speed of this VM wanders by ±10 % between runs).
    stats_runs, bare_runs = [], []
    for _ in range(args.repeats):
        stats_runs.append(stats_pass())
        bare_runs.append(bare_pass())
    stats_module._decoder_stats = original
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    ratios = [b / c for b, c in zip(bare_runs, stats_runs, strict=True)]
    corpus_pass, bare = float(np.median(stats_runs)), float(np.median(bare_runs))

    n = windows.numel()
    rows = {
        "tokens": n,
        "feature_stats corpus pass tok/s": n / corpus_pass,
        "bare forward+encode tok/s": n / bare,
        "ratio, median of pairs (target >= 0.8)": float(np.median(ratios)),
        "ratio per pair": " ".join(f"{r:.2f}" for r in ratios),
        "decoder-side stats s (once per SAE)": timings["decoder"],
        "reading + tokenising the corpus s (once per corpus)": timings["read"],
        "peak RSS MB": peak_mb,
    }
    for key, value in rows.items():
        shown = (
            f"{value:,.2f}"
            if isinstance(value, float)
            else f"{value:,}"
            if isinstance(value, int)
            else value
        )
        print(f"| {key} | {shown} |")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
