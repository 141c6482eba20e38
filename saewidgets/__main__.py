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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m saewidgets")
    sub = parser.add_subparsers(dest="command", required=True)
    qs = sub.add_parser(
        "quickstart", help="trace a prompt with the embedded model and show features"
    )
    qs.add_argument("--text", default="The Eiffel Tower is in Paris, and the Colosseum is in Rome.")
    qs.add_argument("-k", type=int, default=8)
    qs.set_defaults(func=quickstart)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
