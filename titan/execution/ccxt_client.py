"""``CcxtExecutionClient``: orders to Bybit, Binance (spot, USD-M) and MEXC through ccxt.

``submit``/``cancel`` return at once; each schedules a task the client owns (awaited on ``stop``).
Outcomes reach the ``sink`` as order events through the :class:`~titan.execution.ledger.Ledger`,
which deduplicates and orders them; a venue error never escapes as an exception.

Creates follow :mod:`titan.execution.retry` (never resent before a lookup by client id says the
venue lacks the order). Every REST request waits for the venue's :class:`RateLimiter` before it is
signed. Fills and order updates come from the private websocket (ccxt.pro ``watch_my_trades`` /
``watch_orders``); REST polling takes over while the stream is down (:mod:`.updates`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine, Iterable
from decimal import Decimal
from typing import Any

import ccxt
import msgspec

from titan.config import Credentials, ExecutionSection, VenueConfig
from titan.core import events as ev
from titan.core.clock import Clock, LiveClock
from titan.core.instruments import Instrument, InstrumentRegistry, split_instrument_id, to_decimal
from titan.execution.client import EventSink, VenueSnapshot
from titan.execution.errors import Classified, classify
from titan.execution.ledger import Ledger, Tracked
from titan.execution.markets import instruments_from_markets
from titan.execution.placement import Unplaceable, VenueRequest, create_request
from titan.execution.ratelimit import RateLimiter, RateLimiters
from titan.execution.reports import (
    CANCELED,
    CLOSED,
    EXPIRED,
    REJECTED,
    OrderReport,
    fill_report,
    order_report,
)
from titan.execution.retry import (
    RetryPolicy,
    Step,
    after_cancel_error,
    after_create_error,
    after_lookup,
    after_query_error,
)
from titan.execution.signing import CreateRoute, create_routes
from titan.execution.transport import CreateTransport
from titan.execution.venues import VenueProfile, api_path, build_exchange, profile

log = logging.getLogger(__name__)


class CcxtExecutionClient:
    """A live venue account behind the ``ExecutionClient`` protocol (see the module docstring)."""

    def __init__(
        self,
        venue: str,
        *,
        credentials: Credentials,
        config: VenueConfig,
        execution: ExecutionSection,
        sink: EventSink,
        clock: Clock | None = None,
        instruments: InstrumentRegistry | None = None,
        limiters: RateLimiters | None = None,
        exchange_options: dict[str, Any] | None = None,
        enable_ccxt_rate_limit: bool = True,
    ) -> None:
        self.venue = venue
        self.profile: VenueProfile = profile(venue)
        self.config = config
        self.execution = execution
        self.sink = sink
        self.clock: Clock = clock or LiveClock()
        self.instruments = instruments if instruments is not None else InstrumentRegistry()
        self.policy = RetryPolicy(execution.max_retries, execution.retry_backoff_s)
        key = credentials.api_key.reveal()
        registry = limiters or RateLimiters()
        self.limiter: RateLimiter = registry.get(venue, key, share=config.rate_limit_share)
        self.exchange = build_exchange(
            self.profile, api_key=key, secret=credentials.secret.reveal(),
            password=credentials.password.reveal() if credentials.password else None,
            rest_url=config.rest_url, ws_url=config.ws_url, testnet=config.testnet,
            recv_window_ms=config.recv_window_ms, timeout_s=execution.submit_timeout_s,
            enable_rate_limit=enable_ccxt_rate_limit, extra_options=exchange_options,
        )
        self._install_limiter()
        self.ledger = Ledger(self._emit, self.clock.now_ns)
        self._tasks: set[asyncio.Task] = set()
        self._market_ids: dict[str, str] = {}
        self._last_resync = -1e9
        self._running = False
        self._loop: asyncio.AbstractEventLoop | None = None
        from titan.execution.updates import PrivateUpdates  # a cycle: updates drives this client
        self.updates = PrivateUpdates(self)
        self.events_emitted = 0

    # ------------------------------------------------------------------ plumbing

    def _emit(self, event: ev.Message) -> None:
        self.events_emitted += 1
        try:
            self.sink(event)
        except Exception:  # the sink is the kernel's: its failure must not kill our task
            log.exception("%s: sink raised on %s", self.venue, type(event).__name__)

    def _alert(self, title: str, detail: str, severity: str = "critical") -> None:
        now = self.clock.now_ns()
        self._emit(ev.AlertRaised(severity=severity, title=f"{self.venue}: {title}", detail=detail,
                                  ts_event=now, ts_init=now))

    def spawn(self, coro: Coroutine[Any, Any, Any], name: str = "") -> asyncio.Task:
        task = asyncio.get_running_loop().create_task(coro, name=f"{self.venue}:{name}" if name else None)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("%s: task %s failed", self.venue, task.get_name(), exc_info=task.exception())

    def _install_limiter(self) -> None:
        install_limiter(self.exchange, self.limiter, self._retry_after)
        self.routes: dict[str, CreateRoute] = create_routes(self.exchange, api_path)
        self.transport = CreateTransport(self.exchange)

    def _retry_after(self) -> float:
        headers = getattr(self.exchange, "last_response_headers", None) or {}
        value = headers.get("Retry-After") or headers.get("retry-after")
        try:
            return max(float(value), self.execution.retry_backoff_s) / self.limiter.time_scale
        except (TypeError, ValueError):
            return self.execution.retry_backoff_s

    async def resync_clock(self, exc: BaseException) -> None:
        """A timestamp outside the venue's window (clock skew): measure the offset once, then
        ccxt signs with ``now - timeDifference``. At most every 10 s."""
        if not isinstance(exc, ccxt.InvalidNonce) or time.monotonic() - self._last_resync < 10:
            return
        self._last_resync = time.monotonic()
        try:
            diff = await self.exchange.load_time_difference()
            log.warning("%s: clock differs from the venue's by %s ms; compensating", self.venue, diff)
        except Exception as e:
            log.warning("%s: time sync failed: %s", self.venue, classify(e).message)

    async def call(self, fn: Callable[..., Awaitable[Any]], *args: Any, retries: int | None = None, **kwargs: Any) -> Any:
        """An idempotent venue query with retry and backoff; raises the last error."""
        attempt = 0
        limit = self.policy.max_retries if retries is None else retries
        while True:
            try:
                return await fn(*args, **kwargs)
            except Exception as e:
                c = classify(e)
                if after_query_error(c, attempt, RetryPolicy(limit, self.policy.backoff_s)) is not Step.RETRY or not self._running:
                    raise
                await self.resync_clock(e)
                attempt += 1
                await asyncio.sleep(self.policy.delay(attempt))

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Load markets into instruments, check the keys, set leverage/margin, open the streams."""
        self._loop = asyncio.get_running_loop()
        self._running = True
        markets = await self.call(self.exchange.load_markets)
        for inst in instruments_from_markets(markets, self.venue):
            if inst.id not in self.instruments:
                self.instruments.add(inst)
        await self._load_leverage_limits()
        try:
            await self.call(self.exchange.fetch_balance, retries=1)
        except Exception as e:
            c = classify(e)
            self._alert("account check failed" if c.kind is not ev.ErrorKind.AUTH else "authentication failed",
                        c.message)
        await self._configure_contracts()
        self.updates.start()

    async def stop(self, cancel_open: bool | None = None) -> None:
        """Stop streams and polling, let in-flight calls finish (bounded), close the session.

        With ``cancel_open`` (default ``execution.cancel_on_shutdown``) the orders still open are
        canceled first, their outcomes delivered as events."""
        if cancel_open is None:
            cancel_open = self.execution.cancel_on_shutdown
        if cancel_open and self._running and self.ledger.open_orders():
            self.cancel_all(ev.CancelAllOrders(reason="shutdown", ts_init=self.clock.now_ns()))
        self._running = False
        await self.updates.stop()
        if self._tasks:
            done, pending = await asyncio.wait(set(self._tasks), timeout=self.execution.submit_timeout_s * 2)
            for task in pending:
                task.cancel()
            for task in pending:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        with contextlib.suppress(Exception):
            await self.exchange.close()

    async def _load_leverage_limits(self) -> None:
        """Binance lists contracts without their leverage cap; it lives in the leverage brackets."""
        insts = [i for i in self._contract_symbols() if i.max_leverage <= 1]
        if not insts or not self.exchange.has.get("fetchLeverageTiers"):
            return
        try:
            tiers = await self.call(self.exchange.fetch_leverage_tiers, [i.symbol for i in insts])
        except Exception as e:
            log.warning("%s: leverage tiers not loaded: %s", self.venue, classify(e).message)
            return
        for inst in insts:
            caps = [t.get("maxLeverage") for t in tiers.get(inst.symbol) or () if t.get("maxLeverage")]
            if caps:
                self.instruments.add(msgspec.structs.replace(inst, max_leverage=to_decimal(max(caps))))

    def _contract_symbols(self) -> list[Instrument]:
        wanted = {s.split("@")[0] for s in list(self.config.symbols) + list(self.config.leverage)}
        return [i for i in self.instruments if i.venue == self.venue and not i.is_spot and i.symbol in wanted]

    async def _configure_contracts(self) -> None:
        for inst in self._contract_symbols():
            lev = self.config.leverage.get(inst.symbol) or self.config.leverage.get(inst.id)
            try:
                await self.call(self.exchange.set_margin_mode, self.config.margin_mode, inst.symbol)
            except Exception as e:
                c = classify(e)
                if not c.not_modified:
                    self._alert(f"{inst.symbol}: margin mode not set", c.message, "warning")
            if lev is None:
                continue
            try:
                await self.call(self.exchange.set_leverage, lev, inst.symbol)
            except Exception as e:
                c = classify(e)
                if not c.not_modified:  # Bybit 110043: already at this leverage
                    self._alert(f"{inst.symbol}: leverage not set", c.message, "warning")

    # ------------------------------------------------------------------ commands

    def submit(self, cmd: ev.SubmitOrder) -> None:
        """Place an order (non-blocking). Duplicate client ids and unplaceable orders are rejected."""
        if self.ledger.knows(cmd.client_order_id):
            self._later(ev.OrderRejected(
                client_order_id=cmd.client_order_id, kind=ev.ErrorKind.INVALID_ORDER,
                reason=f"duplicate client order id {cmd.client_order_id}",
                ts_event=self.clock.now_ns(), ts_init=self.clock.now_ns()))
            return
        inst = self._instrument(cmd.instrument_id)
        try:
            if inst is None:
                raise Unplaceable(f"unknown instrument {cmd.instrument_id!r} for venue {self.venue}")
            request = create_request(cmd, inst, self._market_id(inst), self.profile)
        except Unplaceable as e:
            self._later(ev.OrderRejected(client_order_id=cmd.client_order_id, kind=ev.ErrorKind.INVALID_ORDER,
                                         reason=str(e), ts_event=self.clock.now_ns(), ts_init=self.clock.now_ns()))
            return
        t = self.ledger.track(cmd, inst.symbol, inst)
        self.spawn(self._create(t, request), f"create:{cmd.client_order_id}")

    def cancel(self, cmd: ev.CancelOrder) -> None:
        """Cancel an order (non-blocking, idempotent)."""
        self.spawn(self._cancel(cmd), f"cancel:{cmd.client_order_id}")

    def cancel_all(self, cmd: ev.CancelAllOrders) -> None:
        for t in self.ledger.open_orders():
            if not cmd.instrument_id or t.cmd.instrument_id == cmd.instrument_id:
                self.cancel(ev.CancelOrder(client_order_id=t.client_order_id, instrument_id=t.cmd.instrument_id,
                                           venue_order_id=t.venue_order_id, reason=cmd.reason, ts_init=cmd.ts_init))

    def _later(self, event: ev.Message) -> None:
        loop = self._loop or asyncio.get_event_loop()
        loop.call_soon(self._emit, event)

    def _market_id(self, inst: Instrument) -> str:
        mid = self._market_ids.get(inst.symbol)
        if mid is None:
            try:
                mid = self._market_ids[inst.symbol] = self.exchange.market(inst.symbol)["id"]
            except ccxt.BaseError as e:
                raise Unplaceable(f"{inst.id}: markets not loaded ({type(e).__name__}); start() the client first") from None
        return mid

    def _instrument(self, iid: str) -> Instrument | None:
        try:
            _, venue = split_instrument_id(iid)
        except ValueError:
            return None
        return self.instruments.get(iid) if venue == self.venue else None

    # ------------------------------------------------------------------ create

    async def _create(self, t: Tracked, request: VenueRequest) -> None:
        attempt = 0
        while True:
            try:
                response = await self.send_create(request)
                order = self._parse_created(response, t)
            except Exception as e:
                c = classify(e)
                step = after_create_error(c, attempt, self.policy)
                if step is Step.LOOKUP:
                    found, failed = await self._lookup_for_create(t)
                    step = after_lookup(c, attempt, self.policy, found=None if failed else found is not None)
                    if step is Step.ADOPT:
                        assert found is not None
                        if c.duplicate and attempt == 0 and not self._same_order(t, found):
                            self.ledger.rejected(t, ev.ErrorKind.INVALID_ORDER, c.message)
                            return
                        t.in_flight = False
                        await self.apply_order(t, found)
                        return
                    if step is Step.DOUBT:
                        t.in_flight, t.in_doubt = False, True  # polling keeps looking for it
                        return
                if step is Step.RETRY and self._running:
                    await self.resync_clock(e)
                    attempt += 1
                    await asyncio.sleep(self.policy.delay(attempt))
                    continue
                t.in_flight = False
                self.ledger.rejected(t, c.kind, c.message)
                return
            t.in_flight = False
            await self.apply_order(t, order, from_create=True)
            return

    async def send_create(self, request: VenueRequest) -> Any:
        """One create request, ccxt's implicit API method minus its layers: Titan's rate limiter,
        Titan's signature (ccxt's exact bytes, :mod:`.signing`), ccxt's ``fetch`` without its
        per-request option handling (:mod:`.transport`: the same session call, ccxt's response
        handling and error mapping). ccxt's own bucket is skipped: the limiter (the venue's
        published order limits) is the one in front, and ccxt's would add a loop hop per order."""
        route = self.routes.get(request.method)
        ex = self.exchange
        if route is None:  # an endpoint Titan does not sign: the implicit method, fully ccxt's
            return await getattr(ex, request.method)(dict(request.params))
        limiter, params = self.limiter, request.params
        weights = limiter.weights(route.http, route.url_path, params)
        if not limiter.try_acquire(weights):
            await limiter.acquire(weights)
        try:
            signed = route.signed(ex, params)
            ex.lastRestRequestTimestamp = ex.milliseconds()
            ex.last_request_headers, ex.last_request_body, ex.last_request_url = signed.headers, signed.body, signed.url
            response = await self.transport.send(signed)
            if route.marks_auth:
                ex.options["hasAlreadyAuthenticatedSuccessfully"] = True
            return response
        except (ccxt.RateLimitExceeded, ccxt.DDoSProtection) as e:
            penalize_if_limited(limiter, e, self._retry_after)
            raise
        finally:
            limiter.release(weights)

    def _parse_created(self, response: Any, t: Tracked) -> dict:
        """ccxt's own parser on the venue's create answer (Bybit wraps it in ``result``)."""
        market = self.exchange.market(t.symbol)
        if self.profile.ccxt_id == "bybit":
            response = response.get("result") or {}
        return self.exchange.parse_order(response, market)

    def _same_order(self, t: Tracked, order: dict) -> bool:
        rep = order_report(order)
        side = str(order.get("side") or "")
        return (rep.amount is None or rep.amount == t.cmd.quantity) and (not side or side == t.cmd.side.value)

    async def _lookup_for_create(self, t: Tracked) -> tuple[dict | None, bool]:
        """(order or None, lookup failed). Retries the lookup itself with backoff."""
        try:
            return await self.call(self.lookup, t), False
        except Exception as e:
            log.warning("%s: lookup of %s failed: %s", self.venue, t.client_order_id, classify(e).message)
            return None, True

    async def lookup(self, t: Tracked) -> dict | None:
        """The venue's order with this client id (open or closed), or None if it has none."""
        ex = self.exchange
        cid = t.client_order_id
        if self.profile.ccxt_id == "bybit":
            found = await ex.fetch_open_orders(t.symbol, None, None, {"orderLinkId": cid})
            if not found:
                found = await ex.fetch_canceled_and_closed_orders(t.symbol, None, None, {"orderLinkId": cid})
            found = [o for o in found if o.get("clientOrderId") == cid]
            return found[0] if found else None
        try:
            if t.venue_order_id:
                return await ex.fetch_order(t.venue_order_id, t.symbol)
            return await ex.fetch_order(None, t.symbol, {"clientOrderId": cid})
        except ccxt.OrderNotFound:
            return None
        except ccxt.BaseError as e:
            if classify(e).kind is ev.ErrorKind.NOT_FOUND:
                return None
            raise

    # ------------------------------------------------------------------ applying reports

    async def apply_order(self, t: Tracked, order: dict, *, from_create: bool = False) -> None:
        """Fold one ccxt order dict (create answer, stream update, lookup) into events."""
        rep = order_report(order)
        self.ledger.set_venue_id(t, rep.venue_order_id)
        if rep.status == REJECTED and not t.accepted:
            self.ledger.rejected(t, ev.ErrorKind.INVALID_ORDER, rep.reason or "rejected by venue")
            return
        if rep.venue_order_id:
            self.ledger.accepted(t, rep.venue_order_id, rep.ts_ms if not from_create else 0)
        for trade in rep.trades:
            self.apply_trade(t, trade)
        if not rep.is_terminal:
            return
        if rep.filled is not None and rep.filled > t.filled and self.updates.healthy and not from_create:
            # the fills are probably a moment behind on the stream: wait for them off this path
            # (the caller may be the stream loop itself), then read them by REST if still missing
            self.spawn(self._conclude(t, rep, wait=True), f"conclude:{t.client_order_id}")
            return
        await self._conclude(t, rep, wait=False)

    async def _conclude(self, t: Tracked, rep: OrderReport, *, wait: bool) -> None:
        """Fills first, then the end: canceled/expired, or nothing for a filled order."""
        if rep.filled is not None and rep.filled > t.filled:
            await self.sync_fills(t, wait=wait)
        if rep.status == CLOSED and not rep.ended_unfilled:
            return  # filled: the fills themselves complete the order
        if t.filled < (rep.filled or t.filled):
            return  # fills still missing after the sync: polling finishes the job later
        status = "expired" if rep.status == EXPIRED else "canceled"
        self.ledger.ended(t, status, rep.reason or ("no more liquidity" if rep.ended_unfilled else ""), rep.ts_ms)

    def apply_trade(self, t: Tracked, trade: dict) -> bool:
        inst = t.instrument
        rep = fill_report(trade, fee_currency=inst.settle_currency if not inst.is_spot else inst.quote)
        if rep is None:
            return False
        return self.ledger.fill(t, rep)

    async def sync_fills(self, t: Tracked, *, wait: bool = False) -> None:
        """Fetch this order's executions by REST (after a short grace if the stream is up)."""
        if wait:
            await asyncio.sleep(min(1.0, self.execution.poll_interval_s))
            if t.terminal:
                return
        if not t.venue_order_id:
            return
        try:
            trades = await self.call(self.order_trades, t)
        except Exception as e:
            log.warning("%s: fills of %s not fetched: %s", self.venue, t.client_order_id, classify(e).message)
            return
        for trade in sorted(trades, key=lambda x: x.get("timestamp") or 0):
            self.apply_trade(t, trade)

    def _paged(self) -> dict[str, Any]:
        # Bybit pages lists by cursor (20-100 per page); ccxt walks the cursor when asked.
        return {"paginate": True} if self.profile.ccxt_id == "bybit" else {}

    async def open_orders(self, symbol: str) -> list[dict]:
        return await self.exchange.fetch_open_orders(symbol, None, None, self._paged())

    async def my_trades(self, symbol: str, since: int) -> list[dict]:
        return await self.exchange.fetch_my_trades(symbol, since, None, self._paged())

    async def order_trades(self, t: Tracked) -> list[dict]:
        """One order's executions. Binance USD-M has no fetchOrderTrades: filter by orderId."""
        if self.profile.ccxt_id == "bybit":
            return await self.exchange.fetch_order_trades(t.venue_order_id, t.symbol)
        return await self.exchange.fetch_my_trades(t.symbol, t.created_ms - 60_000, None,
                                                   {"orderId": t.venue_order_id})

    async def resolve(self, t: Tracked) -> None:
        """Find out what became of an order that left the venue's open list."""
        try:
            order = await self.call(self.lookup, t)
        except Exception as e:
            log.warning("%s: resolve %s failed: %s", self.venue, t.client_order_id, classify(e).message)
            return
        if order is None:
            if t.in_doubt and not t.accepted and time.time() * 1000 - t.created_ms > self.execution.submit_timeout_s * 3000:
                self.ledger.rejected(t, ev.ErrorKind.TEMPORARY, "order not found at the venue after a failed create")
            return
        await self.apply_order(t, order)

    # ------------------------------------------------------------------ cancel

    async def _cancel(self, cmd: ev.CancelOrder) -> None:
        t = self.ledger.get(cmd.client_order_id)
        if t is not None and t.terminal:
            self.ledger.cancel_rejected(cmd.client_order_id, ev.ErrorKind.NOT_FOUND, f"order already {t.terminal}")
            return
        if t is None:
            await self._cancel_untracked(cmd)
            return
        t.cancel_requested = True
        while t.in_flight and self._running:  # the create has not answered yet
            await asyncio.sleep(0.01)
        attempt = 0
        while not t.terminal:
            try:
                result = await self.exchange.cancel_order(t.venue_order_id or None, t.symbol, self._cancel_params(t))
            except Exception as e:
                c = classify(e)
                step = after_cancel_error(c, attempt, self.policy)
                if step is Step.RETRY and self._running:
                    await self.resync_clock(e)
                    attempt += 1
                    await asyncio.sleep(self.policy.delay(attempt))
                    continue
                if step is Step.RESOLVE:
                    await self.resolve(t)
                    if not t.terminal:
                        self.ledger.cancel_rejected(t.client_order_id, ev.ErrorKind.NOT_FOUND, c.message)
                    return
                self.ledger.cancel_rejected(t.client_order_id, c.kind, c.message)
                return
            rep = order_report(result)
            if rep.status in (CANCELED, EXPIRED, CLOSED):
                await self.apply_order(t, result)
            if not t.terminal and self._running and self.updates.healthy:  # the stream usually reports it at once
                deadline = time.monotonic() + min(1.0, self.execution.poll_interval_s)
                while not t.terminal and time.monotonic() < deadline:
                    await asyncio.sleep(0.01)
            if not t.terminal:
                await self.resolve(t)  # Bybit answers with ids only: read the final state
            return

    async def _cancel_untracked(self, cmd: ev.CancelOrder) -> None:
        """An order this process never placed (found by reconciliation after a restart): cancel it
        at the venue by its ids; the venue's answer is the outcome."""
        inst = self._instrument(cmd.instrument_id)
        if inst is None:
            self.ledger.cancel_rejected(cmd.client_order_id, ev.ErrorKind.NOT_FOUND, "unknown order and instrument")
            return
        bybit = self.profile.ccxt_id == "bybit"
        params = {} if cmd.venue_order_id else {("orderLinkId" if bybit else "clientOrderId"): cmd.client_order_id}
        try:
            await self.call(self.exchange.cancel_order, cmd.venue_order_id or None, inst.symbol, params)
        except Exception as e:
            c = classify(e)
            self.ledger.cancel_rejected(cmd.client_order_id, c.kind, c.message)
            return
        now = self.clock.now_ns()
        self._emit(ev.OrderCanceled(client_order_id=cmd.client_order_id, reason=cmd.reason or "canceled",
                                    ts_event=now, ts_init=now))

    def adopt(self, cmd: ev.SubmitOrder, venue_order_id: str = "", filled: Decimal = Decimal(0),
              trade_ids: Iterable[str] = ()) -> bool:
        """Follow an order placed before a restart (known to the state from the event log):
        later fills and its end become events. ``filled``/``trade_ids``: what the state already
        has, so nothing is reported twice. False if the id is already tracked or unplaceable."""
        inst = self._instrument(cmd.instrument_id)
        if inst is None or self.ledger.knows(cmd.client_order_id):
            return False
        t = self.ledger.track(cmd, inst.symbol, inst)
        t.in_flight = False
        t.accepted = True
        t.filled = filled
        t.trade_ids.update(trade_ids)
        self.ledger.set_venue_id(t, venue_order_id)
        if not venue_order_id:
            t.in_doubt = True  # polling looks it up by client id
        return True

    def _cancel_params(self, t: Tracked) -> dict[str, Any]:
        params: dict[str, Any] = {}
        bybit = self.profile.ccxt_id == "bybit"
        if not t.venue_order_id:
            params["orderLinkId" if bybit else "clientOrderId"] = t.client_order_id
        if bybit and t.instrument.is_spot and t.cmd.order_type in (ev.OrderType.STOP_MARKET, ev.OrderType.STOP_LIMIT):
            params["trigger"] = True  # Bybit spot: conditional orders live under orderFilter=StopOrder
        return params

    # ------------------------------------------------------------------ snapshot

    async def snapshot(self) -> VenueSnapshot:
        from titan.execution.snapshot import take_snapshot

        return await take_snapshot(self)

    def classify(self, exc: BaseException) -> Classified:
        return classify(exc)


