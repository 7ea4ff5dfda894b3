"""Rolling phase returns: the correlation limit between phases and performance weighting.

Every ``returns_sample_s`` the Brain samples each phase's PnL; the change since the last sample
over the phase's budget is one return. Two phases whose rolling returns correlate above
``correlation_limit`` are one bet wearing two names: while one of them holds exposure, the
other may not add to it. The same returns give each phase a performance score in (-1, 1)
(``tanh(t / 3)``, t the t-statistic of the mean return) that the Allocator leans on.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Mapping, Sequence


def pearson(xs: Sequence[float], ys: Sequence[float]) -> float | None:
    """Pearson correlation of two equal-length series; None when either has no variance."""
    n = len(xs)
    if n != len(ys) or n < 2:
        return None
    mx = sum(xs) / n
    my = sum(ys) / n
    sxy = sxx = syy = 0.0
    for x, y in zip(xs, ys, strict=True):
        dx, dy = x - mx, y - my
        sxy += dx * dy
        sxx += dx * dx
        syy += dy * dy
    denom = math.sqrt(sxx) * math.sqrt(syy)  # not sqrt(sxx * syy): the product can underflow
    if sxx <= 1e-300 or syy <= 1e-300 or denom == 0.0:
        return None
    return max(-1.0, min(1.0, sxy / denom))


def performance_score(returns: Sequence[float]) -> float:
    """``tanh(t / 3)`` of the mean return's t-statistic: 0 = no evidence, +-0.76 at t = +-3."""
    n = len(returns)
    if n < 2:
        return 0.0
    mean = sum(returns) / n
    var = sum((r - mean) ** 2 for r in returns) / (n - 1)
    if var <= 0:
        return 0.0 if mean == 0 else math.copysign(1.0, mean)
    return math.tanh(mean / math.sqrt(var) * math.sqrt(n) / 3.0)


def _corr(n: int, sx: float, sy: float, sxx: float, syy: float, sxy: float) -> float | None:
    vx = n * sxx - sx * sx
    vy = n * syy - sy * sy
    if vx <= 1e-9 * n * sxx or vy <= 1e-9 * n * syy:  # no variance beyond rounding
        return None
    prod = vx * vy
    # the product of two tiny variances can underflow to 0 (then: the roots' product)
    denom = math.sqrt(prod) if prod > 0.0 else math.sqrt(vx) * math.sqrt(vy)
    if denom == 0.0:
        return None
    return max(-1.0, min(1.0, (n * sxy - sx * sy) / denom))


def _score(n: int, s: float, ss: float) -> float:
    """``performance_score`` from running sums."""
    if n < 2:
        return 0.0
    mean = s / n
    var = (ss - s * mean) / (n - 1)
    if var <= 1e-9 * ss / n:
        return 0.0 if abs(mean) <= 1e-300 else math.copysign(1.0, mean)
    return math.tanh(mean / math.sqrt(var) * math.sqrt(n) / 3.0)


