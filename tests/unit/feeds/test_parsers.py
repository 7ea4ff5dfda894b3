"""Venue frames to Titan events: exact values from recorded frames and the venues' doc examples."""

from __future__ import annotations

import gzip
import logging
from pathlib import Path

import pytest

from titan.core.clock import SimClock
from titan.core.events import (
    Bar,
    BookDelta,
    FundingRate,
    Liquidation,
    MarkPrice,
    OpenInterest,
    Quote,
    Side,
    Trade,
)
from titan.feeds.binance import BinanceRouter
from titan.feeds.bybit import BybitRouter, kline_timeframe
from titan.feeds.options import FeedOptions
from titan.feeds.venues import ENDPOINTS, Channel, endpoint_for, venue_symbol

DATA = Path(__file__).resolve().parents[2] / "data" / "feeds"
MS = 1_000_000


def router(cls, endpoint, *channels, iid, **opts):
    out: list = []
    r = cls(ENDPOINTS[endpoint], out.append, SimClock(5), FeedOptions(**opts), on_resync=lambda s: None)
    for ch in channels:
        r.watch(iid, ch)
    return r, out


def session_lines(name: str, n: int = 60) -> list[str]:
    with gzip.open(DATA / name, "rt") as fh:
        return [next(fh).split(" ", 1)[1].rstrip("\n") for _ in range(n)]


# ---- Binance --------------------------------------------------------------------------------


def test_binance_trade_frame_recorded():
    r, out = router(BinanceRouter, "binanceusdm", Channel.TRADES, iid="BTC/USDT:USDT@binanceusdm")
    frame = next(t for t in session_lines("binanceusdm_BTCUSDT_session_head.log.gz") if "@trade" in t[:30])
    # {"e":"trade","E":1723161256322,"T":1723161256322,"s":"BTCUSDT","t":5266583935,"p":"61800.30","q":"0.006",...,"m":false}
    assert r.on_frame(frame) is True
    assert out == [Trade(instrument_id="BTC/USDT:USDT@binanceusdm", ts_event=1723161256322 * MS, ts_init=5,
                         price=61800.3, size=0.006, aggressor=Side.BUY, trade_id="5266583935")]


def test_binance_maker_buyer_means_taker_sold():
    r, out = router(BinanceRouter, "binance", Channel.TRADES, iid="ETH/USDT@binance")
    r.on_frame('{"stream":"ethusdt@trade","data":{"e":"trade","E":1639351062244,"s":"ETHUSDT","t":705291099,'
               '"p":"4149.74000000","q":"0.43870000","b":7038593583,"a":7038593613,"T":1639351062243,"m":true,"M":true}}')
    assert out[0].aggressor is Side.SELL and out[0].price == 4149.74 and out[0].ts_event == 1639351062243 * MS


def test_binance_book_ticker_spot_has_no_time_so_receipt_time_is_used():
    r, out = router(BinanceRouter, "binance", Channel.QUOTES, iid="BTC/USDT@binance")
    r.on_frame('{"stream":"btcusdt@bookTicker","data":{"u":50093239212,"s":"BTCUSDT","b":"61837.63000000",'
               '"B":"3.78826000","a":"61837.64000000","A":"1.54698000"}}')
    assert out == [Quote(instrument_id="BTC/USDT@binance", ts_event=5, ts_init=5, bid=61837.63, bid_size=3.78826,
                         ask=61837.64, ask_size=1.54698)]


