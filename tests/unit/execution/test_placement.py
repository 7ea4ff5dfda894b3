"""SubmitOrder -> ccxt create_order arguments, per venue."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from titan.core import events as ev
from titan.core.instruments import Instrument, InstrumentKind
from titan.execution.placement import Unplaceable, order_args
from titan.execution.venues import profile

D = Decimal
SPOT = Instrument(symbol="BTC/USDT", venue="binance", base="BTC", quote="USDT", tick_size=D("0.01"), lot_size=D("0.00001"))
PERP = Instrument(symbol="BTC/USDT:USDT", venue="bybit", base="BTC", quote="USDT", kind=InstrumentKind.PERPETUAL,
                  settle="USDT", tick_size=D("0.5"), lot_size=D("0.001"))


def cmd(inst: Instrument, **kw) -> ev.SubmitOrder:
    base = dict(client_order_id="TTN-hun-0000000042", phase="hunter", instrument_id=inst.id, side=ev.Side.BUY,
                order_type=ev.OrderType.LIMIT, quantity=D("0.00123"), price=D("61000.5"), ts_init=0)
    base.update(kw)
    return ev.SubmitOrder(**base)


@given(st.sampled_from(list(ev.OrderType)), st.booleans(), st.booleans(), st.sampled_from(list(ev.TimeInForce)),
       st.sampled_from(["binance", "bybit", "mexc"]))
def test_reduce_only_is_never_sent_on_spot(otype, reduce_only, post_only, tif, venue):
    c = cmd(SPOT, order_type=otype, reduce_only=reduce_only, post_only=post_only and otype is ev.OrderType.LIMIT,
            time_in_force=tif, trigger_price=D("60000") if otype in (ev.OrderType.STOP_MARKET, ev.OrderType.STOP_LIMIT) else None)
    try:
        args = order_args(c, SPOT, profile(venue))
    except Unplaceable:
        return
    assert "reduceOnly" not in args.params
    assert args.params["clientOrderId"] == c.client_order_id
    assert isinstance(args.amount, str) and D(args.amount) == c.quantity


def test_limit_post_only_reduce_only_contract():
    args = order_args(cmd(PERP, quantity=D("0.010"), price=D("17000.5"), post_only=True, reduce_only=True),
                      PERP, profile("bybit"))
    assert (args.symbol, args.type, args.side, args.amount, args.price) == ("BTC/USDT:USDT", "limit", "buy", "0.010", "17000.5")
    assert args.params == {"clientOrderId": "TTN-hun-0000000042", "postOnly": True, "reduceOnly": True}


def test_market_has_no_price_and_ioc_goes_through():
    args = order_args(cmd(PERP, order_type=ev.OrderType.MARKET, price=None), PERP, profile("bybit"))
    assert args.type == "market" and args.price is None and "timeInForce" not in args.params
    args = order_args(cmd(PERP, time_in_force=ev.TimeInForce.IOC), PERP, profile("bybit"))
    assert args.params["timeInForce"] == "IOC"


def test_bybit_contract_stops_carry_a_direction():
    buy = order_args(cmd(PERP, order_type=ev.OrderType.STOP_MARKET, price=None, trigger_price=D("18000")),
                     PERP, profile("bybit"))
    sell = order_args(cmd(PERP, side=ev.Side.SELL, order_type=ev.OrderType.STOP_LIMIT, trigger_price=D("16000"),
                          price=D("15990")), PERP, profile("bybit"))
    assert buy.type == "market" and buy.params["triggerPrice"] == "18000" and buy.params["triggerDirection"] == "ascending"
    assert sell.type == "limit" and sell.price == "15990" and sell.params["triggerDirection"] == "descending"
    spot = order_args(cmd(SPOT, order_type=ev.OrderType.STOP_MARKET, price=None, trigger_price=D("60000")),
                      SPOT, profile("binance"))
    assert spot.params["triggerPrice"] == "60000" and "triggerDirection" not in spot.params


@pytest.mark.parametrize("inst,venue,kw,message", [
    (PERP, "binanceusdm", dict(order_type=ev.OrderType.STOP_MARKET, price=None, trigger_price=D("1")), "stop orders are not supported"),
    (SPOT, "mexc", dict(order_type=ev.OrderType.STOP_LIMIT, trigger_price=D("1")), "stop orders are not supported"),
    (PERP, "bybit", dict(order_type=ev.OrderType.LIMIT, price=None), "needs a positive price"),
    (PERP, "bybit", dict(order_type=ev.OrderType.STOP_MARKET, price=None), "needs a positive trigger price"),
    (PERP, "bybit", dict(order_type=ev.OrderType.MARKET, price=None, post_only=True), "post-only applies to limit"),
    (PERP, "bybit", dict(quantity=D("0")), "not positive"),
])
def test_unplaceable_orders_say_why(inst, venue, kw, message):
    with pytest.raises(Unplaceable, match=message):
        order_args(cmd(inst, **kw), inst, profile(venue))
