"""Order-flow confirmation from trades: is the aggressive volume on our side?

Cumulative volume delta (buyer-initiated minus seller-initiated volume, from each trade's
aggressor side) over the last few entry bars. A retest of a bullish zone is confirmed when the
delta is not negative - buyers are absorbing the pullback - and mirrored for shorts. Without
a trade stream (a backtest on candles) there is nothing to confirm with, and the check passes:
the setup then rests on structure alone.
"""

from __future__ import annotations

from collections import deque

from titan.core.events import Side, Trade
from titan.indicators import CumulativeVolumeDelta


class FlowConfirm:
    """CVD sampled at each entry-bar close; ``delta()`` is the change over ``bars`` bars."""

    __slots__ = ("_cvd", "_marks", "last_trade_ns")

    def __init__(self, bars: int) -> None:
        self._cvd = CumulativeVolumeDelta()
        self._marks: deque[float] = deque(maxlen=bars + 1)
        self.last_trade_ns = -1

    def on_trade(self, trade: Trade) -> None:
        if trade.size > 0:
            self._cvd.update(trade.size, 1.0 if trade.aggressor is Side.BUY else -1.0)
            self.last_trade_ns = trade.ts_event

    def on_bar_close(self) -> None:
        self._marks.append(float(self._cvd.value))

    def available(self, since_ns: int) -> bool:
        """Trades have been seen at or after ``since_ns``."""
        return self.last_trade_ns >= since_ns

    def delta(self) -> float:
        if len(self._marks) < 2:
            return 0.0
        return self._marks[-1] - self._marks[0]

    def confirms(self, side: int, since_ns: int) -> bool:
        return not self.available(since_ns) or self.delta() * side >= 0.0
