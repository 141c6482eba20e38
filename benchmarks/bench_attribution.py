"""Attribution graph cost on the embedded model: wall time and peak memory by prompt length.

Embedded SmolLM2-135M on the CPU (2 threads), at most 2,000 feature nodes, batch 32, with
``--dictionaries transcoders`` (the built transcoders at all 30 MLPs; `python -m saewidgets
transcoders`) or ``residual`` (the five shipped residual SAEs, layers 3, 9, 15, 21, 27). Each
prompt length runs in its own process so its peak resident memory (whole process: model,
dictionaries and the graph) is its own. Targets for 24 tokens: ≤ 60 s and ≤ 6 GB.

circuit-tracer is not run side by side here (it needs its own environment with older
transformers; not built yet).

    .venv/bin/python benchmarks/bench_attribution.py --lengths 16 24 32 64 \
        --dictionaries transcoders
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import torch

TEXT = (
    "Fact: the capital of France is Paris, the capital of Spain is Madrid, the capital of "
    "Japan is Tokyo, the capital of Egypt is Cairo, the capital of Canada is Ottawa, the "
    "capital of Kenya is Nairobi, the capital of Peru is Lima, the capital of Norway is Oslo, "
    "and the capital of Italy is"
)


def prompt_of_length(model, n: int) -> str:
    ids = model.encode(TEXT)
    if len(ids) < n:
        raise SystemExit(f"the benchmark text has {len(ids)} tokens, fewer than {n}")
    # Keep the end (it asks a question); re-encode to be sure of the count.
    text = model.tokenizer.decode(ids[-n:])
    while len(model.encode(text)) > n:
        text = text[1:]
    return text


def one(n: int, nodes: int, dictionaries: str) -> dict:
    import saewidgets as sw

    torch.set_num_threads(2)
    model = sw.load_model()
    saes = sw.load_transcoders() if dictionaries == "transcoders" else sw.load_saes()
    prompt = prompt_of_length(model, n)
    rss_loaded = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    start = time.perf_counter()
    graph = sw.attribute(model, prompt, saes, max_feature_nodes=nodes, progress=False)
    seconds = time.perf_counter() - start
    replacement, completeness = graph.scores()
    pruned = graph.prune()
    return {
        "tokens": len(model.encode(prompt)),
        "seconds": round(seconds, 2),
        "peak_rss_gib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 2),
        "rss_after_load_gib": round(rss_loaded, 2),
        "active_features": graph.metadata["n_active_features"],
        "feature_nodes": graph.metadata["n_feature_nodes"],
        "edges": len(graph.edges.weight),
        "pruned_nodes": len(pruned),
        "pruned_edges": len(pruned.edges.weight),
        "replacement": round(replacement, 3),
        "completeness": round(completeness, 3),
        "top_target": graph.nodes.loc[graph.mask("logit")].sort_values("prob").iloc[-1]["label"],
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--lengths", type=int, nargs="+", default=[16, 24, 32, 64])
    parser.add_argument("--nodes", type=int, default=2000)
    parser.add_argument("--dictionaries", choices=["transcoders", "residual"], default="residual")
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(one(args.one, args.nodes, args.dictionaries)))
        return
    rows = []
    for n in args.lengths:
        out = subprocess.run(
            [
                sys.executable,
                __file__,
                "--one",
                str(n),
                "--nodes",
                str(args.nodes),
                "--dictionaries",
                args.dictionaries,
            ],
            check=True,
            capture_output=True,
            text=True,
        )
        row = json.loads(out.stdout.strip().splitlines()[-1])
        rows.append(row)
        print(json.dumps(row), flush=True)
    results = Path(__file__).parent / "results"
    results.mkdir(parents=True, exist_ok=True)
    (results / f"attribution-{args.dictionaries}.json").write_text(json.dumps(rows, indent=2))
    print(f"{'tokens':>6} {'seconds':>8} {'peak GiB':>9} {'nodes':>6} {'edges':>9}")
    for r in rows:
        cells = (r["tokens"], r["seconds"], r["peak_rss_gib"], r["feature_nodes"], r["edges"])
        print(" ".join(f"{c:>{w}}" for c, w in zip(cells, (6, 8, 9, 6, 9), strict=True)))


if __name__ == "__main__":
    main()
