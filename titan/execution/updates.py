"""Private updates for the live client: the websocket streams, and REST polling as fallback.

Two ccxt.pro loops (``watch_my_trades`` for fills, ``watch_orders`` for acknowledgements and
cancels) feed the client's ledger. While either loop is failing or its connection is down, a
poll every ``execution.poll_interval_s`` reads executions and open orders by REST, so fills still
arrive; one more poll runs when the stream comes back, to cover the gap. Without a stream (MEXC)
polling is the only path.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import defaultdict
from typing import TYPE_CHECKING, Any

from titan.execution.errors import classify
from titan.execution.ledger import Tracked

if TYPE_CHECKING:
    from titan.execution.ccxt_client import CcxtExecutionClient

log = logging.getLogger(__name__)


class PrivateUpdates:
    def __init__(self, client: CcxtExecutionClient) -> None:
        self.client = client
        self.enabled = client.profile.private_stream
        self._tasks: list[asyncio.Task] = []
        self._failing: dict[str, float] = {}
        self._was_healthy = False
        self.polls = 0
        self.stream_errors = 0
        self.unknown = 0

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> None:
        c = self.client
        if self.enabled:
            self._tasks.append(c.spawn(self._watch("trades"), "watch_my_trades"))
            self._tasks.append(c.spawn(self._watch("orders"), "watch_orders"))
        self._tasks.append(c.spawn(self._poll_loop(), "poll"))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks.clear()

    @property
    def healthy(self) -> bool:
        """True while the private connection is up and was (re)established after the last stream
        failure (a reconnected stream is healthy before its first message)."""
        if not self.enabled:
            return False
        markers = self.client.profile.private_marker
        clients = [cl for url, cl in getattr(self.client.exchange, "clients", {}).items()
                   if any(m in url for m in markers)]
        if not clients or not all(getattr(cl, "isConnected", False) and not cl.closed() for cl in clients):
            return False
        since = min((getattr(cl, "connectionEstablished", None) or 0) for cl in clients)
        return all(failed_ms < since for failed_ms in self._failing.values())

    # ------------------------------------------------------------------ streams

    async def _watch(self, what: str) -> None:
        ex = self.client.exchange
        backoff = self.client.execution.retry_backoff_s
        delay = backoff
        while self.client._running:
            try:
                items = await (ex.watch_my_trades() if what == "trades" else ex.watch_orders())
                self._failing.pop(what, None)
                delay = backoff
                if what == "trades":
                    self._on_trades(items)
                else:
                    await self._on_orders(items)
            except asyncio.CancelledError:
                raise
            except Exception as e:
                self.stream_errors += 1
                self._failing[what] = int(time.time() * 1000)
                log.info("%s: private %s stream down: %s", self.client.venue, what, classify(e).message)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30.0)

    def _tracked(self, client_id: str, venue_id: str) -> Tracked | None:
        t = self.client.ledger.find(client_id, venue_id)
        if t is None:
            self.unknown += 1
        return t

    def _on_trades(self, trades: list[dict[str, Any]]) -> None:
        for trade in trades:
            info = trade.get("info") or {}
            cid = str(trade.get("clientOrderId") or info.get("orderLinkId") or info.get("c") or "")
            t = self._tracked(cid, str(trade.get("order") or ""))
            if t is not None:
                self.client.apply_trade(t, trade)

    async def _on_orders(self, orders: list[dict[str, Any]]) -> None:
        for order in orders:
            t = self._tracked(str(order.get("clientOrderId") or ""), str(order.get("id") or ""))
            if t is not None:  # also while the create is in flight: the stream often wins the race
                await self.client.apply_order(t, order)

    # ------------------------------------------------------------------ polling

    async def _poll_loop(self) -> None:
        interval = self.client.execution.poll_interval_s
        safety_every = 10  # with a healthy stream, still poll every tenth interval
        tick = 0
        while self.client._running:
            await asyncio.sleep(interval)
            tick += 1
            healthy = self.healthy
            recovered = healthy and not self._was_healthy
            self._was_healthy = healthy
            if healthy and not recovered and tick % safety_every:
                continue
            try:
                await self.poll()
            except asyncio.CancelledError:
                raise
            except Exception as e:
                log.warning("%s: poll failed: %s", self.client.venue, classify(e).message)

    async def poll(self) -> None:
        """Fills and open orders by REST for every symbol with open tracked orders."""
        c = self.client
        groups: dict[str, list[Tracked]] = defaultdict(list)
        for t in c.ledger.open_orders():
            if not t.in_flight:
                groups[t.symbol].append(t)
        if not groups:
            return
        self.polls += 1
        for symbol, tracked in groups.items():
            since = min(t.created_ms for t in tracked) - 5_000
            trades = await c.call(c.my_trades, symbol, since)
            for trade in sorted(trades, key=lambda x: x.get("timestamp") or 0):
                t = c.ledger.find(str(trade.get("clientOrderId") or ""), str(trade.get("order") or ""))
                if t is not None:
                    c.apply_trade(t, trade)
            open_orders = await c.call(c.open_orders, symbol)
            by_cid = {str(o.get("clientOrderId") or ""): o for o in open_orders}
            by_id = {str(o.get("id") or ""): o for o in open_orders}
            for t in tracked:
                if t.terminal:
                    continue
                order = by_cid.get(t.client_order_id) or by_id.get(t.venue_order_id)
                if order is not None:
                    await c.apply_order(t, order)
                else:
                    await c.resolve(t)
