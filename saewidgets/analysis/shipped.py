"""Files shipped beside the embedded SAEs: compact statistics (``stats.npz``) and labels
(``labels.json.gz``), one of each per site folder, and the display text of every token
(``vocab.json.gz``, one for all sites: the sites share the model's tokenizer).

This module knows where they are and how arrays are written into them; it imports neither
`stats.py` nor `labels.py`, so both can use it. `FeatureStats.save_npz` / `load_npz` and
`labels.shipped_labels` build on it, `ship.py` writes the files.

``stats.npz`` is a plain ``np.savez_compressed`` archive (read with ``allow_pickle=False``): every
array stored in the narrowest dtype that holds it exactly (or float16 where allowed), plus
``__meta__``, a UTF-8 JSON document (as a uint8 array) with the scalar fields and, per array,
the dtype and shape it is restored to on load and how it is stored (narrowed dtype; as is, or
as byte planes when that compresses better). The JSON files are gzip-compressed (a quarter of
the size; the package budget is tight).
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import zipfile
import zlib
from pathlib import Path

import numpy as np

from saewidgets.core.cache import atomic_write
from saewidgets.core.errors import SAEWidgetsError

STATS_FILE = "stats.npz"
LABELS_FILE = "labels.json.gz"
VOCAB_FILE = "vocab.json.gz"  # in the root, beside the site folders
FILE_FORMAT = 1  # bump when the layout of either file changes
META_KEY = "__meta__"


class ShippedFileError(SAEWidgetsError, ValueError):
    """A shipped statistics or labels file that cannot be read (missing, damaged, other format)."""


def shipped_root() -> Path:
    """Folder holding one subfolder per shipped site (the shipped SAEs' folder)."""
    from saewidgets.sae.load import shipped_dir

    return shipped_dir()


def site_folder(site: str, root: str | Path | None = None) -> Path:
    """The folder of one site's shipped files (under ``root``, default `shipped_root`)."""
    return (Path(root) if root is not None else shipped_root()) / site


def _narrow(array: np.ndarray, lossy_floats: bool) -> np.ndarray:
    """The smallest dtype that stores ``array`` exactly (floats: float16 when allowed)."""
    if array.dtype.kind in "iu" and array.size:
        lo, hi = int(array.min()), int(array.max())
        for dtype in (np.uint8, np.int8, np.uint16, np.int16, np.uint32, np.int32):
            info = np.iinfo(dtype)
            if info.min <= lo and hi <= info.max:
                return array.astype(dtype)
        return array
    if array.dtype.kind == "f" and lossy_floats and array.dtype.itemsize > 2:
        return array.astype(np.float16)
    return array


def _planes(array: np.ndarray) -> np.ndarray:
    """Bytes of each element position side by side (all first bytes, then all second bytes,
    ...): the high bytes of small integers and of floats of one range repeat, which zlib then
    finds."""
    return array.reshape(-1).view(np.uint8).reshape(-1, array.dtype.itemsize).T.copy()


def _unplanes(planes: np.ndarray, dtype: np.dtype, shape: tuple[int, ...]) -> np.ndarray:
    return np.ascontiguousarray(planes.T).reshape(-1).view(dtype).reshape(shape)


def write_npz(path: str | Path, arrays: dict[str, np.ndarray], meta: dict, lossy: set[str]) -> int:
    """Write ``arrays`` (those named in ``lossy`` may become float16) and ``meta`` to one
    compressed archive, atomically; returns its size in bytes. Each array is stored in its
    narrowest exact dtype, as is or as byte planes, whichever compresses smaller."""
    stored, layout = {}, {}
    for name, array in arrays.items():
        array = np.ascontiguousarray(array)
        narrow = _narrow(array, name in lossy)
        entry = {"dtype": array.dtype.str, "stored": narrow.dtype.str, "shape": list(array.shape)}
        if narrow.dtype.itemsize > 1 and narrow.size:
            planes = _planes(narrow)
            if len(zlib.compress(planes.tobytes(), 6)) < len(zlib.compress(narrow.tobytes(), 6)):
                narrow, entry["planes"] = planes, True
        stored[name], layout[name] = narrow, entry
    document = {**meta, "format": FILE_FORMAT, "arrays": layout}
    stored[META_KEY] = np.frombuffer(json.dumps(document).encode("utf-8"), dtype=np.uint8)
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **stored)
    data = buffer.getvalue()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    _publish(path, data)
    return len(data)


def _publish(path: Path, data: bytes) -> None:
    atomic_write(path, data)
    os.chmod(path, 0o644)  # package data, readable by everyone (the temporary file was 0600)


def read_meta(path: str | Path) -> dict:
    """Only the JSON part of a file written by `write_npz` (cheap: one small member)."""
    with _open(path) as archive:
        return _meta(archive, path)


