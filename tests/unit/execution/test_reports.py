"""Exact money from ccxt's dicts: the venue's raw strings win over ccxt's floats."""

from __future__ import annotations

from decimal import Decimal

from titan.core.events import Liquidity
from titan.execution.reports import CLOSED, fill_report, order_report

D = Decimal


def test_bybit_execution_uses_raw_strings():
    trade = {"id": "e1", "order": "o1", "amount": 0.1, "price": 1190.15, "timestamp": 1672282722429,
             "fee": {"cost": 0.071409, "currency": "USDT"}, "takerOrMaker": "taker",
             "info": {"execQty": "0.1", "execPrice": "1190.15", "execFee": "0.07140900000000000001",
                      "isMaker": False, "orderLinkId": "TTN-x"}}
    rep = fill_report(trade, fee_currency="USDT")
    assert rep.fee == D("0.07140900000000000001")  # beyond a float's precision: the raw string
    assert (rep.qty, rep.price, rep.liquidity, rep.client_order_id) == (D("0.1"), D("1190.15"), Liquidity.TAKER, "TTN-x")


def test_binance_stream_and_rest_fields():
    ws = {"id": "7", "order": "9", "amount": 0.001, "price": 61837.64, "timestamp": 1,
          "info": {"l": "0.00100000", "L": "61837.64000000", "n": "0.00000100", "N": "BTC", "m": True}}
    rest = {"id": "7", "order": "9", "amount": 0.001, "price": 61837.64, "timestamp": 1, "takerOrMaker": "maker",
            "info": {"qty": "0.00100000", "price": "61837.64000000", "commission": "0.00000100", "commissionAsset": "BTC",
                     "isMaker": True}}
    a, b = fill_report(ws, fee_currency="USDT"), fill_report(rest, fee_currency="USDT")
    assert a == b and a.fee_currency == "BTC" and a.liquidity is Liquidity.MAKER and a.fee == D("0.000001")


def test_float_fallback_goes_through_the_shortest_repr():
    rep = fill_report({"id": "1", "amount": 0.1, "price": 0.3, "fee": {"cost": 0.0001, "currency": None}},
                      fee_currency="USDT", default_liquidity=Liquidity.TAKER)
    assert (rep.qty, rep.price, rep.fee, rep.fee_currency) == (D("0.1"), D("0.3"), D("0.0001"), "USDT")


def test_not_an_execution():
    assert fill_report({"id": "", "amount": 1, "price": 1}, fee_currency="X") is None
    assert fill_report({"id": "1", "amount": 0, "price": 1}, fee_currency="X") is None


def test_partially_filled_canceled_is_closed_but_ended_unfilled():
    order = {"id": "o", "clientOrderId": "c", "status": "closed", "filled": 0.001, "amount": 0.002,
             "info": {"cumExecQty": "0.001", "qty": "0.002", "orderStatus": "PartiallyFilledCanceled",
                      "rejectReason": "EC_NoError", "cancelType": "UNKNOWN"}}
    rep = order_report(order)
    assert rep.status == CLOSED and rep.is_terminal and rep.ended_unfilled and rep.reason == ""
    po = order_report({"id": "o", "status": "canceled", "info": {"rejectReason": "EC_PostOnlyWillTakeLiquidity"}})
    assert po.reason == "post-only order would take liquidity"
