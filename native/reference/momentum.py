"""Reference momentum oscillators (RSI, MACD, slow stochastic); oracle for ``native/_momentum.pyx``.

Same operations in the same order as the Cython twin; TA-Lib warm-up and seeding.
"""

from __future__ import annotations

import math

import numpy as np

from native.reference import _args
from native.reference._window import EmaStep, Extremum, SmaStep


class RSI:
    """Relative Strength Index, Wilder smoothing (Wilder 1978), TA-Lib conventions."""

    def __init__(self, period: int = 14) -> None:
        self.period = _args.period("period", period)
        self._keep = (self.period - 1.0) / self.period
        self._inv = 1.0 / self.period
        self.reset()

    def reset(self) -> None:
        self.count = 0
        self._prev = 0.0
        self._gain = 0.0
        self._loss = 0.0
        self.value = math.nan

    @property
    def ready(self) -> bool:
        return self.count > self.period

    def update(self, x: float) -> float:
        x = _args.finite("x", x)
        self.count += 1
        if self.count == 1:
            self._prev = x
            return self.value
        diff = x - self._prev
        self._prev = x
        up = diff if diff > 0.0 else 0.0
        down = -diff if diff < 0.0 else 0.0
        p = self.period
        if self.count <= p + 1:
            self._gain += up
            self._loss += down
            if self.count <= p:
                return self.value
            self._gain = self._gain / p
            self._loss = self._loss / p
        else:
            self._gain = self._gain * self._keep + up * self._inv
            self._loss = self._loss * self._keep + down * self._inv
        total = self._gain + self._loss
        self.value = 100.0 * (self._gain / total) if total != 0.0 else 0.0
        return self.value


def rsi(values, period: int = 14) -> np.ndarray:
    """Batch RSI (Wilder, TA-Lib conventions): NaN for the first ``period`` points."""
    arr = _args.series("values", values)
    period = _args.period("period", period, arr.size)
    _args.length("values", arr.size, period + 1, "period + 1")
    s = RSI(period)
    return np.array([s.update(x) for x in arr.tolist()], dtype=np.float64)


class MACD:
    """MACD (Appel), TA-Lib conventions: the fast EMA seeded where the slow seed ends."""

    def __init__(self, fast: int = 12, slow: int = 26, signal: int = 9) -> None:
        f = _args.period("fast", fast)
        s = _args.period("slow", slow)
        g = _args.period("signal", signal)
        _check_macd(f, s)
        self._periods = (f, s, g)
        self.reset()

    def reset(self) -> None:
        f, s, g = self._periods
        self._fast, self._slow, self._signal = EmaStep(f), EmaStep(s), EmaStep(g)
        self._skip = s - f
        self.count = 0
        self.macd = self.signal = self.hist = math.nan

    @property
    def value(self) -> float:
        return self.macd

    @property
    def ready(self) -> bool:
        return self._signal.count >= self._signal.period

    def update(self, x: float) -> float:
        x = _args.finite("x", x)
        self.count += 1
        if self.count > self._skip:
            self._fast.push(x)
        self._slow.push(x)
        if self.count < self._slow.period:
            return self.macd
        line = self._fast.value - self._slow.value
        sig = self._signal.push(line)
        if self._signal.count >= self._signal.period:
            self.macd = line
            self.signal = sig
            self.hist = line - sig
        return self.macd


def _check_macd(fast: int, slow: int) -> None:
    if fast > slow:
        raise ValueError(f"fast: {fast} is longer than slow ({slow})")


def macd(values, fast: int = 12, slow: int = 26, signal: int = 9):
    """Batch MACD (TA-Lib conventions): ``(macd, signal, hist)``, NaN for the first
    ``slow + signal - 2`` points."""
    arr = _args.series("values", values)
    n = arr.size
    f = _args.period("fast", fast, n)
    s = _args.period("slow", slow, n)
    g = _args.period("signal", signal, n)
    _check_macd(f, s)
    _args.length("values", n, s + g - 1, "slow + signal - 1")
    m = MACD(f, s, g)
    out = np.empty((3, n))
    for i, x in enumerate(arr.tolist()):
        m.update(x)
        out[0, i], out[1, i], out[2, i] = m.macd, m.signal, m.hist
    return out[0].copy(), out[1].copy(), out[2].copy()


class Stochastic:
    """Slow stochastic (Lane), TA-Lib conventions: SMA-smoothed %K and %D."""

    def __init__(self, fastk_period: int = 5, slowk_period: int = 3, slowd_period: int = 3) -> None:
        self._periods = (
            _args.period("fastk_period", fastk_period),
            _args.period("slowk_period", slowk_period),
            _args.period("slowd_period", slowd_period),
        )
        self.reset()

    def reset(self) -> None:
        fk, sk, sd = self._periods
        self._hh, self._ll = Extremum(fk, True), Extremum(fk, False)
        self._slow_k, self._slow_d = SmaStep(sk), SmaStep(sd)
        self.count = 0
        self.k = self.d = math.nan

    @property
    def value(self) -> float:
        return self.k

    @property
    def ready(self) -> bool:
        fk, sk, sd = self._periods
        return self.count >= fk + sk + sd - 2

    def update(self, high: float, low: float, close: float) -> float:
        high, low = _args.bar(high, low)
        close = _args.finite("close", close)
        fk, sk, sd = self._periods
        self.count += 1
        hh = self._hh.push(high)
        ll = self._ll.push(low)
        if self.count < fk:
            return self.k
        fast_k = 100.0 * (close - ll) / (hh - ll) if hh != ll else 0.0
        slow_k = self._slow_k.push(fast_k)
        if self.count < fk + sk - 1:
            return self.k
        slow_d = self._slow_d.push(slow_k)
        if self.count >= fk + sk + sd - 2:
            self.k, self.d = slow_k, slow_d
        return self.k


def stoch(high, low, close, fastk_period: int = 5, slowk_period: int = 3, slowd_period: int = 3):
    """Batch slow stochastic (TA-Lib conventions): ``(slowk, slowd)``, NaN for the first
    ``fastk + slowk + slowd - 3`` points."""
    h = _args.series("high", high)
    n = h.size
    lo = _args.series_like("low", low, n)
    c = _args.series_like("close", close, n)
    _args.high_low(h, lo)
    fk = _args.period("fastk_period", fastk_period, n)
    sk = _args.period("slowk_period", slowk_period, n)
    sd = _args.period("slowd_period", slowd_period, n)
    _args.length("high", n, fk + sk + sd - 2, "fastk + slowk + slowd - 2")
    s = Stochastic(fk, sk, sd)
    k = np.empty(n)
    d = np.empty(n)
    for i, (a, b, x) in enumerate(zip(h.tolist(), lo.tolist(), c.tolist(), strict=True)):
        s.update(a, b, x)
        k[i], d[i] = s.k, s.d
    return k, d
