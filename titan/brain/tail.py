"""Power-law tail risk: the Hill estimator of the tail index of returns.

Hill (1975), "A simple general approach to inference about the tail of a distribution", Ann.
Statist. 3(5): with the k largest absolute returns X(1) >= ... >= X(k) and the threshold
X(k+1), alpha = k / sum_i ln(X(i) / X(k+1)). A smaller alpha means fatter tails: below about 2
the variance is not even finite, and a position's risk is not what its volatility says - the
Brain turns DEFENSIVE.

Marks are sampled at a fixed interval (``tail_sample_s``) on the Brain's timer, per instrument,
so the estimate does not depend on how many ticks a feed sends.
"""

from __future__ import annotations

import heapq
import math
from collections import deque
from collections.abc import Iterable


def hill_tail_index(values: Iterable[float], k: int) -> float | None:
    """The Hill tail index of ``|values|`` from the ``k`` largest; None when undefined (fewer
    than k + 1 non-zero values, or all of the top k equal the threshold)."""
    if k < 1:
        raise ValueError(f"k: must be >= 1, got {k}")
    mags = [abs(v) for v in values if v != 0.0 and math.isfinite(v)]
    if len(mags) < k + 1:
        return None
    top = heapq.nlargest(k + 1, mags)
    threshold = top[k]
    s = sum(math.log(x / threshold) for x in top[:k])
    return k / s if s > 0 else None


class TailWatch:
    """Sampled log returns per instrument and their Hill tail index."""

    def __init__(self, window: int, fraction: float, min_samples: int, sample_ns: int) -> None:
        self.window = window
        self.fraction = fraction
        self.min_samples = min_samples
        self.sample_ns = sample_ns
        self._returns: dict[str, deque[float]] = {}
        self._last: dict[str, tuple[int, float]] = {}
        self._index: dict[str, float | None] = {}

    def sample(self, iid: str, mark: float, now_ns: int) -> bool:
        """Take a sample if the interval has passed; True when one was taken."""
        last = self._last.get(iid)
        if last is not None and now_ns - last[0] < self.sample_ns:
            return False
        if mark <= 0 or not math.isfinite(mark):
            return False
        if last is not None:
            r = math.log(mark / last[1])
            buf = self._returns.get(iid)
            if buf is None:
                buf = self._returns[iid] = deque(maxlen=self.window)
            buf.append(r)
            self._index.pop(iid, None)
        self._last[iid] = (now_ns, mark)
        return True

    def samples(self, iid: str) -> int:
        buf = self._returns.get(iid)
        return 0 if buf is None else len(buf)

    def index(self, iid: str) -> float | None:
        """The tail index of the instrument's sampled returns (None until enough samples)."""
        if iid in self._index:
            return self._index[iid]
        buf = self._returns.get(iid)
        if buf is None or len(buf) < self.min_samples:
            return None
        k = max(1, int(len(buf) * self.fraction))
        alpha = hill_tail_index(buf, k)
        self._index[iid] = alpha
        return alpha
