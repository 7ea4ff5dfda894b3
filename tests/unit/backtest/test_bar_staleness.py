"""Bar-driven sessions and the Brain's stale-mark gate (``brain.feed_stale_after_s``).

A 1m-bar session marks each instrument once a minute, at its bar's close. At equal times the
streams arrive in the order given, so a phase deciding on instrument A's bar about instrument B
reads B's previous close - one bar old. That is how bar data is, not a stale feed; a mark two
bars old is."""

from __future__ import annotations

import numpy as np

from titan.backtest.runner import BacktestRunner
from titan.core import events as ev
from titan.feeds.history import BarSeries
from titan.phases.base import Phase, bar_stream

from .world import bars, instrument

OTHER = "ETH/USDT:USDT"


class Pairs(Phase):
    """On A's bar, buys B at chosen bar indices (B's own bar of that minute comes after)."""

    name = "pairs"

    def __init__(self, a: str, b: str, at: set[int]) -> None:
        super().__init__(instruments=[a, b])
        self.a, self.b, self.at, self.i = a, b, at, -1

    def subscriptions(self):
        return (bar_stream(self.a), bar_stream(self.b))

    def on_bar(self, bar):
        if bar.instrument_id != self.a:
            return None
        self.i += 1
        return [self.buy(self.b, "0.001")] if self.i in self.at else None


def test_the_previous_minutes_mark_of_another_instrument_is_not_stale_but_two_bars_old_is():
    a = bars(n=400)
    b_inst = instrument(OTHER)
    full = bars(n=400)
    keep = np.ones(len(full), dtype=bool)
    keep[200:202] = False  # B prints no bar for two minutes: at A's bar 202, B's mark is 2 bars old
    b = BarSeries(b_inst.id, "1m", full.ts_open[keep], full.open[keep], full.high[keep],
                  full.low[keep], full.close[keep], full.volume[keep], full.report)
    phase = Pairs(a.instrument_id, b_inst.id, {50, 100, 150, 202, 250})
    result = BacktestRunner([phase], [instrument(), b_inst], [a, b]).run()
    log = [e.msg for e in result.log.entries()]
    denied = [m for m in log if isinstance(m, ev.OrderDenied)]
    approved = [m for m in log if isinstance(m, ev.OrderApproved)]
    assert len(approved) == 4 and len(result.fills) == 4
    (stale,) = denied
    assert stale.ts_event == int(a.ts_event[202])
    assert stale.reason.startswith(f"feed for {b_inst.id}: last mark 180 s old")

