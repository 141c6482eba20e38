"""How long each tutorial notebook takes to run, on a fresh machine and again.

Each notebook in ``notebooks/`` runs top to bottom in a fresh kernel (nbclient), twice: first
with an empty saewidgets cache of its own (what a new user waits for: the model de-quantised
from the shipped GGUF, the token windows, any statistics pass), then with the cache that run
filled (every later session). Wall seconds, 2 CPU cores.

    .venv/bin/python benchmarks/bench_notebooks.py            # table on stdout
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

from saewidgets.core.cache import CACHE_ENV

NOTEBOOKS = sorted((Path(__file__).resolve().parent.parent / "notebooks").glob("*.ipynb"))


def run(path: Path, workdir: Path) -> float:
    nb = nbformat.read(path, as_version=4)
    start = time.perf_counter()
    client = NotebookClient(
        nb, timeout=1200, kernel_name="python3", resources={"metadata": {"path": str(workdir)}}
    )
    client.execute()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default="benchmarks/results/notebooks.json")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for path in NOTEBOOKS:
            work = Path(tmp) / path.stem
            work.mkdir()
            # each notebook starts from its own empty cache; the kernels inherit the variable
            os.environ[CACHE_ENV] = str(work / "cache")
            first = run(path, work)
            later = run(path, work)
            rows.append({"notebook": path.name, "first_s": round(first), "later_s": round(later)})
            print(f"{path.name}: first {first:.0f} s, later {later:.0f} s", flush=True)
    print("| notebook | first run | later runs |\n|---|---|---|")
    for r in rows:
        print(f"| `{r['notebook']}` | {r['first_s']} s | {r['later_s']} s |")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    main()
