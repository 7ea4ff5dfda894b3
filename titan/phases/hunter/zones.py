"""Lower-timeframe zones a trend tends to come back to: fair-value gaps and order blocks.

A fair-value gap is the price range a fast move left untraded between candle 1's extreme and
candle 3's; an order block is the last opposite candle before a move broke structure. Both are
"institutional footprints" in the ICT / smart-money literature, and retests of them are where
Hunter joins a trend. The zones come from the ``FairValueGaps`` and ``OrderBlocks`` kernels;
this module only picks the one to trade.
"""

from __future__ import annotations

from dataclasses import dataclass

from titan.indicators import FairValueGaps, OrderBlocks

# rows of gaps() / blocks(): side, bottom, top, origin index, created index, fill fraction
SIDE, BOTTOM, TOP, ORIGIN, CREATED = 0, 1, 2, 3, 4


@dataclass(frozen=True, slots=True)
class Zone:
    side: int  # +1 bullish (support, retested from above), -1 bearish
    bottom: float
    top: float
    kind: str  # "fvg" | "ob"

    @property
    def edge(self) -> float:
        """Where a retest enters the zone: the top of a bullish zone, the bottom of a bearish."""
        return self.top if self.side > 0 else self.bottom

    @property
    def far(self) -> float:
        """The side a retest must not close beyond."""
        return self.bottom if self.side > 0 else self.top


class ZoneTracker:
    """The open fair-value gaps and order blocks of one instrument on the entry timeframe."""

    def __init__(self, *, ob_left: int, ob_right: int, max_zones: int) -> None:
        self.fvg = FairValueGaps(0.0, max_zones)
        self.ob = OrderBlocks(ob_left, ob_right, max_zones)
        self.bars = 0

    def update(self, open_: float, high: float, low: float, close: float) -> None:
        self.fvg.update(high, low)
        self.ob.update(open_, high, low, close)
        self.bars += 1

    def best(self, side: int, price: float, *, min_size: float, max_age: int) -> Zone | None:
        """The nearest zone of ``side`` that price sits beyond (above a bullish zone), at least
        ``min_size`` tall and made within the last ``max_age`` bars."""
        best: Zone | None = None
        for kind, rows, made in (("fvg", self.fvg.gaps(), self.fvg.count),
                                 ("ob", self.ob.blocks(), self.ob.count)):
            for r in rows:
                if int(r[SIDE]) != side or made - 1 - r[CREATED] > max_age:
                    continue
                z = Zone(side, float(r[BOTTOM]), float(r[TOP]), kind)
                if z.top - z.bottom < min_size or (price - z.edge) * side <= 0:
                    continue
                if best is None or (z.edge - best.edge) * side > 0:
                    best = z
        return best
