"""ShadowState: Titan's copy of the truth, a fold over the event log.

It changes only through :meth:`ShadowState.apply`, so replaying the log rebuilds it exactly and
a restart is "replay, then reconcile with the venue". It implements
:class:`titan.core.views.PortfolioView`, which is all the Brain and the phases ever see.

Accounting (all ``Decimal``; quantities are in order units, i.e. contracts for contract
instruments - money is quantity x price x contract size):

- Every instrument keeps a *net* position, as the venue does (one per instrument), and
  per-phase sub-positions that sum to it. Balances move with the net position, exactly as the
  venue's do; the sub-positions only attribute PnL to phases (an ``InternalCross`` moves
  quantity between phases without touching the net position or any balance).
- Spot: a buy adds base and spends quote; a sell the reverse. Spot holdings are balances, so
  equity values them at the mark.
- Perpetuals / futures: a fill moves no balance except the fee; reducing the net position
  realizes PnL (average-cost) into the settle currency; funding is paid into it as well.
- Fees are paid in ``fee_currency``; a rebate is a negative fee.

Venue-driven anomalies (a late ack after a fill, a fill for a canceled or unknown order) never
raise: money that moved at the venue is always booked, the anomaly is counted and kept in
:attr:`ShadowState.anomalies` for the truth score and for reconciliation to settle.

Market data only updates marks: one dict lookup and two stores per event, converted to
``Decimal`` lazily when a mark is read (the backtest pushes millions of bars through here).
"""

from __future__ import annotations

import copy
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from decimal import Decimal
from typing import Any

import msgspec

from titan.core import events as ev
from titan.core.errors import IllegalTransition
from titan.core.instruments import (
    Instrument,
    InstrumentKind,
    InstrumentRegistry,
    split_instrument_id,
)
from titan.core.orders import TERMINAL, Order, OrderStatus, Trigger

ZERO = Decimal(0)
ONE = Decimal(1)
_BUY = ev.Side.BUY
EXTERNAL_PHASE = "external"  # owner of positions and orders Titan did not originate
NET = ""  # the phase key of an instrument's net position


class Position(msgspec.Struct, frozen=True, kw_only=True):
    """A read-only copy of one (instrument, phase) position (``phase == ""``: the net one)."""

    instrument_id: str
    phase: str
    quantity: Decimal
    avg_price: Decimal
    realized_pnl: Decimal
    fees: Decimal
    funding: Decimal


class _Book:
    """Mutable average-cost position; the only place position arithmetic happens."""

    __slots__ = ("quantity", "avg_price", "realized_pnl", "fees", "funding")

    def __init__(self) -> None:
        self.quantity = ZERO
        self.avg_price = ZERO
        self.realized_pnl = ZERO
        self.fees = ZERO
        self.funding = ZERO

    def trade(self, signed_qty: Decimal, price: Decimal, multiplier: Decimal) -> Decimal:
        """Add a signed quantity at ``price``; returns the PnL it realized."""
        q0 = self.quantity
        q1 = q0 + signed_qty
        realized = ZERO
        if q0 == 0 or (q0 > 0) == (signed_qty > 0):
            self.avg_price = (self.avg_price * abs(q0) + price * abs(signed_qty)) / abs(q1)
        else:
            closed = min(abs(signed_qty), abs(q0))
            realized = (price - self.avg_price) * closed * multiplier
            if q0 < 0:
                realized = -realized
            if q1 == 0:
                self.avg_price = ZERO
            elif (q1 > 0) != (q0 > 0):  # flipped: the remainder opens at the fill price
                self.avg_price = price
        self.quantity = q1
        self.realized_pnl += realized
        return realized

    def set(self, quantity: Decimal, avg_price: Decimal) -> None:
        self.quantity = quantity
        self.avg_price = avg_price if quantity != 0 else ZERO

    def view(self, instrument_id: str, phase: str) -> Position:
        return Position(
            instrument_id=instrument_id, phase=phase, quantity=self.quantity,
            avg_price=self.avg_price, realized_pnl=self.realized_pnl, fees=self.fees,
            funding=self.funding,
        )


