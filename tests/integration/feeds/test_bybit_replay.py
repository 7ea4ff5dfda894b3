"""The real feed client against the replay server speaking Bybit v5 (real orderbook.500 messages)."""

from __future__ import annotations

import asyncio
import logging

import orjson

from native.reference.book import L2Book
from titan.core.events import BookDelta, FeedStatus
from titan.feeds.replay_server import FaultPlan, ReplayServer
from titan.feeds.venues import Channel

from .conftest import BYBIT, USDM, USDM_ID, XRP_ID, Recorder, make_feed, wait_until


def truth_by_update_id() -> dict[int, tuple[float, float, float, float]]:
    """The book's top after every recorded message, rebuilt independently (reference book)."""
    book, out = L2Book(), {}
    for line in BYBIT.read_text().splitlines():
        m = orjson.loads(line)
        d = m["data"]
        levels = [[(float(p), float(q)) for p, q in d[k]] for k in ("b", "a")]
        if m["type"] == "snapshot":
            book.load(*levels)
        else:
            book.apply(*levels)
        out[d["u"]] = book.top()
    return out


async def replay(faults=None, speed=0.0, **options):
    rec = Recorder(XRP_ID)
    async with ReplayServer(BYBIT, faults=faults, speed=speed) as srv:
        feed = make_feed(srv, rec, **options)
        await feed.subscribe(XRP_ID, Channel.BOOK)
        async with feed:
            await asyncio.wait_for(srv.finished.wait(), 10)
            await wait_until(lambda: feed.book(XRP_ID).valid, timeout=5)
            await asyncio.sleep(0.05)
    return rec, srv, feed


def test_book_follows_every_delta_exactly():
    rec, srv, feed = asyncio.run(replay())
    truth = truth_by_update_id()
    assert rec.tops == {u: top for u, top in truth.items() if u in rec.tops}
    assert len(rec.tops) == 50  # the snapshot and all 49 deltas
    first = next(orjson.loads(t) for _, t in srv.requests if '"subscribe"' in t)
    assert first == {"op": "subscribe", "req_id": "1", "args": ["orderbook.500.XRPUSDT"]}
    deltas = rec.of(BookDelta)
    assert deltas[0].is_snapshot and len(deltas[0].bids) == 500
    assert [d.last_update_id for d in deltas[1:]] == list(range(deltas[0].last_update_id + 1, deltas[0].last_update_id + 50))


def test_gap_resubscribes_and_gets_a_fresh_snapshot(caplog):
    caplog.set_level(logging.WARNING, logger="titan.feeds")
    # paced at 10x (a frame every ~10 ms) so the client usually resyncs before the next drop;
    # a drop that lands while the book is already resyncing is not a second gap
    rec, srv, feed = asyncio.run(replay(FaultPlan(drop_every=12), speed=10.0))
    stats = feed.stats()["bybit-linear"]
    gaps = stats["gaps"]
    assert 1 <= gaps <= srv.injected["dropped"] <= 4  # book frames 12, 24, 36, 48
    assert stats["resyncs"] == gaps + 1
    ops = [op for op in (orjson.loads(t)["op"] for _, t in srv.requests) if op != "ping"]
    assert ops == ["subscribe"] + ["unsubscribe", "subscribe"] * gaps
    assert "sequence gap: expected u=" in caplog.text
    truth = truth_by_update_id()
    assert all(truth[u] == top for u, top in rec.tops.items())
    snapshots = [d for d in rec.of(BookDelta) if d.is_snapshot]
    assert len(snapshots) == gaps + 1  # the recorded one, then those the server built from its book
    assert rec.statuses().count(FeedStatus.GAP) == gaps


def test_spot_subscriptions_are_split_at_ten_topics():
    async def main():
        rec = Recorder("BTC/USDT@bybit")
        async with ReplayServer(BYBIT) as srv:
            feed = make_feed(srv, rec)
            for base in ("BTC", "ETH", "SOL", "XRP", "DOGE", "ADA"):
                await feed.subscribe(f"{base}/USDT@bybit", Channel.TRADES)
                await feed.subscribe(f"{base}/USDT@bybit", Channel.QUOTES)
            async with feed:
                await wait_until(lambda: sum('"subscribe"' in t for _, t in srv.requests) >= 2)
        return srv

    srv = asyncio.run(main())
    frames = [orjson.loads(t) for _, t in srv.requests if '"ping"' not in t]
    assert [len(f["args"]) for f in frames] == [10, 2]
    assert frames[0]["args"][:2] == ["publicTrade.BTCUSDT", "orderbook.1.BTCUSDT"]
    assert [f["req_id"] for f in frames] == ["1", "2"]


def test_json_ping_keeps_the_connection():
    async def main():
        rec = Recorder(XRP_ID)
        async with ReplayServer(BYBIT) as srv:
            feed = make_feed(srv, rec, ping_interval_s=0.05)
            await feed.subscribe(XRP_ID, Channel.BOOK)
            async with feed:
                await wait_until(lambda: sum('"op":"ping"' in t for _, t in srv.requests) >= 4)
        return srv, feed

    srv, feed = asyncio.run(main())
    pings = [orjson.loads(t) for _, t in srv.requests if '"op":"ping"' in t]
    assert all(set(p) == {"req_id", "op"} for p in pings)
    assert srv.connections == 1 and feed.stats()["bybit-linear"]["reconnects"] == 0


def test_unanswered_pings_mean_reconnect(caplog):
    caplog.set_level(logging.WARNING, logger="titan.feeds")

    async def main(path, iid, channel):
        rec = Recorder(iid)
        async with ReplayServer(path, faults=FaultPlan(ignore_pings=True)) as srv:
            feed = make_feed(srv, rec, ping_interval_s=0.1)
            await feed.subscribe(iid, channel)
            async with feed:
                await wait_until(lambda: srv.connections >= 2, timeout=5)
        return rec

    rec = asyncio.run(main(BYBIT, XRP_ID, Channel.BOOK))  # Bybit: JSON ping, no pong
    assert "no pong within" in caplog.text
    assert FeedStatus.DISCONNECTED in rec.statuses("")
    rec = asyncio.run(main(USDM, USDM_ID, Channel.TRADES))  # Binance: websocket ping, no pong
    assert FeedStatus.DISCONNECTED in rec.statuses("")
