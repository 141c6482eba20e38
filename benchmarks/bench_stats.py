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

import torch

import saewidgets as sw
from saewidgets import stats as stats_module


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n-tokens", type=int, default=50_000)
    parser.add_argument("--sae", default=None, help="SAE folder (default: a fresh TopK 4608)")
    parser.add_argument("--out", default="benchmarks/results/stats.json")
    parser.add_argument("--split", default="heldout", help="corpus split (train is larger)")
    parser.add_argument(
        "--memory-only", action="store_true", help="only the stats pass and its peak RSS"
    )
    args = parser.parse_args()
    model = sw.load_model()
    site = "blocks.9.hook_resid_post"
    sae = sw.load_sae(args.sae) if args.sae else sw.SAE(576, 4608, "topk", k=32, site=site)
    site = sae.site or site

    timings = {}
    original = stats_module._decoder_stats

    def timed_decoder_stats(*a):
        t = time.perf_counter()
        out = original(*a)
        timings["decoder"] = time.perf_counter() - t
        return out

    stats_module._decoder_stats = timed_decoder_stats  # time that phase on its own
    corpus = sw.corpus.default().split(args.split)
    # Reading the corpus happens once per corpus and tokenizer (the windows are cached, and
    # every later SAE reuses them); it is timed on its own, and the pass below reads the cache.
    start = time.perf_counter()
    corpus.take(model.tokenizer, args.n_tokens, length=128)
    timings["read"] = time.perf_counter() - start
    corpus.take(model.tokenizer, args.n_tokens, length=128, cache=True)
    start = time.perf_counter()
    st = sw.feature_stats(model, sae, corpus, n_tokens=args.n_tokens, site=site, cache=False)
    total = time.perf_counter() - start
    stats_module._decoder_stats = original
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    if args.memory_only:
        print(f"| tokens | {st.token_ids.size:,} |\n| features | {st.d_sae:,} |")
        print(f"| stats tok/s | {st.token_ids.size / (total - timings['decoder']):,.0f} |")
        print(f"| peak RSS MB | {peak_mb:,.0f} |")
        return

    windows = torch.from_numpy(st.token_ids.astype("int64"))
    start = time.perf_counter()
    for i in range(0, len(windows), 8):
        ids = windows[i : i + 8]
        acts = model.read_sites(ids, torch.ones_like(ids), [site])[site]
        with torch.no_grad():
            sae.encode(acts.reshape(-1, acts.shape[-1]))
    bare = time.perf_counter() - start

    corpus_pass = total - timings["decoder"]
    n = windows.numel()
    rows = {
        "tokens": n,
        "feature_stats corpus pass tok/s": n / corpus_pass,
        "bare forward+encode tok/s": n / bare,
        "ratio (target >= 0.8)": bare / corpus_pass,
        "decoder-side stats s (once per SAE)": timings["decoder"],
        "reading + tokenising the corpus s (once per corpus)": timings["read"],
        "peak RSS MB": peak_mb,
    }
    for key, value in rows.items():
        print(f"| {key} | {value:,.2f} |" if isinstance(value, float) else f"| {key} | {value:,} |")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
