"""Reference volatility indicators; oracle for ``native/_volatility.pyx`` (same operations).

Bollinger Bands, ATR (Wilder), rolling population stdev and z-score, realised volatility.
"""

from __future__ import annotations

import math

import numpy as np

from native.reference import _args
from native.reference._window import Moments, RollingSum


class BollingerBands:
    """Bollinger Bands (Bollinger 2001): SMA middle +/- nbdev population stdevs; bandwidth."""

    def __init__(self, period: int = 20, nbdev_up: float = 2.0, nbdev_dn: float = 2.0) -> None:
        self._m = Moments(_args.period("period", period))
        self._up = _args.number("nbdev_up", nbdev_up, 0.0, 1e6)
        self._dn = _args.number("nbdev_dn", nbdev_dn, 0.0, 1e6)
        self.reset()

    def reset(self) -> None:
        self._m.clear()
        self.middle = self.upper = self.lower = self.bandwidth = math.nan

    period = property(lambda self: self._m.ring.size)
    count = property(lambda self: self._m.ring.count)
    ready = property(lambda self: self._m.ring.count >= self._m.ring.size)
    value = property(lambda self: self.middle)

    def update(self, x: float) -> float:
        x = _args.finite("x", x)
        m = self._m
        m.push(x)
        if m.ring.count < m.ring.size:
            return self.middle
        sd = math.sqrt(m.variance())
        self.middle = m.mean
        self.upper = self.middle + self._up * sd
        self.lower = self.middle - self._dn * sd
        self.bandwidth = (self.upper - self.lower) / self.middle if self.middle != 0.0 else math.nan
        return self.middle


def bbands(values, period: int = 20, nbdev_up: float = 2.0, nbdev_dn: float = 2.0):
    """Batch Bollinger Bands: ``(upper, middle, lower, bandwidth)``, NaN for ``period - 1``."""
    arr = _args.series("values", values)
    b = BollingerBands(_args.period("period", period, arr.size), nbdev_up, nbdev_dn)
    out = np.empty((4, arr.size))
    for i, x in enumerate(arr.tolist()):
        b.update(x)
        out[:, i] = (b.upper, b.middle, b.lower, b.bandwidth)
    return tuple(row.copy() for row in out)


class StdDev:
    """Rolling population standard deviation (shifted sums, re-anchored every ~1024 values)."""

    def __init__(self, period: int = 20) -> None:
        self._m = Moments(_args.period("period", period))
        self.value = math.nan

    def reset(self) -> None:
        self._m.clear()
        self.value = math.nan

    period = property(lambda self: self._m.ring.size)
    count = property(lambda self: self._m.ring.count)
    ready = property(lambda self: self._m.ring.count >= self._m.ring.size)

    def update(self, x: float) -> float:
        x = _args.finite("x", x)
        self._m.push(x)
        if self._m.ring.count >= self._m.ring.size:
            self.value = math.sqrt(self._m.variance())
        return self.value


def stddev(values, period: int = 20) -> np.ndarray:
    """Batch rolling population standard deviation; NaN for the first ``period - 1`` points."""
    arr = _args.series("values", values)
    s = StdDev(_args.period("period", period, arr.size))
    return np.array([s.update(x) for x in arr.tolist()], dtype=np.float64)


class ZScore:
    """Rolling z-score ``(x - mean) / stdev`` (latest value included); 0 when flat."""

    def __init__(self, period: int = 20) -> None:
        self._m = Moments(_args.period("period", period))
        self.value = math.nan

    def reset(self) -> None:
        self._m.clear()
        self.value = math.nan

    period = property(lambda self: self._m.ring.size)
    count = property(lambda self: self._m.ring.count)
    ready = property(lambda self: self._m.ring.count >= self._m.ring.size)

    def update(self, x: float) -> float:
        x = _args.finite("x", x)
        m = self._m
        m.push(x)
        if m.ring.count >= m.ring.size:
            sd = math.sqrt(m.variance())
            self.value = (x - m.mean) / sd if sd != 0.0 else 0.0
        return self.value


def zscore(values, period: int = 20) -> np.ndarray:
    """Batch rolling z-score; NaN for the first ``period - 1`` points, 0 where flat."""
    arr = _args.series("values", values)
    s = ZScore(_args.period("period", period, arr.size))
    return np.array([s.update(x) for x in arr.tolist()], dtype=np.float64)


