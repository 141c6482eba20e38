"""Turning raw source text into clean documents of a few thousand characters.

Registry packages hold text in many states: hard-wrapped lines, NUL bytes, stray invalid UTF-8.
Everything that enters the corpus passes through here, and what was dropped is counted.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

DOCUMENT_CHARS = 4000  # documents this long interleave sources well inside 128-token windows
_MIN_DOCUMENT_CHARS = 200
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f]")
_SPACES = re.compile(r"[ \t\u00a0]+")


@dataclass
class CleanCounts:
    """What cleaning changed or dropped, per source (written into the manifest)."""

    invalid_utf8: int = 0  # texts whose bytes were not valid UTF-8 (bad bytes replaced)
    control_chars: int = 0  # NUL and other control characters removed
    skipped: int = 0  # texts dropped: empty, or mostly replacement characters
    documents: int = 0
    characters: int = 0
    notes: list[str] = field(default_factory=list)


def decode(raw: bytes | str, counts: CleanCounts) -> str:
    """Bytes to text; invalid UTF-8 is replaced (and counted) rather than failing the build."""
    if isinstance(raw, str):
        return raw
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        counts.invalid_utf8 += 1
        return raw.decode("utf-8", errors="replace")


def normalise(text: str, counts: CleanCounts) -> str:
    """NFC, no control characters (tabs and newlines kept), single spaces, at most one blank
    line between paragraphs."""
    text = unicodedata.normalize("NFC", text.replace("\r\n", "\n").replace("\r", "\n"))
    text, removed = _CONTROL.subn("", text)
    counts.control_chars += removed
    lines = [_SPACES.sub(" ", line).strip() for line in text.split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def reflow(text: str) -> str:
    """Join hard-wrapped lines into one line per paragraph (paragraphs split on blank lines)."""
    paragraphs = (" ".join(p.split("\n")) for p in text.split("\n\n"))
    return "\n\n".join(p for p in paragraphs if p.strip())


def _mostly_broken(text: str) -> bool:
    return text.count("\ufffd") > max(3, len(text) // 50)


def chunk(text: str, size: int = DOCUMENT_CHARS) -> Iterator[str]:
    """Split at paragraph (else line) boundaries into pieces of about ``size`` characters."""
    if len(text) <= size * 1.5:
        yield text
        return
    piece: list[str] = []
    length = 0
    separator = "\n\n" if text.count("\n\n") >= len(text) // (size * 2) else "\n"
    for part in text.split(separator):
        while len(part) > size * 2:  # a paragraph longer than two documents: cut at a sentence
            cut = part.rfind(". ", 0, size) + 1 or size
            yield from _flush([*piece, part[:cut]], separator)
            piece, length, part = [], 0, part[cut:].lstrip()
        piece.append(part)
        length += len(part) + len(separator)
        if length >= size:
            yield from _flush(piece, separator)
            piece, length = [], 0
    yield from _flush(piece, separator)


def _flush(piece: list[str], separator: str) -> Iterator[str]:
    text = separator.join(piece).strip()
    if text:
        yield text


def documents(
    raw_texts: Iterable[bytes | str], counts: CleanCounts, *, wrapped: bool = False
) -> Iterator[str]:
    """Clean documents from a source's raw texts; ``wrapped``: lines are hard-wrapped prose."""
    for raw in raw_texts:
        text = normalise(decode(raw, counts), counts)
        if not text or _mostly_broken(text):
            counts.skipped += 1
            continue
        if wrapped:
            text = reflow(text)
        for doc in chunk(text):
            if len(doc) < _MIN_DOCUMENT_CHARS:
                continue
            counts.documents += 1
            counts.characters += len(doc)
            yield doc
