"""Arrays → binary trait values (``{dtype, shape, data: bytes}``); never JSON lists of floats."""

from __future__ import annotations

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
