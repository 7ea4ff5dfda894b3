from __future__ import annotations

from decimal import Decimal

import pytest

from titan.core.events import Side
from titan.core.instruments import Instrument, InstrumentRegistry, split_instrument_id, to_decimal

BTC = Instrument(symbol="BTC/USDT", venue="binance", base="BTC", quote="USDT",
                 tick_size=Decimal("0.01"), lot_size=Decimal("0.00001"),
                 min_qty=Decimal("0.00001"), min_notional=Decimal("5"))


def test_price_rounding_direction():
    assert BTC.round_price(100.019, Side.BUY) == Decimal("100.01")
    assert BTC.round_price(100.011, Side.SELL) == Decimal("100.02")
    assert BTC.round_price("100.01", Side.SELL) == Decimal("100.01")  # on grid stays


def test_qty_floors_to_lot_and_float_is_exact():
    assert BTC.round_qty(0.123456789) == Decimal("0.12345")
    assert BTC.round_qty(0.1) == Decimal("0.10000")
    assert BTC.round_qty(-1) == 0
    assert to_decimal(0.1) == Decimal("0.1")


def test_check_order_reasons():
    assert BTC.check_order(Decimal("0"), None).startswith("quantity 0 rounds to zero")
    assert "below minimum 5" in BTC.check_order(Decimal("0.0001"), Decimal("100"))
    assert BTC.check_order(Decimal("1"), Decimal("100")) is None


def test_registry_and_ids():
    reg = InstrumentRegistry([BTC])
    assert reg["BTC/USDT@binance"] is BTC and "BTC/USDT@binance" in reg
    with pytest.raises(KeyError, match="unknown instrument"):
        reg["nope@x"]
    assert split_instrument_id("BTC/USDT:USDT@bybit") == ("BTC/USDT:USDT", "bybit")
    with pytest.raises(ValueError):
        split_instrument_id("BTCUSDT")


def test_bad_tick_rejected():
    with pytest.raises(ValueError, match="tick_size"):
        Instrument(symbol="X", venue="v", base="X", quote="Y", tick_size=Decimal(0), lot_size=Decimal(1))
