"""RSI mean reversion: buy a washed-out market, sell once it has recovered.

Long when the RSI (Wilder, ``period`` bars) closes below ``oversold`` while flat; out when it
closes above ``exit``. With ``short=True`` the mirror image too: short above ``overbought``,
covered below ``100 - exit``. A ``stop_pct`` stop (0 = none) closes a trade that moved that far
against its entry, checked on each bar's close. Fixed quantity; the Brain may clip it.

    titan backtest --strategy strategies/rsi_reversion.py --param oversold=25 --param short=true
"""

from __future__ import annotations

from titan.indicators import RSI
from titan.phases.base import Params, Phase


class RsiReversion(Phase):
    name = "rsi_reversion"
    family = "hunter"

    class Params(Params, frozen=True, kw_only=True, forbid_unknown_fields=True):
        period: int = 14
        oversold: float = 30.0
        overbought: float = 70.0
        exit: float = 50.0
        qty: float = 1.0
        short: bool = False
        stop_pct: float = 0.0

    def __init__(self, params=None, **kw):
        super().__init__(params, **kw)
        p = self.params
        if p.period < 2:
            raise ValueError(f"period must be >= 2, got {p.period}")
        if not 0 < p.oversold < p.exit < p.overbought < 100:
            raise ValueError(f"need 0 < oversold < exit < overbought < 100, got "
                             f"{p.oversold}, {p.exit}, {p.overbought}")
        if p.qty <= 0 or p.stop_pct < 0:
            raise ValueError(f"qty must be > 0 and stop_pct >= 0, got {p.qty}, {p.stop_pct}")
        self._rsi = {}
        self._entry = {}

    def on_start(self):
        for iid in self.instruments:
            self._rsi[iid] = RSI(self.params.period)

    def on_bar(self, bar):
        iid = bar.instrument_id
        rsi = self._rsi[iid].update(bar.close)
        if rsi != rsi:  # NaN while the RSI warms up
            return None
        p = self.params
        position = self.position(iid)
        if position == 0:
            if rsi < p.oversold:
                self._entry[iid] = bar.close
                return [self.buy(iid, p.qty, tag="oversold")]
            if p.short and rsi > p.overbought:
                self._entry[iid] = bar.close
                return [self.sell(iid, p.qty, tag="overbought")]
            return None
        entry = self._entry.get(iid, bar.close)
        move = (bar.close - entry) / entry * (1 if position > 0 else -1)
        if p.stop_pct and move <= -p.stop_pct / 100:
            return [self.close(iid, tag="stop")]
        if (position > 0 and rsi > p.exit) or (position < 0 and rsi < 100 - p.exit):
            return [self.close(iid, tag="recovered")]
        return None
