"""sw.trace (nnsight + SAE encode at one site) vs a plain HF forward with output_hidden_states.

Same 128-token prompt, same process, CPU; median of N runs each, interleaved so drift hits both.

    .venv/bin/python benchmarks/bench_trace.py --runs 30
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import torch

import saewidgets as sw

TEXT = (
    "The harbour town woke slowly that morning. Fishing boats rocked against the pier while gulls "
    "argued over scraps near the market stalls. Maria unlocked the bakery at six, as she had done "
    "for twenty years, and the smell of warm bread drifted into the narrow street. Down the hill, "
    "the ferry from the mainland sounded its horn, carrying tourists, a crate of oranges and a "
    "letter that would change everything. The postman, an old friend of her father, hesitated at "
    "her door before knocking. Inside the envelope was a map, hand-drawn in faded ink, showing a "
    "path through the cliffs to a cove nobody in town had ever mentioned. She read it twice, "
    "folded it carefully and slipped it into her apron pocket before the first customers arrived."
)


def prompt_of(model: sw.Model, n_tokens: int) -> str:
    ids = model.encode(TEXT)
    for cut in range(n_tokens, n_tokens - 8, -1):
        text = model.tokenizer.decode(ids[:cut])
        if len(model.encode(text)) == n_tokens:
            return text
    raise RuntimeError("could not cut the text to the requested token count")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--tokens", type=int, default=128)
    parser.add_argument("--layers", type=int, nargs="+", default=[3, 9, 29])
    parser.add_argument("--out", default="benchmarks/results/trace.json")
    args = parser.parse_args()

    start = time.perf_counter()
    model = sw.load_model()
    load_s = time.perf_counter() - start  # includes transformers' lazy imports
    start = time.perf_counter()
    model = sw.load_model()
    reload_s = time.perf_counter() - start
    text = prompt_of(model, args.tokens)
    tok, hf = model.tokenizer, model.hf_model
    saes = {
        layer: sw.SAE(576, 4608, "topk", k=32, site=f"blocks.{layer}.hook_resid_post", seed=0)
        for layer in args.layers
    }

    def plain() -> None:
        enc = tok(text, return_tensors="pt")
        with torch.no_grad():
            hf(**enc, output_hidden_states=True)

    def plain_body() -> None:
        # The stricter baseline: every block, no LM head (tracing never needs the logits).
        enc = tok(text, return_tensors="pt")
        with torch.no_grad():
            hf.model(**enc, output_hidden_states=True)

    runners = {"plain": plain, "plain, no LM head": plain_body}
    for layer, sae in saes.items():
        runners[f"trace L{layer}"] = lambda sae=sae: sw.trace(model, text, sae)
    for run in runners.values():  # warm-up (nnsight caches the parsed trace body)
        run()
        run()
    times: dict[str, list[float]] = {name: [] for name in runners}
    for _ in range(args.runs):
        for name, run in runners.items():
            t = time.perf_counter()
            run()
            times[name].append(time.perf_counter() - t)
    medians = {name: statistics.median(ts) for name, ts in times.items()}
    rows = [
        {
            "what": name,
            "median_ms": round(1000 * m, 2),
            "ratio_vs_plain": round(m / medians["plain"], 3),
        }
        for name, m in medians.items()
    ]
    print(
        f"embedded model load from cache: {load_s:.2f} s first in this process, "
        f"{reload_s:.2f} s again; prompt {args.tokens} tokens; "
        f"{args.runs} runs; torch threads {torch.get_num_threads()}"
    )
    print("| run | median ms | ratio vs plain HF forward |\n|---|---|---|")
    for r in rows:
        print(f"| {r['what']} | {r['median_ms']} | {r['ratio_vs_plain']} |")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(
        json.dumps(
            {
                "load_s": load_s,
                "reload_s": reload_s,
                "tokens": args.tokens,
                "runs": args.runs,
                "rows": rows,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
