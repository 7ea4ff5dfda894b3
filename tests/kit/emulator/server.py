"""The emulator process: one aiohttp server per venue on 127.0.0.1, plus the control API."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from decimal import Decimal
from pathlib import Path
from urllib.parse import parse_qsl

from aiohttp import WSMsgType, web

from tests.kit.emulator.engine import Exchange
from tests.kit.emulator.faults import Fault, FaultBook, RequestRecord
from tests.kit.emulator.limits import Cost, Limits, Rule
from tests.kit.emulator.tape import DATA

log = logging.getLogger(__name__)

BODY = web.RequestKey("body", str)
CODE = web.RequestKey("emu_code", object)
SECTION = web.RequestKey("section", str)

API_KEY = "emu-api-key"
API_SECRET = "emu-api-secret"
CONTROL = "/_emulator"


class PushSocket:
    """One websocket connection with an ordered outgoing queue (engine events are synchronous)."""

    def __init__(self, ws: web.WebSocketResponse, kind: str) -> None:
        self.ws = ws
        self.kind = kind  # "public" | "private"
        self.topics: set[str] = set()
        self.authed = False
        self.meta: dict[str, object] = {}
        self.queue: asyncio.Queue[str | None] = asyncio.Queue()
        self.writer = asyncio.get_running_loop().create_task(self._write())

    def send(self, text: str) -> None:
        self.queue.put_nowait(text)

    async def _write(self) -> None:
        while True:
            text = await self.queue.get()
            if text is None or self.ws.closed:
                return
            try:
                await self.ws.send_str(text)
            except (ConnectionError, RuntimeError):
                return

    async def close(self) -> None:
        self.queue.put_nowait(None)
        with contextlib.suppress(Exception):
            await self.ws.close()


class VenueApp:
    """Common plumbing of one venue's server: log, faults, limits, sockets, control routes."""

    name = ""

    def __init__(self, emu: Emulator) -> None:
        self.emu = emu
        self.exchanges: dict[str, Exchange] = {}
        self.requests: list[RequestRecord] = []
        self.faults = FaultBook()
        self.limits = Limits(emu.time_scale)
        self.sockets: set[PushSocket] = set()
        self.app = web.Application(middlewares=[self._middleware])
        self.app.router.add_get(CONTROL + "/requests", self._c_requests)
        self.app.router.add_delete(CONTROL + "/requests", self._c_clear_requests)
        self.app.router.add_post(CONTROL + "/faults", self._c_fault)
        self.app.router.add_delete(CONTROL + "/faults", self._c_clear_faults)
        self.app.router.add_post(CONTROL + "/advance", self._c_advance)
        self.app.router.add_post(CONTROL + "/trade", self._c_trade)
        self.app.router.add_post(CONTROL + "/funding", self._c_funding)
        self.app.router.add_get(CONTROL + "/state", self._c_state)
        self.app.router.add_post(CONTROL + "/reset", self._c_reset)
        self.setup()
        self.reset_state()

    # -- hooks for the dialects
    def setup(self) -> None:
        """Routes and static data (candles), once."""
        raise NotImplementedError

    def reset_state(self) -> None:
        """Fresh accounts, orders and books at the start of the recorded data."""
        raise NotImplementedError

    def reset(self) -> None:
        self.reset_state()
        self.requests.clear()
        self.faults.clear()
        self.limits = Limits(self.emu.time_scale)

    def cost(self, request: web.Request, params: dict[str, str]) -> Cost:
        return []

    def rate_limited(self, request: web.Request, rule: Rule | None) -> web.Response:
        raise NotImplementedError

    def server_ms(self) -> int:
        return int(time.time() * 1000) + self.emu.clock_skew_ms

    # -- middleware
    @web.middleware
    async def _middleware(self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]):
        if request.path.startswith(CONTROL):
            return await handler(request)
        body = await request.text() if request.can_read_body else ""
        request[BODY] = body
        params = dict(parse_qsl(request.query_string, keep_blank_values=True))
        params.update(parse_qsl(body, keep_blank_values=True) if "=" in body and not body.startswith("{") else {})
        rec = RequestRecord(
            method=request.method, path=request.path, query=dict(request.query), body=body,
            signed=any(h in request.headers for h in ("X-BAPI-SIGN", "X-MBX-APIKEY", "X-MEXC-APIKEY"))
            or "signature" in params,
        )
        self.requests.append(rec)
        is_ws = request.headers.get("Upgrade", "").lower() == "websocket"
        if is_ws and self.faults.blocks_ws() and self.is_private_ws(request):
            rec.status, rec.fault = 503, "drop_ws"
            return web.Response(status=503, text="private stream unavailable")
        fault = None if is_ws else self.faults.take(request.method, request.path,
                                                      ("latency", "http_5xx", "rate_limit", "timeout_after_accept"))
        if fault is not None:
            rec.fault = fault.kind
            if fault.kind == "latency":
                await asyncio.sleep(fault.delay_s)
            elif fault.kind == "http_5xx":
                rec.status = 503
                return web.Response(status=503, text="<html><body>503 Service Temporarily Unavailable</body></html>",
                                    content_type="text/html")
            elif fault.kind == "rate_limit":
                resp = self.rate_limited(request, None)
                rec.status, rec.code = resp.status, str(request.get(CODE, ""))
                return resp
        if not is_ws and self.emu.enforce_limits:
            rule = self.limits.admit(self.cost(request, params))
            if rule is not None:
                resp = self.rate_limited(request, rule)
                rec.status, rec.code = resp.status, str(request.get(CODE, ""))
                return resp
        resp = await handler(request)
        rec.status, rec.code = resp.status, str(request.get(CODE, ""))
        if fault is not None and fault.kind == "timeout_after_accept":
            await asyncio.sleep(fault.delay_s)
        return resp

    def is_private_ws(self, request: web.Request) -> bool:
        return "private" in request.path or "ws-api" in request.path

    # -- websockets
    async def serve_ws(self, request: web.Request, kind: str,
                       on_text: Callable[[PushSocket, str], Awaitable[None] | None],
                       on_open: Callable[[PushSocket], None] | None = None) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(heartbeat=None, autoping=True)
        await ws.prepare(request)
        sock = PushSocket(ws, kind)
        sock.meta["path"] = request.path
        sock.meta["query"] = dict(request.query)
        self.sockets.add(sock)
        try:
            if on_open is not None:
                on_open(sock)
            async for msg in ws:
                if msg.type == WSMsgType.TEXT:
                    result = on_text(sock, msg.data)
                    if asyncio.iscoroutine(result):
                        await result
                elif msg.type in (WSMsgType.ERROR, WSMsgType.CLOSE):
                    break
        finally:
            self.sockets.discard(sock)
            await sock.close()
        return ws

    def push(self, text: str, *, kind: str, topic: str | None = None,
             select: Callable[[PushSocket], bool] | None = None) -> None:
        for sock in list(self.sockets):
            if sock.kind != kind or (kind == "private" and not sock.authed):
                continue
            if topic is not None and topic not in sock.topics:
                continue
            if select is not None and not select(sock):
                continue
            sock.send(text)

    async def drop_private(self) -> int:
        victims = [s for s in self.sockets if s.kind == "private"]
        for sock in victims:
            self.sockets.discard(sock)
            await sock.close()
        return len(victims)

    # -- control API (HTTP twin of the in-process API)
    async def _c_requests(self, request: web.Request) -> web.Response:
        since = int(request.query.get("since", "0"))
        return web.json_response([r.to_dict() for r in self.requests[since:]])

    async def _c_clear_requests(self, request: web.Request) -> web.Response:
        self.requests.clear()
        return web.json_response({"ok": True})

    async def _c_fault(self, request: web.Request) -> web.Response:
        data = await request.json()
        try:
            fault = Fault(**data)
        except (TypeError, ValueError) as e:
            return web.json_response({"error": str(e)}, status=400)
        await self.emu.inject(self.name, fault)
        return web.json_response({"ok": True})

    async def _c_clear_faults(self, request: web.Request) -> web.Response:
        self.faults.clear()
        return web.json_response({"ok": True})

    def _section(self, data: dict) -> Exchange:
        name = data.get("section") or next(iter(self.exchanges))
        if name not in self.exchanges:
            raise web.HTTPBadRequest(text=f"section {name!r}: expected one of {sorted(self.exchanges)}")
        return self.exchanges[name]

    async def _c_advance(self, request: web.Request) -> web.Response:
        data = await request.json()
        ex = self._section(data)
        n = ex.advance(data.get("symbol"), int(data.get("steps", 1)))
        return web.json_response({"advanced": n})

    async def _c_trade(self, request: web.Request) -> web.Response:
        data = await request.json()
        ex = self._section(data)
        ex.print_trade(data["symbol"], Decimal(str(data["price"])), Decimal(str(data["qty"])),
                       data.get("side", "sell"))
        return web.json_response({"ok": True})

    async def _c_funding(self, request: web.Request) -> web.Response:
        data = await request.json()
        ex = self._section(data)
        amount = ex.settle_funding(data["symbol"], Decimal(str(data["rate"])))
        return web.json_response({"amount": str(amount)})

    async def _c_reset(self, request: web.Request) -> web.Response:
        self.reset()
        return web.json_response({"ok": True})

    async def _c_state(self, request: web.Request) -> web.Response:
        ex = self._section(dict(request.query))
        acct = ex.account
        return web.json_response({
            "balances": {k: str(v) for k, v in acct.balances.items()},
            "locked": {k: str(v) for k, v in acct.locked.items() if v},
            "positions": {k: {"size": str(p.size), "entry": str(p.entry)} for k, p in acct.positions.items() if p.size},
            "open_orders": len(ex.open_orders()),
            "fills": len(ex.fills),
        })


