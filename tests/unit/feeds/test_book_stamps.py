"""Book events carry venue time, never the receive clock's - whenever the REST snapshot arrives.

A snapshot that comes before any diff used to be stamped with the router's (wall) clock, which
dragged a replayed session's clock forward by years. The router's clock here reads a time far
from every venue time, so a leak shows."""

from __future__ import annotations

import orjson
from hypothesis import given
from hypothesis import strategies as st

from titan.core.clock import SimClock
from titan.core.events import BookDelta
from titan.feeds.binance import BinanceRouter
from titan.feeds.venues import ENDPOINTS, Channel

MS = 1_000_000
WALL = 1_900_000_000_000 * MS  # the receive clock: years after the data
T0 = 1_723_161_256_000  # venue ms


def diff_frame(stream: str, first: int, last: int, prev: int, e_ms: int, qty: str) -> str:
    return orjson.dumps({"stream": stream, "data": {
        "e": "depthUpdate", "E": e_ms, "T": e_ms, "s": "BTCUSDT", "U": first, "u": last, "pu": prev,
        "b": [["99.5", qty]], "a": [["100.5", qty]]}}).decode()


def snapshot_body(last_update_id: int, t_ms: int | None) -> str:
    body: dict = {"lastUpdateId": last_update_id, "bids": [["99.0", "2"]], "asks": [["101.0", "2"]]}
    if t_ms is not None:
        body.update(E=t_ms + 3, T=t_ms)
    return orjson.dumps(body).decode()


@given(futures=st.booleans(), steps=st.lists(st.integers(1, 500), min_size=1, max_size=12),
       sizes=st.lists(st.integers(1, 3), min_size=12, max_size=12), at=st.integers(0, 12),
       timed=st.booleans(), lag=st.floats(0, 1))
def test_published_book_times_are_venue_times_in_order(futures, steps, sizes, at, timed, lag):
    endpoint = "binanceusdm" if futures else "binance"
    iid = "BTC/USDT:USDT@binanceusdm" if futures else "BTC/USDT@binance"
    out: list = []
    router = BinanceRouter(ENDPOINTS[endpoint], out.append, SimClock(WALL), on_resync=lambda s: None)
    stream = router.watch(iid, Channel.BOOK)
    diffs, last, e_ms = [], 1000, T0
    for step, size in zip(steps, sizes, strict=False):  # consecutive update ids, rising venue times
        first = last + 1
        e_ms += step
        diffs.append((first, first + size - 1, last, e_ms))
        last = first + size - 1
    at = min(at, len(diffs))
    # the diffs before the snapshot are contained in it (USD-M drops only u < lastUpdateId)
    snap_id = (diffs[at - 1][1] + (1 if futures else 0)) if at else diffs[0][0] - 1
    lo = diffs[at - 1][3] if at else T0 - 1000
    hi = diffs[at][3] if at < len(diffs) else lo + 1000  # the snapshot's time: between the diffs around it
    snap_ms = lo + round(lag * (hi - lo)) if timed else None
    venue_times = {d[3] * MS for d in diffs} | ({snap_ms * MS} if snap_ms is not None else set())

    for first, u, prev, e in diffs[:at]:
        router.on_frame(diff_frame(stream, first, u, prev, e, "1"))
    router.on_depth_snapshot(stream, snapshot_body(snap_id, snap_ms))
    for first, u, prev, e in diffs[at:]:
        router.on_frame(diff_frame(stream, first, u, prev, e, "3"))

    books = [e for e in out if isinstance(e, BookDelta)]
    assert all(b.ts_event in venue_times for b in books), [b.ts_event for b in books]
    assert all(a.ts_event <= b.ts_event for a, b in zip(books, books[1:], strict=False))
    assert router.books[stream].valid
    deltas = [b for b in books if not b.is_snapshot]
    assert len(deltas) == len(diffs) - at  # every diff after the snapshot, once
    snaps = [b for b in books if b.is_snapshot]
    if snap_ms is None and at == 0 and not deltas:
        assert snaps == []  # no venue time seen yet: held, not stamped with the receive clock
        return
    assert len(snaps) == 1 and books[0] is snaps[0]  # the snapshot first, its content as synced
    assert (snaps[0].bids, snaps[0].asks) == (((99.0, 2.0),), ((101.0, 2.0),))  # the diffs before: contained
    if snap_ms is not None or at:
        newest = max([d[3] for d in diffs[:at]] + ([snap_ms] if snap_ms is not None else []))
        assert snaps[0].ts_event == newest * MS
    else:
        assert snaps[0].ts_event == diffs[0][3] * MS  # the first diff applied after it


def test_a_futures_snapshot_before_any_diff_has_the_venues_time():
    out: list = []
    router = BinanceRouter(ENDPOINTS["binanceusdm"], out.append, SimClock(WALL), on_resync=lambda s: None)
    stream = router.watch("BTC/USDT:USDT@binanceusdm", Channel.BOOK)
    router.on_depth_snapshot(stream, snapshot_body(5000, T0))
    (snap,) = [e for e in out if isinstance(e, BookDelta)]
    assert snap.is_snapshot and snap.ts_event == T0 * MS and snap.ts_init == WALL
