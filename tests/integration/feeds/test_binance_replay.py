"""The real aiohttp feed client against the replay server speaking Binance (recorded frames)."""

from __future__ import annotations

import asyncio
import logging

import orjson
import pytest

from titan.core.events import BookDelta, FeedStatus, FeedStatusChanged, Quote, Trade
from titan.feeds.replay_server import FaultPlan, ReplayServer
from titan.feeds.venues import Channel

from .conftest import (
    DATA,
    SPOT,
    SPOT_ID,
    USDM,
    USDM_ID,
    Recorder,
    make_feed,
    matches_book_ticker,
    wait_until,
)

ALL = (Channel.BOOK, Channel.QUOTES, Channel.TRADES)


async def replay(path, iid, *, faults=None, speed=0.0, channels=ALL, **options):
    rec = Recorder(iid)
    async with ReplayServer(path, speed=speed, faults=faults) as srv:
        feed = make_feed(srv, rec, **options)
        for ch in channels:
            await feed.subscribe(iid, ch)
        async with feed:
            await asyncio.wait_for(srv.finished.wait(), 30)
            await wait_until(lambda: feed.book(iid) is None or feed.book(iid).valid, timeout=5)
            await asyncio.sleep(0.05)
    return rec, srv, feed


def test_subscription_frames_are_what_binance_expects():
    async def main():
        rec = Recorder(USDM_ID)
        async with ReplayServer(USDM) as srv:
            feed = make_feed(srv, rec)
            await feed.subscribe(USDM_ID, Channel.BOOK)
            await feed.subscribe(USDM_ID, Channel.TRADES)
            async with feed:
                await wait_until(lambda: len(srv.requests) >= 1)
                await feed.subscribe(USDM_ID, Channel.QUOTES)  # at run time, on the open connection
                await feed.subscribe(USDM_ID, Channel.TRADES)  # a second subscriber: no new request
                await feed.unsubscribe(USDM_ID, Channel.TRADES)  # still one subscriber left
                await feed.unsubscribe(USDM_ID, Channel.TRADES)
                await wait_until(lambda: len(srv.requests) >= 3)
                await asyncio.sleep(0.05)
        return srv

    srv = asyncio.run(main())
    assert [orjson.loads(t) for _, t in srv.requests] == [
        {"method": "SUBSCRIBE", "params": ["btcusdt@depth@0ms", "btcusdt@trade"], "id": 1},
        {"method": "SUBSCRIBE", "params": ["btcusdt@bookTicker"], "id": 3},
        {"method": "UNSUBSCRIBE", "params": ["btcusdt@trade"], "id": 5},
    ]
    assert {n for n, _ in srv.requests} == {1}  # one shared connection


def test_usdm_book_rebuilt_equals_recorded_book_ticker():
    rec, srv, feed = asyncio.run(replay(USDM, USDM_ID))
    same, wrong = matches_book_ticker(rec, USDM)
    assert wrong == []
    assert same >= 20
    stats = feed.stats()["binanceusdm"]
    assert stats["gaps"] == 0 and stats["decode_errors"] == 0 and stats["resyncs"] == 1
    trades, quotes = rec.of(Trade), rec.of(Quote)
    assert len(trades) == 611 and len(quotes) == 3516  # every recorded frame became an event
    assert all(t.ts_event < t.ts_init for t in trades[:10])  # venue time vs receive time (2026 clock)
    snapshot = next(e for e in rec.of(BookDelta) if e.is_snapshot)
    assert snapshot.bids[0][0] < snapshot.asks[0][0] and len(snapshot.bids) > 100


def test_spot_book_follows_contiguous_update_ids():
    rec, srv, feed = asyncio.run(replay(SPOT, SPOT_ID))
    deltas = [e for e in rec.of(BookDelta) if not e.is_snapshot]
    assert len(deltas) > 150
    assert all(b.first_update_id == a.last_update_id + 1 for a, b in zip(deltas, deltas[1:], strict=False))
    assert feed.stats()["binance"]["gaps"] == 0
    assert rec.statuses()[-1] is FeedStatus.RESYNCED


