from decimal import Decimal as D

import numpy as np
import pytest

from titan.backtest.market import default_lot, price_tick, sim_instrument, symbol_from_filename
from titan.core.instruments import InstrumentKind
from titan.feeds.history import load_bars

from .world import BINANCE_1M


def test_tick_is_the_finest_decimal_the_prices_use():
    closes = load_bars(BINANCE_1M, "x@sim").close  # Binance BTCUSDT perpetual: 0.1 tick
    assert price_tick(closes) == D("0.1")
    assert price_tick(np.array([3.0, 17.0])) == D(1)
    assert price_tick(np.array([0.125, 0.5])) == D("0.001")
    assert price_tick(np.array([1.0, 2.5, 2.75])) == D("0.01")


@pytest.mark.parametrize("price", [0.0031, 0.5, 7.0, 123.4, 3_000.0, 104_000.0])
def test_default_lot_is_worth_one_to_ten_quote_units(price):
    lot = default_lot(price)
    assert 1 <= float(lot) * price < 10
    assert lot == D(10) ** lot.adjusted()  # a power of ten


def test_instrument_kinds_fees_and_ids():
    perp = sim_instrument("btc/usdt:usdt", fee_bps=5.5, tick="0.1", lot="0.001")
    assert perp.id == "BTC/USDT:USDT@sim" and perp.kind is InstrumentKind.PERPETUAL
    assert perp.taker_fee == perp.maker_fee == D("0.00055") and perp.settle_currency == "USDT"
    spot = sim_instrument("ETH/BTC", fee_bps=0, tick="0.00001", lot="0.01", venue="binance")
    assert spot.is_spot and spot.id == "ETH/BTC@binance" and spot.taker_fee == 0


@pytest.mark.parametrize("kw, match", [
    ({"symbol": "BTCUSDT"}, "symbol 'BTCUSDT': expected BASE/QUOTE"),
    ({"symbol": "BTC/USDT", "tick": "0"}, "tick: expected a number > 0"),
    ({"symbol": "BTC/USDT", "lot": "abc"}, "lot: expected a number"),
    ({"symbol": "BTC/USDT", "fee_bps": -1}, "fee_bps: expected a number >= 0"),
])
def test_bad_instrument_arguments_say_which(kw, match):
    with pytest.raises(ValueError, match=match):
        sim_instrument(**kw)


def test_symbol_from_file_names():
    assert symbol_from_filename("binance-usdm_BTCUSDT-PERP_1m_20250504-20250603.csv.gz") == "BTC/USDT:USDT"
    assert symbol_from_filename("binanceusdm_BTCUSDT_20240808T235415Z.log.gz") == "BTC/USDT:USDT"
    assert symbol_from_filename("binance-spot_ETHUSDT_1m_20210420-20210520.csv.gz") == "ETH/USDT"
    assert symbol_from_filename("candles.csv") is None
