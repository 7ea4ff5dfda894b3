"""Orders out: the live client's cost per order, and the simulated venue's matching throughput.

``live`` - per venue (Bybit linear, Binance spot, Binance USD-M, MEXC spot), the real
``CcxtExecutionClient`` path: ``submit(SubmitOrder)`` (duplicate check, Titan's request builder,
the ledger, the create task), the rate limiter (fast path: a pool with room), Titan's signer
(:mod:`titan.execution.signing`) and ccxt's ``fetch`` up to the moment it hands the request to
the aiohttp session: there :class:`VenueDoor` stops the clock and answers as the venue would
(order NEW), so the rest of the client's path (ccxt's response handling, the ledger's
OrderAccepted) runs after the measurement. Network excluded. Per order: p50/p99 of one submit at
a time (the event loop's hop to the create task included) and the mean. The markets, balance
and leverage calls of ``start()`` go to the local exchange emulator. Baselines in the same run:
a plain ccxt exchange's unified ``create_order`` to the same door (what Titan would pay going
through ccxt's API), and ccxt's bare ``sign()`` of the same request next to Titan's signer.
Goal: <= 50 us per order.

``sim`` - ``SimVenue`` matching with resting orders: book (level) updates/s and orders/s, from
``bench/sim_venue.py`` (its functions, run here), each next to the pure-Python reference twin
as the baseline. Goal: >= 500,000 book updates/s.

Prints one JSON line. ``python bench/execution.py [N]`` (N orders per venue, default 20,000).
"""

from __future__ import annotations

import asyncio
import gc
import importlib.util
import json
import re
import sys
import time
from decimal import Decimal
from pathlib import Path

import numpy as np
import orjson

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.kit.emulator import API_KEY, API_SECRET  # noqa: E402
from titan.core import events as ev  # noqa: E402

N = 20_000
GOAL_US = 50.0
BOOK_GOAL = 500_000
CASES = [  # venue, instrument id, qty, limit price (resting, away from the emulator's book)
    ("bybit", "BTC/USDT:USDT@bybit", "0.001", "17000"),
    ("binance", "BTC/USDT@binance", "0.001", "20000"),
    ("binanceusdm", "BTC/USDT:USDT@binanceusdm", "0.002", "20000"),
    ("mexc", "BTC/USDT@mexc", "0.001", "20000"),
]


def percentiles(ns: list[int]) -> dict[str, float]:
    a = np.asarray(ns, dtype=np.float64) / 1000.0
    return {"n": int(a.size), "p50_us": round(float(np.percentile(a, 50)), 2),
            "p99_us": round(float(np.percentile(a, 99)), 2), "max_us": round(float(a.max()), 2),
            "mean_us": round(float(a.mean()), 2)}


def event_loop_runner():
    """uvloop when installed (what ``titan run`` uses), else asyncio."""
    try:
        import uvloop

        return uvloop.run, "uvloop"
    except ImportError:  # pragma: no cover
        return asyncio.run, "asyncio"


# ---- the HTTP layer, stopped at the door ----------------------------------------------------------

_CID = re.compile(rb'(?:newClientOrderId=|"orderLinkId":")([A-Za-z0-9_.:-]+)')
_SIDE = re.compile(rb'(?:side=|"side":")([A-Za-z]+)')


class _Answer:
    """What ccxt's ``fetch`` reads from an aiohttp response."""

    reason = "OK"

    def __init__(self, status: int, body: bytes) -> None:
        self.status = status
        self._body = body
        self.headers = {"Content-Type": "application/json"}

    async def text(self, errors: str = "strict") -> str:
        return self._body.decode()

    async def __aenter__(self) -> _Answer:
        return self

    async def __aexit__(self, *exc) -> bool:
        return False


