"""Input checks shared by the reference kernels (mirrors the checks in the Cython modules)."""

from __future__ import annotations

import math

import numpy as np


def series(name: str, values, *, allow_empty: bool = False) -> np.ndarray:
    """Return ``values`` as a contiguous float64 array or raise ValueError naming ``name``."""
    try:
        arr = np.ascontiguousarray(values, dtype=np.float64)
    except (TypeError, ValueError) as e:
        raise ValueError(f"{name}: expected a sequence of numbers ({e})") from None
    if arr.ndim != 1:
        raise ValueError(f"{name}: expected a 1-D array, got {arr.ndim} dimensions")
    if arr.size == 0 and not allow_empty:
        raise ValueError(f"{name}: empty array")
    if not np.isfinite(arr).all():
        bad = int(np.flatnonzero(~np.isfinite(arr))[0])
        raise ValueError(f"{name}: non-finite value {arr[bad]!r} at index {bad}")
    return arr


def period(name: str, value: int, n: int | None = None) -> int:
    """Check a window length: an int >= 1 and, when ``n`` is given, <= n."""
    if isinstance(value, bool) or int(value) != value:
        raise ValueError(f"{name}: expected an integer, got {value!r}")
    value = int(value)
    if value < 1:
        raise ValueError(f"{name}: must be >= 1, got {value}")
    if n is not None and value > n:
        raise ValueError(f"{name}: {value} is longer than the data ({n} points)")
    return value


def finite(name: str, x: float) -> float:
    """Check one streaming input."""
    x = float(x)
    if not math.isfinite(x):
        raise ValueError(f"{name}: non-finite value {x!r}")
    return x
