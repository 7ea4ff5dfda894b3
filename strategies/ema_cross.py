"""EMA crossover, long only, fixed quantity: Titan's reference benchmark strategy.

Buy ``qty`` when the fast EMA crosses above the slow EMA while flat; sell it back when the fast
EMA crosses below the slow one. EMAs follow TA-Lib (seeded with the SMA of the first n closes),
so the signal can be checked against a vectorised numpy/TA-Lib computation bar for bar.

    titan backtest --strategy strategies/ema_cross.py --data FILE.csv.gz --param fast=12
"""

from __future__ import annotations

from titan.indicators import EMA
from titan.phases.base import Params, Phase


class EmaCross(Phase):
    name = "ema_cross"
    family = "hunter"

    class Params(Params, frozen=True, kw_only=True, forbid_unknown_fields=True):
        fast: int = 10
        slow: int = 30
        qty: float = 1.0

    def __init__(self, params=None, **kw):
        super().__init__(params, **kw)
        p = self.params
        if not 1 <= p.fast < p.slow:
            raise ValueError(f"need 1 <= fast < slow, got fast={p.fast}, slow={p.slow}")
        if p.qty <= 0:
            raise ValueError(f"qty must be > 0, got {p.qty}")
        self._fast = {}
        self._slow = {}
        self._above = {}

    def on_start(self):
        for iid in self.instruments:
            self._fast[iid] = EMA(self.params.fast)
            self._slow[iid] = EMA(self.params.slow)
            self._above[iid] = None

    def on_bar(self, bar):
        iid = bar.instrument_id
        close = bar.close
        fast = self._fast[iid].update(close)
        slow_ema = self._slow[iid]
        slow = slow_ema.update(close)
        if not slow_ema.ready:
            return None
        above = fast > slow
        was = self._above[iid]
        self._above[iid] = above
        if was is None or above == was:
            return None
        position = self.position(iid)
        if above and position == 0:
            return [self.buy(iid, self.params.qty, tag="cross_up")]
        if not above and position > 0:
            return [self.close(iid, tag="cross_down")]
        return None
