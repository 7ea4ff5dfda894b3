"""Range breakout (Donchian / "turtle" style): trade the break of the last N bars' range.

Long when a bar closes above the highest high of the previous ``entry`` bars; out when one
closes below the lowest low of the previous ``exit`` bars (a shorter channel, so the exit
trails the move). With ``short=True`` the mirror image as well. Fixed quantity; the Brain may
clip it.

    titan backtest --strategy strategies/range_breakout.py --param entry=120 --param exit=60
"""

from __future__ import annotations

from titan.indicators import Donchian
from titan.phases.base import Params, Phase


class RangeBreakout(Phase):
    name = "range_breakout"
    family = "hunter"

    class Params(Params, frozen=True, kw_only=True, forbid_unknown_fields=True):
        entry: int = 55
        exit: int = 20
        qty: float = 1.0
        short: bool = False

    def __init__(self, params=None, **kw):
        super().__init__(params, **kw)
        p = self.params
        if not 2 <= p.exit <= p.entry:
            raise ValueError(f"need 2 <= exit <= entry, got entry={p.entry}, exit={p.exit}")
        if p.qty <= 0:
            raise ValueError(f"qty must be > 0, got {p.qty}")
        self._entry = {}
        self._exit = {}

    def on_start(self):
        for iid in self.instruments:
            self._entry[iid] = Donchian(self.params.entry)
            self._exit[iid] = Donchian(self.params.exit)

    def on_bar(self, bar):
        iid = bar.instrument_id
        wide, narrow = self._entry[iid], self._exit[iid]
        ready = wide.ready
        # the channels of the bars *before* this one: read, then add this bar
        high, low_exit, high_exit, low = wide.upper, narrow.lower, narrow.upper, wide.lower
        wide.update(bar.high, bar.low)
        narrow.update(bar.high, bar.low)
        if not ready:
            return None
        close = bar.close
        position = self.position(iid)
        if position > 0 and close < low_exit:
            return [self.close(iid, tag="exit_channel")]
        if position < 0 and close > high_exit:
            return [self.close(iid, tag="exit_channel")]
        if position == 0:
            if close > high:
                return [self.buy(iid, self.params.qty, tag="breakout_up")]
            if self.params.short and close < low:
                return [self.sell(iid, self.params.qty, tag="breakout_down")]
        return None
