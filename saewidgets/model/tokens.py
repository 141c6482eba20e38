"""Token strings for display (exact text where a token decodes cleanly, hex for stray bytes),
and a tokenizer's fingerprint for cache keys."""

from __future__ import annotations

import hashlib
import json
import re
from functools import lru_cache

_VISIBLE = str.maketrans({" ": "·", "\n": "↵", "\t": "⇥", "\r": "␍"})
_BYTE_PIECE = re.compile(r"^<0x([0-9A-Fa-f]{2})>$")


def visible(text: str) -> str:
    """Make whitespace visible: space → ·, newline → ↵, tab → ⇥, carriage return → ␍."""
    return text.translate(_VISIBLE)


@lru_cache(maxsize=1)
def _byte_level_decoder() -> dict[str, int]:
    # The byte ↔ printable-character table that byte-level BPE vocabularies (GPT-2, Llama 3,
    # SmolLM) use: printable Latin-1 bytes map to themselves, the rest to code points 256+.
    keep = [*range(ord("!"), ord("~") + 1), *range(0xA1, 0xAD), *range(0xAE, 0x100)]
    table, extra = {}, 0
    for byte in range(256):
        if byte in keep:
            table[chr(byte)] = byte
        else:
            table[chr(256 + extra)] = byte
            extra += 1
    return table


def _piece_bytes(piece: str) -> bytes | None:
    match = _BYTE_PIECE.match(piece)
    if match:
        return bytes([int(match.group(1), 16)])
    decoder = _byte_level_decoder()
    if all(ch in decoder for ch in piece):
        return bytes(decoder[ch] for ch in piece)
    return None


class TokenDecoder:
    """Decodes ids one at a time, caching per id (a trace repeats ids a lot)."""

    def __init__(self, tokenizer) -> None:
        self.tokenizer = tokenizer
        self._cache: dict[int, str] = {}

    def text(self, token_id: int) -> str:
        cached = self._cache.get(token_id)
        if cached is not None:
            return cached
        tok = self.tokenizer
        text = tok.decode([token_id], clean_up_tokenization_spaces=False)
        piece = tok.convert_ids_to_tokens(token_id) or ""
        if "\ufffd" in text:
            raw = _piece_bytes(piece)
            if raw is not None:
                try:
                    text = raw.decode("utf-8")
                except UnicodeDecodeError:
                    text = "".join(f"<0x{b:02X}>" for b in raw)
        elif piece.startswith("▁") and not text.startswith(" "):
            text = " " + text  # sentencepiece drops the word-start space when decoding alone
        self._cache[token_id] = text
        return text

    def texts(self, ids) -> list[str]:
        return [self.text(int(i)) for i in ids]


def tokenizer_fingerprint(tokenizer) -> str:
    """A hash of everything that decides how a tokenizer splits text: a fast tokenizer's full
    serialisation (vocabulary, merges, normaliser, special-token handling), else its vocabulary
    and special tokens."""
    h = hashlib.blake2b(digest_size=12)
    h.update(type(tokenizer).__name__.encode())
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is not None:
        h.update(backend.to_str().encode())
    else:
        h.update(json.dumps(sorted(tokenizer.get_vocab().items())).encode())
    h.update(json.dumps(tokenizer.special_tokens_map, sort_keys=True, default=str).encode())
    return h.hexdigest()
