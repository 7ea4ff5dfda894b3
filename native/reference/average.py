"""Reference moving averages (pure Python), the oracle for ``native/_average.pyx``.

EMA follows TA-Lib: ``alpha = 2 / (period + 1)``, seeded with the simple mean of the first
``period`` values, NaN before that.
"""

from __future__ import annotations

import math

import numpy as np

from native.reference import _validate


class EMA:
    """Exponential moving average, O(1) per update; TA-Lib seeding (SMA of the first n)."""

    def __init__(self, period: int) -> None:
        self.period = _validate.period("period", period)
        self.alpha = 2.0 / (self.period + 1.0)
        self.reset()

    def reset(self) -> None:
        self.value = math.nan
        self.count = 0
        self._seed_sum = 0.0

    @property
    def ready(self) -> bool:
        return self.count >= self.period

    def update(self, x: float) -> float:
        x = _validate.finite("x", x)
        self.count += 1
        if self.count < self.period:
            self._seed_sum += x
        elif self.count == self.period:
            self._seed_sum += x
            self.value = self._seed_sum / self.period
        else:
            self.value = self.value + self.alpha * (x - self.value)
        return self.value


def ema(values, period: int) -> np.ndarray:
    """Batch EMA; NaN for the first ``period - 1`` points (TA-Lib convention)."""
    arr = _validate.series("values", values)
    period = _validate.period("period", period, arr.size)
    out = np.full(arr.size, np.nan)
    stream = EMA(period)
    for i, x in enumerate(arr.tolist()):
        out[i] = stream.update(x)
    return out
