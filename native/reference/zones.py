"""Reference price zones (fair-value gaps with fill tracking, order blocks); oracle for
``native/_zones.pyx``. Batch outputs are aligned to the bar on which a zone becomes known."""

from __future__ import annotations

import math

import numpy as np

from native.reference import _args
from native.reference._pivots import Pivots


class _Zones:
    """Open zones, oldest first: [side, bottom, top, origin, created, fill] rows."""

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self.rows: list[list] = []

    def add(self, side: int, bottom: float, top: float, origin: int, created: int) -> None:
        if len(self.rows) == self.cap:
            del self.rows[0]
        self.rows.append([side, bottom, top, origin, created, 0.0])

    def array(self) -> np.ndarray:
        return np.array(self.rows, dtype=np.float64).reshape(-1, 6)


class FairValueGaps:
    """Three-candle fair-value gaps (ICT), with fill tracking; see the Cython docstring."""

    def __init__(self, min_size: float = 0.0, max_open: int = 64) -> None:
        self._min = _args.number("min_size", min_size, 0.0, 1e300)
        self._cap = _args.period("max_open", max_open)
        self.reset()

    def reset(self) -> None:
        self._zones = _Zones(self._cap)
        self.count = 0
        self._prev: list[tuple[float, float]] = [(0.0, 0.0), (0.0, 0.0)]  # [bar i-2, bar i-1]
        self.new_side = 0
        self.new_bottom = self.new_top = math.nan
        self.filled = 0

    ready = property(lambda self: self.count >= 3)

    def gaps(self) -> np.ndarray:
        return self._zones.array()

    def update(self, high: float, low: float) -> int:
        high, low = _args.bar(high, low)
        index = self.count
        self.count += 1
        self.filled = 0
        self.new_side = 0
        self.new_bottom = self.new_top = math.nan
        keep = []
        for z in self._zones.rows:
            side, bottom, top = z[0], z[1], z[2]
            if side > 0:
                if low <= bottom:
                    self.filled += 1
                    continue
                if low < top:
                    z[5] = max(z[5], (top - low) / (top - bottom))
            else:
                if high >= top:
                    self.filled += 1
                    continue
                if high > bottom:
                    z[5] = max(z[5], (high - bottom) / (top - bottom))
            keep.append(z)
        self._zones.rows = keep
        (h2, l2), _ = self._prev
        if self.count >= 3:
            if low > h2 and low - h2 > self._min:
                self.new_side, self.new_bottom, self.new_top = 1, h2, low
                self._zones.add(1, h2, low, index - 1, index)
            elif high < l2 and l2 - high > self._min:
                self.new_side, self.new_bottom, self.new_top = -1, high, l2
                self._zones.add(-1, high, l2, index - 1, index)
        self._prev = [self._prev[1], (high, low)]
        return self.new_side


def fair_value_gaps(high, low, min_size: float = 0.0, max_open: int = 64):
    """Batch fair-value gaps ``(side, bottom, top, filled)`` per bar."""
    h = _args.series("high", high)
    lo = _args.series_like("low", low, h.size)
    _args.high_low(h, lo)
    s = FairValueGaps(min_size, max_open)
    out = np.empty((4, h.size))
    for i, (a, b) in enumerate(zip(h.tolist(), lo.tolist(), strict=True)):
        s.update(a, b)
        out[:, i] = (s.new_side, s.new_bottom, s.new_top, s.filled)
    return tuple(row.copy() for row in out)


class OrderBlocks:
    """Order blocks (ICT): the last opposite candle before a close beyond the latest swing."""

    def __init__(self, left: int = 2, right: int = 2, max_open: int = 32) -> None:
        self._p = Pivots(_args.period("left", left), _args.period("right", right))
        self._cap = _args.period("max_open", max_open)
        self.reset()

    def reset(self) -> None:
        self._p.clear()
        self._zones = _Zones(self._cap)
        self.count = 0
        self._swing_high = self._swing_low = math.nan
        self._down: tuple[int, float, float] | None = None  # (index, high, low)
        self._up: tuple[int, float, float] | None = None
        self.bull_bottom = self.bull_top = self.bear_bottom = self.bear_top = math.nan
        self.broken = 0

    ready = property(lambda self: self._p.count >= self._p.left + self._p.right + 1)

    def blocks(self) -> np.ndarray:
        return self._zones.array()

    def update(self, open: float, high: float, low: float, close: float) -> int:
        high, low = _args.bar(high, low)
        open = _args.finite("open", open)
        close = _args.finite("close", close)
        index = self.count
        self.count += 1
        self.bull_bottom = self.bull_top = self.bear_bottom = self.bear_top = math.nan
        p = self._p
        p.push(high, low)
        if not math.isnan(p.new_high):
            self._swing_high = p.new_high
        if not math.isnan(p.new_low):
            self._swing_low = p.new_low
        before = len(self._zones.rows)
        self._zones.rows = [z for z in self._zones.rows
                            if not ((close < z[1]) if z[0] > 0 else (close > z[2]))]
        self.broken = before - len(self._zones.rows)
        flags = 0
        if not math.isnan(self._swing_high) and close > self._swing_high:
            self._swing_high = math.nan
            if self._down is not None:
                i, h, lo = self._down
                self.bull_bottom, self.bull_top = lo, h
                self._zones.add(1, lo, h, i, index)
                flags |= 1
        if not math.isnan(self._swing_low) and close < self._swing_low:
            self._swing_low = math.nan
            if self._up is not None:
                i, h, lo = self._up
                self.bear_bottom, self.bear_top = lo, h
                self._zones.add(-1, lo, h, i, index)
                flags |= 2
        if close < open:
            self._down = (index, high, low)
        elif close > open:
            self._up = (index, high, low)
        return flags


def order_blocks(open, high, low, close, left: int = 2, right: int = 2, max_open: int = 32):
    """Batch order blocks ``(bull_bottom, bull_top, bear_bottom, bear_top, broken)`` per bar."""
    o = _args.series("open", open)
    n = o.size
    h = _args.series_like("high", high, n)
    lo = _args.series_like("low", low, n)
    c = _args.series_like("close", close, n)
    _args.high_low(h, lo)
    s = OrderBlocks(left, right, max_open)
    out = np.empty((5, n))
    for i, bar in enumerate(zip(o.tolist(), h.tolist(), lo.tolist(), c.tolist(), strict=True)):
        s.update(*bar)
        out[:, i] = (s.bull_bottom, s.bull_top, s.bear_bottom, s.bear_top, s.broken)
    return tuple(row.copy() for row in out)
