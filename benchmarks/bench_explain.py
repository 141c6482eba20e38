"""Cost of the explanation methods on a whole shipped SAE, 2 CPU cores.

- Mutual-information tokens for all 4,608 features of the layer-21 SAE, from full statistics
  over ``--tokens`` held-out tokens each (the pass itself is not timed here; MI runs on its
  CSR): time per sample size, to show how it scales.
- PruningMaxAct for ``--features`` features (spread over the density range), 12 top examples
  each as the dashboard shows them: seconds per feature, and what all 4,608 would take.

    .venv/bin/python benchmarks/bench_explain.py --tokens 10000 20000 40000 --features 24
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

import saewidgets as sw
from saewidgets.analysis.mutual_information import mutual_information_tokens
from saewidgets.analysis.pruning import prune_examples

ROOT = Path(__file__).resolve().parent.parent
SITE = "blocks.21.hook_resid_post"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, nargs="+", default=[10_000, 20_000, 40_000])
    parser.add_argument("--features", type=int, default=24)
    parser.add_argument("--out", default=str(ROOT / "benchmarks/results/explain.json"))
    args = parser.parse_args()
    model = sw.load_model()
    sae = sw.load_sae("embedded", site=SITE)
    report = {"site": SITE, "mi": [], "pruning": {}}
    for n in args.tokens:
        full = sw.feature_stats(model, sae, n_tokens=n, progress=False)
        t0 = time.perf_counter()
        mutual_information_tokens(np.asarray(full.token_ids), full.indptr, full.indices, sae.d_sae)
        seconds = time.perf_counter() - t0
        report["mi"].append({"tokens": n, "activations": len(full.indices), "s": seconds})
        print(f"MI, {n:,} tokens ({len(full.indices):,} activations): {seconds:.2f} s", flush=True)

    shipped = sw.feature_stats(model, sae)  # the compact statistics the dashboards use
    alive = np.nonzero(shipped.density > 0)[0]
    order = alive[np.argsort(shipped.density[alive])]
    chosen = order[np.linspace(0, len(order) - 1, args.features).astype(int)]
    times = []
    for f in chosen:
        t0 = time.perf_counter()
        prune_examples(model, sae, shipped, int(f), n=12)
        times.append(time.perf_counter() - t0)
    per = float(np.median(times))
    report["pruning"] = {
        "features": len(chosen),
        "median_s_per_feature": per,
        "max_s_per_feature": float(np.max(times)),
        "all_features_h_estimate": per * sae.d_sae / 3600,
    }
    print(
        f"PruningMaxAct: median {per:.2f} s per feature (max {np.max(times):.2f}); "
        f"all {sae.d_sae:,} features ≈ {per * sae.d_sae / 3600:.1f} h",
        flush=True,
    )
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
