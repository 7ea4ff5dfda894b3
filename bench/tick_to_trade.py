"""Tick to trade, in one process: a recorded websocket frame injected at the feed, to the moment
the order request is handed to the HTTP layer.

The path is the live daemon's: the feed router (``router.on_frame``: msgspec decode; for depth
frames the L2 book sync), the LiveRunner's live dispatch into the Kernel (state, a phase, the
Brain's gate), ``PolicyGuard`` and ``CcxtExecutionClient.submit`` - its checks, Titan's request
builder, the ledger and the create task, which takes the rate limiter (the venue's weights; pools
with room), signs with Titan's signer (ccxt's exact bytes) and goes ccxt's ``fetch`` way
(``titan.execution.transport``) - until the request is handed to the aiohttp session: there the
clock stops (``VenueDoor`` from ``bench/execution.py`` stands in for the session and answers
as Binance USD-M does, order NEW). Network excluded; signing and the event
loop's hop to the create task included. The markets come from the local exchange emulator. The
fill is handed to the client's ledger after the measurement, as a venue's would arrive.

Frames: the bundled real Binance USD-M BTCUSDT capture (trades, best bid/offer, depth diffs),
replayed in loops with times and update ids shifted, until >= 100,000 trade ticks have each
produced an order (the bench phase flips between long and flat on every trade). The kernel's
clock is the data's: moved to each frame's venue time before the frame is injected (a live
clock with no feed delay; due timers run then, off the clock). uvloop when installed, the
collector frozen after start-up (as ``titan run`` does).

Figures: ``tick_to_trade`` (p50/p99/max us over every trade that produced an order);
``stages`` - the same path again with probes at each boundary (decode, kernel, phase, Brain,
guard, the client's checks, request build, ledger + task, loop hop, rate limiter, signing,
ccxt's fetch to the session; the probes add their own cost, see ``probe_total``); depth and
quote ticks (decode + book sync, then the kernel); the durable path (``DurableExecutionClient``:
the SQLite event log committed before every hand-off, as the daemon is wired); and RSS of a
paper session with 100 instruments subscribed (trades, quotes, depth) and replaying. Baseline in
the same run: msgspec decode alone of the same trade (and depth) frames.

    python bench/tick_to_trade.py [--ticks 100000] [--instruments 100] [--seconds 10]

Prints one JSON line (microseconds; RSS in MB).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import importlib.util
import json
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
SNAP, TRADE, DEPTH, QUOTE = "snap", "trade", "depth", "quote"


def _bench_execution():
    """``bench/execution.py`` as a module (its ``VenueDoor`` and loop choice)."""
    spec = importlib.util.spec_from_file_location("bench_execution", Path(__file__).with_name("execution.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


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


def looped(frames: list[tuple[int, str]], snapshot: str, loops: int) -> list[tuple[str, int, str, str]]:
    """``loops`` copies, times shifted by the span and depth update ids by their range, each
    loop opened by the snapshot (shifted the same way): (kind, venue time ns, text, trade price)."""
    parsed = [orjson.loads(t) for _, t in frames]
    snap = orjson.loads(snapshot)
    ids = [d["data"][k] for d in parsed if "@depth" in d["stream"] for k in ("U", "u", "pu")]
    id_span = max(ids + [snap["lastUpdateId"]]) - min(ids + [snap["lastUpdateId"]]) + 1
    times = [d["data"][k] for d in parsed for k in ("E", "T") if k in d["data"]]
    ms_span = max(times) - min(times) + 1000
    out: list[tuple[str, int, str, str]] = []
    for k in range(loops):
        s = dict(snap, lastUpdateId=snap["lastUpdateId"] + k * id_span)
        for key in ("E", "T"):
            if key in s:
                s[key] += k * ms_span
        out.append((SNAP, s.get("T") or s.get("E") or 0, orjson.dumps(s).decode(), ""))
        for d in parsed:
            data = dict(d["data"])
            for key in ("E", "T"):
                if key in data:
                    data[key] += k * ms_span
            stream = d["stream"]
            if "@depth" in stream:
                for key in ("U", "u", "pu"):
                    data[key] += k * id_span
            kind = TRADE if "@trade" in stream else DEPTH if "@depth" in stream else QUOTE
            out.append((kind, data.get("T") or data.get("E") or 0,
                        orjson.dumps({"stream": stream, "data": data}).decode(), data.get("p", "")))
    return [(kind, ms * 1_000_000, text, price) for kind, ms, text, price in out]


def percentiles(ns) -> dict[str, float]:
    a = np.asarray(ns, dtype=np.float64) / 1000.0
    if not a.size:
        return {"n": 0}
    return {"n": int(a.size), "p50_us": round(float(np.percentile(a, 50)), 2),
            "p99_us": round(float(np.percentile(a, 99)), 2), "max_us": round(float(a.max()), 2)}


# ---- the session under test --------------------------------------------------------------------

# probe slots: when each boundary was crossed, for the tick in flight
(S_IN, S_EVENT, S_PHASE, S_PHASE_OUT, S_DECIDE, S_DECIDED, S_GUARD, S_CLIENT, S_BUILD, S_BUILT,
 S_SUBMITTED, S_TASK, S_SIGN, S_SIGNED, S_DOOR) = range(15)
STAGES = [  # (name, from, to)
    ("decode_and_event", S_IN, S_EVENT), ("kernel_state_and_routing", S_EVENT, S_PHASE),
    ("phase", S_PHASE, S_PHASE_OUT), ("kernel_brain_market_and_journal", S_PHASE_OUT, S_DECIDE),
    ("brain_decide", S_DECIDE, S_DECIDED), ("kernel_submit_journal_and_state", S_DECIDED, S_GUARD),
    ("policy_guard", S_GUARD, S_CLIENT), ("client_checks", S_CLIENT, S_BUILD),
    ("request_build", S_BUILD, S_BUILT), ("ledger_and_create_task", S_BUILT, S_SUBMITTED),
    ("loop_hop_to_task", S_SUBMITTED, S_TASK), ("rate_limiter", S_TASK, S_SIGN),
    ("signing", S_SIGN, S_SIGNED), ("ccxt_fetch_to_http", S_SIGNED, S_DOOR),
]


class Stamp:
    """An ``ExecutionClient`` in front of ``inner`` that notes when a submit reaches it (and,
    with ``leave``, when ``inner.submit`` returned)."""

    def __init__(self, inner, st: list[int], slot: int, leave: int | None = None) -> None:
        self.inner, self.venue, self.st, self.slot, self.leave = inner, inner.venue, st, slot, leave

    def submit(self, cmd) -> None:
        self.st[self.slot] = time.perf_counter_ns()
        self.inner.submit(cmd)
        if self.leave is not None:
            self.st[self.leave] = time.perf_counter_ns()

    def cancel(self, cmd) -> None:
        self.inner.cancel(cmd)


def stamped(fn, st: list[int], enter: int, leave: int | None = None):
    perf = time.perf_counter_ns

    def call(*args, **kwargs):
        st[enter] = perf()
        out = fn(*args, **kwargs)
        if leave is not None:
            st[leave] = perf()
        return out

    return call


def install_probes(st: list[int], *, phase, brain, client) -> None:
    """Stamps at each boundary: instance attributes over the real methods (nothing else changes)."""
    import titan.execution.ccxt_client as cc

    phase.on_trade = stamped(phase.on_trade, st, S_PHASE, S_PHASE_OUT)
    brain.decide = stamped(brain.decide, st, S_DECIDE, S_DECIDED)
    cc.create_request = stamped(cc.create_request, st, S_BUILD, S_BUILT)
    send = client.send_create

    async def send_create(request):
        st[S_TASK] = time.perf_counter_ns()
        return await send(request)

    client.send_create = send_create
    for route in client.routes.values():
        route.sign = stamped(route.sign, st, S_SIGN, S_SIGNED)


async def session(durable: bool, probes: bool, tmp: str):
    """Emulator-loaded client behind the door, the kernel, the router: what one run drives."""
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
    from titan.feeds.binance import BinanceRouter
    from titan.feeds.options import FeedOptions
    from titan.feeds.venues import ENDPOINTS, Channel
    from titan.kernel import Kernel

    config = config_from_dict({
        "brain": {"max_orders_per_minute": 100_000},
        "phases": {"scavenger": {"enabled": False}, "sentinel": {"enabled": False},
                   "hunter": {"equity_min": 0, "equity_max": 0}},
        "strategies": [{"path": f"{__file__}:FlipFlop", "name": "flipflop", "phase": "hunter"}],
    })
    x = type("Session", (), {})()
    x.st = [0] * 15
    x.emu = EmulatorThread(venues=("binance",), enforce_limits=False).start()
    x.clock = clock = SimClock(0)
    registry = InstrumentRegistry()
    rest = x.emu.base_url("binanceusdm")
    sink = [lambda e: None]
    x.client = client = CcxtExecutionClient(
        "binanceusdm", credentials=Credentials(venue="binanceusdm", api_key=Secret(API_KEY),
                                               secret=Secret(API_SECRET)),
        config=VenueConfig(enabled=True, symbols=["BTC/USDT:USDT"], rest_url=rest,
                           ws_url=rest.replace("http://", "ws://")),
        execution=ExecutionSection(cancel_on_shutdown=False), sink=lambda e: sink[0](e), clock=clock,
        instruments=registry, limiters=_bench_execution().roomy_limiters())  # the limiter's fast path
    await client.start()
    await client.updates.stop()  # no private stream: the fills come back through the ledger below
    x.door = await _bench_execution().open_door(client.exchange, "binanceusdm")
    state = ShadowState(registry)
    state.apply(ev.BalanceSet(venue="binanceusdm", currency="USDT", total=Decimal(100_000),
                              ts_event=0, ts_init=0))
    if durable:
        x.log = EventLog(Path(tmp) / "t2t.sqlite")
        await x.log.open()
    else:
        x.log = EventLog.memory()
    phash = compute_hash(config)
    x.phase = FlipFlop(name="flipflop", instruments=[IID])
    x.brain = Brain(config, registry, state, ClientOrderIds(), policy_hash=phash, owners={"flipflop": "hunter"})
    x.durable = DurableExecutionClient(client, x.log, lambda e: sink[0](e), now_ns=clock.now_ns) if durable else None
    if durable:  # its pump only (start() would start the ccxt client a second time)
        x.durable._pump = asyncio.create_task(x.durable._run())
    inner = x.durable or client
    if probes:
        install_probes(x.st, phase=x.phase, brain=x.brain, client=client)
        inner = Stamp(inner, x.st, S_CLIENT, S_SUBMITTED)
    guard = PolicyGuard(inner, phash, lambda e: sink[0](e), clock.now_ns)
    x.kernel = kernel = Kernel(clock=clock, state=state, brain=x.brain, phases=[x.phase],
                               clients={"binanceusdm": Stamp(guard, x.st, S_GUARD) if probes else guard},
                               journal=x.log)
    sink[0] = kernel.on_exec
    st, perf = x.st, time.perf_counter_ns

    def dispatch(evt):  # LiveRunner._on_live_event (no simulated venue)
        if probes:
            st[S_EVENT] = perf()
        if evt.__class__ is ev.FeedStatusChanged:  # health on the receive clock: data time here
            kernel.on_system(msgspec.structs.replace(evt, ts_event=clock.now_ns(), ts_init=clock.now_ns()))
            return
        kernel.on_market(evt)

    x.router = BinanceRouter(ENDPOINTS["binanceusdm"], dispatch, LiveClock(),
                             FeedOptions(binance_depth_stream="depth@0ms"), on_resync=lambda s: None)
    for ch in (Channel.TRADES, Channel.QUOTES, Channel.BOOK):
        x.router.watch(IID, ch)
    x.book_stream = x.router.stream_for(IID, Channel.BOOK)
    x.started = False
    return x


async def close(x) -> None:
    await x.client.stop()
    if x.durable is not None:
        x.durable._pump.cancel()
        await x.log.close()
    x.emu.stop()


def advance(x, ts: int) -> None:
    """The kernel's clock to the frame's venue time; timers due by then run (off the clock)."""
    if not x.started:
        x.clock.advance_to(ts)
        x.kernel.start()
        x.started = True
    while True:
        due = x.clock.advance_to(ts)
        if not due:
            return
        for te in due:
            x.kernel.on_timer(te)


async def drive(x, stream, target: int, probes: bool) -> dict:
    from titan.execution.reports import FillReport

    kernel, door, client, ledger = x.kernel, x.door, x.client, x.client.ledger
    on_frame, perf, st, at = x.router.on_frame, time.perf_counter_ns, x.st, door.at
    lat: dict[str, list[int]] = {TRADE: [], DEPTH: [], QUOTE: [], "no_order": []}
    to_event: dict[str, list[int]] = {DEPTH: [], QUOTE: []}
    stages: list[list[int]] = []
    fills = 0
    gc.collect()
    gc.freeze()  # what the daemon does once started: set-up objects are never rescanned
    t_start = time.perf_counter()
    for kind, ts, text, price in stream:
        advance(x, ts)
        if kind == SNAP:
            x.router.on_depth_snapshot(x.book_stream, text)
            continue
        n = kernel.submitted
        st[S_EVENT] = 0
        t0 = st[S_IN] = perf()
        on_frame(text)
        if kernel.submitted == n:
            t1 = perf()
            if kind == TRADE:
                lat["no_order"].append(t1 - t0)
                continue
            lat[kind].append(t1 - t0)
            if probes and st[S_EVENT]:
                to_event[kind].append(st[S_EVENT] - t0)
            continue
        cid = x.brain.last_decisions[-1].client_order_id
        while cid not in at:
            await asyncio.sleep(0)
        st[S_DOOR] = at.pop(cid)
        lat[TRADE].append(st[S_DOOR] - t0)
        if probes:
            stages.append([st[b] - st[a] for _, a, b in STAGES])
        while client._tasks:  # the NEW answer parsed, OrderAccepted through the ledger
            await asyncio.sleep(0)
        t = ledger.get(cid)
        fills += 1
        ledger.fill(t, FillReport(trade_id=f"bt{fills}", venue_order_id=t.venue_order_id, client_order_id=cid,
                                  qty=t.cmd.quantity, price=Decimal(price), fee=Decimal(0), fee_currency="USDT",
                                  liquidity=ev.Liquidity.TAKER, ts_ms=ts // 1_000_000))
        if len(lat[TRADE]) >= target:
            break
    elapsed = time.perf_counter() - t_start
    gc.unfreeze()
    out = {"tick_to_trade": percentiles(lat[TRADE]), "depth_tick": percentiles(lat[DEPTH]),
           "quote_tick": percentiles(lat[QUOTE]), "trade_tick_without_order": percentiles(lat["no_order"]),
           "orders": kernel.submitted, "denied": kernel.denied, "filled": fills,
           "frames": x.router.stats.frames, "other_requests": door.other, "elapsed_s": round(elapsed, 1)}
    if probes:
        a = np.asarray(stages, dtype=np.float64) / 1000.0
        out["stages"] = {name: {"p50_us": round(float(np.percentile(a[:, i], 50)), 2),
                                "p99_us": round(float(np.percentile(a[:, i], 99)), 2)}
                         for i, (name, _, _) in enumerate(STAGES)}
        out["probe_total"] = out.pop("tick_to_trade")
        for kind in (DEPTH, QUOTE):
            out[f"{kind}_decode_and_book"] = percentiles(to_event[kind])
    return out


async def tick_to_trade(target: int, *, durable: bool = False, probes: bool = False) -> dict:
    frames, snapshot = recorded()
    trades_per_loop = sum(1 for _, t in frames if "@trade" in t)
    stream = looped(frames, snapshot, -(-target // trades_per_loop))
    with tempfile.TemporaryDirectory(prefix="t2t-") as tmp:
        x = await session(durable, probes, tmp)
        try:
            return await drive(x, stream, target, probes)
        finally:
            await close(x)


def decode_baseline(n: int) -> dict:
    """msgspec decode alone of the same trade and depth frames (the router's decoders)."""
    from titan.feeds.binance import DEPTH as DEPTH_DECODER
    from titan.feeds.binance import TRADE as TRADE_DECODER

    frames, _ = recorded()
    out = {}
    for name, dec, marker in (("trade", TRADE_DECODER.decode, "@trade"), ("depth", DEPTH_DECODER.decode, "@depth")):
        texts = [t for _, t in frames if marker in t]
        ns, perf = [], time.perf_counter_ns
        gc.disable()
        while len(ns) < n:
            for t in texts:
                t0 = perf()
                dec(t)
                ns.append(perf() - t0)
        gc.enable()
        out[name] = percentiles(ns[:n])
    return out


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
    p.add_argument("--probe-ticks", type=int, default=20_000)
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

    run, loop_name = _bench_execution().event_loop_runner()
    out: dict = {"bench": "tick_to_trade", "compiled": native.COMPILED, "loop": loop_name}
    t2t = run(tick_to_trade(a.ticks))
    out["tick_to_trade"] = t2t.pop("tick_to_trade")
    out["baseline_decode"] = decode_baseline(a.ticks)
    out["ratio_p50_vs_decode"] = round(out["tick_to_trade"]["p50_us"] / out["baseline_decode"]["trade"]["p50_us"], 1)
    for k in ("depth_tick", "quote_tick", "trade_tick_without_order"):
        out[k] = t2t.pop(k)
    out["run"] = t2t
    if a.probe_ticks:
        out["stages"] = run(tick_to_trade(a.probe_ticks, probes=True))
        for k in ("depth_tick", "quote_tick", "trade_tick_without_order", "frames", "elapsed_s", "other_requests"):
            out["stages"].pop(k, None)
    if a.durable_ticks:
        d = run(tick_to_trade(a.durable_ticks, durable=True))
        out["tick_to_trade_durable"] = d["tick_to_trade"]
    child = subprocess.run([sys.executable, __file__, "--memory-only", "--instruments",
                            str(a.instruments), "--seconds", str(a.seconds)],
                           capture_output=True, text=True, check=True)
    out["memory"] = json.loads(child.stdout.strip().splitlines()[-1])
    out["goals"] = {"p50_us": 20, "p99_us": 50, "rss_mb": 300}
    print(json.dumps(out))


if __name__ == "__main__":
    main()
