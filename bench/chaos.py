"""Chaos: kill a trading process with SIGKILL at random points; restart; reconcile; count.

    python bench/chaos.py [--kills 100] [--seed 7]      -> one JSON line

The exchange emulator (``tests/kit/emulator``) runs as its own process. A child process trades
BTC/USDT:USDT on its Bybit API through the genuine ``CcxtExecutionClient`` behind the
``DurableExecutionClient`` and a SQLite ``EventLog``: a stream of market and limit orders and
cancels, while the parent replays recorded market data into the emulator so resting orders
fill. The parent kills the child at a random moment; some children kill themselves at a
chosen point instead - after the venue accepted or filled an order but before that event was
logged, after a command was logged but before it was sent, or while its HTTP request is in
flight. Each restart replays the log, snapshots the venue, reconciles, and reports its state
before trading again; the parent compares it with the emulator's own books (its control API,
not ccxt).

Counted: lost orders (a venue order or fill Titan had not logged, or an order Titan still
thinks is working that the venue does not have), duplicated orders (a client order id created
at the venue more than once), restarts whose state differs from the emulator's, and the time
from spawning the process to "ready" (baseline: spawning a process that imports the same
modules and exits, measured in the same run). Goals: 0 lost, 0 duplicated, 0 mismatches,
restart-to-ready <= 2 s.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

IID = "BTC/USDT:USDT@bybit"
SYMBOL = "BTCUSDT"
FAULTS = ("timer", "timer", "after_accept", "after_fill", "before_send", "during_send")
EIGHT = Decimal("1e-8")  # Bybit reports balances to 8 decimals; the engine keeps 28 digits
IMPORTS = "import titan.execution.ccxt_client, titan.execution.recovery, titan.core.eventlog"


# ---- the child: one life of a trading process ---------------------------------------------


async def child(args: argparse.Namespace) -> None:
    from titan.config import Credentials, ExecutionSection, Secret, VenueConfig
    from titan.core import events as ev
    from titan.core.eventlog import EventLog
    from titan.core.ids import ClientOrderIds
    from titan.core.orders import OrderStatus
    from titan.core.state import ShadowState
    from titan.execution.ccxt_client import CcxtExecutionClient
    from titan.execution.durable import DurableExecutionClient
    from titan.execution.reconcile import ReconcilePolicy
    from titan.execution.recovery import recover

    t0 = time.perf_counter()
    ZERO = Decimal(0)  # as exact as the comparison with the emulator below
    rng = random.Random(args.seed)
    fault, fault_at = args.fault, args.fault_at
    counts = {"accepted": 0, "filled": 0, "submitted": 0}
    state = ShadowState()
    log = EventLog(args.log, flush_interval_ms=20)

    def die() -> None:
        os.kill(os.getpid(), signal.SIGKILL)

    def on_exec(e: ev.Message) -> None:  # the kernel's on_exec: log, then apply
        if isinstance(e, ev.OrderAccepted):
            counts["accepted"] += 1
            if fault == "after_accept" and counts["accepted"] == fault_at:
                die()  # the venue accepted it; the log never hears of it
        elif isinstance(e, ev.OrderFilled):
            counts["filled"] += 1
            if fault == "after_fill" and counts["filled"] == fault_at:
                die()
        log.append(e)
        state.apply(e)

    class Faulty:
        """The process boundary: dies just before, or just after, a command leaves."""

        def __init__(self, inner) -> None:
            self.inner, self.venue = inner, inner.venue

        async def start(self) -> None:
            await self.inner.start()

        async def stop(self) -> None:
            await self.inner.stop()

        async def snapshot(self):
            return await self.inner.snapshot()

        def submit(self, cmd) -> None:
            counts["submitted"] += 1
            if fault == "before_send" and counts["submitted"] == fault_at:
                die()  # durable in the log, never sent
            self.inner.submit(cmd)
            if fault == "during_send" and counts["submitted"] == fault_at:
                asyncio.get_running_loop().call_later(rng.uniform(0, 0.004), die)

        def cancel(self, cmd) -> None:
            self.inner.cancel(cmd)

    inner = CcxtExecutionClient(
        "bybit", credentials=Credentials(venue="bybit", api_key=Secret(os.environ["CHAOS_KEY"]),
                                         secret=Secret(os.environ["CHAOS_SECRET"])),
        config=VenueConfig(enabled=True, rest_url=args.rest, ws_url=args.rest.replace("http", "ws"),
                           symbols=[IID.split("@")[0]]),
        execution=ExecutionSection(submit_timeout_s=2.0, poll_interval_s=0.5,
                                   retry_backoff_s=0.05, max_retries=3),
        sink=on_exec, enable_ccxt_rate_limit=False)
    client = DurableExecutionClient(Faulty(inner), log, on_exec)
    await log.open()
    await client.start()
    state.instruments = inner.instruments
    t_started = time.perf_counter()
    ids = ClientOrderIds()
    report = await recover(eventlog=log, state=state, ids=ids, clients={"bybit": client},
                           policy=ReconcilePolicy(unknown_orders="cancel", qty_tolerance=ZERO,
                                                  balance_tolerance=EIGHT))
    t_ready = time.perf_counter()
    for _ in range(200):  # cancels asked for by reconciliation: let them land
        if not any(o.status in (OrderStatus.SUBMITTED, OrderStatus.PENDING_CANCEL)
                   for o in state.open_orders()):
            break
        await asyncio.sleep(0.01)
    kinds: dict[str, int] = {}
    for r in report.results:
        for d in r.discrepancies:
            kinds[d.kind] = kinds.get(d.kind, 0) + 1
    print(json.dumps({
        "ready": report.ready, "reason": report.reason, "replayed": report.replayed,
        "start_s": t_started - t0, "recover_s": report.elapsed_s, "ready_s": t_ready - t0,
        "discrepancies": kinds,
        "positions": {p.instrument_id: str(p.quantity) for p in state.net_positions()},
        "balances": {c: str(v) for (_, c), v in state.balances().items() if v},
        "open_orders": sorted(o.client_order_id for o in state.open_orders()),
        "orders": sum(1 for _ in state.orders()),
    }), flush=True)
    command = await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
    if command.strip() != "go":
        await client.stop()
        await log.close()
        return
    await trade(state, log, ids, client, inner, rng)


async def trade(state, log, ids, client, inner, rng: random.Random) -> None:
    """Orders until killed: market orders that keep the position small, limits near the
    touch (the parent's market replay fills some), cancels of working limits."""
    from titan.core import events as ev

    inst = inner.instruments[IID]
    ticker = await inner.exchange.fetch_ticker(inst.symbol)
    mid = Decimal(str(ticker["last"]))
    while True:
        await asyncio.sleep(rng.uniform(0.06, 0.18))  # under Bybit's 10 creates/s
        pos = state.position_qty(IID)
        working = [o for o in state.open_orders() if o.venue_order_id]
        roll = rng.random()
        if roll < 0.2 and working:
            o = rng.choice(working)
            cmd = ev.CancelOrder(client_order_id=o.client_order_id, instrument_id=IID,
                                 venue_order_id=o.venue_order_id, ts_init=time.time_ns())
        else:
            limit = roll > 0.65
            side = ev.Side.BUY if (pos < 0 or (pos == 0 and rng.random() < 0.5)) else ev.Side.SELL
            if abs(pos) < Decimal("0.01") and rng.random() < 0.5:
                side = side.opposite
            price = None
            if limit:
                off = Decimal(rng.randint(1, 40)) / Decimal(10_000)
                raw = mid * (1 - off) if side is ev.Side.BUY else mid * (1 + off)
                price = inst.round_price(raw, side)
            cmd = ev.SubmitOrder(
                client_order_id=ids.next("chaos"), phase="hunter", instrument_id=IID, side=side,
                order_type=ev.OrderType.LIMIT if limit else ev.OrderType.MARKET,
                quantity=Decimal(rng.randint(1, 3)) * inst.lot_size, price=price,
                ts_init=time.time_ns())
        log.append(cmd)  # what the kernel does: log, apply, hand to the client
        state.apply(cmd)
        if isinstance(cmd, ev.SubmitOrder):
            client.submit(cmd)
        else:
            client.cancel(cmd)


# ---- the parent: kill, restart, compare ---------------------------------------------------


def http(url: str, data: dict | None = None) -> object:
    req = urllib.request.Request(url, data=json.dumps(data).encode() if data is not None else None,
                                 headers={"Content-Type": "application/json"},
                                 method="POST" if data is not None else "GET")
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.loads(r.read())


def start_emulator() -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.kit.emulator", "--venues", "bybit", "--no-limits"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    line = proc.stdout.readline() if proc.stdout else ""
    if not line:
        proc.kill()
        raise RuntimeError("the emulator did not start")
    return proc, json.loads(line)["bybit"]


def compare(report: dict, truth: dict) -> list[str]:
    """Where the restarted process's state differs from the emulator's books."""
    problems = []
    ours = {c: Decimal(v) for c, v in report["balances"].items()}
    theirs = {c: Decimal(v) for c, v in truth["balances"].items() if Decimal(v)}
    if set(ours) != set(theirs) or any(abs(ours[c] - theirs[c]) > EIGHT for c in ours):
        problems.append(f"balances {ours} vs emulator {theirs}")
    pos = Decimal(report["positions"].get(IID, "0"))
    venue_pos = Decimal(truth["positions"].get(SYMBOL, {}).get("size", "0"))
    if pos != venue_pos:
        problems.append(f"position {pos} vs emulator {venue_pos}")
    if len(report["open_orders"]) != truth["open_orders"]:
        problems.append(f"{len(report['open_orders'])} working orders vs emulator "
                        f"{truth['open_orders']}")
    return problems


def audit(rest: str) -> dict:
    """Creates per client order id, from the emulator's request log."""
    creates: dict[str, list[str]] = {}
    for r in http(rest + "/_emulator/requests"):
        if r["method"] == "POST" and r["path"] == "/v5/order/create":
            cid = json.loads(r["body"] or "{}").get("orderLinkId", "")
            creates.setdefault(cid, []).append(str(r.get("code", "")))
    accepted = {c: [x for x in codes if x in ("0", "")] for c, codes in creates.items()}
    return {
        "orders_sent": len(creates),
        "resent": sum(1 for codes in creates.values() if len(codes) > 1),
        # placed twice, or sent again after the venue already had it (110072: duplicate id)
        "duplicated": sum(1 for c, codes in creates.items()
                          if len(accepted[c]) > 1 or "110072" in codes),
        "ids": set(creates),
    }


def logged_ids(path: Path) -> set[str]:
    from titan.core.eventlog import read_log

    return {e.msg.client_order_id for e in read_log(path) if type(e.msg).__name__ == "SubmitOrder"}


def spawn_baseline() -> float:
    t = time.perf_counter()
    subprocess.run([sys.executable, "-c", IMPORTS], cwd=ROOT, check=True)
    return time.perf_counter() - t


def run(kills: int, seed: int, *, run_s: tuple[float, float] = (0.3, 1.5),
        workdir: Path | None = None, faults: list[str] | None = None,
        fault_at: tuple[int, int] = (1, 12)) -> dict:
    """``faults``: the fault of each life in turn (default: drawn from FAULTS)."""
    rng = random.Random(seed)
    tmp = Path(workdir or tempfile.mkdtemp(prefix="titan-chaos-"))
    path = tmp / "titan.sqlite"
    from tests.kit.emulator import API_KEY, API_SECRET

    env = {**os.environ, "CHAOS_KEY": API_KEY, "CHAOS_SECRET": API_SECRET}
    emu, rest = start_emulator()
    lives: list[dict] = []
    mismatches: list[str] = []
    try:
        for life in range(kills + 1):
            fault = faults[life % len(faults)] if faults else rng.choice(FAULTS)
            spawned = time.perf_counter()
            proc = subprocess.Popen(  # the keys go by environment, as in production
                [sys.executable, str(Path(__file__).resolve()), "--child", "--log", str(path),
                 "--rest", rest, "--seed", str(rng.randrange(2**31)), "--fault", fault,
                 "--fault-at", str(rng.randint(*fault_at))],
                cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)
            assert proc.stdout is not None and proc.stdin is not None
            line = proc.stdout.readline()
            wall = time.perf_counter() - spawned
            if not line:
                proc.kill()
                raise RuntimeError(f"life {life}: the child died before it was ready")
            report = json.loads(line)
            report.update(life=life, fault=fault, spawn_to_ready_s=wall)
            truth = http(rest + "/_emulator/state")
            problems = compare(report, truth)
            if not report["ready"]:
                problems.append(f"not ready: {report['reason']}")
            mismatches += [f"life {life}: {p}" for p in problems]
            lives.append(report)
            if life == kills:
                proc.stdin.write("stop\n")
                proc.stdin.flush()
                proc.wait(30)
                break
            proc.stdin.write("go\n")
            proc.stdin.flush()
            deadline = time.monotonic() + (rng.uniform(*run_s) if fault == "timer" else 5.0)
            while proc.poll() is None and time.monotonic() < deadline:
                http(rest + "/_emulator/advance", {"symbol": SYMBOL, "steps": rng.randint(1, 20)})
                time.sleep(rng.uniform(0.01, 0.05))
            report["self_killed"] = proc.poll() is not None
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
            proc.wait(30)
            if proc.returncode != -signal.SIGKILL:
                mismatches.append(f"life {life}: child exited with {proc.returncode}")
        final = audit(rest)
    finally:
        emu.send_signal(signal.SIGTERM)
        emu.wait(30)
    ours = logged_ids(path)
    unknown_at_venue = sorted(i for i in final["ids"] if i.startswith("TTN-") and i not in ours)
    lost_kinds = ("unknown_order", "unknown_fill")
    unexplained = sum(lv["discrepancies"].get(k, 0) for lv in lives for k in lost_kinds)
    ready = [lv["spawn_to_ready_s"] for lv in lives]
    baseline = statistics.median(spawn_baseline() for _ in range(3))
    kinds: dict[str, int] = {}
    for lv in lives:
        for k, n in lv["discrepancies"].items():
            kinds[k] = kinds.get(k, 0) + n
    return {
        "bench": "chaos",
        "kills": kills,
        "lives_by_fault": {f: sum(1 for lv in lives[:-1] if lv["fault"] == f)
                           for f in dict.fromkeys(FAULTS)},
        "self_kills": {f: sum(1 for lv in lives if lv["fault"] == f and lv.get("self_killed"))
                       for f in dict.fromkeys(FAULTS) if f != "timer"},
        "orders_sent": final["orders_sent"],
        "orders_logged": len(ours),
        "lost": len(unknown_at_venue) + unexplained,
        "duplicated": final["duplicated"],
        "resent_after_lookup": final["resent"],
        "state_mismatches": len(mismatches),
        "mismatch_examples": mismatches[:5],
        "not_ready": sum(1 for lv in lives if not lv["ready"]),
        "corrections_by_kind": kinds,
        "restart_to_ready_s": {"median": round(statistics.median(ready), 3),
                               "p90": round(sorted(ready)[int(0.9 * (len(ready) - 1))], 3),
                               "max": round(max(ready), 3),
                               "over_2s": sum(1 for r in ready if r > 2.0)},
        # the same, from the moment the imports are done: Titan's own restart work
        "ready_after_imports_s": {"median": round(statistics.median(lv["ready_s"] for lv in lives), 3),
                                  "max": round(max(lv["ready_s"] for lv in lives), 3)},
        "client_start_s_median": round(statistics.median(lv["start_s"] for lv in lives), 3),
        "recover_s": {"median": round(statistics.median(lv["recover_s"] for lv in lives), 4),
                      "max": round(max(lv["recover_s"] for lv in lives), 4)},
        "baseline_spawn_imports_s": round(baseline, 3),
        "ratio_ready_to_baseline": round(statistics.median(ready) / baseline, 2),
        "goal": {"lost": 0, "duplicated": 0, "state_mismatches": 0, "restart_to_ready_s": 2.0},
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--kills", type=int, default=100)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--log", help=argparse.SUPPRESS)
    p.add_argument("--rest", help=argparse.SUPPRESS)
    p.add_argument("--fault", default="timer", help=argparse.SUPPRESS)
    p.add_argument("--fault-at", type=int, default=1, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        import logging

        logging.basicConfig(level=logging.CRITICAL)
        asyncio.run(child(args))
        return
    result = run(args.kills, args.seed)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
