"""Power-law tail risk: a rolling Hill tail index of each instrument's sampled returns.

Hill (1975) estimates the tail index alpha of a power law from the largest absolute returns; a
smaller alpha means fatter tails. Below about 2 the variance is not even finite, and a
position's risk is not what its volatility says - the Brain turns DEFENSIVE
(``tail_index_defensive``). The estimator is the native streaming kernel
``native.tail.HillTailIndex`` (indicators); this module only decides *what* it sees: log
returns of marks sampled at a fixed interval (``tail_sample_s``) on the Brain's timer, so the
estimate does not depend on how many ticks a feed sends.
"""

from __future__ import annotations

import math

import native


class TailWatch:
    """One rolling Hill estimator per instrument, fed with sampled log returns."""

    def __init__(self, window: int, fraction: float, sample_ns: int) -> None:
        self.window = window
        self.fraction = fraction
        self.sample_ns = sample_ns
        self._est: dict[str, native.tail.HillTailIndex] = {}
        self._last: dict[str, tuple[int, float]] = {}
        self._index: dict[str, float] = {}

    def sample(self, iid: str, mark: float, now_ns: int) -> bool:
        """Take a sample if the interval has passed; True when one was taken."""
        last = self._last.get(iid)
        if last is not None and now_ns - last[0] < self.sample_ns:
            return False
        if not (mark > 0 and math.isfinite(mark)):
            return False
        if last is not None:
            est = self._est.get(iid)
            if est is None:
                est = self._est[iid] = native.tail.HillTailIndex(self.window, self.fraction)
            self._index[iid] = est.update(math.log(mark / last[1]))
        self._last[iid] = (now_ns, mark)
        return True

    def samples(self, iid: str) -> int:
        est = self._est.get(iid)
        return 0 if est is None else est.count

    def index(self, iid: str) -> float | None:
        """The tail index once a full window was sampled; None before (or when undefined)."""
        alpha = self._index.get(iid)
        return None if alpha is None or math.isnan(alpha) else alpha
