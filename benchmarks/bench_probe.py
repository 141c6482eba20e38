"""`sw.probe` on 2,000+ texts: where the time goes (reading the activations vs fitting the
probes), on the embedded model and its shipped layer-21 SAE, 2 CPU cores.

The texts are the shipped code-vs-prose set and the sentiment set, repeated to the size asked;
the probes are refitted for every fold (5) and every k (1, 2, 5, 20) plus the linear probe.

    .venv/bin/python benchmarks/bench_probe.py --n-texts 2000
    .venv/bin/python benchmarks/bench_probe.py --table   # both shipped sets at every site
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

import saewidgets as sw
from saewidgets.analysis import probing

ROOT = Path(__file__).resolve().parent.parent
SITE = "blocks.21.hook_resid_post"


def table(model) -> None:
    """Linear and sparse accuracies of the shipped sets at every shipped site (markdown)."""
    saes = sw.load_saes("embedded")
    print("| set | site | linear | top 1 | top 2 | top 5 | top 20 |")
    print("|---|---|---|---|---|---|---|")
    for name in ("sentiment", "code_vs_prose"):
        data = sw.labelled_set(name)
        for site, sae in saes.items():
            r = sw.probe(model, site, data, sae=sae, progress=False)
            cells = " | ".join(f"{r.sparse[k]:.3f}" for k in probing.DEFAULT_K)
            print(f"| {name} | {site} | {r.linear:.3f} | {cells} |", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-texts", type=int, default=2000)
    parser.add_argument("--out", default=str(ROOT / "benchmarks/results/probe.json"))
    parser.add_argument(
        "--table", action="store_true", help="accuracies of both shipped sets at every site"
    )
    args = parser.parse_args()
    model = sw.load_model()
    if args.table:
        return table(model)
    sae = sw.load_sae("embedded", site=SITE)
    sets = [sw.labelled_set("code_vs_prose"), sw.labelled_set("sentiment")]
    texts = [t for s in sets for t in s.texts]
    labels = [label for s in sets for label in s.labels]
    reps = -(-args.n_texts // len(texts))
    texts, labels = (texts * reps)[: args.n_texts], (labels * reps)[: args.n_texts]

    t0 = time.perf_counter()
    raw, feats = probing._pooled(model, SITE, texts, sae, 128, 16, True)
    read = time.perf_counter() - t0
    y = np.array(labels)
    t0 = time.perf_counter()
    for test in probing._stratified_folds(y, 5, 0):
        train = np.setdiff1d(np.arange(len(y)), test)
        probing._fit_score(raw[train], y[train], raw[test], y[test])
        order = probing._by_class_mean_gap(feats[train], y[train])
        for k in probing.DEFAULT_K:
            cols = order[:k]
            probing._fit_score(feats[train][:, cols], y[train], feats[test][:, cols], y[test])
    fit = time.perf_counter() - t0
    t0 = time.perf_counter()
    result = sw.probe(model, SITE, texts, labels, sae=sae, progress=False)
    total = time.perf_counter() - t0
    report = {
        "n_texts": len(texts),
        "tokens": int(sum(min(len(model.encode(t)), 128) for t in texts)),
        "read_activations_s": round(read, 2),
        "fit_25_probes_s": round(fit, 2),
        "probe_call_s": round(total, 2),
        "linear": round(result.linear, 3),
        "sparse": {k: round(v, 3) for k, v in result.sparse.items()},
    }
    print(json.dumps(report, indent=1))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