def _no_delta_while_invalid(rec: Recorder) -> None:
    """Between a GAP and the next RESYNCED no BookDelta may be published for the instrument."""
    invalid = False
    for e in rec.events:
        if isinstance(e, FeedStatusChanged) and e.instrument_id == rec.instrument_id:
            if e.status is FeedStatus.GAP or e.status in (FeedStatus.DISCONNECTED, FeedStatus.STALE):
                invalid = True
            elif e.status is FeedStatus.RESYNCED:
                invalid = False
        elif isinstance(e, BookDelta) and not e.is_snapshot:
            assert not invalid, "delta published from a gapped book"


def test_dropped_depth_frames_cause_gap_and_rest_resync(caplog):
    caplog.set_level(logging.WARNING, logger="titan.feeds")
    rec, srv, feed = asyncio.run(replay(USDM, USDM_ID, faults=FaultPlan(drop_every=60)))
    stats = feed.stats()["binanceusdm"]
    assert srv.injected["dropped"] >= 4
    # every drop after the first sync is seen as a gap (a drop before the sync hides in the buffer)
    assert srv.injected["dropped"] - 1 <= stats["gaps"] <= srv.injected["dropped"]
    assert stats["resyncs"] == stats["gaps"] + 1
    statuses = rec.statuses()
    assert statuses.count(FeedStatus.GAP) == stats["gaps"] and statuses[-1] is FeedStatus.RESYNCED
    assert "book invalid (sequence gap: expected pu=" in caplog.text
    _no_delta_while_invalid(rec)
    same, wrong = matches_book_ticker(rec, USDM)
    assert wrong == [] and same >= 5  # resynced books are right, too


def test_corrupt_frames_are_counted_logged_and_resynced(caplog):
    caplog.set_level(logging.WARNING, logger="titan.feeds")
    rec, srv, feed = asyncio.run(replay(USDM, USDM_ID, faults=FaultPlan(corrupt_every=75)))
    stats = feed.stats()["binanceusdm"]
    assert srv.injected["corrupted"] >= 3
    assert stats["decode_errors"] == srv.injected["corrupted"]
    assert "dropped undecodable frame #1 on btcusdt@depth@0ms" in caplog.text
    assert stats["resyncs"] >= srv.injected["corrupted"]  # each corrupt diff forces a fresh book
    _no_delta_while_invalid(rec)
    same, wrong = matches_book_ticker(rec, USDM)
    assert wrong == [] and same >= 5


def test_disconnects_reconnect_and_resubscribe_everything():
    rec, srv, feed = asyncio.run(replay(USDM, USDM_ID, faults=FaultPlan(disconnect_every=1200)))
    assert srv.injected["disconnects"] == 3
    assert srv.connections == 4
    subscribes = [orjson.loads(t) for _, t in srv.requests]
    assert len(subscribes) == 4
    assert all(s["method"] == "SUBSCRIBE" and sorted(s["params"]) ==
               ["btcusdt@bookTicker", "btcusdt@depth@0ms", "btcusdt@trade"] for s in subscribes)
    conn = rec.statuses("")
    assert conn.count(FeedStatus.CONNECTED) == 4 and conn.count(FeedStatus.DISCONNECTED) == 3
    assert feed.stats()["binanceusdm"]["reconnects"] == 3
    assert rec.statuses().count(FeedStatus.RESYNCED) == 4  # the book rebuilt after each reconnect
    _no_delta_while_invalid(rec)
    assert matches_book_ticker(rec, USDM)[1] == []