def default_instrument(iid: str) -> Instrument:
    """An instrument known only by its id (``BTC/USDT:USDT@bybit``): the ccxt symbol says
    base, quote, settle and whether it is a perpetual (a ``:SETTLE`` suffix)."""
    symbol, venue = split_instrument_id(iid)
    pair, _, settle = symbol.partition(":")
    base, _, quote = pair.partition("/")
    return Instrument(
        symbol=symbol, venue=venue, base=base or pair, quote=quote or "USDT",
        kind=InstrumentKind.PERPETUAL if settle else InstrumentKind.SPOT, settle=settle,
        tick_size=Decimal("1e-8"), lot_size=Decimal("1e-8"),
    )


class ShadowState:
    """Orders, positions, balances, PnL and marks, changed only by :meth:`apply`."""

    def __init__(
        self,
        instruments: InstrumentRegistry | None = None,
        *,
        account_currency: str = "USDT",
        max_anomalies: int = 1000,
        max_closed_orders: int = 10_000,
        max_trade_ids: int = 200_000,
    ) -> None:
        self.instruments = instruments if instruments is not None else InstrumentRegistry()
        self.account_currency = account_currency
        self._inst: dict[str, Instrument] = {}
        self._marks: dict[str, float] = {}
        self._mark_dec: dict[str, tuple[float, Decimal]] = {}  # the last mark read as a Decimal
        self._mark_ts: dict[str, int] = {}
        self._mark_priced: set[str] = set()  # instruments with a MarkPrice stream
        self._orders: dict[str, Order] = {}
        self._open: dict[str, Order] = {}
        self._books: dict[tuple[str, str], _Book] = {}  # (instrument, phase or NET)
        # the same books by phase (NET included) and by instrument, in creation order: books
        # are never removed
        self._by_phase: dict[str, list[tuple[str, _Book]]] = {}
        self._by_instrument: dict[str, list[tuple[str, _Book]]] = {}
        self._balances: dict[tuple[str, str], Decimal] = {}  # (venue, currency)
        # Bounded memory for a process that runs for months: closed orders and the trade ids
        # used to drop duplicate fills are kept for a window, oldest forgotten first (the event
        # log keeps everything).
        self._trade_ids: set[tuple[str, str]] = set()
        self._trade_fifo: deque[tuple[str, str]] = deque()
        self._max_trade_ids = max_trade_ids
        self._closed: deque[str] = deque()
        self._max_closed = max_closed_orders
        self.anomalies: deque[str] = deque(maxlen=max_anomalies)
        self.anomaly_count = 0
        self.events_applied = 0
        self.ts_last = 0
        self._on: dict[type, Callable[[Any], None]] = {
            ev.Trade: self._on_trade,
            ev.Quote: self._on_quote,
            ev.Bar: self.apply_bar,
            ev.MarkPrice: self._on_mark_price,
            ev.BookDelta: self._on_book,
            ev.SubmitOrder: self._on_submit,
            ev.CancelOrder: self._on_cancel,
            ev.CancelAllOrders: self._on_cancel_all,
            ev.OrderAccepted: self._on_order_event,
            ev.OrderRejected: self._on_order_event,
            ev.OrderCanceled: self._on_order_event,
            ev.OrderExpired: self._on_order_event,
            ev.OrderTriggered: self._on_order_event,
            ev.OrderCancelRejected: self._on_order_event,
            ev.OrderFilled: self._on_fill,
            ev.OrderAdopted: self._on_adopted,
            ev.FundingPaid: self._on_funding,
            ev.BalanceSet: self._on_balance_set,
            ev.InternalCross: self._on_cross,
            ev.PositionCorrected: self._on_position_corrected,
        }

    # ---- the one way in ---------------------------------------------------------------------

    def apply(self, event: ev.Message) -> None:
        """Fold one event or command. Messages that do not concern state are ignored."""
        handler = self._on.get(event.__class__)
        if handler is not None:
            handler(event)

    def apply_all(self, events: Iterable[ev.Message]) -> None:
        for e in events:
            self.apply(e)

    # ---- market data: marks only ------------------------------------------------------------

    def _on_trade(self, e: ev.Trade) -> None:
        iid = e.instrument_id
        if iid not in self._mark_priced:
            self._marks[iid] = e.price
            self._mark_ts[iid] = e.ts_event

    def _on_quote(self, e: ev.Quote) -> None:
        iid = e.instrument_id
        if iid not in self._mark_priced and e.bid > 0 and e.ask > 0:
            self._marks[iid] = (e.bid + e.ask) * 0.5
            self._mark_ts[iid] = e.ts_event

    def apply_bar(self, e: ev.Bar) -> None:
        """``apply`` for a bar, for a caller that knows the type (a backtest's hot loop)."""
        iid = e.instrument_id
        if iid not in self._mark_priced:
            self._marks[iid] = e.close
            self._mark_ts[iid] = e.ts_event

    def _on_book(self, e: ev.BookDelta) -> None:
        # Only a snapshot tells the top of the book; a delta may touch deeper levels only.
        iid = e.instrument_id
        if e.is_snapshot and e.bids and e.asks and iid not in self._mark_priced:
            bid = max(p for p, s in e.bids if s > 0) if any(s > 0 for _, s in e.bids) else 0.0
            ask = min(p for p, s in e.asks if s > 0) if any(s > 0 for _, s in e.asks) else 0.0
            if bid > 0 and ask > 0:
                self._marks[iid] = (bid + ask) * 0.5
                self._mark_ts[iid] = e.ts_event

    def _on_mark_price(self, e: ev.MarkPrice) -> None:
        iid = e.instrument_id
        self._mark_priced.add(iid)
        self._marks[iid] = e.mark
        self._mark_ts[iid] = e.ts_event

    # ---- orders -----------------------------------------------------------------------------

    def _anomaly(self, what: str) -> None:
        self.anomaly_count += 1
        self.anomalies.append(what)

    def _on_submit(self, cmd: ev.SubmitOrder) -> None:
        self._stamp(cmd.ts_init)
        if cmd.client_order_id in self._orders:
            self._anomaly(f"{cmd.client_order_id}: submitted twice")
            return
        order = Order.from_submit(cmd)
        self._orders[order.client_order_id] = order
        self._open[order.client_order_id] = order

    def _on_cancel(self, cmd: ev.CancelOrder) -> None:
        self._stamp(cmd.ts_init)
        order = self._open.get(cmd.client_order_id)
        if order is not None:
            self._request_cancel(order)

    def _on_cancel_all(self, cmd: ev.CancelAllOrders) -> None:
        self._stamp(cmd.ts_init)
        for order in list(self._open.values()):
            if not cmd.instrument_id or order.instrument_id == cmd.instrument_id:
                self._request_cancel(order)

    @staticmethod
    def _request_cancel(order: Order) -> None:
        if (order.status, Trigger.CANCEL_REQUEST) in _CANCELABLE:
            order.request_cancel()

    def _on_order_event(self, e: ev.OrderEvent) -> None:
        self.events_applied += 1  # _stamp, inlined (every execution event comes here)
        if e.ts_event > self.ts_last:
            self.ts_last = e.ts_event
        order = self._orders.get(e.client_order_id)
        if order is None:
            self._anomaly(f"{e.client_order_id}: {type(e).__name__} for an unknown order")
            return
        self._fold(order, e)

    def _fold(self, order: Order, e: ev.OrderEvent) -> None:
        try:
            order.apply(e)
        except IllegalTransition as exc:
            self._anomaly(str(exc))
        if order.status in TERMINAL and self._open.pop(order.client_order_id, None) is not None:
            self._closed.append(order.client_order_id)
            if len(self._closed) > self._max_closed:
                self._orders.pop(self._closed.popleft(), None)

    def _on_adopted(self, e: ev.OrderAdopted) -> None:
        self._stamp(e.ts_event)
        if e.client_order_id in self._orders:
            self._anomaly(f"{e.client_order_id}: adopted but already known")
            return
        order = Order(
            client_order_id=e.client_order_id, instrument_id=e.instrument_id, phase=e.phase,
            side=e.side, order_type=e.order_type, quantity=e.quantity, price=e.price,
            reduce_only=e.reduce_only, venue_order_id=e.venue_order_id, filled_qty=e.filled_qty,
            avg_price=(e.price or ZERO) if e.filled_qty else ZERO,
            status=OrderStatus.PARTIALLY_FILLED if e.filled_qty > 0 else OrderStatus.ACCEPTED,
            ts_submitted=e.ts_event, ts_last=e.ts_event,
        )
        order.history.append(order.status)
        self._orders[order.client_order_id] = order
        if order.filled_qty < order.quantity:
            self._open[order.client_order_id] = order

    # ---- money ------------------------------------------------------------------------------

    def _on_fill(self, e: ev.OrderFilled) -> None:
        self.events_applied += 1  # _stamp, inlined
        if e.ts_event > self.ts_last:
            self.ts_last = e.ts_event
        if e.trade_id:
            key = (e.instrument_id, e.trade_id)
            if key in self._trade_ids:
                return  # the same execution reported twice (REST + stream, or replayed)
            self._trade_ids.add(key)
            self._trade_fifo.append(key)
            if len(self._trade_fifo) > self._max_trade_ids:
                self._trade_ids.discard(self._trade_fifo.popleft())
        order = self._orders.get(e.client_order_id)
        if order is None:
            self._anomaly(f"{e.client_order_id}: fill {e.trade_id} for an unknown order")
            phase = EXTERNAL_PHASE
        else:
            phase = order.phase
            self._fold(order, e)
        inst = self.instrument(e.instrument_id)
        signed = e.last_qty if e.side is _BUY else -e.last_qty
        mult = inst.contract_size
        venue = inst.venue
        sub = self._book(e.instrument_id, phase)
        net = self._book(e.instrument_id, NET)
        sub.trade(signed, e.last_price, mult)
        realized = net.trade(signed, e.last_price, mult)
        if inst.is_spot:
            self._add(venue, inst.base, signed * mult)
            self._add(venue, inst.quote, -signed * mult * e.last_price)
        elif realized:
            self._add(venue, inst.settle_currency, realized)
        if e.fee:
            self._add(venue, e.fee_currency, -e.fee)
            fee = e.fee * e.last_price if e.fee_currency == inst.base and inst.is_spot else e.fee
            sub.fees += fee
            net.fees += fee

    def _on_funding(self, e: ev.FundingPaid) -> None:
        self._stamp(e.ts_event)
        inst = self.instrument(e.instrument_id)
        self._add(inst.venue, e.currency, e.amount)
        self._book(e.instrument_id, NET).funding += e.amount
        if e.phase:
            self._book(e.instrument_id, e.phase).funding += e.amount
            return
        for phase, share in self._funding_shares(e.instrument_id, e.amount):
            self._book(e.instrument_id, phase).funding += share

    def _funding_shares(self, iid: str, amount: Decimal) -> list[tuple[str, Decimal]]:
        """A venue funding payment split over the phases holding the position.

        The venue charges ``-net x mark x rate``; each phase's part is ``-q_i x mark x rate``,
        i.e. ``amount x q_i / net``. The last share takes the rounding remainder, so the parts
        sum to ``amount`` exactly. With no phase position (or a flat net) it stays external.
        """
        net = self._books.get((iid, NET))
        holders = [
            (phase, book.quantity) for (i, phase), book in self._books.items()
            if i == iid and phase != NET and book.quantity != 0
        ]
        if net is None or net.quantity == 0 or not holders:
            return [(EXTERNAL_PHASE, amount)]
        holders.sort()
        shares = [(phase, amount * q / net.quantity) for phase, q in holders[:-1]]
        shares.append((holders[-1][0], amount - sum((a for _, a in shares), ZERO)))
        return shares

    def _on_balance_set(self, e: ev.BalanceSet) -> None:
        self._stamp(e.ts_event)
        self._balances[(e.venue, e.currency)] = e.total

    def _on_cross(self, e: ev.InternalCross) -> None:
        self._stamp(e.ts_event)
        mult = self.instrument(e.instrument_id).contract_size
        self._book(e.instrument_id, e.buyer_phase).trade(e.quantity, e.price, mult)
        self._book(e.instrument_id, e.seller_phase).trade(-e.quantity, e.price, mult)

    def _on_position_corrected(self, e: ev.PositionCorrected) -> None:
        self._stamp(e.ts_event)
        self._book(e.instrument_id, NET).set(e.quantity, e.avg_price)
        for phase, qty in e.phase_quantities.items():
            book = self._book(e.instrument_id, phase)
            same_side = book.quantity != 0 and (book.quantity > 0) == (qty > 0)
            book.set(qty, book.avg_price if same_side else e.avg_price)

    def _book(self, iid: str, phase: str) -> _Book:
        key = (iid, phase)
        book = self._books.get(key)
        if book is None:
            book = self._books[key] = _Book()
            self._by_phase.setdefault(phase, []).append((iid, book))
            self._by_instrument.setdefault(iid, []).append((phase, book))
        return book

    def _add(self, venue: str, currency: str, amount: Decimal) -> None:
        key = (venue, currency)
        self._balances[key] = self._balances.get(key, ZERO) + amount

    def _stamp(self, ts: int) -> None:
        self.events_applied += 1
        if ts > self.ts_last:
            self.ts_last = ts

    # ---- PortfolioView ----------------------------------------------------------------------

    def instrument(self, iid: str) -> Instrument:
        inst = self._inst.get(iid)
        if inst is None:
            inst = self.instruments.get(iid) or default_instrument(iid)
            self._inst[iid] = inst
        return inst

    def mark(self, instrument_id: str) -> Decimal | None:
        price = self._marks.get(instrument_id)
        if price is None:
            return None
        cached = self._mark_dec.get(instrument_id)
        if cached is not None and cached[0] == price and price:  # (0.0 == -0.0, but not the same text)
            return cached[1]
        # float() first: a numpy scalar's repr is "np.float64(...)", not a number
        dec = Decimal(repr(float(price)))
        self._mark_dec[instrument_id] = (price, dec)
        return dec

    def mark_float(self, instrument_id: str) -> float | None:
        """``float(mark(instrument_id))`` without the Decimal (the same number: a float's
        shortest repr reads back to itself)."""
        price = self._marks.get(instrument_id)
        return None if price is None else float(price)

    def mark_ts(self, instrument_id: str) -> int:
        return self._mark_ts.get(instrument_id, 0)

    def balance(self, currency: str, venue: str | None = None) -> Decimal:
        """Total of ``currency`` across venues (or on one)."""
        return sum(
            (v for (vn, c), v in self._balances.items() if c == currency and venue in (None, vn)),
            ZERO,
        )

    def balances(self, venue: str | None = None) -> dict[tuple[str, str], Decimal]:
        """``{(venue, currency): total}``, a copy."""
        return {k: v for k, v in self._balances.items() if venue in (None, k[0])}

    def position_qty(self, instrument_id: str, phase: str | None = None) -> Decimal:
        book = self._books.get((instrument_id, NET if phase is None else phase))
        return book.quantity if book is not None else ZERO

    def position(self, instrument_id: str, phase: str | None = None) -> Position:
        book = self._books.get((instrument_id, NET if phase is None else phase)) or _Book()
        return book.view(instrument_id, NET if phase is None else phase)

    def positions(self, phase: str | None = None) -> Iterator[Position]:
        """Non-flat phase sub-positions (of every phase, or of one)."""
        for (iid, ph), book in self._books.items():
            if ph != NET and book.quantity != 0 and (phase is None or ph == phase):
                yield book.view(iid, ph)

    def position_keys(self) -> Iterator[tuple[str, str]]:
        """``(instrument_id, phase)`` of every non-flat sub-position: ``positions()`` without
        building the copies (the Brain's resync only needs the keys)."""
        for (iid, ph), book in self._books.items():
            if ph != NET and book.quantity != 0:
                yield iid, ph

    def net_positions(self, venue: str | None = None) -> Iterator[Position]:
        """Non-flat net positions per instrument (what the venue holds)."""
        for (iid, ph), book in self._books.items():
            if ph == NET and book.quantity != 0 and (venue is None or self.instrument(iid).venue == venue):
                yield book.view(iid, NET)

    def phase_quantities(self, instrument_id: str) -> dict[str, Decimal]:
        """Non-flat sub-positions of one instrument by phase."""
        return {ph: b.quantity for ph, b in self._by_instrument.get(instrument_id, ())
                if ph != NET and b.quantity != 0}

    def open_orders(
        self, phase: str | None = None, instrument_id: str | None = None
    ) -> Iterator[Order]:
        """Working orders. The objects are the state's own: read them, never change them."""
        for order in self._open.values():
            if (phase is None or order.phase == phase) and (
                instrument_id is None or order.instrument_id == instrument_id
            ):
                yield order

    def order(self, client_order_id: str) -> Order | None:
        return self._orders.get(client_order_id)

    def orders(self) -> Iterator[Order]:
        return iter(self._orders.values())

    def has_trade(self, instrument_id: str, trade_id: str) -> bool:
        return (instrument_id, trade_id) in self._trade_ids

    def unrealized_pnl(self, instrument_id: str, phase: str | None = None) -> Decimal:
        book = self._books.get((instrument_id, NET if phase is None else phase))
        if book is None or book.quantity == 0:
            return ZERO
        return self._unrealized(instrument_id, book)

    def _unrealized(self, iid: str, book: _Book) -> Decimal:
        mark = self.mark(iid)
        if mark is None:
            return ZERO
        return (mark - book.avg_price) * book.quantity * self.instrument(iid).contract_size

    def phase_pnl(self, phase: str) -> Decimal:
        total = ZERO
        for iid, book in self._by_phase.get(phase, ()):
            pnl = book.realized_pnl - book.fees + book.funding + (
                self._unrealized(iid, book) if book.quantity != 0 else ZERO)
            total += pnl * self._rate(self.instrument(iid).settle_currency)
        return total

    def phases(self) -> list[str]:
        """Every phase with a book (a position now or before); ``phase_pnl`` of any other is 0."""
        return [ph for ph in self._by_phase if ph != NET]

    def equity(self) -> Decimal:
        total = ZERO
        for (_, currency), amount in self._balances.items():
            if amount:
                total += amount * self._rate(currency)
        for iid, book in self._by_phase.get(NET, ()):
            if book.quantity != 0:
                inst = self.instrument(iid)
                if not inst.is_spot:  # spot holdings are already balances
                    total += self._unrealized(iid, book) * self._rate(inst.settle_currency)
        return total

    def gross_exposure(self, phase: str | None = None) -> Decimal:
        key = NET if phase is None else phase
        total = ZERO
        for (iid, ph), book in self._books.items():
            if ph == key and book.quantity != 0:
                inst = self.instrument(iid)
                price = self.mark(iid) or book.avg_price
                total += abs(book.quantity * price * inst.contract_size) * self._rate(inst.quote)
        return total

    def _rate(self, currency: str) -> Decimal:
        """Value of one unit of ``currency`` in the account currency (0 if no mark says)."""
        if currency == self.account_currency:
            return ONE
        acct = self.account_currency
        fallback = None
        for iid in self._marks:
            inst = self.instrument(iid)
            if inst.base == currency and inst.quote == acct:
                if inst.is_spot:
                    return self.mark(iid) or ZERO
                fallback = fallback or self.mark(iid)
        return fallback or ZERO

    # ---- copies, comparison, printing -------------------------------------------------------

    def clone(self) -> ShadowState:
        """A deep, independent copy (reconciliation tries its corrections on one)."""
        other = copy.copy(self)
        other._inst = dict(self._inst)
        other._marks = dict(self._marks)
        other._mark_dec = dict(self._mark_dec)
        other._mark_ts = dict(self._mark_ts)
        other._mark_priced = set(self._mark_priced)
        other._orders = copy.deepcopy(self._orders)
        other._open = {cid: other._orders[cid] for cid in self._open}
        other._books = {k: copy.copy(b) for k, b in self._books.items()}
        other._by_phase, other._by_instrument = {}, {}
        for (iid, ph), b in other._books.items():
            other._by_phase.setdefault(ph, []).append((iid, b))
            other._by_instrument.setdefault(iid, []).append((ph, b))
        other._balances = dict(self._balances)
        other._trade_ids = set(self._trade_ids)
        other._trade_fifo = deque(self._trade_fifo)
        other._closed = deque(self._closed)
        other.anomalies = deque(self.anomalies, maxlen=self.anomalies.maxlen)
        other._on = {t: getattr(other, h.__name__) for t, h in self._on.items()}
        return other

    def to_dict(self) -> dict[str, Any]:
        """A canonical, JSON-ready picture of the money and the orders (sorted, as strings)."""
        books = {
            f"{iid}|{ph or '*'}": {
                "quantity": str(b.quantity), "avg_price": str(b.avg_price),
                "realized_pnl": str(b.realized_pnl), "fees": str(b.fees), "funding": str(b.funding),
            }
            for (iid, ph), b in sorted(self._books.items())
        }
        orders = {
            cid: {
                "status": o.status.value, "instrument_id": o.instrument_id, "phase": o.phase,
                "side": o.side.value, "quantity": str(o.quantity), "filled_qty": str(o.filled_qty),
                "avg_price": str(o.avg_price), "venue_order_id": o.venue_order_id,
            }
            for cid, o in sorted(self._orders.items())
        }
        return {
            "balances": {f"{v}|{c}": str(x) for (v, c), x in sorted(self._balances.items())},
            "positions": books,
            "orders": orders,
            "open_orders": sorted(self._open),
            "marks": {k: repr(v) for k, v in sorted(self._marks.items())},
            "anomalies": self.anomaly_count,
        }

    def __eq__(self, other: object) -> bool:
        """Same orders and money. Marks are left out: market data is not logged (a restart
        gets fresh marks from the feed), so a replayed state only knows the logged ones."""
        if not isinstance(other, ShadowState):
            return False
        a, b = self.to_dict(), other.to_dict()
        del a["marks"], b["marks"]
        return a == b

    __hash__ = None  # type: ignore[assignment]

    def phase_view(self, phase: str) -> PhaseView:
        return PhaseView(self, phase)


_CANCELABLE = frozenset(
    (s, Trigger.CANCEL_REQUEST)
    for s in (OrderStatus.SUBMITTED, OrderStatus.ACCEPTED, OrderStatus.TRIGGERED,
              OrderStatus.PARTIALLY_FILLED)
)


class PhaseView:
    """What one phase may read about itself: its positions, orders and PnL, and marks."""

    __slots__ = ("_state", "phase")

    def __init__(self, state: ShadowState, phase: str) -> None:
        self._state = state
        self.phase = phase

    def position_qty(self, instrument_id: str) -> Decimal:
        return self._state.position_qty(instrument_id, self.phase)

    def position(self, instrument_id: str) -> Position:
        return self._state.position(instrument_id, self.phase)

    def positions(self) -> Iterator[Position]:
        return self._state.positions(self.phase)

    def open_orders(self, instrument_id: str | None = None) -> Iterator[Order]:
        return self._state.open_orders(self.phase, instrument_id)

    def pnl(self) -> Decimal:
        return self._state.phase_pnl(self.phase)

    def exposure(self) -> Decimal:
        return self._state.gross_exposure(self.phase)

    def mark(self, instrument_id: str) -> Decimal | None:
        return self._state.mark(instrument_id)