def true_range(high: float, low: float, prev_close: float) -> float:
    """Wilder's true range (TA-Lib TRANGE operand order)."""
    greatest = high - low
    v = abs(prev_close - high)
    if v > greatest:
        greatest = v
    v = abs(prev_close - low)
    if v > greatest:
        greatest = v
    return greatest


class ATR:
    """Average True Range, Wilder smoothing (Wilder 1978), TA-Lib conventions; two bars per
    step on the dependency chain (see the Cython docstring)."""

    def __init__(self, period: int = 14) -> None:
        self.period = _args.period("period", period)
        self._keep = (self.period - 1.0) / self.period
        self._keep2 = self._keep * self._keep
        self._inv = 1.0 / self.period
        self.reset()

    def reset(self) -> None:
        self.count = 0
        self._prev_close = 0.0
        self._total = 0.0
        self._anchor = 0.0
        self._pending = 0.0
        self.value = math.nan

    @property
    def ready(self) -> bool:
        return self.count > self.period

    def update(self, high: float, low: float, close: float) -> float:
        high, low = _args.bar(high, low)
        close = _args.finite("close", close)
        self.count += 1
        p = self.period
        if self.count > 1:
            if self.count <= p + 1:
                self._total += true_range(high, low, self._prev_close)
                if self.count == p + 1:
                    self.value = self._total / p
                    self._anchor = self.value
            else:
                c = true_range(high, low, self._prev_close) * self._inv
                if (self.count - p) & 1 == 0:
                    self.value = self._anchor * self._keep + c
                    self._pending = c
                else:
                    self._anchor = self._anchor * self._keep2 + (self._pending * self._keep + c)
                    self.value = self._anchor
        self._prev_close = close
        return self.value


def atr(high, low, close, period: int = 14) -> np.ndarray:
    """Batch ATR (Wilder, TA-Lib conventions): NaN for the first ``period`` points."""
    h = _args.series("high", high)
    n = h.size
    lo = _args.series_like("low", low, n)
    c = _args.series_like("close", close, n)
    _args.high_low(h, lo)
    period = _args.period("period", period, n)
    _args.length("high", n, period + 1, "period + 1")
    s = ATR(period)
    return np.array([s.update(a, b, x) for a, b, x in zip(h.tolist(), lo.tolist(), c.tolist(), strict=True)])


def _price(x: float) -> float:
    x = float(x)
    if not (x > 0.0) or not math.isfinite(x):
        raise ValueError(f"x: price must be finite and > 0, got {x!r}")
    return x


class RealizedVolatility:
    """Realised volatility ``sqrt(sum r^2)`` of the last ``period`` log returns (Andersen &
    Bollerslev 1998); annualised by ``periods_per_year / period`` when that is > 0."""

    def __init__(self, period: int = 30, periods_per_year: float = 0.0) -> None:
        p = _args.period("period", period)
        self._sq = RollingSum(p)
        ppy = _args.number("periods_per_year", periods_per_year, 0.0, 1e12)
        self._scale = 1.0 if ppy == 0.0 else ppy / p
        self.reset()

    def reset(self) -> None:
        self._sq.clear()
        self._prev = 0.0
        self.count = 0
        self.value = math.nan

    period = property(lambda self: self._sq.ring.size)
    ready = property(lambda self: self.count > self._sq.ring.size)

    def update(self, x: float) -> float:
        x = _price(x)
        self.count += 1
        if self.count > 1:
            r = math.log(x / self._prev)
            total = self._sq.push(r * r)
            if self._sq.ring.count >= self._sq.ring.size:
                if total < 0.0:
                    total = 0.0
                self.value = math.sqrt(total * self._scale)
        self._prev = x
        return self.value


def realized_volatility(values, period: int = 30, periods_per_year: float = 0.0) -> np.ndarray:
    """Batch realised volatility of prices ``values``; NaN for the first ``period`` points."""
    arr = _args.series("values", values)
    p = _args.period("period", period, arr.size)
    _args.length("values", arr.size, p + 1, "period + 1")
    bad = np.flatnonzero(~(arr > 0.0))
    if bad.size:
        i = int(bad[0])
        raise ValueError(f"values: price must be > 0, got {float(arr[i])!r} at index {i}")
    s = RealizedVolatility(p, periods_per_year)
    return np.array([s.update(x) for x in arr.tolist()], dtype=np.float64)
