"""Helpers for driving the real feed client against the real replay server on 127.0.0.1."""

from __future__ import annotations

import asyncio
import gzip
import random
from collections.abc import Callable
from pathlib import Path

import orjson

from titan.core.clock import LiveClock
from titan.core.events import BookDelta, FeedStatus, FeedStatusChanged
from titan.feeds.client import MarketFeed
from titan.feeds.options import FeedOptions
from titan.feeds.replay_server import ReplayServer

DATA = Path(__file__).resolve().parents[2] / "data" / "feeds"
USDM = DATA / "binanceusdm_BTCUSDT_session_head.log.gz"
SPOT = DATA / "binance_BTCUSDT_session_head.log.gz"
BYBIT = DATA / "bybit_orderbook.500.XRPUSDT_20241201.jsonl"
USDM_ID = "BTC/USDT:USDT@binanceusdm"
SPOT_ID = "BTC/USDT@binance"
XRP_ID = "XRP/USDT:USDT@bybit"


class Recorder:
    """The feed's sink: keeps every event and the book's top after each applied delta."""

    def __init__(self, instrument_id: str) -> None:
        self.instrument_id = instrument_id
        self.events: list = []
        self.tops: dict[int, tuple[float, float, float, float]] = {}
        self.feed: MarketFeed | None = None

    def __call__(self, evt) -> None:
        self.events.append(evt)
        if isinstance(evt, BookDelta) and evt.instrument_id == self.instrument_id and self.feed:
            sync = self.feed.book(self.instrument_id)
            assert sync is not None and sync.valid, "a BookDelta was published from an invalid book"
            self.tops[evt.last_update_id] = sync.book.top()

    def statuses(self, instrument_id: str | None = None) -> list[FeedStatus]:
        iid = self.instrument_id if instrument_id is None else instrument_id
        return [e.status for e in self.events if isinstance(e, FeedStatusChanged) and e.instrument_id == iid]

    def of(self, cls) -> list:
        return [e for e in self.events if isinstance(e, cls)]


def make_feed(srv: ReplayServer, rec: Recorder, **options) -> MarketFeed:
    opts = srv.feed_options(FeedOptions(**{"reconnect_min_s": 0.05, "reconnect_max_s": 0.2,
                                           "resync_retry_s": 0.05, **options}))
    feed = MarketFeed(rec, clock=LiveClock(), urls=srv.urls, options=opts, rng=random.Random(7))
    rec.feed = feed
    return feed


async def wait_until(pred: Callable[[], bool], timeout: float = 10.0, step: float = 0.01) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not pred():
        if loop.time() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(step)


def recorded_book_tickers(path: Path) -> dict[int, tuple[float, float, float, float]]:
    """Every bookTicker in a Binance session log, by update id (the independent truth)."""
    out = {}
    with gzip.open(path, "rt") as fh:
        for line in fh:
            text = line.split(" ", 1)[1]
            if text.startswith('{"stream":"btcusdt@bookTicker"'):
                d = orjson.loads(text)["data"]
                out[d["u"]] = (float(d["b"]), float(d["B"]), float(d["a"]), float(d["A"]))
    return out


def matches_book_ticker(rec: Recorder, path: Path) -> tuple[int, list]:
    """(number of equal comparisons, list of mismatches) at identical update ids."""
    truth = recorded_book_tickers(path)
    same, wrong = 0, []
    for u, top in rec.tops.items():
        if u in truth:
            if truth[u] == top:
                same += 1
            else:
                wrong.append((u, top, truth[u]))
    return same, wrong
