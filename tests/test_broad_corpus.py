"""The broad corpus: cleaning, the build's handling of missing or broken sources, the shipped
held-out part and the training mix."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from saewidgets.corpus import broad, clean, extract
from saewidgets.corpus.corpus import CorpusError, is_heldout
from saewidgets.corpus.sources import SOURCES, Source, by_name

PROSE = "The kettle boiled while she read the letter twice. " * 12


def _unpacked(packages: Path, source: Source, files: dict[str, bytes]) -> None:
    """Lay out an already-unpacked package where `fetch.unpacked` looks (no download)."""
    key = source.spec.replace("/", "_").replace(":", "_").replace("@", "")
    root = packages / f"{source.registry}-{key}"
    for name, data in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    (root / ".complete").write_text(source.spec)


def _local(name: str, role: str = "train", package: str = "saew-test-text") -> Source:
    def read(root: Path):
        for path in sorted(root.glob("*.txt")):
            yield path.read_bytes()

    return Source(name, name, "test prose", role, "pypi", package, "0.0.1", "public domain", read)


def test_cleaning_replaces_bad_utf8_and_removes_nul_and_counts_them():
    counts = clean.CleanCounts()
    raw = [PROSE.encode() + b"\xff\xfe caf\xc3" + b"\x00\x00 end.", b"   ", b"\xff" * 400]
    docs = list(clean.documents(raw, counts))
    assert len(docs) == 1
    assert "\x00" not in docs[0] and "\ufffd" in docs[0] and docs[0].endswith("end.")
    assert counts.invalid_utf8 == 2 and counts.control_chars == 2
    assert counts.skipped == 2  # the blank text and the one that is nearly all bad bytes


def test_chunks_follow_paragraphs_and_reflow_joins_wrapped_lines():
    paragraphs = [f"Paragraph {i} " + "word " * 150 for i in range(20)]
    pieces = list(clean.chunk("\n\n".join(paragraphs), size=2000))
    assert len(pieces) > 3
    assert all(p.startswith("Paragraph") for p in pieces)  # never cut inside a paragraph
    assert max(len(p) for p in pieces) < 2000 + len(paragraphs[0]) + 2
    assert clean.reflow("one\ntwo\n\nthree\nfour") == "one two\n\nthree four"


def test_build_goes_on_past_a_missing_package_and_records_provenance(tmp_path):
    packages, folder = tmp_path / "packages", tmp_path / "corpus"
    good = _local("letters")
    _unpacked(packages, good, {"a.txt": PROSE.encode(), "b.txt": b"\x00" + PROSE.encode()})
    missing = _local("missing", package="saew-no-such-package-anywhere")
    broken = Source(
        "broken", "broken", "x", "train", "npm", "saew-none", "0", "PD", extract.factbook
    )
    _unpacked(packages, broken, {"package/README": b"no json here"})
    lines: list[str] = []
    manifest = broad.build(
        folder, sources=[missing, good, broken], packages=packages, log=lines.append
    )
    assert [e["name"] for e in manifest["sources"]] == ["letters"]
    entry = manifest["sources"][0]
    assert entry["package"] == "saew-test-text==0.0.1" and entry["licence"] == "public domain"
    assert entry["documents"] == 2 and entry["control_chars"] == 1
    problems = "\n".join(manifest["problems"])
    assert "saew-no-such-package-anywhere==0.0.1" in problems  # names what to install
    assert "broken" in problems and "no documents" in problems
    assert any(line.startswith("skipped missing") for line in lines)
    written = json.loads((folder / "manifest.json").read_text())
    assert written["sources"] == manifest["sources"]
    corpus = broad.broad("train", folder)
    texts = [d.text for d in corpus]
    assert len(texts) == 2 and all(t.startswith("The kettle") for t in texts)
    assert corpus.fingerprint() is not None
    assert "| letters |" in broad.composition_table(manifest)


def test_reading_an_unbuilt_part_says_how_to_build_it(tmp_path):
    with pytest.raises(CorpusError, match="corpus-build"):
        broad.broad("train", tmp_path)
    with pytest.raises(CorpusError, match="part must be one of"):
        broad.broad("validation")


def test_shipped_heldout_sources_are_never_training_sources():
    shipped = sorted(p.name.removesuffix(".jsonl.gz") for p in broad.HELDOUT_DIR.glob("*.gz"))
    heldout = sorted(s.name for s in SOURCES if s.role == "heldout")
    assert shipped == heldout
    train_packages = {s.package for s in SOURCES if s.role == "train"}
    assert not train_packages & {s.package for s in SOURCES if s.role == "heldout"}
    manifest = json.loads((broad.HELDOUT_DIR / "manifest.json").read_text())
    assert {e["name"] for e in manifest["sources"]} == set(heldout)
    assert all(e["licence"] and e["package"] for e in manifest["sources"])
    docs = list(broad.broad("heldout"))
    sources = {d.source for d in docs}
    assert sources == set(heldout)
    # interleaved: the first documents already come from several sources
    assert len({d.source for d in docs[:20]}) >= 3


def test_training_mix_interleaves_by_share_and_leaves_default_heldout_out(tmp_path):
    folder = tmp_path / "corpus"
    (folder / "train").mkdir(parents=True)
    for name, n in (("big", 60), ("small", 20)):
        rows = "".join(
            json.dumps({"text": f"{name} document {i}. " + PROSE, "source": name}) + "\n"
            for i in range(n)
        )
        (folder / "train" / f"{name}.jsonl.gz").write_bytes(gzip.compress(rows.encode()))
    mix = broad.training_mix(folder)
    first = []
    for doc in mix:
        first.append(doc)
        if len(first) == 400:
            break
    counts = {s: sum(d.source == s for d in first[:40]) for s in ("big", "small")}
    assert counts["big"] > counts["small"] > 0  # a prefix already holds both, big more
    assert any(d.source.startswith("code:") for d in first)
    assert not any(is_heldout(d.text) for d in first if d.source not in ("big", "small"))


def test_unknown_source_names_list_the_known_ones():
    with pytest.raises(ValueError, match="known: .*austen"):
        by_name(["austen", "tolkien"])
