"""How well the offline labels predict where each shipped SAE's features fire.

For every shipped SAE, statistics over ``--n-tokens`` held-out tokens (cached), then labels
from each label kind on its own and from all kinds together (`sw.auto_labels` picks the best
kind per feature). The score is the F1 of "the label's keys are here" predicting "the feature
fires", measured on the odd windows after the labels were built on the even ones. A VocabProj
baseline labels each feature with its top-3 promoted tokens as next-token keys (what a
dashboard's logit table suggests the feature is about) and is scored the same way.

    .venv/bin/python benchmarks/bench_labels.py --n-tokens 50000
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np

import saewidgets as sw
from saewidgets.analysis.labels import KINDS, _f1, _keys


def vocabproj_f1(stats: sw.FeatureStats) -> np.ndarray:
    keys, windows, _ = _keys(stats, "next")
    score = np.arange(stats.token_ids.shape[0]) % 2 == 1
    sets = [[int(t) for t in row[:3]] for row in np.asarray(stats.vocab_top_ids)]
    return _f1(stats, keys, windows, score, sets)


def summarise(scores: np.ndarray, alive: np.ndarray) -> str:
    s = scores[alive]
    return f"{s.mean():.3f} / {(s >= 0.5).mean():.0%}"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n-tokens", type=int, default=50_000)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/labels.json"))
    args = parser.parse_args()
    model = sw.load_model()
    saes = sw.load_saes("embedded")
    columns = ["token", "bigram", "next", "token+bigram", "all kinds", "VocabProj"]
    print(f"mean F1 over features that fire / share with F1 >= 0.5, {args.n_tokens:,} tokens")
    print("| site | " + " | ".join(columns) + " | labels s | next-token labels chosen |")
    print("|---|" + "---|" * (len(columns) + 2))
    results = {}
    no_user_labels = Path(tempfile.mkdtemp()) / "none.json"  # read only, never written
    for site, sae in saes.items():
        stats = sw.feature_stats(model, sae, n_tokens=args.n_tokens, progress=False)
        alive = np.asarray(stats.density) > 0
        row = {}
        for name, kinds in [
            *((k, (k,)) for k in KINDS),
            ("token+bigram", ("token", "bigram")),
            ("all kinds", KINDS),
        ]:
            start = time.perf_counter()
            labels = sw.auto_labels(stats, model.tokenizer, kinds=kinds, user_file=no_user_labels)
            elapsed = time.perf_counter() - start
            row[name] = labels.score
        row["VocabProj"] = vocabproj_f1(stats)
        chosen_next = np.mean([labels.auto[f].startswith("→") for f in np.nonzero(alive)[0]])
        results[site] = {k: summarise(v, alive) for k, v in row.items()}
        results[site]["labels_s"] = elapsed
        results[site]["next_share"] = float(chosen_next)
        cells = " | ".join(results[site][c] for c in columns)
        print(f"| {site} | {cells} | {elapsed:.1f} | {chosen_next:.0%} |")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)  # benchmarks/results/ on a fresh clone
    args.out.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
