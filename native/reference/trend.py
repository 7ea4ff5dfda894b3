"""Reference trend indicators (ADX with +DI/-DI, Donchian); oracle for ``native/_trend.pyx``."""

from __future__ import annotations

import math

import numpy as np

from native.reference import _args
from native.reference._window import Extremum
from native.reference.volatility import true_range


class ADX:
    """Average Directional Index with +DI/-DI, Wilder smoothing (Wilder 1978), TA-Lib
    conventions (exact-zero tests instead of TA-Lib's 1e-8)."""

    def __init__(self, period: int = 14) -> None:
        self.period = _args.period("period", period, minimum=2)
        self._keep = (self.period - 1.0) / self.period
        self._inv = 1.0 / self.period
        self.reset()

    def reset(self) -> None:
        self.count = 0
        self._prev = (0.0, 0.0, 0.0)
        self._pdm = self._mdm = self._tr = self._sum_dx = 0.0
        self.adx = self.plus_di = self.minus_di = math.nan

    value = property(lambda self: self.adx)
    ready = property(lambda self: self.count >= 2 * self.period)

    def update(self, high: float, low: float, close: float) -> float:
        high, low = _args.bar(high, low)
        close = _args.finite("close", close)
        p = self.period
        self.count += 1
        if self.count == 1:
            self._prev = (high, low, close)
            return self.adx
        ph, pl, pc = self._prev
        diff_p = high - ph
        diff_m = pl - low
        tr = true_range(high, low, pc)
        self._prev = (high, low, close)
        is_m = diff_m > 0.0 and diff_p < diff_m
        is_p = not is_m and diff_p > 0.0 and diff_p > diff_m
        dm_m = diff_m if is_m else 0.0
        dm_p = diff_p if is_p else 0.0
        if self.count <= p:
            self._mdm += dm_m
            self._pdm += dm_p
            self._tr += tr
            return self.adx
        keep = self._keep
        self._mdm = self._mdm * keep + dm_m
        self._pdm = self._pdm * keep + dm_p
        self._tr = self._tr * keep + tr
        if self._tr != 0.0:
            mdi = 100.0 * (self._mdm / self._tr)
            pdi = 100.0 * (self._pdm / self._tr)
            self.minus_di, self.plus_di = mdi, pdi
            total = mdi + pdi
            if total != 0.0:
                dx = 100.0 * (abs(mdi - pdi) / total)
                if self.count <= 2 * p:
                    self._sum_dx += dx
                else:
                    self.adx = self.adx * keep + dx * self._inv
        else:
            self.minus_di = self.plus_di = 0.0
        if self.count == 2 * p:
            self.adx = self._sum_dx / p
        return self.adx


def adx(high, low, close, period: int = 14):
    """Batch ADX: ``(adx, plus_di, minus_di)``; NaN for ``2 * period - 1`` / ``period``."""
    h = _args.series("high", high)
    n = h.size
    lo = _args.series_like("low", low, n)
    c = _args.series_like("close", close, n)
    _args.high_low(h, lo)
    period = _args.period("period", period, n, minimum=2)
    _args.length("high", n, 2 * period, "2 * period")
    s = ADX(period)
    out = np.empty((3, n))
    for i, (a, b, x) in enumerate(zip(h.tolist(), lo.tolist(), c.tolist(), strict=True)):
        s.update(a, b, x)
        out[:, i] = (s.adx, s.plus_di, s.minus_di)
    return out[0].copy(), out[1].copy(), out[2].copy()


class Donchian:
    """Donchian channel (Donchian 1960): highest high / lowest low of ``period`` bars, midpoint."""

    def __init__(self, period: int = 20) -> None:
        self.period = _args.period("period", period)
        self.reset()

    def reset(self) -> None:
        self._hh = Extremum(self.period, True)
        self._ll = Extremum(self.period, False)
        self.count = 0
        self.upper = self.lower = self.middle = math.nan

    value = property(lambda self: self.middle)
    ready = property(lambda self: self.count >= self.period)

    def update(self, high: float, low: float) -> float:
        high, low = _args.bar(high, low)
        hh = self._hh.push(high)
        ll = self._ll.push(low)
        self.count += 1
        if self.count >= self.period:
            self.upper, self.lower = hh, ll
            self.middle = (hh + ll) / 2.0
        return self.middle


def donchian(high, low, period: int = 20):
    """Batch Donchian channel: ``(upper, middle, lower)``, NaN for the first ``period - 1``."""
    h = _args.series("high", high)
    n = h.size
    lo = _args.series_like("low", low, n)
    _args.high_low(h, lo)
    s = Donchian(_args.period("period", period, n))
    out = np.empty((3, n))
    for i, (a, b) in enumerate(zip(h.tolist(), lo.tolist(), strict=True)):
        s.update(a, b)
        out[:, i] = (s.upper, s.middle, s.lower)
    return out[0].copy(), out[1].copy(), out[2].copy()
