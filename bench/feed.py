"""Feed throughput: recorded venue frames decoded into Titan events (and applied to the L2 book),
next to ``orjson.loads`` of the same frames in the same run.

Three workloads, each through the live client's own router (``router.on_frame(text)``, exactly
what the websocket reader calls):

- Binance USD-M ``depth@0ms`` diffs (real capture): decode, sequence check, apply to the native
  book, emit ``BookDelta``. The goal counts *level updates* (book deltas): >= 250,000/s.
- Bybit v5 ``orderbook.500`` deltas (50 real XRPUSDT messages, replayed many times; real Bybit
  captures are scarce - see the shared data README): same path, Bybit's ``u`` rule.
- Binance USD-M ``trade`` frames: decode into ``Trade`` events. Goal: >= 1,000,000 trades/s.

Reads ``../shared/data`` when present, else the slices in ``tests/data/feeds``. Prints one JSON
line; ``ratio`` is our rate / the orjson baseline rate (orjson only parses; we also build events
and maintain the book).
"""

from __future__ import annotations

import gc
import gzip
import json
import sys
import time
from collections import deque
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import orjson  # noqa: E402

import native  # noqa: E402
from titan.core.clock import SimClock  # noqa: E402
from titan.core.events import Trade  # noqa: E402
from titan.feeds.binance import BinanceRouter  # noqa: E402
from titan.feeds.bybit import BybitRouter  # noqa: E402
from titan.feeds.options import FeedOptions  # noqa: E402
from titan.feeds.venues import ENDPOINTS, Channel  # noqa: E402

SHARED = ROOT.parent / "shared" / "data"
TESTS = ROOT / "tests" / "data" / "feeds"
USDM_ID = "BTC/USDT:USDT@binanceusdm"
XRP_ID = "XRP/USDT:USDT@bybit"


def sources() -> tuple[str, Path, Path]:
    usdm = SHARED / "ws/binance/usdm/session_BTCUSDT_20240808T235415Z.log.gz"
    bybit = SHARED / "ws/bybit/public/orderbook.500.XRPUSDT_20241201.jsonl"
    if usdm.exists() and bybit.exists():
        return "shared", usdm, bybit
    return "tests", TESTS / "binanceusdm_BTCUSDT_session_head.log.gz", TESTS / "bybit_orderbook.500.XRPUSDT_20241201.jsonl"


def read_session(path: Path) -> list[str]:
    """The raw JSON of each line of a session log (``<receive ns> <json>``)."""
    with gzip.open(path, "rt") as fh:
        return [ln.split(" ", 1)[1].rstrip("\n") for ln in fh]


def best_of(fn, repeats: int = 5) -> float:
    best = float("inf")
    for _ in range(repeats):
        setup = fn()  # returns the timed callable after untimed setup
        gc.collect()
        t0 = time.perf_counter()
        setup()
        best = min(best, time.perf_counter() - t0)
    return best


def levels_of(frames: list[str], key: str) -> int:
    return sum(len(orjson.loads(f)[key]["b"]) + len(orjson.loads(f)[key]["a"]) for f in frames)


def orjson_rate(frames: list[str], repeats: int = 5) -> float:
    loads = orjson.loads

    def prepare():
        def run():
            for f in frames:
                loads(f)
        return run

    return len(frames) / best_of(prepare, repeats)


def binance_depth(session: Path) -> dict:
    lines = read_session(session)
    i_snap = next(i for i, t in enumerate(lines) if t.startswith('{"lastUpdateId"'))
    pre = [t for t in lines[:i_snap] if "@depth" in t[:40]]
    post = [t for t in lines[i_snap + 1:] if "@depth" in t[:40]]
    snapshot = lines[i_snap]
    counted = [0]

    def prepare():
        r = BinanceRouter(ENDPOINTS["binanceusdm"], lambda e: None, SimClock(),
                          FeedOptions(binance_depth_stream="depth@0ms"), on_resync=lambda s: None)
        stream = r.watch(USDM_ID, Channel.BOOK)
        for t in pre:
            r.on_frame(t)
        r.on_depth_snapshot(stream, snapshot)
        on_frame = r.on_frame

        def run():
            for t in post:
                on_frame(t)
            counted[0] = r.stats.gaps
        return run

    seconds = best_of(prepare)
    assert counted[0] == 0, "the recorded stream must replay without gaps"
    levels = levels_of(post, "data")
    base = orjson_rate(post)
    return {"messages": len(post), "levels": levels, "msgs_per_s": round(len(post) / seconds),
            "levels_per_s": round(levels / seconds), "baseline_orjson_msgs_per_s": round(base),
            "ratio": round(len(post) / seconds / base, 3)}


def bybit_book(path: Path, cycles: int = 300) -> dict:
    frames = path.read_text().splitlines()
    snapshot, deltas = frames[0], frames[1:]

    def prepare():
        r = BybitRouter(ENDPOINTS["bybit-linear"], lambda e: None, SimClock(),
                        FeedOptions(bybit_book_depth=500), on_resync=lambda s: None)
        r.watch(XRP_ID, Channel.BOOK)
        on_frame = r.on_frame
        timed = [0.0]

        def run():
            total = 0.0
            for _ in range(cycles):
                on_frame(snapshot)  # untimed: resets the book and u
                t0 = time.perf_counter()
                for t in deltas:
                    on_frame(t)
                total += time.perf_counter() - t0
            timed[0] = total
            assert r.stats.gaps == 0
        return run, timed

    best = float("inf")
    for _ in range(5):
        run, timed = prepare()
        gc.collect()
        run()
        best = min(best, timed[0])
    n = len(deltas) * cycles
    levels = levels_of(deltas, "data") * cycles
    base = orjson_rate(deltas * cycles, repeats=3)
    return {"messages": n, "levels": levels, "msgs_per_s": round(n / best), "levels_per_s": round(levels / best),
            "baseline_orjson_msgs_per_s": round(base), "ratio": round(n / best / base, 3)}


def binance_trades(session: Path) -> dict:
    frames = [t for t in read_session(session) if t.startswith('{"stream":"btcusdt@trade"')]
    reps = max(1, 200_000 // len(frames))
    frames = frames * reps
    emitted = [0]

    def prepare():
        last = deque(maxlen=1)  # a consumer that keeps nothing: events are not hoarded in memory
        r = BinanceRouter(ENDPOINTS["binanceusdm"], last.append, SimClock(), FeedOptions(),
                          on_resync=lambda s: None)
        r.watch(USDM_ID, Channel.TRADES)
        on_frame = r.on_frame

        def run():
            for t in frames:
                on_frame(t)
            emitted[0] = r.stats.frames - r.stats.decode_errors
            assert isinstance(last[0], Trade)
        return run

    seconds = best_of(prepare)
    assert emitted[0] == len(frames)
    base = orjson_rate(frames)
    return {"trades": len(frames), "trades_per_s": round(len(frames) / seconds),
            "baseline_orjson_per_s": round(base), "ratio": round(len(frames) / seconds / base, 3)}


def main() -> None:
    source, usdm, bybit = sources()
    depth = binance_depth(usdm)
    book = bybit_book(bybit)
    trades = binance_trades(usdm)
    print(json.dumps({
        "bench": "feed", "source": source, "native_compiled": native.COMPILED,
        "binance_depth": depth, "bybit_book": book, "trades": trades,
        "goal": {"book_levels_per_s": 250_000, "trades_per_s": 1_000_000},
        "meets_goal": depth["levels_per_s"] >= 250_000 and book["levels_per_s"] >= 250_000
        and trades["trades_per_s"] >= 1_000_000,
    }))


if __name__ == "__main__":
    main()
