"""Capital allocation: equity -> a share of it per phase.

Each sized phase owns a capital range (Scavenger $200-$5k, Hunter $2.5k-$50k, Sentinel $50k+).
Where two ranges overlap, the outgoing phase hands its capital to the incoming one along a
logistic curve across the overlap (in log-equity, so $2.5k->$5k is as smooth as $25k->$50k),
instead of a hard switch at one number. Outside its range a phase gets nothing, so a phase
never trades an account it was not designed for; where ranges merely touch (Hunter ends where
Sentinel starts) the switch is at the boundary, as configured.

The memberships are then weighted by the regime (RegimeChanged: which phases may trade), by
each phase's recent performance (a factor in [1 - w, 1 + w]), and by whether the phase is
enabled, and normalised to shares that sum to 1 (or to 0 when no phase may trade). AI Quant is
advisory: it never receives capital.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from decimal import ROUND_FLOOR, Decimal

from titan.config import PHASE_NAMES, RegimeRule, TitanConfig
from titan.core.events import AllocationChanged

ADVISORY = frozenset({"ai_quant"})
SIZED = tuple(p for p in PHASE_NAMES if p not in ADVISORY)
CENT = Decimal("0.01")
_ONE = object()  # update()'s cache key for "one eligible phase, all the capital"


def logistic_ramp(x: float, steepness: float) -> float:
    """0 at x<=0, 1 at x>=1, a logistic curve of the given steepness in between (0.5 at 0.5)."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    lo = 1.0 / (1.0 + math.exp(steepness))
    hi = 1.0 - lo
    y = 1.0 / (1.0 + math.exp(-steepness * (2.0 * x - 1.0)))
    return (y - lo) / (hi - lo)


Range = tuple[float, float]  # (equity_min, equity_max); max = inf when unbounded


def memberships(equity: float, ranges: Mapping[str, Range], steepness: float) -> dict[str, float]:
    """How much each phase belongs at this equity, in [0, 1], before any weighting."""
    return {p: e.membership(equity, steepness) for p, e in edges(ranges).items()}


class Edges:
    """One phase's range with its overlaps worked out once (they depend on the ranges only):
    the log-equity span of the rising edge (fade in) and of the falling edge (fade out)."""

    __slots__ = ("lo", "hi", "rise", "fall")

    def __init__(self, lo: float, hi: float, rise: tuple[float, float] | None,
                 fall: tuple[float, float] | None) -> None:
        self.lo, self.hi, self.rise, self.fall = lo, hi, rise, fall

    def membership(self, equity: float, steepness: float) -> float:
        if equity <= 0.0 or equity < self.lo or equity > self.hi:
            return 0.0
        m = 1.0
        if self.rise is not None or self.fall is not None:
            le = math.log(equity)
            if self.rise is not None:
                a, b = self.rise
                m *= logistic_ramp((le - a) / (b - a), steepness)
            if self.fall is not None:
                a, b = self.fall
                m *= 1.0 - logistic_ramp((le - a) / (b - a), steepness)
        return m


def edges(ranges: Mapping[str, Range]) -> dict[str, Edges]:
    out: dict[str, Edges] = {}
    for p, (lo, hi) in ranges.items():
        rise = fall = None
        # Rising edge: another range covers our lower bound -> fade in across the overlap.
        covers_lo = [qhi for q, (qlo, qhi) in ranges.items() if q != p and qlo < lo < qhi]
        if covers_lo and lo > 0.0:
            top = min(min(covers_lo), hi)
            if top > lo:
                rise = (math.log(lo), math.log(top))
        # Falling edge: another range covers our upper bound -> fade out across the overlap.
        if math.isfinite(hi):
            covers_hi = [qlo for q, (qlo, qhi) in ranges.items() if q != p and lo < qlo < hi < qhi]
            if covers_hi:
                bottom = max(max(covers_hi), lo)
                if hi > bottom > 0.0:
                    fall = (math.log(bottom), math.log(hi))
        out[p] = Edges(lo, hi, rise, fall)
    return out


def budgets_from_shares(shares: Mapping[str, float], equity: Decimal) -> dict[str, Decimal]:
    """Shares x equity in cents, floored; the sum never exceeds ``equity``."""
    if equity <= 0:
        return {p: Decimal(0).quantize(CENT) for p in shares}
    out = {
        p: (Decimal(repr(s)) * equity).quantize(CENT, rounding=ROUND_FLOOR) if s > 0 else Decimal("0.00")
        for p, s in shares.items()
    }
    excess = sum(out.values(), Decimal(0)) - equity
    if excess > 0 and out:  # float shares summing to 1 + 1e-16: take the cents off the largest
        top = max(out, key=lambda p: out[p])
        out[top] = max(Decimal(0), out[top] - excess.quantize(CENT, rounding="ROUND_CEILING"))
    return out


