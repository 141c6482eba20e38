"""Feature absorption (first-letter task) of every shipped SAE, 2 CPU cores.

`sw.absorption` with 2,000 single-token vocabulary words (30 % held out for the measurement):
per site the mean absorption fraction and full-absorption rate over letters (SAEBench's
definitions and thresholds), the main latents' k-sparse F1 (how well latents name first
letters at all), the ground-truth probe's accuracy, and the time. Prints a markdown table and
writes ``benchmarks/results/absorption.json``.

    .venv/bin/python benchmarks/bench_absorption.py
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import saewidgets as sw


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-words", type=int, default=2_000)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/absorption.json"))
    args = parser.parse_args()
    model = sw.load_model()
    rows = {}
    print("| site | absorption fraction | full absorption | k-sparse F1 | probe accuracy | s |")
    print("|---|---|---|---|---|---|")
    for site, sae in sw.load_saes("embedded").items():
        start = time.perf_counter()
        result = sw.absorption(model, sae, n_words=args.n_words, progress=False)
        seconds = time.perf_counter() - start
        rows[site] = {
            "absorption_fraction": result.absorption_fraction,
            "full_absorption": result.full_absorption,
            "sparse_f1": result.sparse_f1,
            "probe_accuracy": result.probe_accuracy,
            "seconds": seconds,
            "letters": result.table.reset_index().to_dict(orient="records"),
        }
        print(
            f"| {site} | {result.absorption_fraction:.3f} | {result.full_absorption:.3f} | "
            f"{result.sparse_f1:.2f} | {result.probe_accuracy:.2f} | {seconds:.0f} |",
            flush=True,
        )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"n_words": args.n_words, "sites": rows}, indent=1))


if __name__ == "__main__":
    main()
