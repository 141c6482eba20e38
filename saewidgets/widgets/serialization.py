"""Everything that crosses to the front end: binary arrays, the CSR payload, page state.

Arrays travel as ``{dtype, shape, data: bytes}`` (never JSON lists of floats); the browser side
is ``js/src/lib/buffers.js``.
"""

from __future__ import annotations

import base64
import json

import numpy as np


def pack(array: np.ndarray, dtype: str | None = None) -> dict:
    """Pack an array for the front end, optionally casting (float16 halves the payload)."""
    out = np.ascontiguousarray(array, dtype=dtype or array.dtype)
    if out.dtype == np.float64:
        out = out.astype(np.float32)
    if out.dtype == np.int64:
        out = out.astype(np.int32)
    return {"dtype": str(out.dtype), "shape": list(out.shape), "data": out.tobytes()}


def unpack(packed: dict) -> np.ndarray:
    return np.frombuffer(packed["data"], dtype=packed["dtype"]).reshape(packed["shape"])


def index_dtype(n: int) -> str:
    """The smallest unsigned type that holds ids 0..n-1."""
    return "uint16" if n <= 1 << 16 else "int32"


def _encode_state(value):
    """JSON-ready state: bytes become {"$b64": ...}, revived as DataViews by the page's host."""
    if isinstance(value, (bytes, bytearray, memoryview)):
        return {"$b64": base64.b64encode(bytes(value)).decode("ascii")}
    if isinstance(value, dict):
        return {str(k): _encode_state(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_encode_state(v) for v in value]
    return value


def state_json(state: dict) -> str:
    # Escaping every "<" keeps "</script>" and "<!--" in untrusted strings from ending the block.
    return json.dumps(_encode_state(state), ensure_ascii=False).replace("<", "\\u003c")


def pack_csr(indptr: np.ndarray, indices: np.ndarray, values: np.ndarray, d_sae: int) -> dict:
    """The one wire format of every token × feature matrix (decoded by js/src/lib/csr.js).

    Rows are tokens. float16 values keep three significant digits, plenty for shading and
    tooltips; the per-feature maxima travel up front so the first frame needs no pass over
    all values.
    """
    values16 = np.asarray(values, dtype=np.float16)
    feature_max = np.zeros(d_sae, dtype=np.float32)
    np.maximum.at(feature_max, np.asarray(indices, dtype=np.int64), values16.astype(np.float32))
    return {
        "d_sae": int(d_sae),
        "n_rows": len(indptr) - 1,
        "indptr": pack(np.asarray(indptr), "int32"),
        "indices": pack(np.asarray(indices), index_dtype(d_sae)),
        "values": pack(values16, "float16"),
        "feature_max": pack(feature_max, "float32"),
    }


def pack_site_features(sf) -> dict:
    """A `SiteFeatures` (one site of a `FeatureTrace`) in the CSR wire format."""
    return pack_csr(sf.indptr, sf.indices, sf.values, sf.d_sae)
