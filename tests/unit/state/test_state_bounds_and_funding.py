"""ShadowState over a long run: bounded memory, venue funding attributed to the phases."""

from __future__ import annotations

from decimal import Decimal as D

import numpy as np

from titan.core import events as ev
from titan.core.instruments import Instrument, InstrumentKind, InstrumentRegistry
from titan.core.state import EXTERNAL_PHASE, ShadowState

PERP = Instrument(symbol="BTC/USDT:USDT", venue="v", base="BTC", quote="USDT", settle="USDT",
                  kind=InstrumentKind.PERPETUAL, tick_size=D("0.1"), lot_size=D("0.001"))


def submit(cid: str, phase: str, side: ev.Side, qty: str) -> ev.SubmitOrder:
    return ev.SubmitOrder(client_order_id=cid, phase=phase, instrument_id=PERP.id, side=side,
                          order_type=ev.OrderType.MARKET, quantity=D(qty), ts_init=1)


def fill(cid: str, tid: str, side: ev.Side, qty: str, price: str = "100") -> ev.OrderFilled:
    return ev.OrderFilled(client_order_id=cid, venue_order_id="v" + cid, trade_id=tid,
                          instrument_id=PERP.id, side=side, last_qty=D(qty), last_price=D(price),
                          fee=D(0), fee_currency="USDT", liquidity=ev.Liquidity.TAKER,
                          ts_event=2, ts_init=2)


def state_with(positions: dict[str, str]) -> ShadowState:
    s = ShadowState(InstrumentRegistry([PERP]))
    for i, (phase, qty) in enumerate(positions.items()):
        side = ev.Side.BUY if D(qty) > 0 else ev.Side.SELL
        s.apply(submit(f"c{i}", phase, side, str(abs(D(qty)))))
        s.apply(fill(f"c{i}", f"t{i}", side, str(abs(D(qty)))))
    return s


def funding(amount: str) -> ev.FundingPaid:
    return ev.FundingPaid(instrument_id=PERP.id, phase="", rate=D("0.0001"), amount=D(amount),
                          currency="USDT", ts_event=3, ts_init=3)


def test_venue_funding_is_split_over_phase_positions_exactly():
    s = state_with({"hunter": "3", "sentinel": "-1"})  # net +2
    s.apply(funding("-0.02"))  # longs pay
    hunter, sentinel = s.position(PERP.id, "hunter"), s.position(PERP.id, "sentinel")
    assert hunter.funding == D("-0.03") and sentinel.funding == D("0.01")
    assert hunter.funding + sentinel.funding == D("-0.02") == s.position(PERP.id).funding
    assert s.position(PERP.id, EXTERNAL_PHASE).funding == 0


def test_funding_with_thirds_sums_exactly_and_flat_stays_external():
    s = state_with({"a": "1", "b": "1", "c": "1"})
    s.apply(funding("-0.01"))
    parts = [s.position(PERP.id, p).funding for p in "abc"]
    assert sum(parts) == D("-0.01")
    flat = ShadowState(InstrumentRegistry([PERP]))
    flat.apply(funding("-0.01"))
    assert flat.position(PERP.id, EXTERNAL_PHASE).funding == D("-0.01")


def test_closed_orders_and_trade_ids_are_bounded():
    s = ShadowState(InstrumentRegistry([PERP]), max_closed_orders=5, max_trade_ids=7)
    for i in range(20):
        side = ev.Side.BUY if i % 2 == 0 else ev.Side.SELL
        s.apply(submit(f"c{i}", "hunter", side, "0.001"))
        s.apply(fill(f"c{i}", f"t{i}", side, "0.001"))
    assert len(list(s.orders())) == 5 and s.order("c19") is not None and s.order("c0") is None
    assert s.position_qty(PERP.id) == 0
    s.apply(fill("c19", "t19", ev.Side.SELL, "0.001"))  # a recent duplicate is still dropped
    assert s.position_qty(PERP.id) == 0


def test_numpy_marks_read_as_decimal():
    s = ShadowState(InstrumentRegistry([PERP]))
    s.apply(ev.Bar(instrument_id=PERP.id, timeframe="1m", ts_open=0, ts_event=60, ts_init=60,
                   open=np.float64(1.5), high=np.float64(2.0), low=np.float64(1.0),
                   close=np.float64(1.25), volume=1.0))
    assert s.mark(PERP.id) == D("1.25")
