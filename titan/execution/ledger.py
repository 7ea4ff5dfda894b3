"""The live client's record of its orders: venue reports in, order events out, exactly once.

Reports arrive from three places - the create/cancel answers, the private websocket and REST
polling - in any order and often twice. The ledger makes the event stream the order state machine
(``titan.core.orders``) can take: at most one OrderAccepted, each fill once (by trade id), fills
before the terminal event, and one terminal event at most. Pure bookkeeping: no I/O.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

from titan.core import events as ev
from titan.core.instruments import Instrument
from titan.execution.reports import FillReport

ZERO = Decimal(0)
NS_PER_MS = 1_000_000


@dataclass(slots=True)
class Tracked:
    cmd: ev.SubmitOrder
    symbol: str
    instrument: Instrument
    created_ms: int
    venue_order_id: str = ""
    accepted: bool = False
    terminal: str = ""  # "", "filled", "canceled", "expired", "rejected"
    filled: Decimal = ZERO
    trade_ids: set[str] = field(default_factory=set)
    in_flight: bool = True  # the create call has not settled yet
    in_doubt: bool = False  # the create may or may not exist at the venue
    cancel_requested: bool = False
    last_report: float = field(default_factory=time.monotonic)

    @property
    def client_order_id(self) -> str:
        return self.cmd.client_order_id

    @property
    def is_open(self) -> bool:
        return not self.terminal

    @property
    def leaves(self) -> Decimal:
        return self.cmd.quantity - self.filled


class Ledger:
    def __init__(self, emit: Callable[[ev.Message], None], now_ns: Callable[[], int],
                 keep_closed: int = 10_000) -> None:
        self._emit = emit
        self._now_ns = now_ns
        self.orders: dict[str, Tracked] = {}
        self._closed: OrderedDict[str, Tracked] = OrderedDict()
        self._by_venue_id: dict[str, str] = {}
        self._keep_closed = keep_closed
        self.duplicates_dropped = 0
        self.unknown_reports = 0

    # ---------------------------------------------------------------- lookup

    def get(self, client_order_id: str) -> Tracked | None:
        return self.orders.get(client_order_id) or self._closed.get(client_order_id)

    def find(self, client_order_id: str = "", venue_order_id: str = "") -> Tracked | None:
        if client_order_id:
            t = self.get(client_order_id)
            if t is not None:
                return t
        if venue_order_id:
            cid = self._by_venue_id.get(venue_order_id)
            if cid is not None:
                return self.get(cid)
        return None

    def open_orders(self) -> list[Tracked]:
        return list(self.orders.values())

    def knows(self, client_order_id: str) -> bool:
        return self.get(client_order_id) is not None

    # ---------------------------------------------------------------- changes

    def track(self, cmd: ev.SubmitOrder, symbol: str, instrument: Instrument) -> Tracked:
        t = Tracked(cmd=cmd, symbol=symbol, instrument=instrument, created_ms=int(time.time() * 1000))
        self.orders[cmd.client_order_id] = t
        return t

    def _ts(self, ts_ms: int) -> int:
        return ts_ms * NS_PER_MS if ts_ms > 0 else self._now_ns()

    def set_venue_id(self, t: Tracked, venue_order_id: str) -> None:
        if venue_order_id and not t.venue_order_id:
            t.venue_order_id = venue_order_id
            self._by_venue_id[venue_order_id] = t.client_order_id

    def accepted(self, t: Tracked, venue_order_id: str, ts_ms: int = 0) -> bool:
        self.set_venue_id(t, venue_order_id)
        t.last_report = time.monotonic()
        t.in_doubt = False
        if t.accepted or t.terminal:
            return False
        t.accepted = True
        self._emit(ev.OrderAccepted(client_order_id=t.client_order_id, venue_order_id=t.venue_order_id,
                                    ts_event=self._ts(ts_ms), ts_init=self._now_ns()))
        return True

    def rejected(self, t: Tracked, kind: ev.ErrorKind, reason: str) -> bool:
        if t.terminal:
            return False
        if t.accepted or t.filled:  # refused after acknowledging/filling: the machine calls it a cancel
            return self.ended(t, "canceled", f"rejected by venue: {reason}")
        t.in_doubt = False
        self._finish(t, "rejected")
        self._emit(ev.OrderRejected(client_order_id=t.client_order_id, reason=reason, kind=kind,
                                    ts_event=self._now_ns(), ts_init=self._now_ns()))
        return True

    def fill(self, t: Tracked, f: FillReport) -> bool:
        """Emit one fill unless its trade id was seen; False for a duplicate."""
        if f.trade_id in t.trade_ids:
            self.duplicates_dropped += 1
            return False
        if t.terminal:  # every fill was synced before the terminal event: this one is stale
            self.duplicates_dropped += 1
            return False
        self.set_venue_id(t, f.venue_order_id)
        t.trade_ids.add(f.trade_id)
        t.filled += f.qty
        t.last_report = time.monotonic()
        t.in_doubt = False
        self._emit(ev.OrderFilled(
            client_order_id=t.client_order_id, venue_order_id=t.venue_order_id or f.venue_order_id,
            trade_id=f.trade_id, instrument_id=t.cmd.instrument_id, side=t.cmd.side, last_qty=f.qty,
            last_price=f.price, fee=f.fee, fee_currency=f.fee_currency, liquidity=f.liquidity,
            ts_event=self._ts(f.ts_ms), ts_init=self._now_ns(),
        ))
        if t.filled >= t.cmd.quantity and not t.terminal:
            self._finish(t, "filled")
        return True

    def ended(self, t: Tracked, status: str, reason: str = "", ts_ms: int = 0) -> bool:
        """The order ended without (completely) filling: canceled or expired. Call only once every
        fill the venue reports for it has been passed to :meth:`fill`."""
        if t.terminal:
            return False
        t.in_doubt = False
        self._finish(t, status)
        cls = ev.OrderExpired if status == "expired" else ev.OrderCanceled
        self._emit(cls(client_order_id=t.client_order_id, reason=reason,
                       ts_event=self._ts(ts_ms), ts_init=self._now_ns()))
        return True

    def cancel_rejected(self, client_order_id: str, kind: ev.ErrorKind, reason: str) -> None:
        self._emit(ev.OrderCancelRejected(client_order_id=client_order_id, reason=reason, kind=kind,
                                          ts_event=self._now_ns(), ts_init=self._now_ns()))

    def _finish(self, t: Tracked, status: str) -> None:
        t.terminal = status
        t.in_flight = False
        self.orders.pop(t.client_order_id, None)
        self._closed[t.client_order_id] = t
        while len(self._closed) > self._keep_closed:
            _, old = self._closed.popitem(last=False)
            self._by_venue_id.pop(old.venue_order_id, None)
