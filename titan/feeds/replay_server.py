"""A websocket replay server: recorded venue frames served to clients on 127.0.0.1.

It speaks the venue's own protocol, so the real feed client cannot tell it from the venue:

- Binance: combined streams at ``/stream`` (frames ``{"stream":..,"data":..}``, as recorded)
  and raw streams at ``/ws`` (the ``data`` part only); ``SUBSCRIBE``/``UNSUBSCRIBE``/
  ``LIST_SUBSCRIPTIONS`` requests; ping frames from the server; the REST depth snapshot at
  ``/api/v3/depth`` and ``/fapi/v1/depth``, consistent with the ``U/u`` sequence already sent.
- Bybit v5: ``/v5/public/{spot,linear}``, ``{"op":"subscribe"|"unsubscribe"|"ping"}``; a new
  ``orderbook.N`` subscription first receives a snapshot of the current book (as the venue
  does), built from the recorded snapshot plus the deltas replayed so far.

The recording plays on one timeline shared by all clients (like a venue), starting with the
first subscription, at ``speed`` x real time (0 = as fast as clients take it, pausing while
no client is subscribed, e.g. during a reconnect). Faults can be
planned (:class:`FaultPlan`, every N-th frame) or triggered at run time (:meth:`drop_next`,
:meth:`corrupt_next`, :meth:`disconnect_all`, :meth:`silence`): dropped and corrupted book
frames make gaps, disconnects and silence exercise reconnects and stale detection. The
server's own books still apply dropped frames - the venue's truth moves on; clients resync.

``titan run`` in paper mode starts it in-process on the bundled sample; it also runs alone:
``python -m titan.feeds.replay_server RECORDING... --speed 1``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import logging
import sys
from collections.abc import Iterable
from pathlib import Path

import msgspec
import orjson
from aiohttp import WSMsgType, web

from titan.feeds import binance as bn
from titan.feeds import bybit as bb
from titan.feeds.book import BinanceBookSync, BookSync, BybitBookSync
from titan.feeds.options import FeedOptions
from titan.feeds.recording import Frame, Recording, symbol_of
from titan.feeds.venues import VenueUrls

log = logging.getLogger(__name__)
BID, ASK = 0, 1


class FaultPlan(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Faults injected every N-th frame (0 = never). Book faults count book frames only."""

    drop_every: int = 0  # drop the N-th book frame (a sequence gap for the client)
    corrupt_every: int = 0  # send the N-th book frame truncated (undecodable)
    disconnect_every: int = 0  # close every client connection after N frames
    silence_every: int = 0  # after N frames, send nothing for silence_s seconds
    silence_s: float = 0.0
    ignore_pings: bool = False  # answer no ping (websocket or Bybit JSON): a dead-but-open socket


class _Client:
    __slots__ = ("ws", "n", "raw", "subs")

    def __init__(self, ws: web.WebSocketResponse, n: int, raw: bool, subs: set[str]) -> None:
        self.ws, self.n, self.raw, self.subs = ws, n, raw, subs


def _is_book(key: str) -> bool:
    return "@depth" in key or key.startswith("orderbook.")


def _fmt(x: float) -> str:
    return repr(float(x))