class Allocator:
    """Shares of equity per phase, recomputed when equity, regime, performance or switches move."""

    def __init__(self, config: TitanConfig) -> None:
        brain = config.brain
        self._steepness = brain.allocation_steepness
        self._perf_weight = brain.performance_weight
        self._event_step = brain.allocation_event_step
        self._regimes: dict[str, RegimeRule] = dict(brain.regimes)
        self.ranges: dict[str, Range] = {}
        self.enabled: dict[str, bool] = {}
        for p in PHASE_NAMES:
            cfg = config.phase(p)
            assert cfg is not None
            self.enabled[p] = cfg.enabled
            if p not in ADVISORY:
                self.ranges[p] = (cfg.equity_min, cfg.equity_max or math.inf)
        self.regime = ""
        self.lev_scale = 1.0  # the regime's leverage scale (1 with no regime)
        self._edges = edges(self.ranges)  # the ranges are fixed for the allocator's life
        self.performance: dict[str, float] = {p: 0.0 for p in self.ranges}
        self.shares: dict[str, float] = {p: 0.0 for p in PHASE_NAMES}
        self._published: dict[str, float] = dict(self.shares)
        self._equity = 0.0
        # update() reuses its shares while the eligible phases and their weights are unchanged
        # (_version: bumped by every switch or regime change): the key they were computed for,
        # and whether they differ materially from the published ones (None: not known yet)
        self._version = 0
        self._key: tuple[object, int] | None = None
        self._eligible_at = -1
        self._eligible_list: list[tuple[str, Edges]] = []
        self._key_shares: dict[str, float] | None = None
        self._moved: bool | None = None

    # ---- inputs -------------------------------------------------------------------------------

    def set_regime(self, regime: str) -> bool:
        """Follow a regime from the map; an unknown name is refused (returns False)."""
        if regime not in self._regimes:
            return False
        self.regime = regime
        self.lev_scale = self._regimes[regime].leverage_scale
        self._version += 1
        return True

    def set_enabled(self, phase: str, enabled: bool) -> None:
        if phase not in self.enabled:
            raise KeyError(f"unknown phase {phase!r}")
        self.enabled[phase] = enabled
        self._version += 1

    def set_performance(self, scores: Mapping[str, float], *, step: float = 0.0) -> bool:
        """Scores in [-1, 1] (0 = neutral); see ``titan.brain.correlation``. Scores that moved
        less than ``step`` are kept as they were; True when any changed."""
        changed = False
        perf = self.performance
        for p, s in scores.items():
            old = perf.get(p)
            if old is None:
                continue
            if not -1.0 <= s <= 1.0:
                s = max(-1.0, min(1.0, s))  # (NaN -> 1.0, as min/max have it)
            if abs(s - old) >= step and s != old:
                perf[p] = s
                changed = True
        return changed

    # ---- outputs ------------------------------------------------------------------------------

    def allowed(self, phase: str) -> bool:
        """May ``phase`` take new risk in the current regime (no regime known = all may)."""
        if not self.regime:
            return True
        return phase in self._regimes[self.regime].phases

    def compute(self, equity: float) -> dict[str, float]:
        """The shares at ``equity`` under the current regime, performance and switches."""
        return self._shares(self._weights(equity))

    def _eligible(self) -> list[tuple[str, Edges]]:
        """The phases that may receive capital (enabled and allowed by the regime): the only
        ones that weigh anything. Kept per version of the switches and the regime."""
        if self._eligible_at != self._version:
            self._eligible_at = self._version
            self._eligible_list = [(p, e) for p, e in self._edges.items()
                                   if self.enabled[p] and self.allowed(p)]
        return self._eligible_list

    def _weights(self, equity: float) -> tuple[float, ...]:
        """The eligible phases' weights: membership x performance tilt."""
        w, steep, perf = self._perf_weight, self._steepness, self.performance
        return tuple([e.membership(equity, steep) * (1.0 + w * perf[p]) for p, e in self._eligible()])

    def _shares(self, weights: tuple[float, ...]) -> dict[str, float]:
        """Shares from the eligible phases' weights (a phase that may not trade weighs 0)."""
        full = dict.fromkeys(self._edges, 0.0)
        for (p, _), x in zip(self._eligible(), weights, strict=True):
            full[p] = x
        total = 0.0
        for x in full.values():
            total += x
        shares = {p: (x / total if total > 0 else 0.0) for p, x in full.items()}
        for p in ADVISORY:
            shares[p] = 0.0
        return shares

    def update(self, equity: float, now_ns: int, reason: str = "", *, force: bool = False
               ) -> AllocationChanged | None:
        """Recompute the shares; an event when they moved materially (a phase started or
        stopped receiving capital, or a share moved by at least ``allocation_event_step``),
        or when ``force`` (regime change, phase switched on/off)."""
        self._equity = equity
        weights = self._weights(equity)
        # the shares are a function of the eligible phases and their weights; one eligible
        # phase of finite positive weight gets x / x = 1.0 whatever x is
        key = (_ONE if len(weights) == 1 and 0.0 < weights[0] < math.inf else weights,
               self._version)
        shares = self.shares
        if key != self._key or shares is not self._key_shares:
            shares = self.shares = self._key_shares = self._shares(weights)
            self._key = key
            self._moved = None
        moved = self._moved
        if moved is None:
            old, step = self._published, self._event_step
            moved = False
            for p, x in shares.items():
                o = old.get(p, 0.0)
                if (x > 0) != (o > 0) or abs(x - o) >= step:
                    moved = True
                    break
            self._moved = moved
        if not (moved or force):
            return None
        self._published = dict(shares)
        self._moved = False  # what is published now
        budgets = budgets_from_shares(self.shares, Decimal(repr(max(equity, 0.0))))
        why = reason or f"equity {equity:,.2f}"
        return AllocationChanged(budgets=budgets, reason=why, ts_event=now_ns, ts_init=now_ns)

    def budgets(self, equity: Decimal) -> dict[str, Decimal]:
        return budgets_from_shares(self.shares, equity)

    def disable_all(self, phases: Iterable[str] | None = None) -> None:
        for p in (phases if phases is not None else list(self.enabled)):
            self.enabled[p] = False
        self._version += 1