def install_limiter(ex: Any, limiter: RateLimiter, retry_after: Callable[[], float]) -> None:
    """Route every REST request of ``ex`` through ``limiter`` *before* ccxt signs it.

    Replaces ccxt's ``fetch2`` with the same steps minus what Titan does not use (ccxt's
    maxRetriesOnFailure option lookups and its fetch-history cache): throttle (if ccxt's own
    limiter is on), sign, remember the request, fetch. Creates take their own, shorter way
    (``CcxtExecutionClient.send_create``). The pinned ccxt version and the emulator tests guard
    the coupling."""

    async def fetch2(path, api=("public",), method="GET", params=None, config=None):
        params = {} if params is None else params
        weights = limiter.weights(method, api_path(ex, path, api), params)
        if not limiter.try_acquire(weights):
            await limiter.acquire(weights)
        try:
            if ex.enableRateLimit:
                await ex.throttle(ex.calculate_rate_limiter_cost(api, method, path, params, config or {}))
            ex.set_last_rest_request_timestamp()
            request = ex.sign(path, api, method, params)
            ex.set_last_request(request)
            return await ex.fetch(request["url"], request["method"], request["headers"], request["body"])
        except (ccxt.RateLimitExceeded, ccxt.DDoSProtection) as e:
            penalize_if_limited(limiter, e, retry_after)
            raise
        finally:
            limiter.release(weights)

    ex.fetch2 = fetch2


def penalize_if_limited(limiter: RateLimiter, exc: BaseException, retry_after: Callable[[], float]) -> None:
    """A rate-limit answer blocks the whole limiter (see :mod:`.ratelimit`)."""
    if classify(exc).kind is ev.ErrorKind.RATE_LIMITED:
        limiter.penalize(retry_after())
