"""SubmitOrder -> the venue's create request (built by Titan, signed and sent by ccxt)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from titan.core import events as ev
from titan.core.instruments import Instrument, InstrumentKind
from titan.execution.placement import Unplaceable, create_request
from titan.execution.venues import profile

D = Decimal
SPOT = Instrument(symbol="BTC/USDT", venue="binance", base="BTC", quote="USDT", tick_size=D("0.01"), lot_size=D("0.00001"))
PERP = Instrument(symbol="BTC/USDT:USDT", venue="bybit", base="BTC", quote="USDT", kind=InstrumentKind.PERPETUAL,
                  settle="USDT", tick_size=D("0.5"), lot_size=D("0.001"))
STOPS = (ev.OrderType.STOP_MARKET, ev.OrderType.STOP_LIMIT)


def cmd(inst: Instrument, **kw) -> ev.SubmitOrder:
    base = dict(client_order_id="TTN-hun-0000000042", phase="hunter", instrument_id=inst.id, side=ev.Side.BUY,
                order_type=ev.OrderType.LIMIT, quantity=D("0.00123"), price=D("61000.5"), ts_init=0)
    base.update(kw)
    return ev.SubmitOrder(**base)


@given(st.sampled_from(list(ev.OrderType)), st.booleans(), st.booleans(), st.sampled_from(list(ev.TimeInForce)),
       st.sampled_from(["binance", "bybit", "mexc"]), st.sampled_from(list(ev.Side)))
def test_spot_requests_never_carry_reduce_only_and_keep_exact_decimals(otype, reduce_only, post_only, tif, venue, side):
    c = cmd(SPOT, order_type=otype, reduce_only=reduce_only, post_only=post_only and otype is ev.OrderType.LIMIT,
            time_in_force=tif, side=side, trigger_price=D("60000") if otype in STOPS else None)
    try:
        req = create_request(c, SPOT, "BTCUSDT", profile(venue))
    except Unplaceable:
        assert venue == "mexc" and otype in STOPS
        return
    assert "reduceOnly" not in req.params
    assert c.client_order_id in req.params.values()
    qty = req.params.get("qty") or req.params.get("quantity")
    assert qty == "0.00123"  # the Decimal's own digits, never a float's
    assert req.params.get("price") in (None, "61000.5")


def test_bybit_linear_limit_post_only_reduce_only():
    req = create_request(cmd(PERP, quantity=D("0.010"), price=D("17000.5"), post_only=True, reduce_only=True),
                         PERP, "BTCUSDT", profile("bybit"))
    assert req.method == "privatePostV5OrderCreate"
    assert req.params == {"category": "linear", "symbol": "BTCUSDT", "side": "Buy", "orderType": "Limit",
                          "qty": "0.010", "orderLinkId": "TTN-hun-0000000042", "price": "17000.5",
                          "timeInForce": "PostOnly", "reduceOnly": True}


def test_bybit_stops_and_spot_market_units():
    buy = create_request(cmd(PERP, order_type=ev.OrderType.STOP_MARKET, price=None, trigger_price=D("18000")),
                         PERP, "BTCUSDT", profile("bybit")).params
    sell = create_request(cmd(PERP, side=ev.Side.SELL, order_type=ev.OrderType.STOP_LIMIT, trigger_price=D("16000"),
                              price=D("15990")), PERP, "BTCUSDT", profile("bybit")).params
    assert (buy["orderType"], buy["triggerPrice"], buy["triggerDirection"]) == ("Market", "18000", 1)
    assert (sell["orderType"], sell["price"], sell["triggerDirection"]) == ("Limit", "15990", 2)
    spot = create_request(cmd(SPOT, order_type=ev.OrderType.MARKET, price=None), SPOT, "BTCUSDT", profile("bybit")).params
    assert spot["marketUnit"] == "baseCoin" and spot["category"] == "spot" and "price" not in spot


def test_binance_spot_and_usdm_shapes():
    spot = create_request(cmd(SPOT, post_only=True), SPOT, "BTCUSDT", profile("binance"))
    assert spot.method == "privatePostOrder" and spot.params["type"] == "LIMIT_MAKER" and "timeInForce" not in spot.params
    stop = create_request(cmd(SPOT, order_type=ev.OrderType.STOP_LIMIT, trigger_price=D("60000")), SPOT, "BTCUSDT",
                          profile("binance")).params
    assert (stop["type"], stop["stopPrice"], stop["timeInForce"]) == ("STOP_LOSS_LIMIT", "60000", "GTC")
    usdm = create_request(cmd(PERP, post_only=True, reduce_only=True, quantity=D("0.002"), price=D("60000.1")),
                          PERP, "BTCUSDT", profile("binanceusdm"))
    assert usdm.method == "fapiPrivatePostOrder"
    assert (usdm.params["type"], usdm.params["timeInForce"], usdm.params["reduceOnly"]) == ("LIMIT", "GTX", "true")
    assert usdm.params["newOrderRespType"] == "RESULT"


def test_mexc_time_in_force_is_an_order_type():
    ioc = create_request(cmd(SPOT, time_in_force=ev.TimeInForce.IOC), SPOT, "BTCUSDT", profile("mexc")).params
    assert ioc["type"] == "IMMEDIATE_OR_CANCEL"
    po = create_request(cmd(SPOT, post_only=True), SPOT, "BTCUSDT", profile("mexc")).params
    assert po["type"] == "LIMIT_MAKER" and "timeInForce" not in po


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
        create_request(cmd(inst, **kw), inst, "BTCUSDT", profile(venue))