def test_binance_futures_kline_mark_and_liquidation_doc_examples():
    iid = "BTC/USDT:USDT@binanceusdm"
    r, out = router(BinanceRouter, "binanceusdm", Channel.KLINES, Channel.MARK, Channel.LIQUIDATIONS, iid=iid)
    r.on_frame('{"stream":"btcusdt@kline_1m","data":{"e":"kline","E":1638747660000,"s":"BTCUSDT","k":{"t":1638747660000,'
               '"T":1638747719999,"s":"BTCUSDT","i":"1m","f":100,"L":200,"o":"0.0010","c":"0.0020","h":"0.0025",'
               '"l":"0.0015","v":"1000","n":100,"x":false,"q":"1.0000","V":"500","Q":"0.500","B":"123456"}}}')
    assert out == []  # an unfinished candle is not emitted unless asked for
    r.on_frame('{"stream":"btcusdt@kline_1m","data":{"e":"kline","E":1638747660000,"s":"BTCUSDT","k":{"t":1638747660000,'
               '"T":1638747719999,"s":"BTCUSDT","i":"1m","f":100,"L":200,"o":"0.0010","c":"0.0020","h":"0.0025",'
               '"l":"0.0010","v":"1000","n":100,"x":true,"q":"1.0000","V":"500","Q":"0.500","B":"123456"}}}')
    r.on_frame('{"stream":"btcusdt@markPrice@1s","data":{"e":"markPriceUpdate","E":1562305380000,"s":"BTCUSDT",'
               '"p":"11794.15000000","i":"11784.62659091","P":"11784.25641265","r":"0.00038167","T":1562306400000}}')
    r.on_frame('{"stream":"btcusdt@forceOrder","data":{"e":"forceOrder","E":1568014460893,"o":{"s":"BTCUSDT","S":"SELL",'
               '"o":"LIMIT","f":"IOC","q":"0.014","p":"9910.00000000","ap":"9910.12345678","X":"FILLED","l":"0.014",'
               '"z":"0.014","T":1568014460893}}}')
    bar, mark, funding, liq = out
    assert bar == Bar(instrument_id=iid, ts_event=1638747720000 * MS, ts_init=5, timeframe="1m",
                      ts_open=1638747660000 * MS, open=0.001, high=0.0025, low=0.001, close=0.002, volume=1000.0)
    assert mark == MarkPrice(instrument_id=iid, ts_event=1562305380000 * MS, ts_init=5, mark=11794.15, index=11784.62659091)
    assert funding == FundingRate(instrument_id=iid, ts_event=1562305380000 * MS, ts_init=5, rate=0.00038167,
                                  ts_next=1562306400000 * MS)
    assert liq == Liquidation(instrument_id=iid, ts_event=1568014460893 * MS, ts_init=5, side=Side.SELL,
                              price=9910.12345678, size=0.014)


def test_binance_depth_publishes_only_from_a_synced_book():
    iid = "BTC/USDT:USDT@binanceusdm"
    r, out = router(BinanceRouter, "binanceusdm", Channel.BOOK, iid=iid, binance_depth_stream="depth@0ms")
    lines = session_lines("binanceusdm_BTCUSDT_session_head.log.gz", 120)
    snapshot = next(t for t in lines if t.startswith('{"lastUpdateId"'))
    for text in lines[: lines.index(snapshot)]:
        if "@depth" in text[:40]:
            r.on_frame(text)
    assert out == [] and r.books["btcusdt@depth@0ms"].valid is False
    r.on_depth_snapshot("btcusdt@depth@0ms", snapshot)
    snap = out[0]
    assert isinstance(snap, BookDelta) and snap.is_snapshot
    assert snap.last_update_id == r.books["btcusdt@depth@0ms"].last_update_id >= 5123107852948
    assert snap.bids[0][0] < snap.asks[0][0] and len(snap.bids) >= 1000  # REST limit 1000 + diffs
    for text in lines[lines.index(snapshot) + 1:]:
        r.on_frame(text)
    deltas = [e for e in out if isinstance(e, BookDelta) and not e.is_snapshot]
    assert deltas and all(b.prev_update_id == a.last_update_id for a, b in zip(deltas, deltas[1:], strict=False))


def test_undecodable_frames_are_counted_and_logged(caplog):
    caplog.set_level(logging.WARNING)
    r, out = router(BinanceRouter, "binance", Channel.TRADES, iid="BTC/USDT@binance")
    assert r.on_frame('{"stream":"btcusdt@trade","data":{"e":"trade","T":1,"t":2,"p":"abc","q":"1","m":false}}') is False
    assert r.on_frame('{"stream":"btcusdt@trade","data":{"e":"tr') is False
    assert r.on_frame("not json at all") is False
    assert out == [] and r.stats.decode_errors == 3
    assert "dropped undecodable frame #1 on btcusdt@trade" in caplog.text
    assert r.on_frame('{"result":null,"id":7}') is False and r.stats.control == 1