class VenueDoor:
    """Stands in for the aiohttp ``ClientSession`` ccxt hands its requests to (``exchange.session``).

    ``post`` is the boundary: it records when the request arrived (``at[client id]``, the clock
    stops there) and what it was, then answers an order create as ``venue`` does for a resting
    order. Anything else is counted in ``other`` (nothing else should be sent while measuring)."""

    headers: dict[str, str] = {}  # aiohttp's default session headers (none): ccxt merges them
    closed = False

    def __init__(self, venue: str) -> None:
        self.venue = venue
        self.at: dict[str, int] = {}
        self.last: tuple[str, bytes | None, dict] | None = None
        self.seq = 0
        self.other = 0

    def post(self, url, *, data=None, headers=None, timeout=None, proxy=None, **kw) -> _Answer:
        t = time.perf_counter_ns()
        text = str(url).encode() + b"&" + (data or b"")
        m = _CID.search(text)
        cid = m.group(1).decode() if m else ""
        self.at[cid] = t
        self.last = (str(url), data, dict(headers or {}))
        self.seq += 1
        side = _SIDE.search(text)
        return _Answer(200, self.answer(cid, (side.group(1).decode() if side else "BUY")))

    def get(self, url, **kw) -> _Answer:
        self.other += 1
        return _Answer(200, b"{}")

    delete = put = get

    async def close(self) -> None:
        return None

    def answer(self, cid: str, side: str) -> bytes:
        now, n = int(time.time() * 1000), self.seq
        if self.venue == "bybit":
            return orjson.dumps({"retCode": 0, "retMsg": "OK", "result": {"orderId": f"b{n}", "orderLinkId": cid},
                                 "retExtInfo": {}, "time": now})
        if self.venue == "mexc":
            return orjson.dumps({"symbol": "BTCUSDT", "orderId": f"m{n}", "orderListId": -1, "price": "20000",
                                 "origQty": "0.001", "type": "LIMIT", "side": side.upper(), "transactTime": now})
        order = {"symbol": "BTCUSDT", "orderId": n, "clientOrderId": cid, "price": "0", "origQty": "0.001",
                 "executedQty": "0", "status": "NEW", "timeInForce": "GTC", "type": "LIMIT", "side": side.upper()}
        if self.venue == "binance":
            order.update(orderListId=-1, transactTime=now, cummulativeQuoteQty="0", fills=[])
        else:
            order.update(avgPrice="0", cumQty="0", cumQuote="0", reduceOnly=False, positionSide="BOTH",
                         updateTime=now)
        return orjson.dumps(order)


async def open_door(exchange, venue: str) -> VenueDoor:
    """Close ccxt's real session (after the emulator calls) and put the door in its place."""
    if exchange.session is not None:
        await exchange.session.close()
    door = VenueDoor(venue)
    exchange.session = door
    return door


# ---- live: the client's path --------------------------------------------------------------------


def roomy_limiters():
    """Rate limiters with the venues' own weights but pools that never fill: the bench measures
    the limiter's fast path (a pool with room), not the venue's 10 orders/s."""
    from titan.execution.ratelimit import RateLimiters, VenueLimits, published

    return RateLimiters(limits=lambda venue: VenueLimits(venue, (), published(venue).cost,
                                                         per_endpoint=(10**9, 60.0)))


async def started_client(venue: str, iid: str, emu, sink):
    from titan.config import Credentials, ExecutionSection, Secret, VenueConfig
    from titan.execution.ccxt_client import CcxtExecutionClient

    rest = emu.base_url(venue)
    client = CcxtExecutionClient(
        venue, credentials=Credentials(venue=venue, api_key=Secret(API_KEY), secret=Secret(API_SECRET)),
        config=VenueConfig(enabled=True, symbols=[iid.split("@")[0]], rest_url=rest, ws_url=emu.ws_url(venue),
                           recv_window_ms=5000),
        execution=ExecutionSection(cancel_on_shutdown=False), sink=sink,
        limiters=roomy_limiters())
    await client.start()
    await client.updates.stop()  # no private stream or polling while measuring
    return client


def orders(iid: str, qty: str, price: str, n: int, tag: str) -> list[ev.SubmitOrder]:
    return [ev.SubmitOrder(client_order_id=f"TTN-{tag}-{i:010d}", phase="bench", instrument_id=iid,
                           side=ev.Side.BUY if i % 2 else ev.Side.SELL, order_type=ev.OrderType.LIMIT,
                           quantity=Decimal(qty), price=Decimal(price), ts_init=0) for i in range(n)]


async def client_path(client, door: VenueDoor, cmds: list[ev.SubmitOrder]) -> list[int]:
    """One submit at a time: submit -> the door, then the create finishes off the clock."""
    out, perf, submit, at = [], time.perf_counter_ns, client.submit, door.at
    for cmd in cmds:
        cid = cmd.client_order_id
        t0 = perf()
        submit(cmd)
        while cid not in at:
            await asyncio.sleep(0)
        out.append(at.pop(cid) - t0)
        while client._tasks:
            await asyncio.sleep(0)
    return out


async def unified_path(exchange, door: VenueDoor, symbol: str, cmds: list[ev.SubmitOrder]) -> list[int]:
    """Baseline: a plain ccxt exchange's ``create_order`` (ccxt's fetch2, sign and fetch)."""
    out, perf, at = [], time.perf_counter_ns, door.at
    for cmd in cmds:
        t0 = perf()
        await exchange.create_order(symbol, "limit", cmd.side.value, format(cmd.quantity, "f"),
                                    format(cmd.price, "f"), {"clientOrderId": cmd.client_order_id})
        out.append(at.pop(cmd.client_order_id) - t0)
    return out


