"""Reference Bollinger squeeze; oracle for ``native/_squeeze.pyx`` (same operations)."""

from __future__ import annotations

import math

import numpy as np

from native.reference import _args
from native.reference._window import Extremum
from native.reference.volatility import BollingerBands


class BollingerSqueeze:
    """The Squeeze (Bollinger 2001, ch. 15): BandWidth at its lowest of ``lookback`` bars."""

    def __init__(self, period: int = 20, nbdev: float = 2.0, lookback: int = 125) -> None:
        p = _args.period("period", period)
        nb = _args.number("nbdev", nbdev, 0.0, 1e6)
        self._lookback = _args.period("lookback", lookback)
        self._bands = BollingerBands(p, nb, nb)
        self.reset()

    def reset(self) -> None:
        self._bands.reset()
        self._narrowest = Extremum(self._lookback, False)
        self._widths = 0
        self.min_bandwidth = math.nan
        self.value = math.nan

    count = property(lambda self: self._bands.count)
    bandwidth = property(lambda self: self._bands.bandwidth)
    ready = property(lambda self: self._widths >= self._lookback)

    def update(self, x: float) -> float:
        b = self._bands
        b.update(x)
        if not b.ready:
            return self.value
        bw = b.bandwidth
        lowest = self._narrowest.push(bw if bw == bw else math.inf)
        self._widths += 1
        if self._widths >= self._lookback:
            self.min_bandwidth = lowest
            self.value = 1.0 if bw == bw and bw <= lowest else 0.0
        return self.value


def squeeze(values, period: int = 20, nbdev: float = 2.0, lookback: int = 125) -> np.ndarray:
    """Batch Bollinger squeeze flags; NaN for the first ``period + lookback - 2`` points."""
    arr = _args.series("values", values)
    n = arr.size
    p = _args.period("period", period, n)
    nb = _args.number("nbdev", nbdev, 0.0, 1e6)
    lb = _args.period("lookback", lookback, n)
    _args.length("values", n, p + lb - 1, "period + lookback - 1")
    s = BollingerSqueeze(p, nb, lb)
    return np.array([s.update(x) for x in arr.tolist()], dtype=np.float64)
