"""Bars from trades: 1m and any multiple, UTC-aligned, several timeframes from one stream.

A bar covers ``[ts_open, ts_open + step)`` with ``ts_open`` a multiple of the step counted from
the Unix epoch, so 1h bars start on the hour and 1d bars at 00:00 UTC. A bar is emitted closed
when the first trade of a later bar arrives or when :meth:`BarAggregator.flush` is called with
a time at or past its end (a timer, so quiet markets still close their bars). The timer's clock
is translated to venue time with the offset seen on the last trade (``ts_init - ts_event``), so
replayed history and live data close bars alike. A closed bar never reopens: a trade that
arrives after its bar was closed is left out. Intervals without trades produce no bar. With ``emit_updates`` every trade also emits the in-progress bar
(``closed=False``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from titan.core.events import Bar

NS_PER_MINUTE = 60 * 1_000_000_000
_UNITS = {"m": 1, "h": 60, "d": 1440, "w": 10080}
_TIMEFRAME = re.compile(r"^(\d+)([mhdw])$")


def timeframe_ns(timeframe: str) -> int:
    """Length of a timeframe such as ``1m``, ``15m``, ``4h``, ``1d`` in nanoseconds."""
    m = _TIMEFRAME.match(timeframe)
    if not m or int(m.group(1)) <= 0:
        raise ValueError(f"timeframe {timeframe!r}: expected a positive multiple of m, h, d or w (e.g. 5m, 4h)")
    return int(m.group(1)) * _UNITS[m.group(2)] * NS_PER_MINUTE


def timeframe_name(step_ns: int) -> str:
    """Inverse of :func:`timeframe_ns` for whole minutes: 300e9 -> ``5m``, 3600e9 -> ``1h``."""
    if step_ns <= 0 or step_ns % NS_PER_MINUTE:
        raise ValueError(f"step {step_ns} ns: not a whole number of minutes")
    minutes = step_ns // NS_PER_MINUTE
    for unit, size in (("w", 10080), ("d", 1440), ("h", 60)):
        if minutes % size == 0:
            return f"{minutes // size}{unit}"
    return f"{minutes}m"


class _Building:
    __slots__ = ("ts_open", "open", "high", "low", "close", "volume")

    def __init__(self, ts_open: int, price: float, size: float) -> None:
        self.ts_open = ts_open
        self.open = self.high = self.low = self.close = price
        self.volume = size


class BarAggregator:
    """Builds bars of one or more timeframes for one instrument from its trades."""

    def __init__(self, instrument_id: str, timeframes: Iterable[str], *, emit_updates: bool = False) -> None:
        names = list(dict.fromkeys(timeframes))
        if not names:
            raise ValueError("timeframes: at least one is required")
        self.instrument_id = instrument_id
        self.timeframes = tuple(names)
        self.steps = tuple(timeframe_ns(t) for t in names)
        self.emit_updates = emit_updates
        self._bars: list[_Building | None] = [None] * len(names)
        self._closed_until = [0] * len(names)  # end of the last bar closed, per timeframe
        self._last_ts = 0
        self._offset = 0  # ts_init - ts_event of the last trade: receive clock minus venue clock

    def on_trade(self, ts: int, price: float, size: float, ts_init: int = 0) -> list[Bar]:
        """Add a trade (``ts`` in ns); returns the bars it closed (and updates, if enabled).

        A trade older than the newest one seen is ignored: bars never reopen.
        """
        out: list[Bar] = []
        if ts < self._last_ts:
            return out
        self._last_ts = ts
        if ts_init:
            self._offset = ts_init - ts
        bars = self._bars
        for i, step in enumerate(self.steps):
            if ts < self._closed_until[i]:
                continue  # its bar was closed by the timer already
            start = ts - ts % step
            bar = bars[i]
            if bar is None or bar.ts_open != start:
                if bar is not None:
                    out.append(self._event(i, bar, True, ts_init))
                    self._closed_until[i] = bar.ts_open + step
                bar = bars[i] = _Building(start, price, size)
            else:
                if price > bar.high:
                    bar.high = price
                elif price < bar.low:
                    bar.low = price
                bar.close = price
                bar.volume += size
            if self.emit_updates:
                out.append(self._event(i, bar, False, ts_init))
        return out

    def flush(self, now_ns: int, ts_init: int = 0) -> list[Bar]:
        """Close every bar whose interval ended at or before ``now_ns`` (the receive clock)."""
        out: list[Bar] = []
        venue_now = now_ns - self._offset
        for i, step in enumerate(self.steps):
            bar = self._bars[i]
            if bar is not None and bar.ts_open + step <= venue_now:
                out.append(self._event(i, bar, True, ts_init))
                self._closed_until[i] = bar.ts_open + step
                self._bars[i] = None
        return out

    def _event(self, i: int, bar: _Building, closed: bool, ts_init: int) -> Bar:
        end = bar.ts_open + self.steps[i]
        return Bar(
            instrument_id=self.instrument_id, ts_event=end, ts_init=ts_init or end,
            timeframe=self.timeframes[i], ts_open=bar.ts_open, open=bar.open, high=bar.high,
            low=bar.low, close=bar.close, volume=bar.volume, closed=closed,
        )