VENUE_OF = {"bybit": ("bybit", "unified"), "binance": ("binance", "spot"),
            "binanceusdm": ("binance", "usdm"), "mexc": ("mexc", "spot")}


class Emulator:
    """The local exchange emulator. See the package docstring for the API."""

    def __init__(
        self,
        venues: tuple[str, ...] = ("bybit", "binance", "mexc"),
        *,
        host: str = "127.0.0.1",
        ports: dict[str, int] | None = None,
        api_key: str = API_KEY,
        api_secret: str = API_SECRET,
        balances: dict[str, dict[str, Decimal]] | None = None,
        data_dir: Path = DATA,
        enforce_limits: bool = True,
        time_scale: float = 1.0,
        replay_speed: float = 0.0,
    ) -> None:
        from tests.kit.emulator import binance, bybit, mexc

        self.host = host
        self.keys = {api_key: api_secret}
        self.data_dir = data_dir
        self.enforce_limits = enforce_limits
        self.time_scale = time_scale
        self.replay_speed = replay_speed
        self.clock_skew_ms = 0
        self.balances = balances or {}
        self._ports = dict(ports or {})
        makers = {"bybit": bybit.BybitApp, "binance": binance.BinanceApp, "mexc": mexc.MexcApp}
        self.apps: dict[str, VenueApp] = {}
        for v in venues:
            if v not in makers:
                raise ValueError(f"venue {v!r}: expected one of {sorted(makers)}")
            self.apps[v] = makers[v](self)
        self._runners: list[web.AppRunner] = []
        self._urls: dict[str, str] = {}
        self._replay: asyncio.Task | None = None

    # -- lifecycle
    async def start(self) -> Emulator:
        for name, app in self.apps.items():
            runner = web.AppRunner(app.app, access_log=None, handle_signals=False)
            await runner.setup()
            site = web.TCPSite(runner, self.host, self._ports.get(name, 0))
            await site.start()
            port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
            self._ports[name] = port
            self._urls[name] = f"http://{self.host}:{port}"
            self._runners.append(runner)
        if self.replay_speed > 0:
            self._replay = asyncio.get_running_loop().create_task(self._replay_loop())
        return self

    async def stop(self) -> None:
        if self._replay is not None:
            self._replay.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._replay
        for app in self.apps.values():
            for sock in list(app.sockets):
                await sock.close()
        for runner in self._runners:
            await runner.cleanup()
        self._runners.clear()

    async def __aenter__(self) -> Emulator:
        return await self.start()

    async def __aexit__(self, *exc) -> None:
        await self.stop()

    # -- addresses
    def app(self, venue: str) -> VenueApp:
        return self.apps[VENUE_OF.get(venue, (venue,))[0]]

    def base_url(self, venue: str) -> str:
        return self._urls[VENUE_OF.get(venue, (venue,))[0]]

    def ws_url(self, venue: str) -> str:
        return self.base_url(venue).replace("http://", "ws://")

    def port(self, venue: str) -> int:
        return self._ports[VENUE_OF.get(venue, (venue,))[0]]

    # -- state and control (in-process)
    def exchange(self, venue: str) -> Exchange:
        """The account section a ccxt venue id trades on: bybit, binance, binanceusdm, mexc."""
        app_name, section = VENUE_OF[venue]
        return self.apps[app_name].exchanges[section]

    def requests(self, venue: str) -> list[RequestRecord]:
        return self.app(venue).requests

    async def inject(self, venue: str, fault: Fault) -> Fault:
        app = self.app(venue)
        app.faults.add(fault)
        if fault.kind == "drop_ws":
            await app.drop_private()
        return fault

    def reset(self, venue: str | None = None) -> None:
        """Back to the initial accounts and recorded books; clears the log, faults and limits."""
        for name, app in self.apps.items():
            if venue is None or name == VENUE_OF.get(venue, (venue,))[0]:
                app.reset()

    def clear_faults(self, venue: str | None = None) -> None:
        for name, app in self.apps.items():
            if venue is None or name == VENUE_OF.get(venue, (venue,))[0]:
                app.faults.clear()

    async def _replay_loop(self) -> None:
        """Advance every tape in (scaled) real time: for a standalone paper-trading emulator."""
        t0 = time.monotonic()
        origin: dict[tuple[str, str, str], int] = {}
        while True:
            await asyncio.sleep(0.1)
            elapsed_ms = (time.monotonic() - t0) * 1000 * self.replay_speed
            for app in self.apps.values():
                for section, ex in app.exchanges.items():
                    for sym, tape in ex.tapes.items():
                        key = (app.name, section, sym)
                        start = origin.setdefault(key, tape.ts_ms)
                        while tape.remaining and tape.items[tape.pos].ts_ms <= start + elapsed_ms:
                            ex.advance(sym, 1)
