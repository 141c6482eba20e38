"""Detection and fuzzing scores of the offline labels of every shipped SAE, and what scoring
costs on 2 CPU cores.

For each shipped SAE: the full statistics the shipped files are made from (``ship-stats``:
the bfloat16 model over 99k held-out tokens of ``corpus.broad.dashboard_mix``; cached after
the first run), automatic labels with at most 5 keys (the labels before label scores existed)
and with at most 8 (now), and a VocabProj baseline (each feature's three most promoted tokens
as a next-token label). Each is scored by `sw.score_labels` with the offline simulator on the
odd (held-out) windows: 20 firing contexts across activation quantiles and 20 quiet ones per
feature. Prints a markdown table; writes ``benchmarks/results/label_scores.json``.

    .venv/bin/python benchmarks/bench_label_scores.py
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np

import saewidgets as sw
from saewidgets.analysis import labels as label_module
from saewidgets.analysis.labels import score_labels
from saewidgets.analysis.stats import DEFAULT_TOKENS
from saewidgets.corpus.broad import dashboard_mix


def vocabproj_labels(stats) -> dict[int, str]:
    return {
        f: "→ " + " / ".join(repr(stats.token_text(int(t))) for t in row[:3])
        for f, row in enumerate(np.asarray(stats.vocab_top_ids))
    }


def mean(table, key: str) -> float:
    return float(np.nanmean(table[key].to_numpy(np.float64)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-tokens", type=int, default=DEFAULT_TOKENS)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/label_scores.json"))
    args = parser.parse_args()
    model = sw.load_model(dtype="bfloat16")  # as ship-stats
    saes = sw.load_saes("embedded")
    no_user = Path(tempfile.mkdtemp()) / "none.json"  # read only, never written
    results = {}
    print("| site | detection, ≤5 keys | detection, ≤8 keys (shipped) | fuzzing ≤5 → ≤8 | "
          "VocabProj detection | unscored | scoring 4,608 labels, s |")  # fmt: skip
    print("|---|---|---|---|---|---|---|")
    for site, sae in saes.items():
        stats = sw.feature_stats(model, sae, dashboard_mix(), n_tokens=args.n_tokens)
        row = {}
        for keys in (5, 8):
            label_module.LABEL_TOKENS = keys
            labels = sw.auto_labels(stats, model.tokenizer, user_file=no_user)
            start = time.perf_counter()
            table = score_labels(stats, dict(enumerate(labels.auto)), progress=False)
            row[keys] = {
                "detection": mean(table, "detection"),
                "fuzzing": mean(table, "fuzzing"),
                "f1": float(np.mean(labels.score)),
                "unscored": int(table["detection"].isna().sum()),
                "seconds": time.perf_counter() - start,
            }
        vocab = score_labels(stats, vocabproj_labels(stats), progress=False)
        row["vocabproj"] = {k: mean(vocab, k) for k in ("detection", "fuzzing")}
        results[site] = row
        print(
            f"| {site} | {row[5]['detection']:.3f} | **{row[8]['detection']:.3f}** | "
            f"{row[5]['fuzzing']:.3f} → {row[8]['fuzzing']:.3f} | "
            f"{row['vocabproj']['detection']:.3f} | {row[8]['unscored']} | "
            f"{row[8]['seconds']:.1f} |",
            flush=True,
        )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"n_tokens": args.n_tokens, "sites": results}, indent=1))


if __name__ == "__main__":
    main()
