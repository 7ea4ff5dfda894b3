"""Argument checks of the indicator references; twin of ``native/_args.pxd`` (same messages)."""

from __future__ import annotations

import math

import numpy as np

from native.reference import _validate


def period(name: str, value, n: int = -1, minimum: int = 1) -> int:
    """An int >= ``minimum`` and, when ``n`` >= 0, <= n; else ValueError naming ``name``."""
    if isinstance(value, bool):
        raise ValueError(f"{name}: expected an integer, got {value!r}")
    try:
        ok = int(value) == value
    except (TypeError, ValueError, OverflowError):
        ok = False
    if not ok:
        raise ValueError(f"{name}: expected an integer, got {value!r}")
    p = int(value)
    if p < minimum:
        raise ValueError(f"{name}: must be >= {minimum}, got {p}")
    return _validate.period(name, p, n if n >= 0 else None)


def number(name: str, value, low: float, high: float, low_open: bool = False) -> float:
    """A finite float in [low, high] (or (low, high] when ``low_open``)."""
    try:
        x = float(value)
    except (TypeError, ValueError, OverflowError):
        raise ValueError(f"{name}: expected a number, got {value!r}") from None
    if not math.isfinite(x):
        raise ValueError(f"{name}: non-finite value {x!r}")
    if (x <= low if low_open else x < low) or x > high:
        lo = "(" if low_open else "["
        raise ValueError(f"{name}: {x!r} outside {lo}{low!r}, {high!r}]")
    return x


def series_like(name: str, values, n: int) -> np.ndarray:
    """A checked float64 series of length ``n``."""
    arr = _validate.series(name, values)
    if arr.shape[0] != n:
        raise ValueError(f"{name}: length {arr.shape[0]} differs from the first input ({n})")
    return arr


finite = _validate.finite
series = _validate.series


def high_low(high: np.ndarray, low: np.ndarray) -> None:
    """Every bar must have ``low <= high``."""
    bad = np.flatnonzero(low > high)
    if bad.size:
        i = int(bad[0])
        raise ValueError(f"low: {float(low[i])!r} above high {float(high[i])!r} at index {i}")


def bar(high: float, low: float) -> tuple[float, float]:
    """One streaming bar: finite, ``low <= high``."""
    high = finite("high", high)
    low = finite("low", low)
    if low > high:
        raise ValueError(f"low: {low!r} above high {high!r}")
    return high, low


def length(name: str, n: int, need: int, rule: str) -> None:
    """The data must cover the indicator's warm-up (``rule`` says how ``need`` is counted)."""
    if n < need:
        raise ValueError(f"{name}: {n} points, fewer than the {need} needed ({rule})")