_DAMAGE = (KeyError, ValueError, TypeError, OSError, zipfile.BadZipFile, EOFError, zlib.error)


def read_npz(path: str | Path) -> tuple[dict[str, np.ndarray], dict]:
    """Arrays (in the dtypes and shapes they were written from) and the JSON part of a
    `write_npz` file."""
    with _open(path) as archive:
        meta = _meta(archive, path)
        arrays = {}
        try:
            for name, entry in meta.pop("arrays").items():
                data, shape = archive[name], tuple(entry["shape"])
                if entry.get("planes"):
                    data = _unplanes(data, np.dtype(entry["stored"]), shape)
                if data.dtype != np.dtype(entry["stored"]) or data.shape != shape:
                    raise ValueError(f"{name} is not the array described")
                arrays[name] = data.astype(entry["dtype"])
        except _DAMAGE as error:
            raise ShippedFileError(f"{path}: damaged ({error})") from error
    return arrays, meta


def _open(path: str | Path):
    try:
        return np.load(Path(path), allow_pickle=False)
    except FileNotFoundError as error:
        raise ShippedFileError(f"{path} does not exist") from error
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as error:
        raise ShippedFileError(f"{path}: not a readable .npz file ({error})") from error


def _meta(archive, path) -> dict:
    try:
        meta = json.loads(bytes(archive[META_KEY]).decode("utf-8"))
    except _DAMAGE as error:
        raise ShippedFileError(f"{path}: damaged or not a saewidgets file ({error})") from error
    if not isinstance(meta, dict) or meta.get("format") != FILE_FORMAT:
        found = meta.get("format") if isinstance(meta, dict) else None
        raise ShippedFileError(
            f"{path}: written in another format ({found}; this version reads {FILE_FORMAT}); "
            "regenerate it with `python -m saewidgets ship-stats`"
        )
    return meta


def write_json(path: str | Path, document) -> int:
    """Write a JSON document (gzip-compressed when the name ends in .gz, with a fixed mtime so
    the same content gives the same bytes); returns the size in bytes."""
    path = Path(path)
    data = json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    if path.suffix == ".gz":
        data = gzip.compress(data, compresslevel=9, mtime=0)
    path.parent.mkdir(parents=True, exist_ok=True)
    _publish(path, data)
    return len(data)


def read_json(path: str | Path):
    path = Path(path)
    try:
        data = path.read_bytes()
        if path.suffix == ".gz":
            data = gzip.decompress(data)
        return json.loads(data.decode("utf-8"))
    except FileNotFoundError as error:
        raise ShippedFileError(f"{path} does not exist") from error
    except (OSError, EOFError, zlib.error, ValueError) as error:  # gzip.BadGzipFile is an OSError
        raise ShippedFileError(f"{path}: damaged ({error})") from error


def read_labels(path: str | Path) -> dict:
    """The JSON document of a shipped labels file, checked for shape."""
    document = read_json(path)
    if not isinstance(document, dict) or document.get("format") != FILE_FORMAT:
        raise ShippedFileError(f"{path}: not a labels file of format {FILE_FORMAT}")
    n = len(document.get("labels") or [])
    if not n or any(len(document.get(k) or []) != n for k in ("scores", "kinds")):
        raise ShippedFileError(f"{path}: labels, scores and kinds do not fit together")
    optional = ("detection", "fuzzing", "notes")  # label scores: older files lack them
    if any(k in document and len(document[k] or []) != n for k in optional):
        raise ShippedFileError(f"{path}: labels and their label scores differ in length")
    return document


def vocab_hash(vocab: list[str]) -> str:
    return hashlib.blake2b(json.dumps(vocab).encode("utf-8"), digest_size=12).hexdigest()


# (path, mtime, size) → the token texts read from it and their hash: five sites share one file.
_VOCABS: dict[tuple[str, int, int], tuple[list[str], str]] = {}


def read_vocab(path: str | Path, expected_hash: str) -> list[str]:
    """The token texts of a shared vocabulary file, checked against the hash a statistics
    file recorded."""
    path = Path(path)
    try:
        stat = path.stat()
    except OSError as error:
        raise ShippedFileError(f"{path} does not exist ({error})") from error
    key = (str(path.resolve()), stat.st_mtime_ns, stat.st_size)
    if key not in _VOCABS:
        vocab = read_json(path)
        if not isinstance(vocab, list) or not all(isinstance(t, str) for t in vocab):
            raise ShippedFileError(f"{path}: not a list of token texts")
        _VOCABS[key] = (vocab, vocab_hash(vocab))
    vocab, found = _VOCABS[key]
    if found != expected_hash:
        raise ShippedFileError(f"{path}: the token texts of another tokenizer")
    return vocab