def test_unsubscribed_streams_are_not_parsed():
    r, out = router(BinanceRouter, "binance", Channel.TRADES, iid="BTC/USDT@binance")
    r.on_frame('{"stream":"ethusdt@trade","data":{"e":"trade","T":1,"t":2,"p":"1","q":"1","m":false}}')
    assert out == [] and r.stats.unknown == 1


# ---- Bybit (message examples of Bybit's v5 API docs, bybit-exchange.github.io/docs/v5) --------


def test_bybit_public_trade_docs_example():
    r, out = router(BybitRouter, "bybit-linear", Channel.TRADES, iid="BTC/USDT:USDT@bybit")
    r.on_frame('{"topic":"publicTrade.BTCUSDT","type":"snapshot","ts":1672304486868,"data":[{"T":1672304486865,'
               '"s":"BTCUSDT","S":"Buy","v":"0.001","p":"16578.50","L":"PlusTick","i":"20f43950-d8dd-5b31-9112-a178eb6023af","BT":false}]}')
    assert out == [Trade(instrument_id="BTC/USDT:USDT@bybit", ts_event=1672304486865 * MS, ts_init=5, price=16578.5,
                         size=0.001, aggressor=Side.BUY, trade_id="20f43950-d8dd-5b31-9112-a178eb6023af")]


def test_bybit_linear_tickers_snapshot_then_partial_deltas():
    iid = "BTC/USDT:USDT@bybit"
    r, out = router(BybitRouter, "bybit-linear", Channel.MARK, iid=iid)
    # docs/v5/websocket/public/ticker (linear snapshot), as recorded in tests data of nautilus_trader
    r.on_frame('{"topic":"tickers.BTCUSDT","type":"snapshot","data":{"symbol":"BTCUSDT","tickDirection":"PlusTick",'
               '"lastPrice":"17216.00","markPrice":"17217.33","indexPrice":"17227.36","openInterest":"68744.761",'
               '"openInterestValue":"1183601235.91","nextFundingTime":"1673280000000","fundingRate":"-0.000212",'
               '"bid1Price":"17215.50","bid1Size":"84.489","ask1Price":"17216.00","ask1Size":"83.020"},'
               '"cs":24987956059,"ts":1673272861686}')
    assert out == [
        MarkPrice(instrument_id=iid, ts_event=1673272861686 * MS, ts_init=5, mark=17217.33, index=17227.36),
        FundingRate(instrument_id=iid, ts_event=1673272861686 * MS, ts_init=5, rate=-0.000212, ts_next=1673280000000 * MS),
        OpenInterest(instrument_id=iid, ts_event=1673272861686 * MS, ts_init=5, value=68744.761),
    ]
    out.clear()
    r.on_frame('{"topic":"tickers.BTCUSDT","type":"delta","data":{"symbol":"BTCUSDT","markPrice":"17218.00"},"cs":1,"ts":1673272861786}')
    assert out == [MarkPrice(instrument_id=iid, ts_event=1673272861786 * MS, ts_init=5, mark=17218.0, index=17227.36)]


def test_bybit_kline_and_all_liquidation_docs_examples():
    iid = "ROSE/USDT:USDT@bybit"
    r, out = router(BybitRouter, "bybit-linear", Channel.KLINES, Channel.LIQUIDATIONS, iid=iid, emit_bar_updates=True)
    r.on_frame('{"topic":"kline.1.ROSEUSDT","data":[{"start":1672324800000,"end":1672324859999,"interval":"1",'
               '"open":"16649.5","close":"16677","high":"16677","low":"16608","volume":"2.081","turnover":"34666.4005",'
               '"confirm":false,"timestamp":1672324988882}],"ts":1672324988882,"type":"snapshot"}')
    # docs/v5/websocket/public/all-liquidation: S is the liquidated *position* side
    r.on_frame('{"topic":"allLiquidation.ROSEUSDT","type":"snapshot","ts":1739502303204,"data":[{"T":1739502302929,'
               '"s":"ROSEUSDT","S":"Sell","v":"20000","p":"0.04499"}]}')
    bar, liq = out
    assert bar == Bar(instrument_id=iid, ts_event=1672324860000 * MS, ts_init=5, timeframe="1m", ts_open=1672324800000 * MS,
                      open=16649.5, high=16677.0, low=16608.0, close=16677.0, volume=2.081, closed=False)
    assert liq == Liquidation(instrument_id=iid, ts_event=1739502302929 * MS, ts_init=5, side=Side.BUY, price=0.04499, size=20000.0)


