"""The emulator's market-data side, read by the genuine ccxt client: kline and funding history
with the venues' paging (served from the recorded files), and the public websockets (books and
trades driven by the recorded tape)."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import ccxt.async_support as accxt
import pytest

from tests.kit.emulator.history import resample
from tests.kit.emulator.runner import EmulatorThread
from tests.kit.emulator.tape import load_candles, load_funding
from titan.execution.venues import build_exchange, localize, profile

D = Decimal


@pytest.fixture(scope="module")
def emu():
    t = EmulatorThread().start()
    yield t
    t.stop()


def public(cls, venue: str, emu: EmulatorThread):
    types = {"bybit": ["spot", "linear"], "binance": ["spot"], "binanceusdm": ["linear"]}[venue]
    ex = cls({"enableRateLimit": False, "options": {"fetchMarkets": {"types": types}, "fetchCurrencies": False}})
    ex.urls["api"] = localize(ex.urls["api"], emu.base_url(venue), emu.ws_url(venue))
    return ex


CANDLES = {
    ("bybit", "BTC/USDT:USDT"): "bybit-linear_BTCUSDT_1m.csv.gz",
    ("bybit", "BTC/USDT"): "bybit-spot_BTCUSDT_1m.csv.gz",
    ("binance", "BTC/USDT"): "binance-spot_BTCUSDT_1m.csv.gz",
    ("binanceusdm", "BTC/USDT:USDT"): "binance-usdm_BTCUSDT_1m.csv.gz",
}


@pytest.mark.parametrize("venue,symbol", list(CANDLES))
@pytest.mark.parametrize("timeframe,minutes", [("1m", 1), ("5m", 5), ("1h", 60)])
def test_ohlcv_paging_returns_the_recorded_candles(emu, venue, symbol, timeframe, minutes):
    recorded = resample(load_candles(CANDLES[(venue, symbol)]), minutes)
    cls = {"bybit": accxt.bybit, "binance": accxt.binance, "binanceusdm": accxt.binanceusdm}[venue]

    async def go():
        ex = public(cls, venue, emu)
        try:
            await ex.load_markets()
            latest = await ex.fetch_ohlcv(symbol, timeframe, limit=3)
            since, got = recorded[0].ts_ms, []
            while True:  # the download loop a history client runs
                page = await ex.fetch_ohlcv(symbol, timeframe, since=since, limit=200)
                if not page:
                    break
                got += page
                since = page[-1][0] + minutes * 60_000
            return latest, got
        finally:
            await ex.close()

    latest, got = asyncio.run(go())
    assert [c[0] for c in latest] == [c.ts_ms for c in recorded[-3:]], "ccxt must see oldest first"
    assert [c[0] for c in got] == [c.ts_ms for c in recorded]
    for row, c in zip(got, recorded, strict=True):
        assert [D(repr(x)) for x in row[1:]] == [D(c.open), D(c.high), D(c.low), D(c.close), D(c.volume)]


@pytest.mark.parametrize("venue,file", [("bybit", "bybit-linear_BTCUSDT_funding.csv.gz"),
                                        ("binanceusdm", "binance-usdm_BTCUSDT_funding.csv.gz")])
def test_funding_history(emu, venue, file):
    recorded = load_funding(file)
    cls = accxt.bybit if venue == "bybit" else accxt.binanceusdm

    async def go():
        ex = public(cls, venue, emu)
        try:
            await ex.load_markets()
            latest = await ex.fetch_funding_rate_history("BTC/USDT:USDT", limit=2)
            first = await ex.fetch_funding_rate_history("BTC/USDT:USDT", since=recorded[0][0], limit=2)
            return latest, first
        finally:
            await ex.close()

    latest, first = asyncio.run(go())
    assert [(f["timestamp"], D(repr(f["fundingRate"]))) for f in latest] == recorded[-2:]
    assert [(f["timestamp"], D(repr(f["fundingRate"]))) for f in first] == recorded[:2]


def test_bybit_only_start_is_refused_like_the_venue(emu):
    async def go():
        ex = public(accxt.bybit, "bybit", emu)
        try:
            await ex.load_markets()
            with pytest.raises(accxt.BadRequest, match="startTime and endTime"):
                await ex.publicGetV5MarketFundingHistory({"category": "linear", "symbol": "BTCUSDT", "startTime": 1})
        finally:
            await ex.close()

    asyncio.run(go())


@pytest.mark.parametrize("venue,symbol,engine_symbol", [
    ("bybit", "BTC/USDT:USDT", "BTCUSDT"), ("binance", "BTC/USDT", "BTCUSDT"), ("binanceusdm", "BTC/USDT:USDT", "BTCUSDT"),
])
def test_public_order_book_stream_follows_the_tape(emu, venue, symbol, engine_symbol):
    emu.reset()

    async def go():
        ex = build_exchange(profile(venue), api_key="", secret="", rest_url=emu.base_url(venue),
                            ws_url=emu.ws_url(venue), enable_rate_limit=False)
        try:
            await ex.load_markets()
            book = await ex.watch_order_book(symbol)
            first = (book["bids"][0][0], book["asks"][0][0])
            for _ in range(5):  # each round: replay until the stream delivers a new book
                task = asyncio.ensure_future(ex.watch_order_book(symbol))
                for _ in range(200):
                    emu.call(lambda e: e.exchange(venue).advance(engine_symbol, 10))
                    await asyncio.sleep(0.01)
                    if task.done():
                        break
                book = await asyncio.wait_for(task, 5)
            await asyncio.sleep(0.1)  # the last updates sent before the check below
            book = ex.orderbooks[symbol]
            engine = emu.call(lambda e: (e.exchange(venue).books[engine_symbol].best_bid(),
                                         e.exchange(venue).books[engine_symbol].best_ask()))
            return first, (book["bids"][0][0], book["asks"][0][0]), engine
        finally:
            await ex.close()

    first, last, engine = asyncio.run(go())
    assert (D(repr(last[0])), D(repr(last[1]))) == engine, "ccxt's book must equal the emulator's"
    assert last != first, "the tape must have moved the top of the book"


def test_public_trades_stream(emu):
    emu.reset()

    async def go():
        ex = build_exchange(profile("binance"), api_key="", secret="", rest_url=emu.base_url("binance"),
                            ws_url=emu.ws_url("binance"), enable_rate_limit=False)
        try:
            await ex.load_markets()
            task = asyncio.ensure_future(ex.watch_trades("BTC/USDT"))
            await asyncio.sleep(0.3)
            emu.call(lambda e: e.exchange("binance").advance("BTCUSDT", 200))
            return await asyncio.wait_for(task, 10)
        finally:
            await ex.close()

    trades = asyncio.run(go())
    assert trades and all(t["symbol"] == "BTC/USDT" and t["price"] > 50000 for t in trades)
