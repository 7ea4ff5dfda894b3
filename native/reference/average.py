"""Reference moving averages (pure Python), the oracle for ``native/_average.pyx``.

TA-Lib conventions: the first value at index ``period - 1`` (NaN before); SMA and WMA are
TA-Lib's running sums; EMA uses ``alpha = 2 / (period + 1)`` seeded with the SMA of the first
``period`` values. Same operations in the same order as the Cython twin.
"""

from __future__ import annotations

import math

import numpy as np

from native.reference import _args
from native.reference._window import Ring, SmaStep, resum_every


class SMA:
    """Simple moving average, O(1) per update: running sum re-summed every ~1024 values."""

    def __init__(self, period: int) -> None:
        self.period = _args.period("period", period)
        self._s = SmaStep(self.period)
        self.reset()

    def reset(self) -> None:
        self._s.clear()
        self.count = 0

    value = property(lambda self: self._s.value)

    @property
    def ready(self) -> bool:
        return self.count >= self.period

    def update(self, x: float) -> float:
        x = _args.finite("x", x)
        self.count += 1
        return self._s.push(x)


def sma(values, period: int) -> np.ndarray:
    """Batch SMA; NaN for the first ``period - 1`` points (TA-Lib convention)."""
    arr = _args.series("values", values)
    return _run(SMA(_args.period("period", period, arr.size)), arr)


class EMA:
    """Exponential moving average, O(1) per update; TA-Lib seeding (SMA of the first n), then
    ``ema * (1 - alpha) + x * alpha``."""

    def __init__(self, period: int) -> None:
        self.period = _args.period("period", period)
        self.alpha = 2.0 / (self.period + 1.0)
        self._keep = 1.0 - self.alpha
        self.reset()

    def reset(self) -> None:
        self.value = math.nan
        self.count = 0
        self._seed_sum = 0.0

    @property
    def ready(self) -> bool:
        return self.count >= self.period

    def update(self, x: float) -> float:
        x = _args.finite("x", x)
        self.count += 1
        if self.count > self.period:
            self.value = self.value * self._keep + x * self.alpha
        else:
            self._seed_sum += x
            if self.count == self.period:
                self.value = self._seed_sum / self.period
        return self.value


def ema(values, period: int) -> np.ndarray:
    """Batch EMA; NaN for the first ``period - 1`` points (TA-Lib convention)."""
    arr = _args.series("values", values)
    return _run(EMA(_args.period("period", period, arr.size)), arr)


class WMA:
    """Linearly weighted moving average (weights 1..n), O(1) per update: carried weighted and
    plain sums, recomputed from the window every ~1024 values."""

    def __init__(self, period: int) -> None:
        self.period = _args.period("period", period)
        self._inv = 1.0 / ((self.period * (self.period + 1)) >> 1)
        self._every = resum_every(self.period)
        self._ring = Ring(self.period)
        self.reset()

    def reset(self) -> None:
        self.value = math.nan
        self.count = 0
        self._sum = 0.0
        self._sub = 0.0
        self._until = self._every
        self._ring.clear()

    @property
    def ready(self) -> bool:
        return self.count >= self.period

    def update(self, x: float) -> float:
        x = _args.finite("x", x)
        self.count += 1
        ring = self._ring
        if self.count <= self.period:
            self._sub += x
            self._sum += x * self.count
        else:
            self._sum += x * self.period - self._sub
            self._sub += x - ring.oldest()
        ring.push(x)
        self._until -= 1
        if self._until == 0:
            self._until = self._every
            psub = 0.0
            psum = 0.0
            for j, v in enumerate(ring.data):
                psub += v
                psum += v * (j + 1)
            self._sub, self._sum = psub, psum
        if self.count >= self.period:
            self.value = self._sum * self._inv
        return self.value


def wma(values, period: int) -> np.ndarray:
    """Batch WMA; NaN for the first ``period - 1`` points (TA-Lib convention)."""
    arr = _args.series("values", values)
    return _run(WMA(_args.period("period", period, arr.size)), arr)


def _run(stream, arr: np.ndarray) -> np.ndarray:
    update = stream.update
    return np.array([update(x) for x in arr.tolist()], dtype=np.float64)
