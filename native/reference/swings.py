"""Reference market structure from swing points (swings, Williams fractals, equal highs/lows,
premium/discount); oracle for ``native/_swings.pyx``. Batch outputs are aligned to the bar on
which an event becomes known (no look-ahead)."""

from __future__ import annotations

import math

import numpy as np

from native.reference import _args
from native.reference._pivots import Pivots
from native.reference._window import Extremum


class _PivotStream:
    def __init__(self, left: int, right: int) -> None:
        self._p = Pivots(left, right)
        self.reset()

    def reset(self) -> None:
        self._p.clear()
        self.high = self.low = math.nan
        self.high_index = self.low_index = -1

    count = property(lambda self: self._p.count)
    ready = property(lambda self: self._p.count >= self._p.left + self._p.right + 1)
    new_high = property(lambda self: self._p.new_high)
    new_low = property(lambda self: self._p.new_low)

    def update(self, high: float, low: float) -> int:
        high, low = _args.bar(high, low)
        p = self._p
        p.push(high, low)
        flags = 0
        if not math.isnan(p.new_high):
            self.high, self.high_index = p.new_high, p.new_high_index
            flags |= 1
        if not math.isnan(p.new_low):
            self.low, self.low_index = p.new_low, p.new_low_index
            flags |= 2
        return flags


class Swings(_PivotStream):
    """Swing highs/lows: strictly beyond ``left`` bars before and ``right`` after."""

    def __init__(self, left: int = 2, right: int = 2) -> None:
        super().__init__(_args.period("left", left), _args.period("right", right))


class Fractals(_PivotStream):
    """Bill Williams fractals (Trading Chaos, 1995): ``Swings(k, k)``."""

    def __init__(self, k: int = 2) -> None:
        k = _args.period("k", k)
        super().__init__(k, k)


def _pivot_batch(high, low, left: int, right: int):
    h = _args.series("high", high)
    lo = _args.series_like("low", low, h.size)
    _args.high_low(h, lo)
    p = Pivots(left, right)
    out = np.empty((2, h.size))
    for i, (a, b) in enumerate(zip(h.tolist(), lo.tolist(), strict=True)):
        p.push(a, b)
        out[0, i], out[1, i] = p.new_high, p.new_low
    return out[0].copy(), out[1].copy()


def swings(high, low, left: int = 2, right: int = 2):
    """Batch swings ``(swing_high, swing_low)`` aligned to the confirming bar."""
    return _pivot_batch(high, low, _args.period("left", left), _args.period("right", right))


def fractals(high, low, k: int = 2):
    """Batch Williams fractals ``(up, down)`` aligned to the confirming bar."""
    k = _args.period("k", k)
    return _pivot_batch(high, low, k, k)


class _LevelSet:
    """Unswept swing levels of one side: [level, touches, first, last] rows, oldest first."""

    def __init__(self, cap: int, is_high: bool) -> None:
        self.cap = cap
        self.is_high = is_high
        self.rows: list[list] = []

    def sweep(self, price: float, tol: float) -> int:
        keep, pools = [], 0
        for r in self.rows:
            band = tol * abs(r[0])
            through = price > r[0] + band if self.is_high else price < r[0] - band
            if through:
                pools += r[1] >= 2
            else:
                keep.append(r)
        self.rows = keep
        return pools

    def add(self, price: float, index: int, tol: float) -> float:
        best, best_dist = None, 0.0
        for r in self.rows:
            dist = abs(price - r[0])
            if dist <= tol * abs(r[0]) and (best is None or dist < best_dist):
                best, best_dist = r, dist
        if best is not None:
            if (price > best[0]) if self.is_high else (price < best[0]):
                best[0] = price
            best[1] += 1
            best[3] = index
            return best[0]
        if len(self.rows) == self.cap:
            del self.rows[0]
        self.rows.append([price, 1, index, index])
        return math.nan


class EqualLevels:
    """Equal highs/lows (liquidity pools above swing highs / below swing lows)."""

    def __init__(self, left: int = 2, right: int = 2, tolerance: float = 0.001,
                 max_levels: int = 32) -> None:
        self._p = Pivots(_args.period("left", left), _args.period("right", right))
        self._tol = _args.number("tolerance", tolerance, 0.0, 1.0)
        self._cap = _args.period("max_levels", max_levels)
        self.reset()

    def reset(self) -> None:
        self._p.clear()
        self._highs = _LevelSet(self._cap, True)
        self._lows = _LevelSet(self._cap, False)
        self.new_high = self.new_low = math.nan
        self.swept_high = self.swept_low = 0

    count = property(lambda self: self._p.count)
    ready = property(lambda self: self._p.count >= self._p.left + self._p.right + 1)

    def pools(self) -> np.ndarray:
        rows = [(side, *r) for side, ls in ((1, self._highs), (-1, self._lows))
                for r in ls.rows if r[1] >= 2]
        return np.array(rows, dtype=np.float64).reshape(-1, 5)

    def update(self, high: float, low: float) -> int:
        high, low = _args.bar(high, low)
        self.swept_high = self._highs.sweep(high, self._tol)
        self.swept_low = self._lows.sweep(low, self._tol)
        p = self._p
        p.push(high, low)
        self.new_high = self.new_low = math.nan
        if not math.isnan(p.new_high):
            self.new_high = self._highs.add(p.new_high, p.new_high_index, self._tol)
        if not math.isnan(p.new_low):
            self.new_low = self._lows.add(p.new_low, p.new_low_index, self._tol)
        return (0 if math.isnan(self.new_high) else 1) | (0 if math.isnan(self.new_low) else 2)


def equal_levels(high, low, left: int = 2, right: int = 2, tolerance: float = 0.001,
                 max_levels: int = 32):
    """Batch equal highs/lows ``(eq_high, eq_low, swept_high, swept_low)`` per bar."""
    h = _args.series("high", high)
    lo = _args.series_like("low", low, h.size)
    _args.high_low(h, lo)
    s = EqualLevels(left, right, tolerance, max_levels)
    out = np.empty((4, h.size))
    for i, (a, b) in enumerate(zip(h.tolist(), lo.tolist(), strict=True)):
        s.update(a, b)
        out[:, i] = (s.new_high, s.new_low, s.swept_high, s.swept_low)
    return tuple(row.copy() for row in out)


class PremiumDiscount:
    """Close position in the ``period``-bar dealing range; > 0.5 premium, < 0.5 discount."""

    def __init__(self, period: int = 50) -> None:
        self.period = _args.period("period", period)
        self.reset()

    def reset(self) -> None:
        self._hh = Extremum(self.period, True)
        self._ll = Extremum(self.period, False)
        self.count = 0
        self.value = math.nan

    ready = property(lambda self: self.count >= self.period)

    def update(self, high: float, low: float, close: float) -> float:
        high, low = _args.bar(high, low)
        close = _args.finite("close", close)
        hh = self._hh.push(high)
        ll = self._ll.push(low)
        self.count += 1
        if self.count >= self.period:
            self.value = (close - ll) / (hh - ll) if hh > ll else 0.5
        return self.value


def premium_discount(high, low, close, period: int = 50) -> np.ndarray:
    """Batch premium/discount position; NaN for the first ``period - 1`` points."""
    h = _args.series("high", high)
    n = h.size
    lo = _args.series_like("low", low, n)
    c = _args.series_like("close", close, n)
    _args.high_low(h, lo)
    s = PremiumDiscount(_args.period("period", period, n))
    return np.array([s.update(a, b, x) for a, b, x in zip(h.tolist(), lo.tolist(), c.tolist(), strict=True)],
                    dtype=np.float64)