def test_bybit_quotes_from_level_one_book():
    r, out = router(BybitRouter, "bybit-spot", Channel.QUOTES, iid="BTC/USDT@bybit")
    r.on_frame('{"topic":"orderbook.1.BTCUSDT","type":"snapshot","ts":1,"data":{"s":"BTCUSDT","b":[["100.5","2"]],"a":[["101","3"]],"u":7,"seq":9}}')
    r.on_frame('{"topic":"orderbook.1.BTCUSDT","type":"delta","ts":2,"data":{"s":"BTCUSDT","b":[["100.5","0"],["100.7","1"]],"a":[],"u":8,"seq":10}}')
    assert [(q.bid, q.bid_size, q.ask, q.ask_size, q.ts_event) for q in out] == [(100.5, 2.0, 101.0, 3.0, MS), (100.7, 1.0, 101.0, 3.0, 2 * MS)]


def test_bybit_subscription_refusal_is_counted(caplog):
    caplog.set_level(logging.ERROR)
    r, _ = router(BybitRouter, "bybit-linear", iid="BTC/USDT:USDT@bybit")
    r.on_frame('{"success":false,"ret_msg":"Invalid topic: invalid.topic.BTCUSDT","conn_id":"x","op":"subscribe"}')
    assert r.stats.sub_errors == 1 and "Invalid topic" in caplog.text


# ---- names ----------------------------------------------------------------------------------


@pytest.mark.parametrize("iid, endpoint", [
    ("BTC/USDT@binance", "binance"), ("BTC/USDT:USDT@binanceusdm", "binanceusdm"),
    ("BTC/USDT@bybit", "bybit-spot"), ("ETH/USDT:USDT@bybit", "bybit-linear"),
])
def test_endpoint_for(iid, endpoint):
    assert endpoint_for(iid).name == endpoint


@pytest.mark.parametrize("iid, needle", [
    ("BTC/USDT:USDT@binance", "binanceusdm"), ("BTC/USDT@binanceusdm", "perpetuals"),
    ("BTC/USDT@mexc", "no market-data feed"), ("BTCUSDT", "SYMBOL@VENUE"),
])
def test_endpoint_for_rejects(iid, needle):
    with pytest.raises(ValueError, match=needle):
        endpoint_for(iid)


def test_names():
    assert venue_symbol("btc/usdt:USDT") == "BTCUSDT"
    assert [kline_timeframe(i) for i in ("1", "15", "60", "240", "D")] == ["1m", "15m", "1h", "4h", "1d"]
    r, _ = router(BinanceRouter, "binance", iid="BTC/USDT@binance")
    with pytest.raises(ValueError, match="only for perpetuals"):
        r.stream_for("BTC/USDT@binance", Channel.MARK)


def test_binance_agg_trades_recorded_frame():
    iid = "CTK/USDT:USDT@binanceusdm"
    r, out = router(BinanceRouter, "binanceusdm", Channel.TRADES, iid=iid, binance_trade_stream="aggTrade")
    # cryptofeed sample_data/BINANCE_FUTURES.ws.1.0 (raw aggTrade frame)
    assert r.on_frame('{"stream":"ctkusdt@aggTrade","data":{"e":"aggTrade","E":1626992741575,"a":16599292,"s":"CTKUSDT",'
                      '"p":"1.01100","q":"10","f":23961322,"l":23961322,"T":1626992741421,"m":false}}')
    assert out == [Trade(instrument_id=iid, ts_event=1626992741421 * MS, ts_init=5, price=1.011, size=10.0,
                         aggressor=Side.BUY, trade_id="a16599292")]
