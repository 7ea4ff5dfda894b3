"""Drawdown rules: portfolio drawdown -> flatten, daily loss budget -> halt, phase tiers.

Thresholds are kept as absolute levels (equity or PnL values), recomputed only when a peak or a
day start moves, so the per-mark check is one comparison.

- Portfolio: drawdown from the equity high-water mark; at ``portfolio_flatten_drawdown`` the
  Brain flattens everything (emergency).
- Daily loss budget: loss since the UTC day's starting equity; at ``daily_loss_budget`` no new
  entries until the next UTC day.
- Per phase: loss of the phase's PnL since the day started, as a fraction of the phase's
  budget at the day start; tiers (3 / 5 / 7 %, Sentinel 2 / 4 / 6 %): 1 = reduce size,
  2 = halt the phase's new entries, 3 = escalate to the Brain (DEFENSIVE). Tiers only climb
  within a day.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

NS_PER_DAY = 86_400 * 1_000_000_000
REDUCE, HALT_ENTRIES, ESCALATE = 1, 2, 3


def drawdown_tier(loss_fraction: float, tiers: Sequence[float]) -> int:
    """How many (ascending) tiers the loss has reached: 0 = none."""
    n = 0
    for t in tiers:
        if loss_fraction >= t:
            n += 1
    return n


def utc_day(ts_ns: int) -> int:
    return ts_ns // NS_PER_DAY


class DrawdownWatch:
    """The drawdown levels in force and what has already been triggered today."""

    def __init__(self, flatten_drawdown: float, daily_loss_budget: float,
                 tiers: Mapping[str, Sequence[float]]) -> None:
        self.flatten_drawdown = flatten_drawdown
        self.daily_loss_budget = daily_loss_budget
        self.tiers = {p: tuple(t) for p, t in tiers.items()}
        self.peak = 0.0
        self.flatten_level = -math.inf
        self.day = -1
        self.day_start_equity = 0.0
        self.daily_loss_level = -math.inf
        self.daily_loss_hit = False
        self.phase_start: dict[str, float] = {}
        self.phase_base: dict[str, float] = {}
        self.phase_tier: dict[str, int] = {p: 0 for p in self.tiers}
        self.next_level: dict[str, float] = {p: -math.inf for p in self.tiers}  # PnL -> next tier

    # ---- baselines ----------------------------------------------------------------------------

    def rebase_peak(self, equity: float) -> None:
        self.peak = equity
        self.flatten_level = equity * (1.0 - self.flatten_drawdown) if equity > 0 else -math.inf

    def start_day(self, day: int, equity: float, phase_pnl: Mapping[str, float],
                  phase_budget: Mapping[str, float]) -> None:
        """A new UTC day: reset the daily loss budget and every phase's tiers."""
        self.day = day
        self.day_start_equity = equity
        self.daily_loss_level = equity * (1.0 - self.daily_loss_budget) if equity > 0 else -math.inf
        self.daily_loss_hit = False
        for p in self.tiers:
            self.phase_start[p] = phase_pnl.get(p, 0.0)
            self.phase_base[p] = phase_budget.get(p, 0.0)
            self.phase_tier[p] = 0
            self._set_next(p)
        if equity > self.peak:
            self.rebase_peak(equity)

    def shift(self, delta: float) -> None:
        """Move every equity baseline by ``delta`` (a deposit or withdrawal is not PnL)."""
        if self.peak > 0:
            self.rebase_peak(self.peak + delta)
        if self.day_start_equity > 0:
            self.day_start_equity += delta
            self.daily_loss_level = self.day_start_equity * (1.0 - self.daily_loss_budget)

    # ---- checks -------------------------------------------------------------------------------

    def portfolio_drawdown(self, equity: float) -> float:
        return 0.0 if self.peak <= 0 else max(0.0, (self.peak - equity) / self.peak)

    def daily_loss(self, equity: float) -> float:
        s = self.day_start_equity
        return 0.0 if s <= 0 else max(0.0, (s - equity) / s)

    def observe_equity(self, equity: float) -> tuple[bool, bool]:
        """(flatten now, daily loss budget hit now) for this equity; raises the peak."""
        if equity > self.peak:
            self.rebase_peak(equity)
            return False, False
        flatten = equity <= self.flatten_level
        daily = False
        if not self.daily_loss_hit and equity <= self.daily_loss_level:
            self.daily_loss_hit = True
            daily = True
        return flatten, daily

    def phase_loss(self, phase: str, pnl: float) -> float:
        base = self.phase_base.get(phase, 0.0)
        loss = self.phase_start.get(phase, 0.0) - pnl
        if loss <= 0:
            return 0.0
        return math.inf if base <= 0 else loss / base

    def observe_phase(self, phase: str, pnl: float) -> int | None:
        """The phase's new tier if this PnL pushed it higher, else None."""
        if pnl > self.next_level.get(phase, -math.inf):
            return None
        tiers = self.tiers.get(phase)
        if tiers is None:
            return None
        base = self.phase_base.get(phase, 0.0)
        if base <= 0:
            return None  # no capital at the day start: nothing to measure the loss against
        tier = max(self.phase_tier[phase], drawdown_tier(self.phase_loss(phase, pnl), tiers))
        if tier == self.phase_tier[phase]:
            return None
        self.phase_tier[phase] = tier
        self._set_next(phase)
        return tier

    def _set_next(self, phase: str) -> None:
        tier = self.phase_tier[phase]
        tiers = self.tiers[phase]
        base = self.phase_base.get(phase, 0.0)
        if tier >= len(tiers) or base <= 0:
            self.next_level[phase] = -math.inf
        else:
            self.next_level[phase] = self.phase_start[phase] - tiers[tier] * base
