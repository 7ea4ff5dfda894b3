"""The simulated venue (backtests, paper trading) and its ExecutionClient.

``SimVenue`` is synchronous (no asyncio) and keeps the venue's truth - balances, one net
position per instrument, open orders, recent fills - which :meth:`SimVenue.snapshot` reports
as a :class:`~titan.execution.client.VenueSnapshot`. Matching runs in the native core
(``native.matching``, integer ticks and lots); this module turns its records into order events
with exact ``Decimal`` money (:mod:`titan.execution.sim_account`).

Loop contract (the runners rely on it). For each market event ``evt`` at time ``ts``::

    clock.advance_to(ts)      # timers first, as the runner dispatches them
    venue.on_market(evt)      # last prices / book; RESTING orders match this new data;
                              # funding settles; fills go to the sink
    kernel.on_market(evt)     # strategies may submit; SimExecutionClient.submit only QUEUES
    venue.process(ts)         # commands whose latency has elapsed take effect

Events reach the kernel synchronously through the ``sink`` given at construction (or set on
``venue.sink``). ``submit``/``cancel`` never call the sink: they only queue, so a handler may
submit from inside the sink. The live runner (paper mode) calls the same methods from its event
loop. A command takes effect ``latency_ns`` after it was queued, in clock time, at the first
``process(ts)`` with ``ts`` at or past that; its events carry that ``ts``.

Fill models (``fill_model``):

- ``bar_close``: a market order fills at once at the current price (the signal bar's close, the
  last trade, the quote's ask/bid); so does a marketable limit. Resting orders see each later
  bar as one price, its close.
- ``next_open``: market orders (and marketable limits) wait for the next price: the next bar's
  open, or the next trade/quote. Resting orders see each bar as open, then close.
- ``ohlc``: like ``next_open``, and resting orders see each bar as the path open, the extreme
  nearer the open (high on a tie), the other extreme, close: a limit or stop the path reaches
  inside the bar fills at its price, one the bar *gaps* through fills at the open.
- ``book``: L2 data (BookDelta, Quote) is replayed into a book; market orders walk it (one fill
  per level, partial fills), limits join the queue at their level and fill as trades and
  depletion pass their queue position (rules in ``native/reference/matching.py``). Without
  book data there is no liquidity: a market order expires unfilled.

Liquidity on price paths is unlimited (a reached order fills completely). ``slippage_bps`` moves
every taker fill against the taker (rounded to the tick, never past a limit). Fees are the
instrument's maker/taker rates unless overridden, paid in the quote (spot) or settle currency.

Checks, each an ``OrderRejected`` with its ``ErrorKind``: duplicate client id, unknown instrument,
quantity off the lot or price off the tick, below the minimum quantity/notional, post-only that
would cross, reduce-only that would increase or flip the position (INVALID_ORDER); no price yet
for a market order (TEMPORARY); spot funds (quote to buy, base to sell, less what open orders
hold) and derivatives margin (notional / leverage, less positions' and open orders' margin)
(INSUFFICIENT_FUNDS). A resting reduce-only order is cut to the position when it fills.

Funding (perpetuals): a ``FundingRate`` with ``ts_next`` 0 is a settlement record (recorded
history: the rate was settled at ``ts_event``); one with ``ts_next`` set announces the rate for
the settlement at ``ts_next`` (live tickers), applied when market time reaches ``ts_next`` with
the latest announced rate.
The payment is ``-position x contract size x mark x rate`` (longs pay a positive rate), at the
last ``MarkPrice`` (else the last price), as a ``FundingPaid`` event; each funding time is
settled once. Liquidations are not simulated.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping
from decimal import ROUND_CEILING, Decimal
from enum import Enum
from types import ModuleType

import native
from titan.core import events as ev
from titan.core.clock import Clock
from titan.core.instruments import Instrument, to_decimal
from titan.execution import sim_rules as rules
from titan.execution.client import EventSink, VenueFill, VenueOrder, VenuePosition, VenueSnapshot
from titan.execution.sim_account import ZERO, SimAccount

_m = native.matching
_BAR, _TRADE, _QUOTE, _BOOK = ev.Bar, ev.Trade, ev.Quote, ev.BookDelta
_NEVER = 1 << 62
_KIND = {
    ev.OrderType.MARKET: _m.MARKET, ev.OrderType.LIMIT: _m.LIMIT,
    ev.OrderType.STOP_MARKET: _m.STOP_MARKET, ev.OrderType.STOP_LIMIT: _m.STOP_LIMIT,
}
_E = ev.ErrorKind
_SIGN = {ev.Side.BUY: 1, ev.Side.SELL: -1}  # Side.sign without the property call


class FillModel(str, Enum):
    BAR_CLOSE = "bar_close"
    NEXT_OPEN = "next_open"
    OHLC = "ohlc"
    BOOK = "book"


_PATH = {FillModel.BAR_CLOSE: _m.PATH_CLOSE, FillModel.NEXT_OPEN: _m.PATH_OPEN_CLOSE,
         FillModel.OHLC: _m.PATH_OHLC, FillModel.BOOK: _m.PATH_OHLC}


class _Market:
    """One instrument at the venue: its matching core, fees, leverage, mark and funding."""

    __slots__ = ("inst", "iid", "core", "tick", "lot", "maker_fee", "taker_fee", "hold_fee",
                 "leverage", "mark", "funding_rate", "funding_at", "funding_done", "spot",
                 "fee_ccy", "cs")

    def __init__(self, inst: Instrument, matcher: type, book: bool, maker: Decimal,
                 taker: Decimal, leverage: Decimal) -> None:
        self.inst = inst
        self.iid = inst.id
        self.tick = inst.tick_size
        self.lot = inst.lot_size
        self.core = matcher(float(inst.tick_size), float(inst.lot_size), book)
        self.maker_fee = maker
        self.taker_fee = taker
        self.hold_fee = max(maker, taker)  # what a spot buy holds for its fee
        self.leverage = leverage
        self.mark = 0.0
        self.funding_rate = 0.0
        self.funding_at = _NEVER
        self.funding_done = -1
        self.spot = inst.is_spot
        self.fee_ccy = inst.quote if self.spot else inst.settle_currency  # fees are paid in it
        self.cs = inst.contract_size


class _Order:
    """An order the venue accepted and has not closed."""

    __slots__ = ("cmd", "m", "handle", "venue_order_id", "lots", "filled", "price_ticks",
                 "side", "sign", "est_price", "hold", "ts")

    def __init__(self, cmd: ev.SubmitOrder, m: _Market, handle: int, venue_order_id: str,
                 lots: int, price_ticks: int, est_price: Decimal, ts: int) -> None:
        self.cmd = cmd
        self.m = m
        self.handle = handle
        self.venue_order_id = venue_order_id
        self.lots = lots
        self.filled = 0
        self.price_ticks = price_ticks
        self.side = cmd.side
        self.sign = _SIGN[cmd.side]
        self.est_price = est_price  # the price funds/margin are held at
        self.hold = ZERO  # what it holds now (see SimVenue._hold)
        self.ts = ts


class SimVenue:
    """A simulated exchange account; see the module docstring for the loop contract.

    Instruments must share one venue (``venue`` overrides the name). ``balances`` are the
    starting cash per currency; fees default to each instrument's and ``maker_fee``/``taker_fee``
    override them for every instrument; ``leverage`` per instrument id (else
    ``default_leverage``) sets derivatives margin. ``matching`` picks the core module (default
    ``native.matching``; the bench passes the reference twin as its baseline).
    """

    __slots__ = ("venue", "fill_model", "latency_ns", "slippage_bps", "sink", "account",
                 "fill_count", "_clock", "_core", "_book", "_path", "_markets", "_last",
                 "_queue", "_open", "_holds", "_by_handle", "_closed", "_fills", "_seq",
                 "_trade_seq", "_funding_due", "_watch")

    def __init__(
        self,
        instruments: Iterable[Instrument],
        *,
        clock: Clock,
        balances: Mapping[str, Decimal | int | str] | None = None,
        sink: EventSink | None = None,
        venue: str | None = None,
        fill_model: FillModel | str = FillModel.BAR_CLOSE,
        latency_ns: int = 0,
        slippage_bps: Decimal | float | str = 0,
        maker_fee: Decimal | float | str | None = None,
        taker_fee: Decimal | float | str | None = None,
        leverage: Mapping[str, Decimal | float | int] | None = None,
        default_leverage: Decimal | float | int = 1,
        fills_kept: int = 1000,
        matching: ModuleType | None = None,
    ) -> None:
        instruments = list(instruments)
        if not instruments:
            raise ValueError("instruments: at least one instrument is required")
        venues = {i.venue for i in instruments}
        if venue is None and len(venues) > 1:
            raise ValueError(f"instruments: one venue per SimVenue, got {sorted(venues)}")
        self.venue = venue or instruments[0].venue
        try:
            self.fill_model = FillModel(fill_model)
        except ValueError:
            names = ", ".join(f.value for f in FillModel)
            raise ValueError(f"fill_model: expected one of {names}, got {fill_model!r}") from None
        if latency_ns < 0:
            raise ValueError(f"latency_ns: must be >= 0, got {latency_ns}")
        self.latency_ns = int(latency_ns)
        self.slippage_bps = _amount("slippage_bps", slippage_bps)
        maker = None if maker_fee is None else _amount("maker_fee", maker_fee, signed=True)
        taker = None if taker_fee is None else _amount("taker_fee", taker_fee, signed=True)
        levs = {k: _amount(f"leverage[{k!r}]", v, positive=True) for k, v in (leverage or {}).items()}
        default_lev = _amount("default_leverage", default_leverage, positive=True)
        self.sink = sink
        self.account = SimAccount(balances)
        self._clock = clock
        self._core = matching or _m  # the compiled core, or a twin the caller picks
        self._book = self.fill_model is FillModel.BOOK
        self._path = _PATH[self.fill_model]
        self._markets: dict[str, _Market] = {}
        for inst in instruments:
            self._markets[inst.id] = _Market(
                inst, self._core.Matcher, self._book,
                inst.maker_fee if maker is None else maker,
                inst.taker_fee if taker is None else taker,
                levs.get(inst.id, default_lev),
            )
        unknown = set(levs) - set(self._markets)
        if unknown:
            raise ValueError(f"leverage: unknown instruments {sorted(unknown)}")
        self._last: dict[str, ev.Data] = {}  # last Bar/Trade/Quote per instrument
        self._queue: deque[tuple[int, ev.Command]] = deque()
        self._open: dict[str, _Order] = {}
        self._holds: dict[str, Decimal] = {}  # held by open orders, per currency
        self._by_handle: dict[int, _Order] = {}
        self._closed: set[str] = set()
        self._fills: deque[VenueFill] = deque(maxlen=fills_kept)
        self._seq = 0
        self._trade_seq = 0
        self._funding_due = _NEVER
        self._watch = False  # True while anything rests or funding is pending
        self.fill_count = 0

    # ---- the loop contract -------------------------------------------------------------------

    def on_market(self, evt: ev.Data) -> None:
        """Apply one market event: update prices, match resting orders, settle funding."""
        if evt.__class__ is _BAR:
            self._last[evt.instrument_id] = evt
            if self._watch:
                self._on_bar(evt)
            return
        self._on_data(evt)

    def on_bar(self, bar: ev.Bar) -> None:
        """``on_market`` for a bar (a runner that knows the type skips the dispatch)."""
        self._last[bar.instrument_id] = bar
        if self._watch:
            self._on_bar(bar)

    def process(self, ts: int) -> None:
        """Let queued commands whose latency has elapsed by ``ts`` take effect."""
        if self._queue:
            self._process(ts)

    def submit(self, cmd: ev.SubmitOrder) -> None:
        """Queue an order; it takes effect ``latency_ns`` from now at a later ``process``."""
        self._queue.append((self._clock.now_ns() + self.latency_ns, cmd))

    def cancel(self, cmd: ev.CancelOrder) -> None:
        self._queue.append((self._clock.now_ns() + self.latency_ns, cmd))

    def cancel_all(self, cmd: ev.CancelAllOrders) -> None:
        self._queue.append((self._clock.now_ns() + self.latency_ns, cmd))

    def resume_ids(self, next_order_seq: int, next_trade_seq: int) -> None:
        """Continue the numbering of venue order ids (``<venue>-<n>``) and trade ids
        (``<venue>-t<n>``) at these numbers, for a session resumed on an event log: the state
        drops a fill whose trade id it has booked before, so ids must never repeat across
        restarts. Numbers already past these are kept (the counters never go back)."""
        for name, value in (("next_order_seq", next_order_seq), ("next_trade_seq", next_trade_seq)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name}: expected an integer >= 1, got {value!r}")
        self._seq = max(self._seq, next_order_seq - 1)
        self._trade_seq = max(self._trade_seq, next_trade_seq - 1)

    @property
    def next_ids(self) -> tuple[int, int]:
        """(next order number, next trade number): what ``resume_ids`` would continue from."""
        return self._seq + 1, self._trade_seq + 1

    def set_leverage(self, iid: str, leverage: Decimal | float | int) -> None:
        self._market(iid).leverage = _amount("leverage", leverage, positive=True)

    def snapshot(self) -> VenueSnapshot:
        orders = tuple(
            VenueOrder(
                client_order_id=o.cmd.client_order_id, venue_order_id=o.venue_order_id,
                instrument_id=o.m.iid, side=o.side, order_type=o.cmd.order_type,
                quantity=o.cmd.quantity, filled_qty=o.filled * o.m.lot, price=o.cmd.price,
                reduce_only=o.cmd.reduce_only, ts_event=o.ts,
            )
            for o in self._open.values()
        )
        positions = tuple(
            VenuePosition(instrument_id=iid, quantity=h.quantity, avg_price=h.avg_price)
            for iid, h in self.account.holdings.items()
            if h.quantity != 0 and not self._markets[iid].inst.is_spot
        )
        return VenueSnapshot(
            venue=self.venue, ts=self._clock.now_ns(), open_orders=orders, positions=positions,
            balances=dict(self.account.balances), fills=tuple(self._fills),
        )

    # ---- queries -----------------------------------------------------------------------------

    def position(self, iid: str) -> Decimal:
        return self.account.position(iid)

    def balance(self, currency: str) -> Decimal:
        return self.account.balance(currency)

    def open_orders(self) -> list[str]:
        return list(self._open)

    def matcher(self, iid: str):
        """The native matching core of one instrument (book depth, queue positions)."""
        return self._market(iid).core

    # ---- market data -------------------------------------------------------------------------

    def _on_bar(self, bar: ev.Bar) -> None:
        if self._funding_due <= bar.ts_event:  # funding first: it is owed on the earlier position
            self._settle_due(bar.ts_event)
        m = self._markets.get(bar.instrument_id)
        if (m is not None and bar.closed and len(m.core)
                and m.core.on_bar(bar.open, bar.high, bar.low, bar.close, self._path)):
            self._drain(m, bar.ts_event)

    def _on_data(self, evt: ev.Data) -> None:
        if self._funding_due <= evt.ts_event:
            self._settle_due(evt.ts_event)
        cls = evt.__class__
        m = self._markets.get(evt.instrument_id)
        if m is None:
            if cls is _TRADE or cls is _QUOTE:
                self._last[evt.instrument_id] = evt
            return
        core = m.core
        if cls is _BOOK:
            if self._book and core.apply_delta(evt.bids, evt.asks, evt.is_snapshot):
                self._drain(m, evt.ts_event)
        elif cls is _TRADE:
            self._last[evt.instrument_id] = evt
            if len(core) and core.on_trade(evt.price, evt.size, evt.aggressor.sign):
                self._drain(m, evt.ts_event)
        elif cls is _QUOTE:
            self._last[evt.instrument_id] = evt
            if (self._book or len(core)) and core.on_quote(evt.bid, evt.bid_size, evt.ask,
                                                           evt.ask_size):
                self._drain(m, evt.ts_event)
        elif cls is ev.MarkPrice:
            m.mark = evt.mark
        elif cls is ev.FundingRate and not m.inst.is_spot:
            self._on_funding_rate(m, evt)

    def _on_funding_rate(self, m: _Market, evt: ev.FundingRate) -> None:
        if evt.ts_next <= 0:  # a recorded settlement
            self._settle(m, evt.rate, evt.ts_event)
            return
        if evt.ts_next <= m.funding_done:
            return  # announces a settlement that already happened
        if evt.ts_next <= evt.ts_event:  # we learn of it late: settle now, at its time
            self._settle(m, evt.rate, evt.ts_next)
            return
        m.funding_rate = evt.rate
        m.funding_at = evt.ts_next
        self._funding_due = min(self._funding_due, evt.ts_next)
        self._watch = True

    def _settle_due(self, ts: int) -> None:
        due = _NEVER
        for m in self._markets.values():
            if m.funding_at <= ts:
                at = m.funding_at
                m.funding_at = _NEVER
                self._settle(m, m.funding_rate, at)
            due = min(due, m.funding_at)
        self._funding_due = due
        self._refresh_watch()

    def _settle(self, m: _Market, rate: float, at: int) -> None:
        if at <= m.funding_done:
            return  # this funding time was settled already
        m.funding_done = at
        qty = self.account.position(m.iid)
        if qty == 0:
            return
        mark = m.mark or self._last_price(m)
        if not mark:
            return
        r = to_decimal(rate)
        amount = -qty * m.inst.contract_size * to_decimal(mark) * r
        self.account.fund(m.inst, amount)
        self._emit(ev.FundingPaid(
            ts_event=at, ts_init=at, instrument_id=m.iid, phase="", rate=r, amount=amount,
            currency=m.inst.settle_currency,
        ))

    def _last_price(self, m: _Market) -> float:
        evt = self._last.get(m.iid)
        if evt is None:
            b, a = m.core.ref_bid(), m.core.ref_ask()
            return (b + a) / 2 * float(m.tick) if b > 0 and a > 0 else 0.0
        bid, ask = _prices(evt)
        return bid if bid == ask else (bid + ask) / 2

    # ---- commands ----------------------------------------------------------------------------

    def _process(self, ts: int) -> None:
        q = self._queue
        while q and q[0][0] <= ts:
            _, cmd = q.popleft()
            cls = cmd.__class__
            if cls is ev.SubmitOrder:
                self._submit(cmd, ts)
            elif cls is ev.CancelOrder:
                self._cancel(cmd, ts)
            elif cls is ev.CancelAllOrders:
                for o in list(self._open.values()):
                    if not cmd.instrument_id or o.m.iid == cmd.instrument_id:
                        self._close_canceled(o, ts, cmd.reason or "cancel all")
        self._refresh_watch()

    def _cancel(self, cmd: ev.CancelOrder, ts: int) -> None:
        o = self._open.get(cmd.client_order_id)
        if o is not None:
            self._close_canceled(o, ts, cmd.reason)
            return
        known = cmd.client_order_id in self._closed
        self._emit(ev.OrderCancelRejected(
            ts_event=ts, ts_init=ts, client_order_id=cmd.client_order_id,
            reason="order already closed" if known else "unknown order", kind=_E.NOT_FOUND,
        ))

    def _close_canceled(self, o: _Order, ts: int, reason: str) -> None:
        o.m.core.cancel(o.handle)
        self._close(o)
        self._emit(ev.OrderCanceled(ts_event=ts, ts_init=ts,
                                    client_order_id=o.cmd.client_order_id, reason=reason))

    def _reject(self, cmd: ev.SubmitOrder, ts: int, kind: ev.ErrorKind, reason: str) -> None:
        self._closed.add(cmd.client_order_id)
        self._emit(ev.OrderRejected(ts_event=ts, ts_init=ts, client_order_id=cmd.client_order_id,
                                    reason=reason, kind=kind))

    def _submit(self, cmd: ev.SubmitOrder, ts: int) -> None:
        cid = cmd.client_order_id
        if cid in self._open or cid in self._closed:
            # not recorded as closed again: the first order with this id is untouched
            self._emit(ev.OrderRejected(ts_event=ts, ts_init=ts, client_order_id=cid,
                                        reason=f"duplicate client order id {cid}",
                                        kind=_E.INVALID_ORDER))
            return
        m = self._markets.get(cmd.instrument_id)
        if m is None:
            return self._reject(cmd, ts, _E.INVALID_ORDER, f"unknown instrument {cmd.instrument_id}")
        problem = rules.invalid_numbers(cmd, m.inst)
        if problem:
            return self._reject(cmd, ts, _E.INVALID_ORDER, problem)
        has_ref = self._sync_ref(m)
        core = m.core
        bid, ask = (core.ref_bid(), core.ref_ask()) if has_ref else (-1, -1)
        sign = _SIGN[cmd.side]
        price_ticks = _ticks(cmd.price, m.tick) if cmd.price is not None else 0
        kind = _KIND[cmd.order_type]
        if kind == _m.MARKET:
            ref = ask if sign > 0 else bid
            if ref <= 0:
                return self._reject(cmd, ts, _E.TEMPORARY, f"no market price yet for {m.iid}")
            est = self._slipped(Decimal(ref) * m.tick, sign, m)
        elif kind == _m.STOP_MARKET:
            est = self._slipped(cmd.trigger_price, sign, m)
        else:
            est = cmd.price
        marketable = kind == _m.LIMIT and (
            (ask > 0 and price_ticks >= ask) if sign > 0 else (bid > 0 and price_ticks <= bid))
        lots = int(cmd.quantity / m.lot)
        notional_problem = m.inst.check_order(cmd.quantity, est)
        if notional_problem:
            return self._reject(cmd, ts, _E.INVALID_ORDER, notional_problem)
        if cmd.post_only and marketable:
            return self._reject(cmd, ts, _E.INVALID_ORDER,
                                f"post-only {cmd.side.value} at {cmd.price} would take liquidity")
        pos = self.account.position(m.iid)
        breach = rules.reduce_only_breach(cmd, pos) if cmd.reduce_only else None
        if breach:
            return self._reject(cmd, ts, _E.INVALID_ORDER, breach)
        ccy, need = rules.hold(m.inst, cmd.side, cmd.quantity, est, m.hold_fee, m.leverage,
                               cmd.reduce_only, pos)
        short = rules.shortfall(ccy, need, self.account.balance(ccy) - self._held(ccy)) if need else None
        if short:
            return self._reject(cmd, ts, _E.INSUFFICIENT_FUNDS, short)
        self._seq += 1
        o = _Order(cmd, m, self._seq, f"{self.venue}-{self._seq}", lots, price_ticks, est, ts)
        self._open[cid] = o
        self._by_handle[o.handle] = o
        self._hold(o)
        self._emit(ev.OrderAccepted(ts_event=ts, ts_init=ts, client_order_id=cid,
                                    venue_order_id=o.venue_order_id))
        self._execute(o, kind, marketable, ts)

    def _execute(self, o: _Order, kind: int, marketable: bool, ts: int) -> None:
        cmd, core = o.cmd, o.m.core
        tif = cmd.time_in_force
        immediate = self.fill_model is FillModel.BAR_CLOSE or self._book
        if kind in (_m.STOP_MARKET, _m.STOP_LIMIT):
            trigger = _ticks(cmd.trigger_price, o.m.tick)
            core.add(o.handle, o.sign, kind, o.price_ticks, trigger, o.lots)
            return
        if not immediate:
            core.add(o.handle, o.sign, kind, o.price_ticks, 0, o.lots,
                     marketable or kind == _m.MARKET, tif is not ev.TimeInForce.GTC)
            return
        if kind == _m.MARKET or marketable:
            core.take(o.handle, o.sign, o.lots, o.price_ticks, tif is ev.TimeInForce.FOK)
            self._drain(o.m, ts)
            if o.cmd.client_order_id not in self._open:
                return
        left = o.lots - o.filled
        if kind == _m.MARKET or tif is not ev.TimeInForce.GTC:
            self._expire(o, ts, "no liquidity left" if kind == _m.MARKET else f"{tif.value}: rest not filled")
        elif left > 0:
            core.add(o.handle, o.sign, kind, o.price_ticks, 0, left)

    def _held(self, currency: str) -> Decimal:
        """What open orders and derivative positions hold of ``currency``."""
        held = self._holds.get(currency, ZERO)
        for iid, h in self.account.holdings.items():
            if h.quantity:
                m = self._markets[iid]
                if not m.spot and m.fee_ccy == currency:  # fee_ccy: the settle currency
                    held += abs(h.quantity) * m.cs * h.avg_price / m.leverage
        return held

    def _hold(self, o: _Order) -> None:
        """Re-state what ``o`` holds for what it has left (0 once closed)."""
        m = o.m
        left = (o.lots - o.filled) * m.lot if o.cmd.client_order_id in self._open else ZERO
        if not left and not o.hold:
            return  # nothing left holds nothing, and it held nothing
        ccy, amount = rules.hold(m.inst, o.side, left, o.est_price, m.hold_fee, m.leverage,
                                 o.cmd.reduce_only)
        if amount != o.hold:
            self._holds[ccy] = self._holds.get(ccy, ZERO) + amount - o.hold
            o.hold = amount

    # ---- records from the core -----------------------------------------------------------------

    def _drain(self, m: _Market, ts: int) -> None:
        by_handle = self._by_handle
        for code, handle, lots, price, maker in m.core.drain():
            o = by_handle.get(handle)
            if o is None:
                continue
            if code == _m.FILL:
                self._fill(o, lots, price, maker, ts)
            elif code == _m.TRIGGER:
                self._emit(ev.OrderTriggered(ts_event=ts, ts_init=ts,
                                             client_order_id=o.cmd.client_order_id))
            else:
                self._expire(o, ts, "not filled on its first chance"
                             if o.cmd.order_type is not ev.OrderType.STOP_MARKET
                             else "no liquidity for the triggered stop")
        self._refresh_watch()

    def _fill(self, o: _Order, lots: int, price_ticks: int, maker: bool, ts: int) -> None:
        m = o.m
        if not maker and self.slippage_bps:
            price_ticks = self._slip_ticks(price_ticks, o)
        price = Decimal(price_ticks) * m.tick
        lots, why = self._cap(o, lots, price)
        if lots > 0:
            qty = Decimal(lots) * m.lot
            fee = qty * price * m.cs * (m.maker_fee if maker else m.taker_fee)
            fee_ccy = m.fee_ccy
            self.account.fill(m.inst, qty * o.sign, price, fee, fee_ccy, m.iid)
            o.filled += lots
            self._hold(o)
            self._trade_seq += 1
            self.fill_count += 1
            trade_id = f"{self.venue}-t{self._trade_seq}"
            liq = ev.Liquidity.MAKER if maker else ev.Liquidity.TAKER
            cid = o.cmd.client_order_id
            self._fills.append(VenueFill(
                client_order_id=cid, venue_order_id=o.venue_order_id, trade_id=trade_id,
                instrument_id=m.iid, side=o.side, quantity=qty, price=price, fee=fee,
                fee_currency=fee_ccy, liquidity=liq, ts_event=ts,
            ))
            if o.filled >= o.lots:
                self._close(o)
            self._emit(ev.OrderFilled(
                ts_event=ts, ts_init=ts, client_order_id=cid, venue_order_id=o.venue_order_id,
                trade_id=trade_id, instrument_id=m.iid, side=o.side, last_qty=qty,
                last_price=price, fee=fee, fee_currency=fee_ccy, liquidity=liq,
            ))
        if why and o.cmd.client_order_id in self._open:
            self._close_canceled(o, ts, why)

    def _cap(self, o: _Order, lots: int, price: Decimal) -> tuple[int, str]:
        """Cut a fill to what reduce-only and spot balances allow; the reason if cut."""
        m, inst = o.m, o.m.inst
        if o.cmd.reduce_only:
            pos = self.account.position(m.iid)
            room = int(abs(pos) / m.lot) if pos * o.sign < 0 else 0
            if lots > room:
                return room, "reduce-only: the position is smaller than the order"
        if m.spot:
            cs = inst.contract_size
            if o.sign > 0:
                rate = max(m.hold_fee, ZERO)
                cash = self.account.balance(inst.quote)
                per_lot = m.lot * cs * price * (1 + rate)
                room = int(cash / per_lot) if per_lot > 0 else lots
            else:
                room = int(self.account.balance(inst.base) / (m.lot * cs))
            if lots > room:
                return max(room, 0), f"insufficient {inst.quote if o.sign > 0 else inst.base}"
        return lots, ""

    def _expire(self, o: _Order, ts: int, reason: str) -> None:
        o.m.core.cancel(o.handle)
        self._close(o)
        self._emit(ev.OrderExpired(ts_event=ts, ts_init=ts, client_order_id=o.cmd.client_order_id,
                                   reason=reason))

    def _close(self, o: _Order) -> None:
        cid = o.cmd.client_order_id
        self._open.pop(cid, None)
        self._by_handle.pop(o.handle, None)
        self._closed.add(cid)
        if o.hold:  # closed: it holds nothing from now on
            self._hold(o)

    # ---- helpers -----------------------------------------------------------------------------

    def _refresh_watch(self) -> None:
        self._watch = self._funding_due < _NEVER or bool(self._by_handle)

    def _sync_ref(self, m: _Market) -> bool:
        """Load the last price into the core; False if the instrument has none yet."""
        evt = self._last.get(m.iid)
        if evt is not None:
            bid, ask = _prices(evt)
            m.core.set_last(bid, ask)
            return True
        return m.core.ref_bid() > 0 or m.core.ref_ask() > 0

    def _slipped(self, price: Decimal, sign: int, m: _Market) -> Decimal:
        if not self.slippage_bps:
            return price
        return price * (1 + sign * self.slippage_bps / 10_000)

    def _slip_ticks(self, ticks: int, o: _Order) -> int:
        move = int((Decimal(ticks) * self.slippage_bps / 10_000).to_integral_value(ROUND_CEILING))
        out = ticks + o.sign * move
        if o.price_ticks > 0:  # never past the limit
            out = min(out, o.price_ticks) if o.sign > 0 else max(out, o.price_ticks)
        return max(out, 1)

    def _market(self, iid: str) -> _Market:
        m = self._markets.get(iid)
        if m is None:
            raise KeyError(f"unknown instrument {iid!r} at venue {self.venue}")
        return m

    def _emit(self, event: ev.Message) -> None:
        sink = self.sink
        if sink is None:
            raise RuntimeError(f"SimVenue {self.venue}: no sink attached for {type(event).__name__}")
        sink(event)


class SimExecutionClient:
    """The ExecutionClient for a :class:`SimVenue`: submit/cancel queue, events go to the sink."""

    def __init__(self, sim: SimVenue, sink: EventSink | None = None) -> None:
        self.sim = sim
        self.venue = sim.venue
        if sink is not None:
            sim.sink = sink

    async def start(self) -> None:
        """Nothing to connect: the simulated venue lives in this process."""

    async def stop(self) -> None:
        """Nothing to close."""

    def submit(self, cmd: ev.SubmitOrder) -> None:
        self.sim.submit(cmd)

    def cancel(self, cmd: ev.CancelOrder) -> None:
        self.sim.cancel(cmd)

    def cancel_all(self, cmd: ev.CancelAllOrders) -> None:
        self.sim.cancel_all(cmd)

    async def snapshot(self) -> VenueSnapshot:
        return self.sim.snapshot()


def _prices(evt: ev.Data) -> tuple[float, float]:
    """(bid, ask) a Bar, Trade or Quote implies."""
    cls = evt.__class__
    if cls is _BAR:
        return evt.close, evt.close
    if cls is ev.Trade:
        return evt.price, evt.price
    return evt.bid, evt.ask


def _ticks(price: Decimal, tick: Decimal) -> int:
    return int(price / tick)


def _amount(name: str, value, *, signed: bool = False, positive: bool = False) -> Decimal:
    try:
        d = to_decimal(value)
    except (ArithmeticError, ValueError, TypeError):
        raise ValueError(f"{name}: expected a number, got {value!r}") from None
    if not d.is_finite() or (positive and d <= 0) or (not signed and not positive and d < 0):
        need = "> 0" if positive else ">= 0" if not signed else "finite"
        raise ValueError(f"{name}: must be {need}, got {value!r}")
    return d
