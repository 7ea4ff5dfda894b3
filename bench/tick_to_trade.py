"""Tick to trade, in one process: a recorded websocket frame injected at the feed, to the moment
the ccxt order request is handed to the HTTP layer.

The path is the daemon's: the live feed router (``router.on_frame``: msgspec decode, the L2
book for depth frames), the LiveRunner's replay dispatch into the Kernel (state, a phase, the
Brain's gate), ``PolicyGuard`` and ``CcxtExecutionClient.submit``, whose task runs ccxt's
``create_order`` - market lookup, parameters, HMAC signing, the rate limiter - until ccxt calls
``exchange.fetch(url, method, headers, body)``: there the clock stops (network excluded). The
markets were loaded from the local exchange emulator; ``fetch`` then answers like Binance USD-M
(order NEW), and the fill is handed back to the kernel after the measurement, as a venue's
would arrive.

Frames: the bundled real Binance USD-M BTCUSDT capture (trades, best bid/offer, depth diffs),
replayed in loops with times and update ids shifted, until >= 100,000 trade ticks have each
produced an order (the bench phase flips between long and flat on every trade). Baseline in the
same run: msgspec decode alone of the same trade frames. Also: the same path with the
durable-before-submit client (an fsync of the SQLite event log before every hand-off), and RSS
of a paper session with 100 instruments subscribed (trades, quotes, depth) and replaying.

    python bench/tick_to_trade.py [--ticks 100000] [--instruments 100] [--seconds 10]

Prints one JSON line (microseconds; RSS in MB).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import re
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import msgspec  # noqa: E402
import numpy as np  # noqa: E402
import orjson  # noqa: E402

from titan.core import events as ev  # noqa: E402
from titan.phases.base import Params, Phase, Stream  # noqa: E402

IID = "BTC/USDT:USDT@binanceusdm"


class FlipFlop(Phase):
    """Every trade: buy when flat, sell back when long - one order per tick."""

    name = "flipflop"
    family = "hunter"

    class Params(Params, frozen=True, kw_only=True, forbid_unknown_fields=True):
        qty: float = 0.002

    def subscriptions(self):
        return tuple(Stream(kind="trade", instrument_id=i) for i in self.instruments)

    def on_trade(self, trade):
        if self.position(trade.instrument_id):
            return [self.close(trade.instrument_id, tag="flop")]
        return [self.buy(trade.instrument_id, self.params.qty, tag="flip")]


class BookWatcher(Phase):
    """Subscribes trades, quotes and depth of every instrument; trades nothing (memory run)."""

    name = "book_watcher"
    family = "hunter"

    def subscriptions(self):
        return tuple(Stream(kind=k, instrument_id=i) for i in self.instruments
                     for k in ("trade", "quote", "book"))


# ---- frames ------------------------------------------------------------------------------------


def recorded() -> tuple[list[tuple[int, str]], str]:
    """(receive ns, frame text) of the bundled capture, and its REST depth snapshot."""
    import gzip

    from titan.feeds.replay_server import bundled_sample

    frames, snapshot = [], ""
    with gzip.open(bundled_sample(), "rt") as fh:
        for line in fh:
            ts, _, text = line.rstrip("\n").partition(" ")
            if text.startswith('{"lastUpdateId"'):
                snapshot = snapshot or text
            else:
                frames.append((int(ts), text))
    return frames, snapshot


def looped(frames: list[tuple[int, str]], snapshot: str, loops: int) -> list[tuple[str, str]]:
    """``loops`` copies, times shifted by the span and depth update ids by their range, each
    loop opened by the snapshot (shifted the same way): ('snap'|'trade'|'other', text)."""
    parsed = [orjson.loads(t) for _, t in frames]
    snap = orjson.loads(snapshot)
    ids = [d["data"][k] for d in parsed if "@depth" in d["stream"] for k in ("U", "u", "pu")]
    id_span = max(ids + [snap["lastUpdateId"]]) - min(ids + [snap["lastUpdateId"]]) + 1
    times = [d["data"][k] for d in parsed for k in ("E", "T") if k in d["data"]]
    ms_span = max(times) - min(times) + 1000
    out: list[tuple[str, str]] = []
    for k in range(loops):
        s = dict(snap, lastUpdateId=snap["lastUpdateId"] + k * id_span)
        if "E" in s:
            s["E"] += k * ms_span
        out.append(("snap", orjson.dumps(s).decode()))
        for d in parsed:
            data = dict(d["data"])
            for key in ("E", "T"):
                if key in data:
                    data[key] += k * ms_span
            if "@depth" in d["stream"]:
                for key in ("U", "u", "pu"):
                    data[key] += k * id_span
            kind = "trade" if "@trade" in d["stream"] else "other"
            out.append((kind, orjson.dumps({"stream": d["stream"], "data": data}).decode()))
    return out


def percentiles(ns: list[int]) -> dict[str, float]:
    a = np.asarray(ns, dtype=np.float64) / 1000.0
    return {"n": int(a.size), "p50_us": round(float(np.percentile(a, 50)), 2),
            "p99_us": round(float(np.percentile(a, 99)), 2), "max_us": round(float(a.max()), 2)}


# ---- the venue's HTTP layer, stopped at the door -----------------------------------------------

_CID = re.compile(r"newClientOrderId=([A-Za-z0-9_.:-]+)")


class HttpDoor:
    """Replaces ``exchange.fetch``: records when ccxt hands a request over, answers NEW."""

    def __init__(self) -> None:
        self.at: dict[str, int] = {}
        self.seq = 0

    async def fetch(self, url, method="GET", headers=None, body=None):
        t = time.perf_counter_ns()
        m = _CID.search(f"{url}&{body or ''}")
        cid = m.group(1) if m else ""
        self.at[cid] = t
        self.seq += 1
        side = "SELL" if "side=SELL" in f"{url}&{body}" else "BUY"
        return {"orderId": self.seq, "symbol": "BTCUSDT", "status": "NEW", "clientOrderId": cid,
                "price": "0", "avgPrice": "0", "origQty": "0.002", "executedQty": "0",
                "cumQty": "0", "cumQuote": "0", "timeInForce": "GTC", "type": "MARKET",
                "reduceOnly": side == "SELL", "side": side, "positionSide": "BOTH",
                "updateTime": int(time.time() * 1000)}


# ---- tick to trade -----------------------------------------------------------------------------


async def tick_to_trade(target: int, *, durable: bool = False) -> dict:
    from tests.kit.emulator import API_KEY, API_SECRET
    from tests.kit.emulator.runner import EmulatorThread
    from titan.brain.brain import Brain
    from titan.config import Credentials, ExecutionSection, Secret, VenueConfig, config_from_dict
    from titan.config import policy_hash as compute_hash
    from titan.core.clock import LiveClock, SimClock
    from titan.core.eventlog import EventLog
    from titan.core.ids import ClientOrderIds
    from titan.core.instruments import InstrumentRegistry
    from titan.core.state import ShadowState
    from titan.execution.ccxt_client import CcxtExecutionClient
    from titan.execution.durable import DurableExecutionClient
    from titan.execution.guard import PolicyGuard
    from titan.execution.ratelimit import RateLimiters
    from titan.feeds.binance import BinanceRouter
    from titan.feeds.options import FeedOptions
    from titan.feeds.venues import ENDPOINTS, Channel
    from titan.kernel import Kernel

    frames, snapshot = recorded()
    trades_per_loop = sum(1 for _, t in frames if "@trade" in t)
    loops = -(-target // trades_per_loop)
    stream = looped(frames, snapshot, loops)
    config = config_from_dict({
        "brain": {"max_orders_per_minute": 100_000},
        "phases": {"scavenger": {"enabled": False}, "sentinel": {"enabled": False},
                   "hunter": {"equity_min": 0, "equity_max": 0}},
        "strategies": [{"path": f"{__file__}:FlipFlop", "name": "flipflop", "phase": "hunter"}],
    })
    emu = EmulatorThread(venues=("binance",), enforce_limits=False).start()
    tmp = tempfile.TemporaryDirectory(prefix="t2t-")
    try:
        clock = SimClock(int(orjson.loads(stream[1][1])["data"]["E"]) * 1_000_000)
        registry = InstrumentRegistry()
        rest = emu.base_url("binanceusdm")
        exec_events: list[ev.Message] = []
        sink_target = [exec_events.append]
        client = CcxtExecutionClient(
            "binanceusdm", credentials=Credentials(venue="binanceusdm", api_key=Secret(API_KEY),
                                                   secret=Secret(API_SECRET)),
            config=VenueConfig(enabled=True, symbols=["BTC/USDT:USDT"], rest_url=rest,
                               ws_url=rest.replace("http://", "ws://")),
            execution=ExecutionSection(cancel_on_shutdown=False), sink=lambda e: sink_target[0](e),
            clock=clock,
            instruments=registry, limiters=RateLimiters(time_scale=1e9),
            enable_ccxt_rate_limit=False)
        await client.start()
        await client.updates.stop()  # no private stream: fills come back below
        door = HttpDoor()
        client.exchange.fetch = door.fetch
        state = ShadowState(registry)
        state.apply(ev.BalanceSet(venue="binanceusdm", currency="USDT", total=Decimal(100_000),
                                  ts_event=clock.now_ns(), ts_init=clock.now_ns()))
        if durable:
            log = EventLog(Path(tmp.name) / "t2t.sqlite")
            await log.open()
        else:
            log = EventLog.memory()
        phash = compute_hash(config)
        phase = FlipFlop(name="flipflop", instruments=[IID])
        brain = Brain(config, registry, state, ClientOrderIds(), policy_hash=phash,
                      owners={"flipflop": "hunter"})
        inner = DurableExecutionClient(client, log, lambda e: sink_target[0](e),
                                       now_ns=clock.now_ns) if durable else client
        if durable:  # its pump only (start() would start the ccxt client a second time)
            inner._pump = asyncio.create_task(inner._run())
        stamp = Stamp(inner)
        guard = PolicyGuard(stamp, phash, lambda e: sink_target[0](e), clock.now_ns)
        kernel = Kernel(clock=clock, state=state, brain=brain, phases=[phase],
                        clients={"binanceusdm": guard}, journal=log)
        sink_target[0] = kernel.on_exec
        kernel.start()

        def dispatch(evt):  # LiveRunner._on_replay_event without a simulated venue
            ts = evt.ts_event
            if ts == evt.ts_init:  # a book snapshot stamped on arrival: data time instead
                ts = clock.now_ns()
                evt = msgspec.structs.replace(evt, ts_event=ts)
            while True:
                due = clock.advance_to(ts)
                if not due:
                    break
                for te in due:
                    kernel.on_timer(te)
            kernel.on_market(evt)

        pending: set[str] = set()
        router = BinanceRouter(ENDPOINTS["binanceusdm"], lambda e: None if e.__class__ is
                               ev.FeedStatusChanged else dispatch(e), LiveClock(),
                               FeedOptions(binance_depth_stream="depth@0ms"), on_resync=pending.add)
        for ch in (Channel.TRADES, Channel.QUOTES, Channel.BOOK):
            router.watch(IID, ch)
        book_stream = router.stream_for(IID, Channel.BOOK)
        on_frame, perf = router.on_frame, time.perf_counter_ns
        lat_trade: list[int] = []
        lat_other: list[int] = []
        lat_kernel: list[int] = []
        lat_ccxt: list[int] = []
        denied0 = kernel.denied
        gc.collect()
        gc.freeze()  # what the daemon does once started: set-up objects are never rescanned
        t_start = time.perf_counter()
        for kind, text in stream:
            if kind == "snap":
                router.on_depth_snapshot(book_stream, text)
                continue
            n = kernel.submitted
            t0 = perf()
            on_frame(text)
            if kernel.submitted == n:
                if kind == "other":
                    lat_other.append(perf() - t0)
                continue
            cid = log_last_cid(kernel)
            while cid not in door.at:
                await asyncio.sleep(0)
            t1 = door.at.pop(cid)
            lat_trade.append(t1 - t0)
            lat_kernel.append(stamp.at - t0)
            lat_ccxt.append(t1 - stamp.at)
            while client._tasks:
                await asyncio.sleep(0)
            fill_back(kernel, cid, text)
            if len(lat_trade) >= target:
                break
        elapsed = time.perf_counter() - t_start
        gc.unfreeze()
        out = {"tick_to_trade": percentiles(lat_trade), "book_or_quote_tick": percentiles(lat_other),
               "split": {"frame_to_client_submit": percentiles(lat_kernel),
                         "ccxt_submit_to_http": percentiles(lat_ccxt)},
               "denied": kernel.denied - denied0, "frames": router.stats.frames,
               "orders": kernel.submitted, "elapsed_s": round(elapsed, 1)}
        await client.stop()
        if durable:
            inner._pump.cancel()
            await log.close()
        return out
    finally:
        emu.stop()
        tmp.cleanup()


class Stamp:
    """Between the guard and the client: when the kernel's part ends (the client's begins)."""

    def __init__(self, inner) -> None:
        self.inner = inner
        self.venue = inner.venue
        self.at = 0

    def submit(self, cmd) -> None:
        self.at = time.perf_counter_ns()
        self.inner.submit(cmd)

    def cancel(self, cmd) -> None:
        self.inner.cancel(cmd)


def log_last_cid(kernel) -> str:
    return kernel.brain.last_decisions[-1].client_order_id


_seq = [0]


def fill_back(kernel, cid: str, text: str) -> None:
    """The venue's fill for order ``cid`` at the trade's price (after the measurement)."""
    o = kernel.state.order(cid)
    d = orjson.loads(text)["data"]
    _seq[0] += 1
    ts = int(d["T"]) * 1_000_000
    kernel.on_exec(ev.OrderFilled(
        client_order_id=cid, venue_order_id=o.venue_order_id or str(_seq[0]),
        trade_id=f"bt{_seq[0]}", instrument_id=o.instrument_id, side=o.side,
        last_qty=o.quantity, last_price=Decimal(d["p"]), fee=Decimal(0), fee_currency="USDT",
        liquidity=ev.Liquidity.TAKER, ts_event=ts, ts_init=ts))


def decode_baseline(n: int) -> dict:
    """msgspec decode alone of the same trade frames (the router's decoder)."""
    from titan.feeds.binance import TRADE

    frames, _ = recorded()
    trades = [t for _, t in frames if "@trade" in t]
    dec, perf = TRADE.decode, time.perf_counter_ns
    out = []
    gc.disable()
    while len(out) < n:
        for t in trades:
            t0 = perf()
            dec(t)
            out.append(perf() - t0)
    gc.enable()
    return percentiles(out[:n])


# ---- memory --------------------------------------------------------------------------------------


def rss_mb() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


async def memory(instruments: int, seconds: float) -> dict:
    """A paper session (LiveRunner) on ``instruments`` renamed copies of the recording's first
    ``seconds``, every instrument subscribed to trades, quotes and depth."""
    from titan.config import config_from_dict
    from titan.feeds.recording import Frame, Recording, Snapshot
    from titan.feeds.replay_server import bundled_sample
    from titan.live import LiveRunner

    base = Recording.load(bundled_sample())
    t_end = base.frames[0].ts + int(seconds * 1e9)
    head = [f for f in base.frames if f.ts <= t_end]
    frames: list[Frame] = []
    snaps: list[Snapshot] = []
    for i in range(instruments):
        sym = f"X{i:03d}USDT"
        low = sym.lower()
        for f in head:
            frames.append(Frame(f.ts, f.key.replace("btcusdt", low),
                                f.text.replace("btcusdt", low).replace("BTCUSDT", sym)))
        snaps += [Snapshot(s.ts, sym, s.text) for s in base.snapshots]
    frames.sort(key=lambda f: f.ts)
    snaps.sort(key=lambda s: s.ts)
    rec = Recording(base.family, frames, snaps, [f"{instruments} renamed copies"])
    before = rss_mb()
    with tempfile.TemporaryDirectory(prefix="t2t-mem-") as d:
        config = config_from_dict({
            "titan": {"data_dir": d}, "operator": {"enabled": False},
            "strategies": [{"path": f"{__file__}:BookWatcher", "name": "watcher", "phase": "hunter"}],
        })
        from titan.app import plan_edge

        rec_path = Path(d) / "rec.log"
        rec_path.write_text("")  # the plan checks the file exists; the recording is in memory
        edge = plan_edge(config, replay=[str(rec_path)], env={})
        runner = LiveRunner(config, edge, env={}, data_dir=Path(d), install_signals=False)
        from titan.app import Session

        orig = Session.load_instruments

        def load(self) -> None:
            from titan.paper import recording_instruments

            self.recording = rec
            venue, insts = recording_instruments([], fee_bps=5.5, recording=rec)
            self.default_venue = venue
            self.instruments = insts
            for inst in insts:
                self.registry.add(inst)

        Session.load_instruments = load
        try:
            t0 = time.perf_counter()
            code = await runner.run()
            elapsed = time.perf_counter() - t0
        finally:
            Session.load_instruments = orig
        after = rss_mb()
        peak = _peak_mb()
        k = runner.session.kernel
        books = sum(1 for ep in runner.feed.endpoints.values() for b in ep.router.books.values()
                    if b.valid) if runner.feed else 0
        return {"instruments": instruments, "frames": len(frames), "exit": code,
                "market_events": k.counters["market"] if k else 0, "valid_books": books,
                "rss_before_mb": round(before, 1), "rss_after_mb": round(after, 1),
                "rss_peak_mb": round(peak, 1), "elapsed_s": round(elapsed, 1)}


def _peak_mb() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def main() -> None:
    import logging
    import subprocess

    p = argparse.ArgumentParser()
    p.add_argument("--ticks", type=int, default=100_000)
    p.add_argument("--durable-ticks", type=int, default=2_000)
    p.add_argument("--instruments", type=int, default=100)
    p.add_argument("--seconds", type=float, default=10.0)
    p.add_argument("--memory-only", action="store_true", help=argparse.SUPPRESS)
    a = p.parse_args()
    logging.basicConfig(level=logging.ERROR)
    if a.memory_only:  # in a fresh process, so its RSS is the session's alone
        print(json.dumps(asyncio.run(memory(a.instruments, a.seconds))))
        return
    import native

    out: dict = {"bench": "tick_to_trade", "compiled": native.COMPILED}
    t2t = asyncio.run(tick_to_trade(a.ticks))
    out["tick_to_trade"] = t2t.pop("tick_to_trade")
    out["split"] = t2t.pop("split")
    out["book_or_quote_tick"] = t2t.pop("book_or_quote_tick")
    out["run"] = t2t
    out["baseline_decode"] = decode_baseline(a.ticks)
    out["ratio_p50"] = round(out["tick_to_trade"]["p50_us"] / out["baseline_decode"]["p50_us"], 1)
    if a.durable_ticks:
        d = asyncio.run(tick_to_trade(a.durable_ticks, durable=True))
        out["tick_to_trade_durable"] = d["tick_to_trade"]
    child = subprocess.run([sys.executable, __file__, "--memory-only", "--instruments",
                            str(a.instruments), "--seconds", str(a.seconds)],
                           capture_output=True, text=True, check=True)
    out["memory"] = json.loads(child.stdout.strip().splitlines()[-1])
    out["goals"] = {"p50_us": 20, "p99_us": 50, "rss_mb": 300}
    print(json.dumps(out))


if __name__ == "__main__":
    main()
