"""Structural price levels where resting stops cluster - the Scavenger's map of liquidity.

Stop-loss and stop-entry orders gather just beyond obvious levels: recent swing highs/lows,
*equal* highs/lows (several swings at one price: a liquidity pool), the prior session's
high/low and round numbers. When price trades through such a level those stops fire and add to
the move (Osler 2005, "Stop-loss orders and price cascades in currency markets"; Osler 2003 on
round numbers). The levels are computed by the indicator kernels (``Swings``, ``EqualLevels``)
on a higher timeframe and refreshed as its bars close; sessions are UTC days.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

from titan.core.events import Bar
from titan.indicators import EqualLevels, Swings

DAY_NS = 86_400 * 1_000_000_000

# When two levels are equally near, the one more likely to hold stops wins.
PRIORITY = {"pool": 0, "session": 1, "swing": 2, "round": 3}


@dataclass(frozen=True, slots=True)
class Level:
    price: float
    kind: str  # "pool" | "session" | "swing" | "round"


def round_step(price: float, divisor: float) -> float:
    """The round-number grid near ``price``: a tenth of its order of magnitude / ``divisor``
    (BTC at 96,000 with divisor 2 -> every 500; ETH at 2,500 -> every 50)."""
    if not price > 0:
        return math.nan
    return 10.0 ** (math.floor(math.log10(price)) - 1) / divisor


class StructuralLevels:
    """The levels of one instrument. Feed it every base bar (:meth:`on_base_bar`, for the
    session range) and every level-timeframe bar (:meth:`on_level_bar`)."""

    def __init__(self, *, swing_left: int, swing_right: int, pool_tolerance: float,
                 max_swings: int, round_divisor: float) -> None:
        self._swings = Swings(swing_left, swing_right)
        self._pools = EqualLevels(swing_left, swing_right, pool_tolerance, max_swings)
        self.highs: deque[float] = deque(maxlen=max_swings)  # unbroken swing highs
        self.lows: deque[float] = deque(maxlen=max_swings)
        self.round_divisor = round_divisor
        self._day = -1
        self._day_high = -math.inf
        self._day_low = math.inf
        self.prior_high = math.nan
        self.prior_low = math.nan

    def on_base_bar(self, bar: Bar) -> None:
        day = bar.ts_open // DAY_NS
        if day != self._day:
            if self._day >= 0 and math.isfinite(self._day_high):
                self.prior_high, self.prior_low = self._day_high, self._day_low
            self._day, self._day_high, self._day_low = day, -math.inf, math.inf
        self._day_high = max(self._day_high, bar.high)
        self._day_low = min(self._day_low, bar.low)

    def on_level_bar(self, bar: Bar) -> None:
        self._swings.update(bar.high, bar.low)
        self._pools.update(bar.high, bar.low)
        if not math.isnan(self._swings.new_high):
            self.highs.append(self._swings.new_high)
        if not math.isnan(self._swings.new_low):
            self.lows.append(self._swings.new_low)
        # a level a bar has closed beyond has done its work: its stops are gone
        self.highs = deque((h for h in self.highs if bar.close <= h), maxlen=self.highs.maxlen)
        self.lows = deque((lo for lo in self.lows if bar.close >= lo), maxlen=self.lows.maxlen)

    def levels(self, price: float) -> list[Level]:
        """Every current level (unsorted), including the round numbers either side of price."""
        out = [Level(h, "swing") for h in self.highs] + [Level(lo, "swing") for lo in self.lows]
        for row in self._pools.pools():
            out.append(Level(float(row[1]), "pool"))
        if not math.isnan(self.prior_high):
            out.append(Level(self.prior_high, "session"))
            out.append(Level(self.prior_low, "session"))
        step = round_step(price, self.round_divisor)
        if math.isfinite(step) and step > 0:
            below = math.floor(price / step) * step
            out.append(Level(below, "round"))
            out.append(Level(below + step, "round"))
        return out

    def nearest(self, price: float, direction: int) -> Level | None:
        """The closest level strictly above (direction +1) or below (-1) ``price``."""
        best: Level | None = None
        best_key: tuple[float, int] | None = None
        for lv in self.levels(price):
            d = (lv.price - price) * direction
            if d <= 0:
                continue
            key = (d, PRIORITY[lv.kind])
            if best_key is None or key < best_key:
                best, best_key = lv, key
        return best
