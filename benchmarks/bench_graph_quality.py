"""How much attribution graphs explain on the embedded model: transcoders at every layer
against the shipped residual SAEs, side by side on the same prompts.

For each prompt (different kinds of next-token behaviour) and each set of dictionaries:
the top target, the replacement score (share of the target's influence that reaches the
input tokens through features rather than error nodes), completeness (share of every node's
input explained by non-error sources), the kind of the strongest direct input to the top
target (feature, error or token; and among features and errors only, since the first token
carries the attention sink's whole stack), and the wall time. Needs the embedded model's transcoders
(`python -m saewidgets transcoders`).

    .venv/bin/python benchmarks/bench_graph_quality.py [--nodes 2000] [--only transcoders]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import numpy as np
import torch

PROMPTS = [
    ("factual recall", "The capital of France is"),
    ("plural agreement", "The keys to the old wooden cabinet"),
    ("closing a bracket", "total = sum(len(word) for word in words"),
    ("rhyme", "Roses are red, violets are blue, sugar is sweet, and so are"),
    ("antonym", "The opposite of hot is"),
    ("sequence", "Monday, Tuesday, Wednesday,"),
    ("arithmetic", "3 + 4 ="),
    ("indirect object", "When Mary and John went to the store, John gave a drink to"),
    ("closing a quote", 'She looked up and said, "I will be there soon.'),
    ("geography", "Los Angeles is a city in the state of"),
    ("python keyword", "for i in range(10):\n    if i % 2 == 0:\n        continue\n    else"),
    ("past tense", "Yesterday we walk to school, but last week we"),
]


def strongest_input(graph, kinds=("feature", "error", "token")) -> tuple[str, str]:
    """Type and label of the node (of ``kinds``) with the largest direct edge into the top
    target."""
    nodes = graph.nodes
    logits = np.nonzero(graph.mask("logit"))[0]
    top = int(logits[np.argmax(nodes["prob"].to_numpy()[logits])])
    into = (graph.edges.target == top) & graph.mask(*kinds)[graph.edges.source]
    sources, weights = graph.edges.source[into], graph.edges.weight[into]
    best = int(sources[np.argmax(np.abs(weights))])
    row = nodes.iloc[best]
    return str(row["type"]), str(row["label"])


def one(model, prompt: str, saes, nodes: int) -> dict:
    import saewidgets as sw

    start = time.perf_counter()
    graph = sw.attribute(model, prompt, saes, max_feature_nodes=nodes, progress=False)
    seconds = time.perf_counter() - start
    replacement, completeness = graph.scores()
    kind, label = strongest_input(graph)
    inner, _ = strongest_input(graph, ("feature", "error"))  # tokens aside
    logits = graph.nodes[graph.mask("logit")].sort_values("prob")
    return {
        "target": str(logits.iloc[-1]["label"]),
        "prob": round(float(logits.iloc[-1]["prob"]), 3),
        "replacement": round(replacement, 3),
        "completeness": round(completeness, 3),
        "strongest_input": kind,
        "strongest_label": label,
        "strongest_inner": inner,
        "active_features": int(graph.metadata["n_active_features"]),
        "seconds": round(seconds, 1),
    }


def main() -> None:
    import saewidgets as sw

    parser = argparse.ArgumentParser()
    parser.add_argument("--nodes", type=int, default=2000)
    parser.add_argument("--only", choices=["transcoders", "residual"], default=None)
    parser.add_argument("--out", default="benchmarks/results/graph_quality.json")
    args = parser.parse_args()
    torch.set_num_threads(2)
    model = sw.load_model()
    sets = {"transcoders": sw.load_transcoders, "residual": sw.load_saes}
    if args.only:
        sets = {args.only: sets[args.only]}
    results: dict[str, list[dict]] = {}
    for name, loader in sets.items():
        saes = loader()
        results[name] = []
        for kind, prompt in PROMPTS:
            row = {"kind": kind, "prompt": prompt, **one(model, prompt, saes, args.nodes)}
            results[name].append(row)
            print(name, json.dumps(row), flush=True)
    summary = {}
    for name, rows in results.items():
        summary[name] = {
            "median_replacement": statistics.median(r["replacement"] for r in rows),
            "median_completeness": statistics.median(r["completeness"] for r in rows),
            "strongest_is_feature": sum(r["strongest_input"] == "feature" for r in rows),
            "strongest_is_error": sum(r["strongest_input"] == "error" for r in rows),
            "strongest_inner_is_feature": sum(r["strongest_inner"] == "feature" for r in rows),
            "prompts": len(rows),
            "median_seconds": statistics.median(r["seconds"] for r in rows),
        }
    print(json.dumps(summary, indent=2))
    Path(args.out).write_text(json.dumps({"summary": summary, "rows": results}, indent=2))
    _print_table(results)


def _print_table(results: dict) -> None:
    names = list(results)
    head = ["kind", "top target"] + [
        f"{n} {m}"
        for n in names
        for m in ("replacement", "completeness", "strongest input", "strongest feature/error")
    ]
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for i, row in enumerate(results[names[0]]):
        cells = [row["kind"], f"`{row['target']!r}` ({row['prob']:.2f})"]
        for n in names:
            r = results[n][i]
            cells += [
                f"{r['replacement']:.2f}",
                f"{r['completeness']:.2f}",
                r["strongest_input"],
                r["strongest_inner"],
            ]
        print("| " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
