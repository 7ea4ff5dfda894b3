"""Reference volume indicators (session VWAP, OBV); oracle for ``native/_volume.pyx``."""

from __future__ import annotations

import math

import numpy as np

from native.reference import _args

DAY_NS = 86_400_000_000_000


def _ns(name: str, value, low: int) -> int:
    try:
        ok = not isinstance(value, bool) and int(value) == value
    except (TypeError, ValueError, OverflowError):
        ok = False
    if not ok:
        raise ValueError(f"{name}: expected an integer number of nanoseconds, got {value!r}")
    v = int(value)
    if v < low:
        raise ValueError(f"{name}: must be >= {low}, got {v}")
    return v


def _volume(name: str, v: float) -> float:
    v = float(v)
    if not math.isfinite(v) or v < 0.0:
        raise ValueError(f"{name}: must be finite and >= 0, got {v!r}")
    return v


class VWAP:
    """Volume-weighted average price anchored to UTC sessions (Berkowitz, Logue & Noser 1988):
    sums restart when ``ts_ns`` enters a new ``[offset + k * session, ...)`` interval."""

    def __init__(self, session_ns: int = DAY_NS, offset_ns: int = 0) -> None:
        self._session_ns = _ns("session_ns", session_ns, 1)
        self._offset_ns = _ns("offset_ns", offset_ns, 0)
        self.reset()

    def reset(self) -> None:
        self.count = 0
        self._session = 0
        self._last_ts = 0
        self._pv = 0.0
        self.session_volume = 0.0
        self.value = math.nan

    ready = property(lambda self: self.session_volume > 0.0)

    def update(self, price: float, volume: float, ts_ns: int) -> float:
        price = _args.finite("price", price)
        volume = _volume("volume", volume)
        ts_ns = int(ts_ns)
        if self.count > 0 and ts_ns < self._last_ts:
            raise ValueError(f"ts_ns: {ts_ns} is before the previous {self._last_ts}")
        session = (ts_ns - self._offset_ns) // self._session_ns
        if self.count == 0 or session != self._session:
            self._session = session
            self._pv = 0.0
            self.session_volume = 0.0
            self.value = math.nan
        self.count += 1
        self._last_ts = ts_ns
        self._pv += price * volume
        self.session_volume += volume
        if self.session_volume > 0.0:
            self.value = self._pv / self.session_volume
        return self.value


def vwap(price, volume, ts_ns, session_ns: int = DAY_NS, offset_ns: int = 0) -> np.ndarray:
    """Batch session VWAP (see :class:`VWAP`); ``ts_ns`` int64, non-decreasing."""
    p = _args.series("price", price)
    n = p.size
    v = _args.series_like("volume", volume, n)
    try:
        ts = np.ascontiguousarray(ts_ns, dtype=np.int64)
    except (TypeError, ValueError, OverflowError) as e:
        raise ValueError(f"ts_ns: expected integer nanoseconds ({e})") from None
    if ts.ndim != 1 or ts.shape[0] != n:
        raise ValueError(f"ts_ns: shape {ts.shape} differs from the first input ({n},)")
    for i in range(n):
        if v[i] < 0.0:
            raise ValueError(f"volume: must be >= 0, got {float(v[i])!r} at index {i}")
        if i > 0 and ts[i] < ts[i - 1]:
            raise ValueError(f"ts_ns: {int(ts[i])} at index {i} is before {int(ts[i - 1])}")
    s = VWAP(session_ns, offset_ns)
    return np.array([s.update(a, b, t) for a, b, t in zip(p.tolist(), v.tolist(), ts.tolist(), strict=True)],
                    dtype=np.float64)


class OBV:
    """On-Balance Volume (Granville 1963), TA-Lib conventions (starts at the first volume)."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.count = 0
        self._prev = 0.0
        self.value = math.nan

    ready = property(lambda self: self.count > 0)

    def update(self, close: float, volume: float) -> float:
        close = _args.finite("close", close)
        volume = _volume("volume", volume)
        self.count += 1
        if self.count == 1:
            self.value = volume
        else:
            sign = float((close > self._prev) - (close < self._prev))
            self.value += sign * volume
        self._prev = close
        return self.value


def obv(close, volume) -> np.ndarray:
    """Batch On-Balance Volume (TA-Lib conventions)."""
    c = _args.series("close", close)
    v = _args.series_like("volume", volume, c.size)
    bad = np.flatnonzero(v < 0.0)
    if bad.size:
        i = int(bad[0])
        raise ValueError(f"volume: must be >= 0, got {float(v[i])!r} at index {i}")
    s = OBV()
    return np.array([s.update(a, b) for a, b in zip(c.tolist(), v.tolist(), strict=True)], dtype=np.float64)