def test_silent_connection_is_declared_stale_and_reconnected():
    async def main():
        rec = Recorder(USDM_ID)
        async with ReplayServer(USDM, speed=4.0) as srv:
            feed = make_feed(srv, rec, stale_after_s=0.3)
            await feed.subscribe(USDM_ID, Channel.BOOK)
            await feed.subscribe(USDM_ID, Channel.QUOTES)
            async with feed:
                await wait_until(lambda: feed.book(USDM_ID).valid)
                srv.silence(0.8)
                await wait_until(lambda: FeedStatus.STALE in rec.statuses(), timeout=3)
                assert not feed.book(USDM_ID).valid  # a stale book is not trusted
                await wait_until(lambda: srv.connections >= 2 and feed.book(USDM_ID).valid, timeout=5)
        return rec, feed, srv

    rec, feed, srv = asyncio.run(main())
    statuses = rec.statuses()
    i = statuses.index(FeedStatus.STALE)
    assert statuses[i + 1] is FeedStatus.CONNECTED and statuses[-1] is FeedStatus.RESYNCED
    stale = feed.stats()["binanceusdm"]["stale"]
    assert stale >= 1 and srv.connections == stale + 1 and statuses.count(FeedStatus.STALE) == stale


def test_streams_past_the_connection_limit_open_another_connection():
    async def main():
        rec = Recorder(USDM_ID)
        async with ReplayServer(USDM) as srv:
            feed = make_feed(srv, rec, max_streams_per_connection=2)
            for ch in ALL:
                await feed.subscribe(USDM_ID, ch)
            async with feed:
                await asyncio.wait_for(srv.finished.wait(), 30)
                await asyncio.sleep(0.05)
                ep = feed.endpoints["binanceusdm"]
                shape = [list(c.streams) for c in ep.connections]
        return rec, srv, shape

    rec, srv, shape = asyncio.run(main())
    assert shape == [["btcusdt@depth@0ms", "btcusdt@bookTicker"], ["btcusdt@trade"]]
    assert srv.connections == 2
    assert len(rec.of(Trade)) == 611 and len(rec.of(Quote)) == 3516


def test_server_pings_are_answered():
    async def main():
        rec = Recorder(USDM_ID)
        async with ReplayServer(USDM, speed=8.0, ping_interval_s=0.05) as srv:
            feed = make_feed(srv, rec)
            await feed.subscribe(USDM_ID, Channel.TRADES)
            async with feed:
                await wait_until(lambda: srv.pongs >= 3)
        return srv

    assert asyncio.run(main()).pongs >= 3


def test_bars_from_the_live_trade_stream_of_the_bundled_sample():
    from titan.core.events import Bar
    from titan.feeds.history import load_trades
    from titan.feeds.replay_server import bundled_sample

    async def main():
        rec = Recorder(USDM_ID)
        async with ReplayServer(bundled_sample()) as srv:
            feed = make_feed(srv, rec)
            await feed.subscribe_bars(USDM_ID, ["1m", "2m"])
            async with feed:
                await asyncio.wait_for(srv.finished.wait(), 30)
                await wait_until(lambda: len(rec.of(Bar)) >= 3)
        return rec

    bars = asyncio.run(main()).of(Bar)
    assert [(b.timeframe, b.ts_open // 10**9) for b in bars] == [
        ("1m", 1723161240), ("1m", 1723161300), ("2m", 1723161240)]  # 23:54, 23:55; 23:54-23:56
    trades = load_trades(DATA / "binance-usdm_BTCUSDT_trades_20240808T2354.csv.gz", USDM_ID)
    for bar in bars:
        inside = (trades.ts_event >= bar.ts_open) & (trades.ts_event < bar.ts_event)
        p = trades.price[inside]
        assert (bar.open, bar.high, bar.low, bar.close) == (p[0], p.max(), p.min(), p[-1])
        assert bar.volume == pytest.approx(trades.size[inside].sum(), rel=1e-12)


def test_connects_once_the_venue_comes_up(caplog):
    import socket

    caplog.set_level(logging.WARNING, logger="titan.feeds")
    with socket.socket() as s:  # a free port with nobody listening yet
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]

    async def main():
        rec = Recorder(USDM_ID)
        srv = ReplayServer(USDM, port=port)
        feed = make_feed(srv, rec)
        await feed.subscribe(USDM_ID, Channel.TRADES)
        async with feed:
            await wait_until(lambda: caplog.text.count("connect to ws://127.0.0.1") >= 2)
            assert rec.statuses("") == []
            async with srv:
                await wait_until(lambda: len(rec.of(Trade)) == 611)
        return rec

    rec = asyncio.run(main())
    assert rec.statuses("")[0] is FeedStatus.CONNECTED
