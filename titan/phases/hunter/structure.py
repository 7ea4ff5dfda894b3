"""Higher-timeframe bias from market structure: the direction of the last break of a fractal.

Williams fractals (Trading Chaos, 1995) mark confirmed swing highs and lows. When a bar closes
above the latest unbroken fractal high, buyers have broken structure (a "break of structure"
in the smart-money vocabulary): the bias turns bullish and stays so until a close below the
latest fractal low turns it bearish (a "change of character"). Before the first break the bias
is 0 (none), and a neutral bias takes no trades.
"""

from __future__ import annotations

import math

from titan.core.events import Bar
from titan.indicators import Fractals


class StructureBias:
    """+1 bullish, -1 bearish, 0 unknown; update with closed bias-timeframe bars."""

    __slots__ = ("_fractals", "high", "low", "bias", "breaks")

    def __init__(self, k: int = 2) -> None:
        self._fractals = Fractals(k)
        self.high = math.nan  # latest fractal high not yet broken
        self.low = math.nan
        self.bias = 0
        self.breaks = 0

    def update(self, bar: Bar) -> int:
        f = self._fractals
        f.update(bar.high, bar.low)
        if not math.isnan(f.new_high):
            self.high = f.new_high
        if not math.isnan(f.new_low):
            self.low = f.new_low
        if not math.isnan(self.high) and bar.close > self.high:
            self.bias, self.high = 1, math.nan
            self.breaks += 1
        elif not math.isnan(self.low) and bar.close < self.low:
            self.bias, self.low = -1, math.nan
            self.breaks += 1
        return self.bias