class ReplayServer:
    """Serve a :class:`Recording` over websocket (and REST depth) on ``host:port``.

    ``async with ReplayServer(Recording.load(path), speed=0) as srv:`` then point a feed at
    ``srv.urls`` (``{venue: VenueUrls}``) with ``srv.feed_options()``.
    """

    def __init__(
        self,
        recording: Recording | str | Path | Iterable[str | Path],
        *,
        speed: float = 0.0,
        host: str = "127.0.0.1",
        port: int = 0,
        faults: FaultPlan | None = None,
        loop: bool = False,
        ping_interval_s: float = 0.0,
        venue: str | None = None,
    ) -> None:
        if not isinstance(recording, Recording):
            paths = [recording] if isinstance(recording, (str, Path)) else list(recording)
            recording = Recording.load(*paths)
        if speed < 0:
            raise ValueError(f"speed: must be >= 0, got {speed}")
        self.recording = recording
        self.family = recording.family
        self.speed = speed
        self.host = host
        self.port = port
        self.faults = faults or FaultPlan()
        self.loop = loop
        self.ping_interval_s = ping_interval_s
        self.venue = venue or ("binanceusdm" if self._looks_futures() else self.family)
        # observable state, for tests and operators
        self.requests: list[tuple[int, str]] = []  # (connection number, text) sent by clients
        self.injected = {"dropped": 0, "corrupted": 0, "disconnects": 0, "silences": 0}
        self.sent = 0
        self.position = 0
        self.pongs = 0
        self.connections = 0
        self.started = asyncio.Event()
        self.finished = asyncio.Event()
        self._subscribed = asyncio.Event()  # some client holds a subscription
        self._clients: list[_Client] = []
        self._books: dict[str, BookSync] = {}
        self._book_meta: dict[str, tuple[int, int]] = {}  # key -> (ts ms, cts ms) of last frame
        self._last_event: dict[str, tuple[int, int]] = {}  # symbol -> (E, T) of last depth frame
        self._snapshot_idx = 0
        self._drop_next = 0
        self._corrupt_next = 0
        self._book_frames = 0
        self._resume_at = 0.0
        self._runner: web.AppRunner | None = None
        self._task: asyncio.Task | None = None
        self._conn_ids = itertools.count(1)

    def _looks_futures(self) -> bool:
        if self.family != "binance":
            return False
        return any('"pu":' in f.text for f in itertools.islice(
            (f for f in self.recording.frames if "@depth" in f.key), 5))

    # ---- lifecycle -----------------------------------------------------------------------

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/stream", self._ws_handler)
        app.router.add_get("/ws", self._ws_handler)
        app.router.add_get("/ws/{rest:.*}", self._ws_handler)
        app.router.add_get("/v5/public/{category}", self._ws_handler)
        app.router.add_get("/api/v3/depth", self._depth_handler)
        app.router.add_get("/fapi/v1/depth", self._depth_handler)
        self._runner = web.AppRunner(app, handle_signals=False, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self._task = asyncio.create_task(self._play(), name="replay-server")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        for c in list(self._clients):
            with contextlib.suppress(Exception):
                await c.ws.close()
        if self._runner is not None:
            await self._runner.cleanup()

    async def __aenter__(self) -> ReplayServer:
        await self.start()
        return self

    async def __aexit__(self, *exc) -> None:
        await self.stop()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def urls(self) -> dict[str, VenueUrls]:
        """Base URLs to give ``MarketFeed(urls=...)`` for this recording's venue."""
        return {self.venue: VenueUrls(ws=f"ws://{self.host}:{self.port}", rest=self.url)}

    def feed_options(self, base: FeedOptions | None = None) -> FeedOptions:
        """``base`` adjusted to subscribe the book streams this recording holds."""
        base = base or FeedOptions()
        changes: dict = {}
        for key in self.recording.keys:
            if self.family == "binance" and "@depth" in key:
                changes["binance_depth_stream"] = key.split("@", 1)[1]
            elif self.family == "binance" and key.endswith("@aggTrade"):
                changes["binance_trade_stream"] = "aggTrade"
            elif self.family == "bybit" and key.startswith("orderbook.") and not key.startswith("orderbook.1."):
                changes["bybit_book_depth"] = int(key.split(".")[1])
        return msgspec.structs.replace(base, **changes)

    # ---- run-time faults -----------------------------------------------------------------

    def drop_next(self, n: int = 1) -> None:
        """Do not send the next ``n`` book frames."""
        self._drop_next += n

    def corrupt_next(self, n: int = 1) -> None:
        """Send the next ``n`` book frames truncated."""
        self._corrupt_next += n

    async def disconnect_all(self) -> None:
        """Close every client connection (as a venue restart would)."""
        self.injected["disconnects"] += 1
        for c in list(self._clients):
            await c.ws.close(code=1001, message=b"replay: injected disconnect")

    def silence(self, seconds: float) -> None:
        """Send no data for ``seconds`` (pings are still answered)."""
        self.injected["silences"] += 1
        self._resume_at = asyncio.get_running_loop().time() + seconds

    # ---- websocket -----------------------------------------------------------------------

    async def _ws_handler(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(autoping=False, max_msg_size=1 << 20)
        await ws.prepare(request)
        n = next(self._conn_ids)
        self.connections += 1
        subs: set[str] = set()
        if request.path == "/stream" and request.query.get("streams"):
            subs.update(request.query["streams"].split("/"))
        raw = request.path.startswith("/ws")
        client = _Client(ws, n, raw, subs)
        self._clients.append(client)
        pinger = asyncio.create_task(self._ping(ws)) if self.ping_interval_s > 0 else None
        if subs:
            self.started.set()
            self._update_subscribed()
        try:
            async for msg in ws:
                if msg.type is WSMsgType.TEXT:
                    self.requests.append((n, msg.data))
                    await self._on_request(client, msg.data)
                    self._update_subscribed()
                elif msg.type is WSMsgType.PING:
                    if not self.faults.ignore_pings:
                        await ws.pong(msg.data)
                elif msg.type is WSMsgType.PONG:
                    self.pongs += 1
        finally:
            if pinger is not None:
                pinger.cancel()
            self._clients.remove(client)
            self._update_subscribed()
        return ws

    def _update_subscribed(self) -> None:
        if any(c.subs for c in self._clients):
            self._subscribed.set()
        else:
            self._subscribed.clear()

    async def _ping(self, ws: web.WebSocketResponse) -> None:
        while not ws.closed:
            await asyncio.sleep(self.ping_interval_s)
            with contextlib.suppress(Exception):
                await ws.ping(b"replay")

    async def _on_request(self, client: _Client, text: str) -> None:
        try:
            req = orjson.loads(text)
        except orjson.JSONDecodeError:
            req = None
        if self.family == "binance":
            await self._binance_request(client, req)
        else:
            await self._bybit_request(client, req)

    async def _binance_request(self, client: _Client, req) -> None:
        ws = client.ws
        if not isinstance(req, dict) or "method" not in req:
            await ws.send_str(orjson.dumps({"error": {"code": 2, "msg": "Invalid request: request must be a JSON object with a method"}, "id": None}).decode())
            return
        method, params, rid = req.get("method"), req.get("params") or [], req.get("id")
        if method == "SUBSCRIBE" and isinstance(params, list):
            client.subs.update(params)
            self.started.set()
            await ws.send_str(orjson.dumps({"result": None, "id": rid}).decode())
        elif method == "UNSUBSCRIBE" and isinstance(params, list):
            client.subs.difference_update(params)
            await ws.send_str(orjson.dumps({"result": None, "id": rid}).decode())
        elif method == "LIST_SUBSCRIPTIONS":
            await ws.send_str(orjson.dumps({"result": sorted(client.subs), "id": rid}).decode())
        else:
            await ws.send_str(orjson.dumps({"error": {"code": 1, "msg": f"Unknown method {method!r}"}, "id": rid}).decode())

    async def _bybit_request(self, client: _Client, req) -> None:
        ws = client.ws
        conn_id = f"replay-{client.n}"
        if not isinstance(req, dict):
            await ws.send_str(orjson.dumps({"success": False, "ret_msg": "invalid request", "conn_id": conn_id}).decode())
            return
        op, args, rid = req.get("op"), req.get("args") or [], req.get("req_id")
        reply = {"success": True, "ret_msg": "", "conn_id": conn_id, "op": op}
        if rid is not None:
            reply["req_id"] = rid
        if op == "ping":
            if not self.faults.ignore_pings:
                reply["ret_msg"] = "pong"
                await ws.send_str(orjson.dumps(reply).decode())
        elif op == "subscribe" and isinstance(args, list):
            await ws.send_str(orjson.dumps(reply).decode())
            for topic in args:
                client.subs.add(topic)
                snap = self._bybit_snapshot(topic)
                if snap is not None:
                    await ws.send_str(snap)
            self.started.set()
        elif op == "unsubscribe" and isinstance(args, list):
            client.subs.difference_update(args)
            await ws.send_str(orjson.dumps(reply).decode())
        else:
            reply.update(success=False, ret_msg=f"unknown op {op!r}")
            await ws.send_str(orjson.dumps(reply).decode())

    def _bybit_snapshot(self, topic: str) -> str | None:
        sync = self._books.get(topic)
        if sync is None or not sync.valid:
            return None
        ts, cts = self._book_meta.get(topic, (0, 0))
        book = sync.book
        data = {
            "s": symbol_of("bybit", topic),
            "b": [[_fmt(p), _fmt(q)] for p, q in book.levels(BID).tolist()],
            "a": [[_fmt(p), _fmt(q)] for p, q in book.levels(ASK).tolist()],
            "u": sync.last_update_id,
            "seq": getattr(sync, "sequence", -1),
        }
        return orjson.dumps({"topic": topic, "type": "snapshot", "ts": ts, "data": data, "cts": cts}).decode()

    # ---- REST ------------------------------------------------------------------------------

    async def _depth_handler(self, request: web.Request) -> web.Response:
        symbol = request.query.get("symbol", "").upper()
        try:
            limit = int(request.query.get("limit", "100"))
        except ValueError:
            return web.json_response({"code": -1100, "msg": "Illegal characters found in parameter 'limit'."}, status=400)
        key = next((k for k in self._books if symbol_of("binance", k) == symbol), None)
        sync = self._books.get(key) if key else None
        if sync is not None and sync.valid:
            E, T = self._last_event.get(symbol, (0, 0))
            body = {
                "lastUpdateId": sync.last_update_id, "E": E, "T": T,
                "bids": [[_fmt(p), _fmt(q)] for p, q in sync.book.levels(BID, limit).tolist()],
                "asks": [[_fmt(p), _fmt(q)] for p, q in sync.book.levels(ASK, limit).tolist()],
            }
            return web.Response(body=orjson.dumps(body), content_type="application/json")
        recorded = next((s for s in self.recording.snapshots if s.symbol == symbol), None)
        if recorded is not None:  # the timeline has not reached it yet: it is still the truth to come
            return web.Response(text=recorded.text, content_type="application/json")
        return web.json_response({"code": -1121, "msg": "Invalid symbol."}, status=400)

    # ---- the timeline ----------------------------------------------------------------------

    async def _play(self) -> None:
        await self.started.wait()
        while True:
            await self._play_once()
            self.finished.set()
            if not self.loop:
                return
            await self.disconnect_all()
            self._books.clear()
            self._snapshot_idx = 0
            self.finished.clear()

    async def _play_once(self) -> None:
        loop = asyncio.get_running_loop()
        frames = self.recording.frames
        if not frames:
            return
        t0_rec, t0_wall = frames[0].ts, loop.time()
        plan = self.faults
        for i, frame in enumerate(frames):
            self.position = i
            self._apply_snapshots(frame.ts)
            if self._resume_at > loop.time():
                pause = self._resume_at - loop.time()
                await asyncio.sleep(pause)
                t0_wall += pause
            if self.speed > 0:
                due = t0_wall + (frame.ts - t0_rec) / 1e9 / self.speed
                wait = due - loop.time()
                if wait > 0:
                    await asyncio.sleep(wait)
            else:
                if not self._subscribed.is_set():  # as fast as clients read: wait for one
                    await self._subscribed.wait()
                if i % 64 == 0:
                    await asyncio.sleep(0)
            await self._broadcast(frame)
            n = i + 1
            if plan.disconnect_every and n % plan.disconnect_every == 0:
                await self.disconnect_all()
            if plan.silence_every and plan.silence_s > 0 and n % plan.silence_every == 0:
                self.silence(plan.silence_s)

    def _apply_snapshots(self, ts: int) -> None:
        snaps = self.recording.snapshots
        while self._snapshot_idx < len(snaps) and snaps[self._snapshot_idx].ts <= ts:
            snap = snaps[self._snapshot_idx]
            self._snapshot_idx += 1
            for key in self.recording.keys:
                if "@depth" in key and symbol_of("binance", key) == snap.symbol:
                    sync = self._books.get(key)
                    if sync is None:
                        sync = self._books[key] = BinanceBookSync(futures=self.venue == "binanceusdm")
                    s = bn.SNAPSHOT.decode(snap.text)
                    sync.on_snapshot(s.lastUpdateId, s.bids, s.asks)

    def _track(self, frame: Frame) -> None:
        """Keep the server's own book (the venue's truth) for REST snapshots and resubscribes."""
        sync = self._books.get(frame.key)
        try:
            if self.family == "binance":
                if sync is None:
                    sync = self._books[frame.key] = BinanceBookSync(futures=self.venue == "binanceusdm")
                d = bn.DEPTH.decode(frame.text).data
                sync.on_diff(d.U, d.u, d.pu, d.b, d.a)
                self._last_event[symbol_of("binance", frame.key)] = (d.E, d.T)
            else:
                if sync is None:
                    sync = self._books[frame.key] = BybitBookSync()
                m = bb.BOOK.decode(frame.text)
                d = m.data
                if m.type == "snapshot":
                    sync.on_snapshot(d.u, d.seq, d.b, d.a)
                else:
                    sync.on_delta(d.u, d.seq, d.b, d.a)
                self._book_meta[frame.key] = (m.ts, 0)
        except (msgspec.DecodeError, msgspec.ValidationError, ValueError) as e:
            log.warning("replay: recorded book frame not understood (%s)", e)

    async def _broadcast(self, frame: Frame) -> None:
        key, text = frame.key, frame.text
        if _is_book(key):
            self._track(frame)
            self._book_frames += 1
            plan = self.faults
            if self._drop_next or (plan.drop_every and self._book_frames % plan.drop_every == 0):
                self._drop_next = max(0, self._drop_next - 1)
                if any(key in c.subs for c in self._clients):
                    self.injected["dropped"] += 1
                    return
            if self._corrupt_next or (plan.corrupt_every and self._book_frames % plan.corrupt_every == 0):
                self._corrupt_next = max(0, self._corrupt_next - 1)
                if any(key in c.subs for c in self._clients):
                    self.injected["corrupted"] += 1
                    text = text[: len(text) // 2]
        for c in self._clients:
            if key in c.subs and not c.ws.closed:
                out = text
                if c.raw and self.family == "binance" and text.startswith('{"stream"'):
                    start = text.find('"data":') + 7
                    out = text[start:-1]
                try:
                    await c.ws.send_str(out)
                except (ConnectionError, RuntimeError):
                    continue
                self.sent += 1


# ---- command line ------------------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m titan.feeds.replay_server",
        description="Serve recorded Binance/Bybit websocket frames on 127.0.0.1, speaking the venue's protocol.",
    )
    p.add_argument("recording", nargs="*", help="session_*.log.gz / *.jsonl files (default: the bundled sample)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0, help="0 picks a free port")
    p.add_argument("--speed", type=float, default=1.0, help="x real time; 0 = as fast as clients read")
    p.add_argument("--loop", action="store_true", help="start over at the end (clients are disconnected)")
    p.add_argument("--ping-interval", type=float, default=0.0, help="send websocket pings every N s")
    p.add_argument("--drop-every", type=int, default=0, help="drop every N-th book frame")
    p.add_argument("--corrupt-every", type=int, default=0, help="truncate every N-th book frame")
    p.add_argument("--disconnect-every", type=int, default=0, help="disconnect clients every N frames")
    p.add_argument("--silence-every", type=int, default=0, help="go silent every N frames ...")
    p.add_argument("--silence-s", type=float, default=0.0, help="... for this many seconds")
    p.add_argument("--ignore-pings", action="store_true", help="never answer pings")
    return p


def bundled_sample() -> Path:
    """The raw websocket sample shipped with Titan for paper mode."""
    return Path(__file__).resolve().parent.parent / "samples" / "binanceusdm_BTCUSDT_20240808T235415Z.log.gz"


async def _serve(args: argparse.Namespace) -> None:
    paths = args.recording or [bundled_sample()]
    faults = FaultPlan(
        drop_every=args.drop_every, corrupt_every=args.corrupt_every,
        disconnect_every=args.disconnect_every, silence_every=args.silence_every, silence_s=args.silence_s,
        ignore_pings=args.ignore_pings,
    )
    async with ReplayServer(paths, speed=args.speed, host=args.host, port=args.port, faults=faults,
                            loop=args.loop, ping_interval_s=args.ping_interval) as srv:
        print(f"replaying {len(srv.recording)} {srv.family} frames ({srv.venue}) on ws://{args.host}:{srv.port}"
              f" (REST {srv.url}); streams: {', '.join(srv.recording.keys)}", flush=True)
        while True:
            await srv.finished.wait()
            if not args.loop:
                print(f"recording finished: {srv.sent} frames sent, faults {srv.injected}", flush=True)
                return
            await asyncio.sleep(0.1)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        asyncio.run(_serve(args))
    except KeyboardInterrupt:
        return 130
    except Exception as e:  # one line, not a traceback
        print(f"replay_server: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
