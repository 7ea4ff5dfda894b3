"""The operator HTTP API (aiohttp), on 127.0.0.1 by default.

    GET  /status                     the session as JSON (the dashboard's data)
    GET  /metrics                    Prometheus text format
    GET  /explain/{client_order_id}  market event -> intent -> Brain checks -> order -> fills
    POST /halt | /flatten | /resume  {"reason": "..."} - bearer token required

The token is read from the environment variable ``operator.token_env`` names; it is compared
in constant time (``hmac.compare_digest``). A control request without it, or with a wrong one,
is refused (401; 403 when no token is configured at all, so control is impossible rather than
open) and logged with the peer address - never with what was sent. Reads need no token: bind
the API to a private address (the default) or put it behind a proxy to expose it.
"""

from __future__ import annotations

import hmac
import logging
import sqlite3
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import msgspec
import orjson
from aiohttp import web

from titan.core import codec
from titan.core import events as ev
from titan.core.eventlog import connect_readonly
from titan.ops.metrics import CONTENT_TYPE

log = logging.getLogger(__name__)

ACTIONS = ("halt", "flatten", "resume")
Control = Callable[[str, str], dict[str, Any]]  # (action, reason) -> result


def _json(data: Any, status: int = 200) -> web.Response:
    body = orjson.dumps(data, default=str, option=orjson.OPT_NON_STR_KEYS)
    return web.Response(body=body, status=status, content_type="application/json")


class OperatorApi:
    def __init__(
        self,
        *,
        status: Callable[[], dict[str, Any]],
        metrics: Callable[[], bytes],
        control: Control,
        explain: Callable[[str], Awaitable[dict[str, Any] | None]],
        token: str | None,
        token_env: str = "TITAN_OPERATOR_TOKEN",
        host: str = "127.0.0.1",
        port: int = 8765,
    ) -> None:
        self._status = status
        self._metrics = metrics
        self._control = control
        self._explain = explain
        self._token = token.encode() if token else None
        self.token_env = token_env
        self.host = host
        self.port = port
        self.refused = 0
        self._runner: web.AppRunner | None = None

    def app(self) -> web.Application:
        app = web.Application(client_max_size=64 << 10)
        app.router.add_get("/status", self._get_status)
        app.router.add_get("/metrics", self._get_metrics)
        app.router.add_get("/explain/{cid}", self._get_explain)
        for action in ACTIONS:
            app.router.add_post(f"/{action}", self._post)
        return app

    async def start(self) -> None:
        self._runner = web.AppRunner(self.app(), handle_signals=False, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        log.info("operator API on http://%s:%d", self.host, self.port)

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    # ---- handlers ---------------------------------------------------------------------------

    async def _get_status(self, request: web.Request) -> web.Response:
        return _json(self._status())

    async def _get_metrics(self, request: web.Request) -> web.Response:
        return web.Response(body=self._metrics(), headers={"Content-Type": CONTENT_TYPE})

    async def _get_explain(self, request: web.Request) -> web.Response:
        cid = request.match_info["cid"]
        found = await self._explain(cid)
        if found is None:
            return _json({"error": f"{cid}: no such client order id"}, status=404)
        return _json(found)

    async def _post(self, request: web.Request) -> web.Response:
        action = request.path.strip("/")
        peer = request.remote or "?"
        if self._token is None:
            self.refused += 1
            log.warning("operator %s from %s refused: no token configured (%s is unset)",
                        action, peer, self.token_env)
            return _json({"error": f"control disabled: set {self.token_env} in the daemon's "
                                   "environment"}, status=403)
        if not self.authorized(request.headers.get("Authorization", "")):
            self.refused += 1
            log.warning("operator %s from %s refused: missing or wrong operator token", action, peer)
            return _json({"error": "unauthorized"}, status=401)
        reason = "operator API"
        if request.can_read_body:
            try:
                body = orjson.loads(await request.read())
            except orjson.JSONDecodeError:
                return _json({"error": "body: expected JSON like {\"reason\": \"...\"}"}, status=400)
            if isinstance(body, dict) and isinstance(body.get("reason"), str) and body["reason"]:
                reason = body["reason"][:200]
        log.warning("operator %s from %s: %s", action, peer, reason)
        return _json(self._control(action, reason))

    def authorized(self, header: str) -> bool:
        scheme, _, given = header.partition(" ")
        if scheme.lower() != "bearer" or not given or self._token is None:
            return False
        return hmac.compare_digest(given.strip().encode(), self._token)


# ---- explain from the event log ---------------------------------------------------------------

_MARKET = ("Trade", "Quote", "BookDelta", "Bar", "FundingRate", "MarkPrice", "OpenInterest",
           "Liquidation")


def explain_from_log(path: str | Path, cid: str) -> dict[str, Any] | None:
    """The chain behind one order, from the log file (read-only; the daemon keeps writing)."""
    try:
        conn = connect_readonly(path)
    except Exception:  # noqa: BLE001 - no log yet
        return None
    try:
        rows = conn.execute("SELECT seq, ts, type, payload FROM events WHERE cid = ? ORDER BY seq",
                            (cid,)).fetchall()
        if not rows:
            return None
        chain: list[dict[str, Any]] = []
        decision: dict[str, Any] | None = None
        for seq, ts, type_, payload in rows:
            msg = codec.decode(payload)
            item = {"seq": seq, "ts": ts, "type": type_, "event": msgspec.to_builtins(msg)}
            if isinstance(msg, ev.OrderApproved | ev.OrderDenied) and decision is None:
                decision = item
                marks = ",".join("?" * len(_MARKET))
                trig = conn.execute(
                    f"SELECT seq, ts, type, payload FROM events WHERE seq < ? AND type IN ({marks})"
                    " ORDER BY seq DESC LIMIT 1", (seq, *_MARKET)).fetchone()
                if trig is not None:
                    chain.append({"seq": trig[0], "ts": trig[1], "type": trig[2], "role": "trigger",
                                  "event": msgspec.to_builtins(codec.decode(trig[3]))})
            chain.append(item)
    except sqlite3.Error as e:
        return {"client_order_id": cid, "error": f"event log unreadable: {e}"}
    finally:
        conn.close()
    out: dict[str, Any] = {"client_order_id": cid, "chain": chain}
    if decision is not None:
        d = decision["event"]
        out["verdict"] = "denied" if decision["type"] == "OrderDenied" else "approved"
        out["phase"] = d.get("phase")
        out["checks"] = d.get("checks", [])
        if decision["type"] == "OrderDenied":
            out["reason"] = d.get("reason")
    return out
