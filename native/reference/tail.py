"""Reference rolling Hill tail-index estimator (Hill 1975); oracle for ``native/_tail.pyx``."""

from __future__ import annotations

import bisect
import math
from collections import deque

import numpy as np

from native.reference import _args


def _tail_size(window: int, fraction: float) -> int:
    k = max(1, int(fraction * window))
    if k + 1 > window:
        raise ValueError(f"tail_fraction: {fraction!r} leaves no threshold in a window of {window}")
    return k


class HillTailIndex:
    """Rolling Hill estimator of the tail index of absolute returns; see the Cython docstring."""

    def __init__(self, window: int, tail_fraction: float = 0.1) -> None:
        w = _args.period("window", window, minimum=2)
        f = _args.number("tail_fraction", tail_fraction, 0.0, 1.0, low_open=True)
        self.k = _tail_size(w, f)
        self.window = w
        self.reset()

    def reset(self) -> None:
        self._logs: deque[float] = deque()
        self._sorted: list[float] = []
        self.count = 0
        self.value = math.nan

    ready = property(lambda self: len(self._sorted) >= self.window)

    def update(self, ret: float) -> float:
        ret = _args.finite("ret", ret)
        a = abs(ret)
        v = math.log(a) if a > 0.0 else -math.inf
        if len(self._logs) >= self.window:
            old = self._logs.popleft()
            del self._sorted[bisect.bisect_left(self._sorted, old)]
        bisect.insort(self._sorted, v)
        self._logs.append(v)
        self.count += 1
        w, k = self.window, self.k
        if len(self._sorted) < w:
            return self.value
        threshold = self._sorted[w - 1 - k]
        if threshold == -math.inf:
            self.value = math.nan
            return self.value
        total = 0.0
        for i in range(k):
            total += self._sorted[w - 1 - i] - threshold
        self.value = k / total if total > 0.0 else math.inf
        return self.value


def hill(returns, window: int, tail_fraction: float = 0.1) -> np.ndarray:
    """Batch rolling Hill tail index; NaN for the first ``window - 1`` points."""
    arr = _args.series("returns", returns)
    w = _args.period("window", window, arr.size, minimum=2)
    s = HillTailIndex(w, tail_fraction)
    return np.array([s.update(x) for x in arr.tolist()], dtype=np.float64)