class PhaseReturns:
    """Sampled returns per phase, aligned in time, and what follows from them.

    Sums of x, x^2 and x*y over the window are kept as samples enter and leave, so a sample
    costs O(phases^2) however long the window; they are recomputed exactly once per window
    so rounding cannot accumulate.

    A phase whose returns have all been exactly 0 so far (no capital, or never traded) adds
    exact zeros to every sum, has no correlation (no variance) and scores 0: its sums are
    left alone until its first non-zero return, which makes the cost O(trading phases^2). A
    non-finite return (0 x inf is not 0) turns this off for good.
    """

    def __init__(self, phases: Sequence[str], window: int, min_samples: int, sample_ns: int) -> None:
        self.phases = tuple(phases)
        self.window = window
        self.min_samples = min_samples
        self.sample_ns = sample_ns
        k = len(self.phases)
        self._at = {p: i for i, p in enumerate(self.phases)}
        self._zeros = (0.0,) * k
        self._samples: deque[tuple[float, ...]] = deque(maxlen=window)  # one tuple per sample
        self._pairs = [(i, j) for i in range(k) for j in range(i + 1, k)]
        self._s = [0.0] * k
        self._ss = [0.0] * k
        self._sxy = [0.0] * len(self._pairs)
        self._moved = [False] * k  # a non-zero return was seen
        self._still: list[int] = list(range(k))  # phases without one yet
        self._live: list[int] = []  # phases whose sums are kept
        self._live_pairs: list[tuple[int, int, int]] = []  # (pair index, i, j), both live
        self._n = 0
        self._since_exact = 0
        self._last_pnl: list[float] | None = None
        self._last_ns = 0
        self.correlations: dict[tuple[str, str], float] = {}

    def sample(self, pnl: Mapping[str, float], base: Mapping[str, float], now_ns: int) -> bool:
        """Record one return per phase if the interval has passed; True when recorded."""
        last = self._last_pnl
        if last is not None and now_ns - self._last_ns < self.sample_ns:
            return False
        current = list(map(pnl.get, self.phases, self._zeros))
        if last is not None:
            new = []
            for p, c, b0 in zip(self.phases, current, last, strict=True):
                b = base.get(p, 0.0)
                new.append((c - b0) / b if b > 0 else 0.0)
            self._push(new)
        self._last_pnl = current
        self._last_ns = now_ns
        return True

    def _wake(self, new: list[float]) -> None:
        """Phases whose first non-zero return this is join the sums (all of them once a
        return is not finite; a sum of finite returns that overflows counts as one too)."""
        moved = self._moved
        every = not math.isfinite(sum(new))
        for i, x in enumerate(new):
            if x or every:
                moved[i] = True
        self._still = [i for i, m in enumerate(moved) if not m]
        self._live = [i for i, m in enumerate(moved) if m]
        self._live_pairs = [(k, i, j) for k, (i, j) in enumerate(self._pairs) if moved[i] and moved[j]]

    def _push(self, new: list[float]) -> None:
        if self._still:
            if not math.isfinite(sum(new)):
                self._wake(new)
            else:
                for i in self._still:
                    if new[i]:
                        self._wake(new)
                        break
        s, ss, sxy = self._s, self._ss, self._sxy
        live, pairs, samples = self._live, self._live_pairs, self._samples
        if self._n == self.window:  # the oldest sample leaves the window
            old = samples[0]
            for i in live:
                x = old[i]
                s[i] -= x
                ss[i] -= x * x
            for k, i, j in pairs:
                sxy[k] -= old[i] * old[j]
        else:
            self._n += 1
        samples.append(tuple(new))
        for i in live:
            x = new[i]
            s[i] += x
            ss[i] += x * x
        for k, i, j in pairs:
            sxy[k] += new[i] * new[j]
        self._since_exact += 1
        if self._since_exact >= self.window:
            self._exact()
        if pairs:
            self._correlate()
        elif self.correlations:
            self.correlations = {}

    def _exact(self) -> None:
        self._since_exact = 0
        samples = self._samples
        for i in self._live:
            r = [x[i] for x in samples]
            self._s[i] = math.fsum(r)
            self._ss[i] = math.fsum(x * x for x in r)
        for k, i, j in self._live_pairs:
            self._sxy[k] = math.fsum(x[i] * x[j] for x in samples)

    def _correlate(self) -> None:
        self.correlations = out = {}
        n = self._n
        if n < self.min_samples:
            return
        phases, s, ss, sxy = self.phases, self._s, self._ss, self._sxy
        for k, i, j in self._live_pairs:  # a pair with a phase still at zero has no variance
            c = _corr(n, s[i], s[j], ss[i], ss[j], sxy[k])
            if c is not None:
                p, q = phases[i], phases[j]
                out[(p, q)] = c
                out[(q, p)] = c

    def correlation(self, p: str, q: str) -> float | None:
        return self.correlations.get((p, q))

    def partners(self, phase: str, limit: float) -> list[tuple[str, float]]:
        """Other phases whose returns correlate with ``phase``'s above ``limit``."""
        return [(q, c) for (p, q), c in self.correlations.items() if p == phase and c > limit]

    def scores(self) -> dict[str, float]:
        out = dict.fromkeys(self.phases, 0.0)  # a phase still at zero scores 0
        if self._n >= self.min_samples:
            n, s, ss, phases = self._n, self._s, self._ss, self.phases
            for i in self._live:
                out[phases[i]] = _score(n, s[i], ss[i])
        return out

    def returns(self, phase: str) -> list[float]:
        i = self._at[phase]
        return [x[i] for x in self._samples]
