"""Rolling-window building blocks of the references; twin of ``native/_window.pxd``.

Same operations in the same order as the inline C, so reference and compiled kernels agree
to the last bit.
"""

from __future__ import annotations

import math


class Ring:
    """The last ``size`` values."""

    __slots__ = ("data", "size", "pos", "count")

    def __init__(self, size: int) -> None:
        self.data = [0.0] * size
        self.size = size
        self.clear()

    def clear(self) -> None:
        self.pos = 0
        self.count = 0

    def oldest(self) -> float:
        """The value the next push evicts (valid once full)."""
        return self.data[self.pos]

    def push(self, x: float) -> None:
        self.data[self.pos] = x
        self.pos += 1
        if self.pos == self.size:
            self.pos = 0
        self.count += 1


class Extremum:
    """Rolling max (or min) of the last ``window`` values, O(1) amortised (monotonic deque)."""

    __slots__ = ("window", "is_max", "_vals", "_idx", "seen")

    def __init__(self, window: int, is_max: bool) -> None:
        self.window = window
        self.is_max = is_max
        self.clear()

    def clear(self) -> None:
        self._vals: list[float] = []
        self._idx: list[int] = []
        self.seen = 0

    def push(self, x: float) -> float:
        i = self.seen
        if self._idx and self._idx[0] <= i - self.window:
            del self._vals[0], self._idx[0]
        while self._vals and ((self._vals[-1] <= x) if self.is_max else (self._vals[-1] >= x)):
            self._vals.pop()
            self._idx.pop()
        self._vals.append(x)
        self._idx.append(i)
        self.seen = i + 1
        return self._vals[0]


def resum_every(window: int) -> int:
    """The smallest multiple of ``window`` >= 1024: how often carried sums are recomputed."""
    return window * ((1023 + window) // window)


class RollingSum:
    """Sum of the last ``window`` values, recomputed exactly every ~1024 values."""

    __slots__ = ("ring", "total", "every", "until")

    def __init__(self, window: int) -> None:
        self.ring = Ring(window)
        self.every = resum_every(window)
        self.clear()

    def clear(self) -> None:
        self.ring.clear()
        self.total = 0.0
        self.until = self.every

    def push(self, x: float) -> float:
        r = self.ring
        if r.count >= r.size:
            self.total += x - r.oldest()
        else:
            self.total += x
        r.push(x)
        self.until -= 1
        if self.until == 0:
            self.until = self.every
            total = 0.0
            for v in r.data:
                total += v
            self.total = total
        return self.total


class Moments:
    """Rolling SMA and variance from sums of ``x - K`` (K: the first value, then re-anchored to
    the window mean every ~1024 values)."""

    __slots__ = ("ring", "inv", "total", "mean", "shift", "s1", "s2", "every", "until")

    def __init__(self, window: int) -> None:
        self.ring = Ring(window)
        self.inv = 1.0 / window
        self.every = resum_every(window)
        self.clear()

    def clear(self) -> None:
        self.ring.clear()
        self.total = 0.0
        self.mean = math.nan
        self.shift = 0.0
        self.s1 = 0.0
        self.s2 = 0.0
        self.until = self.every

    def push(self, x: float) -> None:
        r = self.ring
        n = r.size
        if r.count == 0:
            self.shift = x
        d = x - self.shift
        if r.count >= n:
            old = r.oldest()
            self.total += x - old
            old = old - self.shift
            self.s1 += d - old
            self.s2 += d * d - old * old
        else:
            self.total += x
            self.s1 += d
            self.s2 += d * d
        r.push(x)
        self.until -= 1
        if self.until == 0:
            self.until = self.every
            total = 0.0
            for v in r.data:
                total += v
            shift = total * self.inv
            s1 = 0.0
            s2 = 0.0
            for v in r.data:
                d = v - shift
                s1 += d
                s2 += d * d
            self.total, self.shift, self.s1, self.s2 = total, shift, s1, s2
        if r.count >= n:
            self.mean = self.total * self.inv

    def variance(self) -> float:
        mean_d = self.s1 * self.inv
        var = self.s2 * self.inv - mean_d * mean_d
        return var if var > 0.0 else 0.0


class EmaStep:
    """TA-Lib-seeded EMA step, ``ema * (1 - alpha) + x * alpha`` (as ``average.EMA``)."""

    __slots__ = ("period", "alpha", "keep", "value", "seed_sum", "count")

    def __init__(self, period: int) -> None:
        self.period = period
        self.alpha = 2.0 / (period + 1.0)
        self.keep = 1.0 - self.alpha
        self.clear()

    def clear(self) -> None:
        self.value = math.nan
        self.seed_sum = 0.0
        self.count = 0

    def push(self, x: float) -> float:
        self.count += 1
        if self.count > self.period:
            self.value = self.value * self.keep + x * self.alpha
        else:
            self.seed_sum += x
            if self.count == self.period:
                self.value = self.seed_sum / self.period
        return self.value


class SmaStep:
    """Running-sum SMA re-summed every ~1024 values (as ``average.SMA``, no checks)."""

    __slots__ = ("ring", "inv", "total", "value", "every", "until")

    def __init__(self, period: int) -> None:
        self.ring = Ring(period)
        self.inv = 1.0 / period
        self.every = resum_every(period)
        self.clear()

    def clear(self) -> None:
        self.ring.clear()
        self.total = 0.0
        self.value = math.nan
        self.until = self.every

    def push(self, x: float) -> float:
        r = self.ring
        if r.count >= r.size:
            self.total += x - r.oldest()
        else:
            self.total += x
        r.push(x)
        self.until -= 1
        if self.until == 0:
            self.until = self.every
            total = 0.0
            for v in r.data:
                total += v
            self.total = total
        if r.count >= r.size:
            self.value = self.total * self.inv
        return self.value
