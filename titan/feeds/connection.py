"""One websocket connection that stays up: subscribe, keep alive, detect silence, reconnect.

The connection owns no parsing: every text frame goes to the endpoint's router, which answers
whether it carried market data. Health is judged on data frames only - a venue that answers
pings but sends nothing for the subscribed streams is stale. Reconnects wait with exponential
backoff and full jitter (a uniform draw in ``[0, min(cap, base * 2**attempt)]``, so many
clients do not reconnect in lockstep); every stream is resubscribed on the new connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Callable

import aiohttp

from titan.core.events import FeedStatus
from titan.feeds.options import FeedOptions
from titan.feeds.router import Router

log = logging.getLogger(__name__)


def backoff_delay(attempt: int, base: float, cap: float, rng: random.Random) -> float:
    """Full-jitter exponential backoff: uniform in ``[0, min(cap, base * 2**attempt)]``."""
    return rng.uniform(0.0, min(cap, base * 2.0 ** min(max(attempt, 0), 60)))


StatusCallback = Callable[["WsConnection", FeedStatus, str], None]


class WsConnection:
    """A shared websocket for some of one endpoint's streams (at most the venue's limit)."""

    def __init__(
        self,
        name: str,
        url: str,
        router: Router,
        session: aiohttp.ClientSession,
        options: FeedOptions,
        *,
        on_status: StatusCallback,
        rng: random.Random,
    ) -> None:
        self.name = name
        self.url = url
        self.router = router
        self.session = session
        self.options = options
        self.on_status = on_status
        self.rng = rng
        self.streams: dict[str, None] = {}  # insertion-ordered set
        self.connected = asyncio.Event()
        self.connects = 0
        self.data_frames = 0
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._task: asyncio.Task | None = None
        self._send_lock = asyncio.Lock()
        self._next_send = 0.0
        self._req_id = 0
        self._last_pong = 0.0
        self._stopping = False
        self._stale = False

    # ---- lifecycle -----------------------------------------------------------------------

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name=f"feed:{self.name}")

    async def stop(self) -> None:
        self._stopping = True
        if self._ws is not None:
            with contextlib.suppress(Exception):
                await self._ws.close()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def drop(self) -> None:
        """Close the socket now (it will reconnect); used by tests and on stale detection."""
        if self._ws is not None:
            await self._ws.close()

    # ---- subscriptions -------------------------------------------------------------------

    @property
    def free(self) -> int:
        limit = self.options.max_streams_per_connection or self.router.endpoint.max_streams
        return limit - len(self.streams)

    async def add(self, streams: list[str]) -> None:
        new = [s for s in streams if s not in self.streams]
        for s in new:
            self.streams[s] = None
        if new and self.connected.is_set():
            await self._request(self.router.subscribe_frames, new)

    async def remove(self, streams: list[str]) -> None:
        gone = [s for s in streams if s in self.streams]
        for s in gone:
            del self.streams[s]
        if gone and self.connected.is_set():
            await self._request(self.router.unsubscribe_frames, gone)

    async def resubscribe(self, stream: str) -> None:
        """Unsubscribe and subscribe one stream (Bybit sends a fresh book snapshot)."""
        if stream in self.streams and self.connected.is_set():
            await self._request(self.router.unsubscribe_frames, [stream])
            await self._request(self.router.subscribe_frames, [stream])

    async def _request(self, build, streams: list[str]) -> None:
        self._req_id += 1
        frames = build(streams, self._req_id)
        self._req_id += len(frames)
        for frame in frames:
            await self._send(frame)

    async def _send(self, text: str) -> None:
        """Send a control frame, spaced to respect the venue's inbound message rate."""
        async with self._send_lock:
            loop = asyncio.get_running_loop()
            wait = self._next_send - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            self._next_send = max(loop.time(), self._next_send) + 1.0 / self.router.endpoint.max_requests_per_s
            ws = self._ws
            if ws is None or ws.closed:
                return
            try:
                await ws.send_str(text)
            except (ConnectionError, RuntimeError, aiohttp.ClientError) as e:
                log.info("%s: send failed (%s); the reconnect will resubscribe", self.name, e)

    # ---- the connection loop -------------------------------------------------------------

    async def _run(self) -> None:
        attempt = 0
        while not self._stopping:
            try:
                ws = await asyncio.wait_for(self.session.ws_connect(
                    self.url,
                    autoping=True,
                    heartbeat=None if self.router.endpoint.json_ping else self.options.ping_interval_s,
                    max_msg_size=0,
                ), self.options.connect_timeout_s)
            except (TimeoutError, aiohttp.ClientError, OSError) as e:
                delay = backoff_delay(attempt, self.options.reconnect_min_s, self.options.reconnect_max_s, self.rng)
                log.warning("%s: connect to %s failed (%s); retry in %.2fs", self.name, self.url, e, delay)
                attempt += 1
                await asyncio.sleep(delay)
                continue
            frames_before = self.data_frames
            await self._session(ws)
            if self._stopping:
                break
            attempt = 0 if self.data_frames > frames_before else attempt + 1
            delay = backoff_delay(attempt, self.options.reconnect_min_s, self.options.reconnect_max_s, self.rng)
            self.router.stats.reconnects += 1
            log.info("%s: reconnecting in %.2fs", self.name, delay)
            await asyncio.sleep(delay)

    async def _session(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self._ws = ws
        self._stale = False
        self.connects += 1
        self.connected.set()
        self.on_status(self, FeedStatus.CONNECTED, f"connection {self.connects}")
        helpers = [asyncio.create_task(self._watchdog(ws))]
        if self.router.endpoint.json_ping:
            helpers.append(asyncio.create_task(self._pinger(ws)))
        try:
            if self.streams:
                await self._request(self.router.subscribe_frames, list(self.streams))
            await self._read(ws)
        finally:
            self.connected.clear()
            self._ws = None
            for task in helpers:
                task.cancel()
            for task in helpers:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            with contextlib.suppress(Exception):
                await ws.close()
            if not self._stopping:
                status = FeedStatus.STALE if self._stale else FeedStatus.DISCONNECTED
                self.on_status(self, status, f"close code {ws.close_code}")

    async def _read(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        on_frame = self.router.on_frame
        text, binary = aiohttp.WSMsgType.TEXT, aiohttp.WSMsgType.BINARY
        async for msg in ws:
            kind = msg.type
            if kind is text:
                data = msg.data
            elif kind is binary:
                data = msg.data.decode("utf-8", "replace")
            else:
                break
            if on_frame(data):
                self.data_frames += 1
            elif '"pong"' in data or '"op":"pong"' in data:
                self._last_pong = asyncio.get_running_loop().time()

    async def _watchdog(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        loop = asyncio.get_running_loop()
        limit = self.options.stale_after_s
        step = min(1.0, limit / 4)
        seen, since = self.data_frames, loop.time()
        while True:
            await asyncio.sleep(step)
            if self.data_frames != seen or not self.streams:
                seen, since = self.data_frames, loop.time()
                continue
            if loop.time() - since >= limit:
                self._stale = True
                self.router.stats.stale += 1
                log.warning("%s: no data for %.1fs; reconnecting", self.name, loop.time() - since)
                await ws.close()
                return

    async def _pinger(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        loop = asyncio.get_running_loop()
        interval = self.options.ping_interval_s
        self._last_pong = loop.time()
        while True:
            sent = loop.time()
            self._req_id += 1
            frame = self.router.ping_frame(self._req_id)
            if frame is not None:
                await self._send(frame)
            await asyncio.sleep(interval)
            if self._last_pong < sent:
                log.warning("%s: no pong within %.1fs; reconnecting", self.name, interval)
                await ws.close()
                return
