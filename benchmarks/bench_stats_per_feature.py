"""sw.feature_stats (one vectorised pass) against a per-feature baseline on the same tokens.

SAEDashboard's legacy generation is "CPU-bound per feature" (Neuronpedia PR #217): statistics
are computed feature by feature. The baseline here does the same work that way, as generously
as possible: the forward-to-site + SAE encode runs once and keeps every activation dense in
memory, then a Python loop computes per feature what a dashboard needs: density, max, mean
when active, a 50-bin log histogram, the top 20 positions and 10 activation-range groups of 5
examples. Its loop is timed on ``--sample`` features and extrapolated to all of them.

    .venv/bin/python benchmarks/bench_stats_per_feature.py --n-tokens 20000 --sample 256
"""

from __future__ import annotations

import argparse
import itertools
import json
import time
from pathlib import Path

import numpy as np
import torch

import saewidgets as sw
from saewidgets.analysis import stats as stats_module

SITE = "blocks.9.hook_resid_post"


def dense_activations(model, sae, windows: np.ndarray) -> torch.Tensor:
    """Every activation of every feature on ``windows`` (first positions zeroed, as in stats)."""
    parts = []
    for start in range(0, len(windows), 8):
        ids = torch.as_tensor(windows[start : start + 8])
        acts = model.read_sites(ids, torch.ones_like(ids), [SITE])[SITE]
        with torch.no_grad():
            f = sae.encode(acts)
        f[~model.content_mask(ids)] = 0
        parts.append(f.reshape(-1, sae.d_sae))
    return torch.cat(parts)


def one_feature(column: np.ndarray, rng: np.random.Generator) -> dict:
    active = np.nonzero(column > 0)[0]
    out = {"density": len(active) / len(column)}
    if not len(active):
        return out
    values = column[active]
    out["max"], out["mean"] = float(values.max()), float(values.mean())
    out["hist"] = np.histogram(np.log10(values), bins=50)[0]
    top = np.argpartition(-column, 20)[:20]
    out["top"] = top[np.argsort(-column[top])]
    edges = np.linspace(0, values.max(), 11)
    groups = []
    for lo, hi in itertools.pairwise(edges):
        inside = active[(values > lo) & (values <= hi)]
        groups.append(rng.choice(inside, min(5, len(inside)), replace=False) if len(inside) else [])
    out["groups"] = groups
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-tokens", type=int, default=20_000)
    parser.add_argument("--sample", type=int, default=256)
    parser.add_argument(
        "--out", default=str(Path(__file__).parent / "results" / "stats_per_feature.json")
    )
    args = parser.parse_args()
    torch.set_grad_enabled(False)
    model = sw.load_model()
    sae = sw.load_sae("embedded", site=SITE)

    start = time.perf_counter()
    stats = sw.feature_stats(model, sae, n_tokens=args.n_tokens, cache=False, progress=False)
    ours = time.perf_counter() - start

    start = time.perf_counter()
    stats_module._decoder_stats(model, sae)  # the decoder-side part, which the baseline skips
    decoder = time.perf_counter() - start

    start = time.perf_counter()
    acts = dense_activations(model, sae, stats.token_ids).numpy()
    forward = time.perf_counter() - start
    rng = np.random.default_rng(0)
    features = rng.choice(sae.d_sae, args.sample, replace=False)
    start = time.perf_counter()
    for f in features:
        result = one_feature(np.ascontiguousarray(acts[:, f]), rng)
        if "max" in result:  # the baseline computes the same numbers as the one-pass stats
            assert abs(result["max"] - float(stats.max_activation[f])) < 1e-3 * result["max"] + 1e-4
    loop = time.perf_counter() - start
    per_feature = loop / args.sample
    baseline = forward + per_feature * sae.d_sae
    report = {
        "tokens": int(stats.n_tokens),
        "features": sae.d_sae,
        "feature_stats_s": round(ours, 1),
        "feature_stats_decoder_side_s": round(decoder, 1),
        "feature_stats_corpus_side_s": round(ours - decoder, 1),
        "baseline_forward_encode_s": round(forward, 1),
        "baseline_per_feature_ms": round(1000 * per_feature, 2),
        "baseline_total_s_extrapolated": round(baseline, 1),
        "speedup_wall": round(baseline / ours, 2),
        "speedup_like_for_like": round(baseline / (ours - decoder), 2),
        "baseline_dense_activation_gb": round(acts.nbytes / 2**30, 2),
        "baseline_dense_gb_at_1m_tokens": round(1_000_000 * sae.d_sae * 4 / 2**30, 1),
    }
    print(json.dumps(report, indent=2))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)  # absent on a fresh clone
    Path(args.out).write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
