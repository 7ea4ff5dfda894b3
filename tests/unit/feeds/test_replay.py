"""ReplayFeed ordering, raw-capture replay, recordings, reconnect backoff."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from titan.core.errors import DataError
from titan.core.events import Bar, BookDelta, FundingRate, Quote, Trade
from titan.feeds.connection import backoff_delay
from titan.feeds.history import load_bars, load_funding
from titan.feeds.recording import Recording
from titan.feeds.replay import ReplayFeed, load_recording

DATA = Path(__file__).resolve().parents[2] / "data" / "feeds"


def fr(ts: int, tag: str) -> FundingRate:
    return FundingRate(instrument_id=tag, ts_event=ts, ts_init=ts, rate=0.0)


@given(st.lists(st.lists(st.integers(0, 50), max_size=20).map(sorted), min_size=1, max_size=5))
def test_merge_orders_by_time_then_stream(streams):
    events = [[fr(ts, f"s{i}") for ts in s] for i, s in enumerate(streams)]
    out = [(e.ts_event, int(e.instrument_id[1:])) for e in ReplayFeed(*events)]
    assert out == sorted(out)  # time first, then the order the streams were given
    assert len(out) == sum(map(len, streams))


def test_series_merge_bars_and_funding():
    bars = load_bars(DATA / "bybit-linear_BTCUSDT-PERP_1m_20221213.csv.gz", "BTC/USDT:USDT@bybit")
    funding = load_funding(DATA / "bybit-linear_BTCUSDT-PERP_funding_rate_20221213.csv.gz", "BTC/USDT:USDT@bybit")
    out = list(ReplayFeed(bars, funding))
    assert len(out) == len(bars) + len(funding)
    assert isinstance(out[0], FundingRate)  # 00:00 settlement before the 00:00-00:01 bar closes
    noon = [i for i, e in enumerate(out) if e.ts_event == funding.ts_event[1]]
    assert [type(out[i]) for i in noon] == [Bar, FundingRate]  # equal time: the first stream goes first


def test_backwards_stream_is_an_error():
    with pytest.raises(DataError, match=r"stream 1: ts_event goes backwards at event 2: 3 < 5"):
        list(ReplayFeed([fr(1, "a")], [fr(2, "b"), fr(5, "b"), fr(3, "b")]))


def test_capture_replays_through_the_live_routers():
    out = load_recording(DATA / "binanceusdm_BTCUSDT_session_head.log.gz", "BTC/USDT:USDT@binanceusdm")
    assert sorted(out) == ["btcusdt@bookTicker", "btcusdt@depth@0ms", "btcusdt@trade"]
    assert len(out["btcusdt@trade"]) == 611 and all(isinstance(e, Trade) for e in out["btcusdt@trade"])
    assert len(out["btcusdt@bookTicker"]) == 3516 and isinstance(out["btcusdt@bookTicker"][0], Quote)
    book = out["btcusdt@depth@0ms"]
    assert book[0].is_snapshot and all(isinstance(e, BookDelta) and not e.is_snapshot for e in book[1:])
    assert all(b.prev_update_id == a.last_update_id for a, b in zip(book[1:], book[2:], strict=False))
    assert book[0].ts_init == 1723161255319702566  # synced when the capture's REST snapshot arrived
    merged = list(ReplayFeed(out["btcusdt@trade"], out["btcusdt@depth@0ms"]))
    assert len(merged) == 611 + len(book)


def test_recording_files():
    rec = Recording.load(DATA / "binance_BTCUSDT_session_head.log.gz")
    assert rec.family == "binance" and len(rec) == 2999 and rec.symbols == ["BTCUSDT"]
    assert [s.symbol for s in rec.snapshots] == ["BTCUSDT"]
    assert sorted(rec.keys) == ["btcusdt@bookTicker", "btcusdt@depth@100ms", "btcusdt@trade"]
    bybit = Recording.load(DATA / "bybit_orderbook.500.XRPUSDT_20241201.jsonl")
    assert bybit.family == "bybit" and bybit.frames[0].ts == 1733011200691 * 1_000_000
    with pytest.raises(DataError, match="mixes protocol families"):
        Recording.load(DATA / "binance_BTCUSDT_session_head.log.gz", DATA / "bybit_orderbook.500.XRPUSDT_20241201.jsonl")


def test_recording_rejects_foreign_lines(tmp_path):
    p = tmp_path / "x.jsonl"
    p.write_text('{"topic":"orderbook.1.X","ts":1,"type":"snapshot","data":{}}\n{"hello":1}\n')
    with pytest.raises(DataError, match=r"x.jsonl:2: not a Binance combined-stream or Bybit v5 frame"):
        Recording.load(p)


@given(st.integers(0, 80), st.floats(0.01, 5), st.floats(0.01, 120), st.integers(0, 2**32))
def test_backoff_is_full_jitter_within_the_cap(attempt, base, cap, seed):
    delay = backoff_delay(attempt, base, cap, random.Random(seed))
    assert 0.0 <= delay <= min(cap, base * 2.0 ** min(attempt, 60))


def test_backoff_spreads_out():
    rng = random.Random(1)
    delays = [backoff_delay(6, 0.5, 30.0, rng) for _ in range(2000)]
    assert max(delays) > 25 and min(delays) < 5  # uniform over [0, 30], not a fixed step


def test_recorded_book_stream_times_never_go_backwards():
    out = load_recording(DATA / "binanceusdm_BTCUSDT_session_head.log.gz", "BTC/USDT:USDT@binanceusdm")
    book = out["btcusdt@depth@0ms"]
    times = [e.ts_event for e in book]
    assert times == sorted(times)
    assert book[0].ts_event < book[0].ts_init + 5 * 10**9  # venue time of the last diff, not 0
    assert list(ReplayFeed(*out.values()))  # the backtest merges all three streams
