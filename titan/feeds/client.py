"""``MarketFeed``: Titan's one market-data client - shared websockets for every venue endpoint.

Every component that wants data subscribes here; identical subscriptions are reference
counted, so a stream is opened once no matter how many listeners it has. Per endpoint, streams
are packed onto as few connections as the venue's limit allows. Events go to one synchronous
``sink`` (the kernel's market-data entry, or a bus publisher); health changes are
``FeedStatusChanged`` events on the same sink, per connection (``instrument_id=""``) and per
instrument, so the Brain can block entries on a stale or gapped instrument.

    feed = MarketFeed(kernel.on_market, clock=LiveClock())
    await feed.start()
    await feed.subscribe("BTC/USDT:USDT@bybit", Channel.BOOK)
    ...
    await feed.stop()
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Iterable, Mapping

import aiohttp

from titan.core.clock import Clock
from titan.core.events import FeedStatus
from titan.core.instruments import split_instrument_id
from titan.feeds.bars import BarAggregator
from titan.feeds.binance import BinanceRouter
from titan.feeds.book import BookSync, Outcome
from titan.feeds.bybit import BybitRouter
from titan.feeds.connection import WsConnection, backoff_delay
from titan.feeds.options import FeedOptions
from titan.feeds.router import DECODE_ERRORS, FeedStats, Router, Sink
from titan.feeds.venues import (
    DEFAULT_URLS,
    Channel,
    Endpoint,
    VenueUrls,
    endpoint_for,
    venue_symbol,
)

log = logging.getLogger(__name__)


class EndpointFeed:
    """The connections, router and resync work of one endpoint (e.g. Binance USD-M)."""

    def __init__(self, feed: MarketFeed, endpoint: Endpoint, urls: VenueUrls) -> None:
        self.feed = feed
        self.endpoint = endpoint
        self.urls = urls
        router_cls = BinanceRouter if endpoint.family == "binance" else BybitRouter
        self.router: Router = router_cls(
            endpoint, feed.sink, feed.clock, feed.options, on_resync=self._on_resync
        )
        self.connections: list[WsConnection] = []
        self.refs: dict[str, int] = {}
        self.owner: dict[str, WsConnection] = {}
        self._wanted: set[str] = set()
        self._resync_tasks: dict[str, asyncio.Task] = {}
        self._resync_attempts: dict[str, tuple[int, int]] = {}  # stream -> (attempt, syncs seen)

    @property
    def stats(self) -> FeedStats:
        return self.router.stats

    # ---- subscriptions -------------------------------------------------------------------

    async def add(self, instrument_id: str, channel: Channel) -> str:
        stream = self.router.stream_for(instrument_id, channel)
        self.refs[stream] = self.refs.get(stream, 0) + 1
        if self.refs[stream] > 1:
            return stream
        self.router.watch(instrument_id, channel)
        conn = next((c for c in self.connections if c.free > 0), None)
        if conn is None:
            conn = self._open()
        self.owner[stream] = conn
        await conn.add([stream])
        return stream

    async def remove(self, instrument_id: str, channel: Channel) -> None:
        stream = self.router.stream_for(instrument_id, channel)
        count = self.refs.get(stream, 0)
        if count > 1:
            self.refs[stream] = count - 1
            return
        if count == 0:
            return
        del self.refs[stream]
        conn = self.owner.pop(stream)
        await conn.remove([stream])
        self.router.unwatch(stream)
        task = self._resync_tasks.pop(stream, None)
        if task is not None:
            task.cancel()
        if not conn.streams:
            self.connections.remove(conn)
            await conn.stop()

    def _open(self) -> WsConnection:
        n = len(self.connections) + 1
        conn = WsConnection(
            f"{self.endpoint.name}#{n}", self.urls.ws.rstrip("/") + self.endpoint.path, self.router,
            self.feed.session, self.feed.options, on_status=self._on_status, rng=self.feed.rng,
        )
        self.connections.append(conn)
        if self.feed.running:
            conn.start()
        return conn

    def start(self) -> None:
        for conn in self.connections:
            conn.session = self.feed.session
            conn.start()

    async def stop(self) -> None:
        for task in self._resync_tasks.values():
            task.cancel()
        for task in self._resync_tasks.values():
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._resync_tasks.clear()
        for conn in self.connections:
            await conn.stop()

    # ---- health --------------------------------------------------------------------------

    def _on_status(self, conn: WsConnection, status: FeedStatus, detail: str) -> None:
        router = self.router
        if status is not FeedStatus.CONNECTED:
            for stream in conn.streams:
                router.reset_stream(stream, f"{status.value}: {detail}")
        router.status("", status, f"{conn.name}: {detail}")
        seen: set[str] = set()
        for stream in conn.streams:
            route = router.routes.get(stream)
            if route is not None and route.instrument_id not in seen:
                seen.add(route.instrument_id)
                router.status(route.instrument_id, status, f"{conn.name}: {detail}")

    # ---- book resync ---------------------------------------------------------------------

    def _on_resync(self, stream: str) -> None:
        self._wanted.add(stream)
        task = self._resync_tasks.get(stream)
        if (task is None or task.done()) and self.feed.running:
            self._resync_tasks[stream] = asyncio.get_running_loop().create_task(self._resync(stream))

    async def _resync(self, stream: str) -> None:
        opts = self.feed.options
        while stream in self._wanted and stream in self.refs:
            self._wanted.discard(stream)
            sync = self.router.books.get(stream)
            if sync is None:
                return
            attempt, syncs = self._resync_attempts.get(stream, (0, -1))
            attempt = 0 if sync.syncs != syncs else attempt + 1
            self._resync_attempts[stream] = (attempt, sync.syncs)
            if attempt:
                await asyncio.sleep(opts.resync_retry_s + backoff_delay(
                    attempt - 1, opts.resync_retry_s, opts.reconnect_max_s, self.feed.rng))
            if self.endpoint.family == "binance":
                await self._fetch_snapshot(stream)
            else:
                conn = self.owner.get(stream)
                if conn is not None:
                    await conn.resubscribe(stream)

    async def _fetch_snapshot(self, stream: str) -> None:
        route = self.router.routes.get(stream)
        if route is None:
            return
        url = self.urls.rest.rstrip("/") + self.endpoint.depth_path
        params = {"symbol": route.symbol, "limit": str(self.feed.options.binance_snapshot_limit)}
        try:
            timeout = aiohttp.ClientTimeout(total=self.feed.options.connect_timeout_s)
            async with self.feed.session.get(url, params=params, timeout=timeout) as resp:
                body = await resp.read()
                if resp.status != 200:
                    raise aiohttp.ClientResponseError(
                        resp.request_info, (), status=resp.status, message=body[:200].decode("utf-8", "replace"))
            outcome = self.router.on_depth_snapshot(stream, body)
        except (TimeoutError, aiohttp.ClientError, OSError, *DECODE_ERRORS) as e:
            self.stats.snapshot_errors += 1
            log.warning("%s %s: depth snapshot failed (%s); retrying", self.endpoint.name, stream, e)
            self._wanted.add(stream)
            return
        if outcome is Outcome.STALE_SNAPSHOT:
            log.info("%s %s: snapshot older than the stream; fetching another", self.endpoint.name, stream)


class MarketFeed:
    """Shared-connection market data for Binance spot/USD-M and Bybit spot/linear.

    ``urls`` overrides venue base URLs (``{"binanceusdm": VenueUrls(ws=..., rest=...)}``) -
    tests and paper mode point them at the replay server. ``session`` may be shared; the feed
    closes only a session it created. ``rng`` seeds the reconnect jitter.
    """

    def __init__(
        self,
        sink: Sink,
        *,
        clock: Clock,
        urls: Mapping[str, VenueUrls] | None = None,
        options: FeedOptions | None = None,
        session: aiohttp.ClientSession | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.sink = sink
        self.clock = clock
        self.options = options or FeedOptions()
        self.urls = {**DEFAULT_URLS, **(urls or {})}
        self.rng = rng or random.Random()
        self.session: aiohttp.ClientSession = session  # type: ignore[assignment]
        self._own_session = session is None
        self.endpoints: dict[str, EndpointFeed] = {}
        self.running = False
        self._bar_task: asyncio.Task | None = None

    async def start(self) -> None:
        """Open connections for everything subscribed so far (later subscriptions open their own)."""
        if self.running:
            return
        if self.session is None:
            self.session = aiohttp.ClientSession()
        self.running = True
        for ep in self.endpoints.values():
            ep.start()
        self._bar_task = asyncio.create_task(self._flush_bars(), name="feed:bars")

    async def stop(self) -> None:
        self.running = False
        if self._bar_task is not None:
            self._bar_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._bar_task
        for ep in self.endpoints.values():
            await ep.stop()
        if self._own_session and self.session is not None:
            await self.session.close()
            self.session = None  # type: ignore[assignment]

    async def __aenter__(self) -> MarketFeed:
        await self.start()
        return self

    async def __aexit__(self, *exc) -> None:
        await self.stop()

    # ---- subscriptions -------------------------------------------------------------------

    async def subscribe(self, instrument_id: str, channel: Channel | str) -> str:
        """Start streaming ``channel`` for an instrument; returns the venue stream name."""
        return await self._endpoint(instrument_id).add(instrument_id, Channel(channel))

    async def unsubscribe(self, instrument_id: str, channel: Channel | str) -> None:
        """Drop one reference; the venue stream closes when the last subscriber leaves."""
        await self._endpoint(instrument_id).remove(instrument_id, Channel(channel))

    async def subscribe_bars(self, instrument_id: str, timeframes: Iterable[str]) -> BarAggregator:
        """Bars of several timeframes built from the instrument's trades (one trade stream)."""
        ep = self._endpoint(instrument_id)
        agg = BarAggregator(instrument_id, timeframes, emit_updates=self.options.emit_bar_updates)
        await ep.add(instrument_id, Channel.TRADES)
        ep.router.attach_bars(agg)
        return agg

    async def unsubscribe_bars(self, instrument_id: str) -> None:
        ep = self._endpoint(instrument_id)
        ep.router.detach_bars(instrument_id)
        await ep.remove(instrument_id, Channel.TRADES)

    def book(self, instrument_id: str) -> BookSync | None:
        """The instrument's synced L2 book (``.valid``, ``.book.top()``, ...) if subscribed."""
        ep = self.endpoints.get(endpoint_for(instrument_id).name)
        return ep.router.book(instrument_id) if ep else None

    def stats(self) -> dict[str, dict[str, int]]:
        return {name: ep.stats.as_dict() for name, ep in self.endpoints.items()}

    def _endpoint(self, instrument_id: str) -> EndpointFeed:
        endpoint = endpoint_for(instrument_id)
        venue_symbol(split_instrument_id(instrument_id)[0])  # validates the symbol early
        ep = self.endpoints.get(endpoint.name)
        if ep is None:
            urls = self.urls.get(endpoint.venue)
            if urls is None:
                raise ValueError(f"{instrument_id}: no URLs configured for venue {endpoint.venue!r}")
            ep = self.endpoints[endpoint.name] = EndpointFeed(self, endpoint, urls)
        return ep

    async def _flush_bars(self) -> None:
        while True:
            await asyncio.sleep(self.options.bar_flush_interval_s)
            now = self.clock.now_ns()
            for ep in self.endpoints.values():
                if ep.router.aggregators:
                    ep.router.flush_bars(now)