def signing(exchange, client, request, n: int) -> tuple[float, float]:
    """(ccxt sign() us, Titan signer us) per request, best of 5, interleaved."""
    from titan.execution.signing import create_signer, endpoint

    path, api, method = endpoint(client.profile.ccxt_id, request.method)
    titan = create_signer(client.exchange, request.method)
    params = request.params
    best = [float("inf"), float("inf")]
    for _ in range(5):
        for i, fn in enumerate((lambda: exchange.sign(path, api, method, dict(params)),
                                lambda: titan(dict(params)))):
            t0 = time.perf_counter_ns()
            for _ in range(n):
                fn()
            best[i] = min(best[i], (time.perf_counter_ns() - t0) / n / 1000)
    return round(best[0], 2), round(best[1], 2)


async def live_venue(venue: str, iid: str, qty: str, price: str, n: int, emu) -> dict:
    from titan.execution.placement import create_request
    from titan.execution.venues import build_exchange, profile

    events: list[ev.Message] = []
    client = await started_client(venue, iid, emu, events.append)
    plain = build_exchange(profile(venue), api_key=API_KEY, secret=API_SECRET, rest_url=emu.base_url(venue),
                           ws_url=emu.ws_url(venue), enable_rate_limit=False, recv_window_ms=5000)
    plain.markets, plain.markets_by_id = client.exchange.markets, client.exchange.markets_by_id
    plain.options = client.exchange.options
    door, plain_door = await open_door(client.exchange, venue), await open_door(plain, venue)
    inst = client.instruments.get(iid)
    try:
        gc.collect()
        warm = 500
        titan_ns, ccxt_ns = [], []
        cmds = orders(iid, qty, price, 2 * (n + warm), "bch")
        for k in range(2):  # interleaved halves: a busy machine slows both alike
            half = cmds[k * (n + warm): (k + 1) * (n + warm)]
            titan_ns += (await client_path(client, door, half))[warm:]
            ccxt_ns += (await unified_path(plain, plain_door, inst.symbol, half))[warm:]
        request = create_request(cmds[0], inst, client._market_id(inst), client.profile)
        sign_ccxt, sign_titan = signing(plain, client, request, 5000)
        accepted = sum(1 for e in events if isinstance(e, ev.OrderAccepted))
        rejected = [e for e in events if isinstance(e, ev.OrderRejected)]
        assert not rejected, f"{venue}: {rejected[:1]}"
        url, body, headers = door.last
        wire = len(url) + len(body or b"") + sum(len(k) + len(v) for k, v in headers.items())
        t, c = percentiles(titan_ns), percentiles(ccxt_ns)
        return {
            "venue": venue, "orders": len(titan_ns), "client_submit_to_http": t,
            "baseline_ccxt_create_order": c, "ratio_mean_vs_ccxt": round(t["mean_us"] / c["mean_us"], 2),
            "sign_us": {"titan": sign_titan, "baseline_ccxt_sign": sign_ccxt},
            "accepted": accepted, "other_requests": door.other, "request_bytes": wire,
            "meets_goal": t["p50_us"] <= GOAL_US,
        }
    finally:
        await client.stop()
        await plain.close()


async def live(n: int) -> list[dict]:
    from tests.kit.emulator import Emulator

    async with Emulator(("bybit", "binance", "mexc"), enforce_limits=False) as emu:
        return [await live_venue(v, iid, q, p, n, emu) for v, iid, q, p in CASES]


# ---- the simulated venue --------------------------------------------------------------------------


def sim() -> dict:
    """``bench/sim_venue.py``'s book and order measurements (compiled next to the reference)."""
    spec = importlib.util.spec_from_file_location("bench_sim_venue", Path(__file__).with_name("sim_venue.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    book, orders_ = mod.bench_book(), mod.bench_orders()
    best = book.get("compiled", book.get("reference"))
    out = {"compiled": mod.compiled is not None, "resting_orders": book["resting_orders"],
           "level_updates": book["level_updates"]}
    for name in ("compiled", "reference"):
        if name in book:
            out[name] = {"book_level_updates_per_s": book[name]["venue_level_updates_per_s"],
                         "book_single_level_deltas_per_s": book[name]["venue_single_level_deltas_per_s"],
                         **orders_.get(name, {})}
    if "compiled" in book and "reference" in book:
        out["ratio_book_vs_reference"] = round(
            book["compiled"]["venue_level_updates_per_s"] / book["reference"]["venue_level_updates_per_s"], 1)
    out["meets_goal"] = best["venue_level_updates_per_s"] >= BOOK_GOAL
    return out


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else N
    run, loop_name = event_loop_runner()
    results = run(live(n))
    worst = max(r["client_submit_to_http"]["p50_us"] for r in results)
    print(json.dumps({"bench": "execution", "loop": loop_name, "live": results, "goal_us_per_order": GOAL_US,
                      "worst_p50_us": worst, "meets_goal": worst <= GOAL_US,
                      "sim": sim(), "goal_book_updates_per_s": BOOK_GOAL}))


if __name__ == "__main__":
    main()
