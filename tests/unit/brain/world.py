"""A small world for Brain tests: a real ShadowState fed with real events, and the Brain.

Everything the Brain returns is applied to the state, as the kernel does. Fills are events a
venue would send (at the mark, or a given price); nothing here stands in for Titan code.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from decimal import Decimal as D
from typing import Any

from titan.brain.brain import Brain
from titan.config import TitanConfig, config_from_dict
from titan.core import events as ev
from titan.core.ids import ClientOrderIds
from titan.core.instruments import Instrument, InstrumentKind, InstrumentRegistry
from titan.core.state import ShadowState

T0 = 1_700_006_400 * 1_000_000_000  # 2023-11-15 00:00:00 UTC, a day boundary
SEC = 1_000_000_000
VENUE = "bybit"


def perp(base: str, *, tick: str = "0.01", lot: str = "0.001", min_qty: str = "0.001",
         min_notional: str = "0", venue: str = VENUE) -> Instrument:
    return Instrument(symbol=f"{base}/USDT:USDT", venue=venue, base=base, quote="USDT",
                      settle="USDT", kind=InstrumentKind.PERPETUAL, tick_size=D(tick),
                      lot_size=D(lot), min_qty=D(min_qty), min_notional=D(min_notional))


BTC, ETH, SOL = perp("BTC", tick="0.1"), perp("ETH"), perp("SOL")


def config(**sections: Any) -> TitanConfig:
    return config_from_dict(sections) if sections else TitanConfig()


def intent(owner: str, inst: Instrument | str, side: str, qty: str | D, **kw: Any) -> ev.OrderIntent:
    iid = inst if isinstance(inst, str) else inst.id
    return ev.OrderIntent(phase=owner, instrument_id=iid,
                          side=ev.Side.BUY if side == "buy" else ev.Side.SELL,
                          quantity=D(qty), **kw)


class World:
    def __init__(self, cfg: TitanConfig | None = None, *, equity: float | str = 10_000,
                 instruments: Sequence[Instrument] = (BTC, ETH, SOL),
                 prices: dict[str, float] | None = None, owners: dict[str, str] | None = None,
                 now: int = T0) -> None:
        self.cfg = cfg or TitanConfig()
        self.reg = InstrumentRegistry(list(instruments))
        self.state = ShadowState(self.reg)
        self.ids = ClientOrderIds("TTN")
        self.now = now
        self.seq = 0
        self.log: list[ev.Message] = []
        self.state.apply(ev.BalanceSet(venue=VENUE, currency="USDT", total=D(str(equity)),
                                       ts_event=now, ts_init=now))
        default = {BTC.id: 50_000.0, ETH.id: 2_000.0, SOL.id: 100.0}
        for inst in instruments:
            price = (prices or {}).get(inst.id, default.get(inst.id, 100.0))
            self.state.apply(self._trade(inst.id, price))
        self.brain = Brain(self.cfg, self.reg, self.state, self.ids, owners=owners)

    # ---- feeding the brain --------------------------------------------------------------------

    def _trade(self, iid: str, price: float) -> ev.Trade:
        return ev.Trade(instrument_id=iid, price=price, size=1.0, aggressor=ev.Side.BUY,
                        ts_event=self.now, ts_init=self.now)

    def apply(self, out: Iterable[ev.Message]) -> list[ev.Message]:
        out = list(out)
        for m in out:
            self.state.apply(m)
        self.log.extend(out)
        return out

    def decide(self, *intents: ev.OrderIntent) -> list[ev.Message]:
        return self.apply(self.brain.decide(intents, self.now))

    def mark(self, inst: Instrument | str, price: float, *, dt: int = 0) -> list[ev.Message]:
        self.now += dt
        iid = inst if isinstance(inst, str) else inst.id
        t = self._trade(iid, price)
        self.state.apply(t)
        return self.apply(self.brain.on_market(t, self.now))

    def market(self, e: ev.Data) -> list[ev.Message]:
        self.state.apply(e)
        return self.apply(self.brain.on_market(e, self.now))

    def event(self, e: ev.Message) -> list[ev.Message]:
        self.state.apply(e)
        return self.apply(self.brain.on_event(e, self.now))

    def timer(self, *, dt: int = 0) -> list[ev.Message]:
        self.now += dt
        return self.apply(self.brain.on_timer(self.now))

    def fill(self, order: ev.SubmitOrder, *, price: float | str | None = None,
             qty: D | None = None, fee: str = "0") -> list[ev.Message]:
        self.seq += 1
        p = D(str(price)) if price is not None else self.state.mark(order.instrument_id)
        return self.event(ev.OrderFilled(
            client_order_id=order.client_order_id, venue_order_id=f"V{self.seq}",
            trade_id=f"T{self.seq}", instrument_id=order.instrument_id, side=order.side,
            last_qty=qty if qty is not None else order.quantity, last_price=p, fee=D(fee),
            fee_currency="USDT", liquidity=ev.Liquidity.TAKER, ts_event=self.now,
            ts_init=self.now))

    def settle(self) -> list[ev.Message]:
        """The venue's answer to everything working: market orders fill at the mark, cancel
        requests are confirmed. Returns what the Brain said back."""
        out: list[ev.Message] = []
        for order in list(self.state.open_orders()):
            cmd = ev.SubmitOrder(client_order_id=order.client_order_id, phase=order.phase,
                                 instrument_id=order.instrument_id, side=order.side,
                                 order_type=order.order_type, quantity=order.leaves_qty,
                                 ts_init=self.now)
            if order.status.value == "PENDING_CANCEL":
                out += self.event(ev.OrderCanceled(client_order_id=order.client_order_id,
                                                   ts_event=self.now, ts_init=self.now))
            elif order.order_type is ev.OrderType.MARKET:
                out += self.fill(cmd)
        return out

    # ---- reading the result -------------------------------------------------------------------

    def submits(self, out: Iterable[ev.Message] | None = None) -> list[ev.SubmitOrder]:
        return [m for m in (self.log if out is None else out) if isinstance(m, ev.SubmitOrder)]

    def first(self, kind: type, out: Iterable[ev.Message]) -> Any:
        found = [m for m in out if isinstance(m, kind)]
        assert found, f"no {kind.__name__} in {[type(m).__name__ for m in out]}"
        return found[0]

    def position(self, inst: Instrument, owner: str | None = None) -> D:
        return self.state.position_qty(inst.id, owner)
