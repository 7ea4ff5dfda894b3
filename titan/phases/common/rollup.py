"""Higher-timeframe bars rolled up from the bars a phase already receives.

A phase subscribes to one base timeframe (what every feed and every candle file can supply)
and builds its higher timeframes itself, so a 15m level or a 1h bias is the same in a backtest
on a 1m CSV and live on a 1m websocket stream. Buckets are UTC-aligned multiples of the step
counted from the epoch (1h bars start on the hour), like ``titan.feeds.bars.BarAggregator``;
a bucket closes with the base bar that ends on its boundary, or when a later base bar shows it
is over (a gap), never later.
"""

from __future__ import annotations

from titan.core.events import Bar
from titan.feeds.bars import timeframe_ns


class BarRollup:
    """Bars of ``timeframe`` from closed bars of any smaller timeframe (or the same one)."""

    __slots__ = ("timeframe", "step", "_open_ts", "_o", "_h", "_l", "_c", "_v", "_iid")

    def __init__(self, timeframe: str) -> None:
        self.timeframe = timeframe
        self.step = timeframe_ns(timeframe)
        self._open_ts = -1
        self._o = self._h = self._l = self._c = self._v = 0.0
        self._iid = ""

    def update(self, bar: Bar) -> list[Bar]:
        """Add one closed base bar; returns the higher-timeframe bars it closed (0, 1 or 2)."""
        if not bar.closed:
            return []
        out: list[Bar] = []
        start = bar.ts_open - bar.ts_open % self.step
        if self._open_ts >= 0 and start != self._open_ts:
            if start < self._open_ts:
                return out  # an old bar: higher bars never reopen
            out.append(self._emit())
        if self._open_ts < 0:
            self._open_ts, self._iid = start, bar.instrument_id
            self._o, self._h, self._l = bar.open, bar.high, bar.low
            self._v = 0.0
        else:
            self._h = max(self._h, bar.high)
            self._l = min(self._l, bar.low)
        self._c = bar.close
        self._v += bar.volume
        if bar.ts_event >= start + self.step:
            out.append(self._emit())
        return out

    def _emit(self) -> Bar:
        end = self._open_ts + self.step
        done = Bar(instrument_id=self._iid, timeframe=self.timeframe, ts_open=self._open_ts,
                   ts_event=end, ts_init=end, open=self._o, high=self._h, low=self._l,
                   close=self._c, volume=self._v)
        self._open_ts = -1
        return done
