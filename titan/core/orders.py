"""The order lifecycle as a transition table, and the order record folded from events.

An event that is not in the table for the current status is rejected with
``IllegalTransition``; a terminal status (FILLED, CANCELED, REJECTED, EXPIRED) never changes.
Fills are special only in that the target (PARTIALLY_FILLED or FILLED) depends on the quantity
left, so the table maps two triggers, ``FILL_PARTIAL`` and ``FILL_FULL``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from enum import Enum

from titan.core import events as ev
from titan.core.errors import IllegalTransition


class OrderStatus(str, Enum):
    SUBMITTED = "SUBMITTED"  # sent (or about to be), no venue answer yet
    ACCEPTED = "ACCEPTED"
    TRIGGERED = "TRIGGERED"  # a stop order whose trigger was hit, now working
    PARTIALLY_FILLED = "PARTIALLY_FILLED"
    PENDING_CANCEL = "PENDING_CANCEL"
    FILLED = "FILLED"
    CANCELED = "CANCELED"
    REJECTED = "REJECTED"
    EXPIRED = "EXPIRED"

    @property
    def is_terminal(self) -> bool:
        return self in TERMINAL

    @property
    def is_open(self) -> bool:
        return self not in TERMINAL


TERMINAL = frozenset(
    {OrderStatus.FILLED, OrderStatus.CANCELED, OrderStatus.REJECTED, OrderStatus.EXPIRED}
)


class Trigger(str, Enum):
    ACCEPT = "ACCEPT"
    REJECT = "REJECT"
    TRIGGER = "TRIGGER"
    FILL_PARTIAL = "FILL_PARTIAL"
    FILL_FULL = "FILL_FULL"
    CANCEL_REQUEST = "CANCEL_REQUEST"
    CANCEL = "CANCEL"
    CANCEL_REJECT = "CANCEL_REJECT"
    EXPIRE = "EXPIRE"


S, T = OrderStatus, Trigger

# (status, trigger) -> new status. Anything not listed is illegal.
TRANSITIONS: dict[tuple[OrderStatus, Trigger], OrderStatus] = {
    (S.SUBMITTED, T.ACCEPT): S.ACCEPTED,
    (S.SUBMITTED, T.REJECT): S.REJECTED,
    (S.SUBMITTED, T.FILL_PARTIAL): S.PARTIALLY_FILLED,  # fill raced ahead of the ack
    (S.SUBMITTED, T.FILL_FULL): S.FILLED,
    (S.SUBMITTED, T.CANCEL_REQUEST): S.PENDING_CANCEL,
    (S.SUBMITTED, T.CANCEL): S.CANCELED,  # e.g. post-only canceled before any ack
    (S.SUBMITTED, T.EXPIRE): S.EXPIRED,
    (S.ACCEPTED, T.TRIGGER): S.TRIGGERED,
    (S.ACCEPTED, T.FILL_PARTIAL): S.PARTIALLY_FILLED,
    (S.ACCEPTED, T.FILL_FULL): S.FILLED,
    (S.ACCEPTED, T.CANCEL_REQUEST): S.PENDING_CANCEL,
    (S.ACCEPTED, T.CANCEL): S.CANCELED,
    (S.ACCEPTED, T.EXPIRE): S.EXPIRED,
    (S.ACCEPTED, T.ACCEPT): S.ACCEPTED,  # duplicate ack (REST + stream) is harmless
    (S.TRIGGERED, T.FILL_PARTIAL): S.PARTIALLY_FILLED,
    (S.TRIGGERED, T.FILL_FULL): S.FILLED,
    (S.TRIGGERED, T.CANCEL_REQUEST): S.PENDING_CANCEL,
    (S.TRIGGERED, T.CANCEL): S.CANCELED,
    (S.TRIGGERED, T.EXPIRE): S.EXPIRED,
    (S.PARTIALLY_FILLED, T.FILL_PARTIAL): S.PARTIALLY_FILLED,
    (S.PARTIALLY_FILLED, T.FILL_FULL): S.FILLED,
    (S.PARTIALLY_FILLED, T.CANCEL_REQUEST): S.PENDING_CANCEL,
    (S.PARTIALLY_FILLED, T.CANCEL): S.CANCELED,
    (S.PARTIALLY_FILLED, T.EXPIRE): S.EXPIRED,
    (S.PARTIALLY_FILLED, T.ACCEPT): S.PARTIALLY_FILLED,
    (S.PENDING_CANCEL, T.ACCEPT): S.PENDING_CANCEL,
    (S.PENDING_CANCEL, T.FILL_PARTIAL): S.PENDING_CANCEL,
    (S.PENDING_CANCEL, T.FILL_FULL): S.FILLED,
    (S.PENDING_CANCEL, T.CANCEL): S.CANCELED,
    (S.PENDING_CANCEL, T.EXPIRE): S.EXPIRED,
    (S.PENDING_CANCEL, T.REJECT): S.REJECTED,
    (S.PENDING_CANCEL, T.TRIGGER): S.PENDING_CANCEL,  # a stop triggered while the cancel flew
    # CANCEL_REJECT from PENDING_CANCEL returns to the working status; see Order.apply.
}


def transition(status: OrderStatus, trigger: Trigger) -> OrderStatus:
    """The status after ``trigger``, or ``IllegalTransition``."""
    try:
        return TRANSITIONS[(status, trigger)]
    except KeyError:
        raise IllegalTransition(f"order in {status.value} cannot take {trigger.value}") from None


@dataclass(slots=True)
class Order:
    """Titan's record of one order, changed only by :meth:`apply`."""

    client_order_id: str
    instrument_id: str
    phase: str
    side: ev.Side
    order_type: ev.OrderType
    quantity: Decimal
    price: Decimal | None = None
    trigger_price: Decimal | None = None
    reduce_only: bool = False
    post_only: bool = False
    status: OrderStatus = OrderStatus.SUBMITTED
    venue_order_id: str = ""
    filled_qty: Decimal = Decimal(0)
    avg_price: Decimal = Decimal(0)
    fees: Decimal = Decimal(0)
    ts_submitted: int = 0
    ts_last: int = 0
    trade_ids: set[str] = field(default_factory=set)
    history: list[OrderStatus] = field(default_factory=list)

    @classmethod
    def from_submit(cls, cmd: ev.SubmitOrder) -> Order:
        return cls(
            client_order_id=cmd.client_order_id,
            instrument_id=cmd.instrument_id,
            phase=cmd.phase,
            side=cmd.side,
            order_type=cmd.order_type,
            quantity=cmd.quantity,
            price=cmd.price,
            trigger_price=cmd.trigger_price,
            reduce_only=cmd.reduce_only,
            post_only=cmd.post_only,
            ts_submitted=cmd.ts_init,
            ts_last=cmd.ts_init,
            history=[OrderStatus.SUBMITTED],
        )

    @property
    def leaves_qty(self) -> Decimal:
        return self.quantity - self.filled_qty

    @property
    def is_open(self) -> bool:
        return self.status.is_open

    def apply(self, event: ev.OrderEvent) -> bool:
        """Fold one order event. Returns False for a duplicate fill (same trade id), which is
        ignored; raises ``IllegalTransition`` for an event the current status cannot take."""
        cls = event.__class__
        if cls is _FILLED or (cls not in _TRIGGER_OF and isinstance(event, ev.OrderFilled)):
            if event.trade_id and event.trade_id in self.trade_ids:
                return False
            new_filled = self.filled_qty + event.last_qty
            if new_filled > self.quantity:
                raise IllegalTransition(
                    f"{self.client_order_id}: fill of {event.last_qty} overfills "
                    f"{self.filled_qty}/{self.quantity}"
                )
            trigger = Trigger.FILL_FULL if new_filled == self.quantity else Trigger.FILL_PARTIAL
            status = TRANSITIONS.get((self.status, trigger)) or transition(self.status, trigger)
            self.avg_price = (
                self.avg_price * self.filled_qty + event.last_price * event.last_qty
            ) / new_filled
            self.filled_qty = new_filled
            self.fees += event.fee
            if event.trade_id:
                self.trade_ids.add(event.trade_id)
            if event.venue_order_id and not self.venue_order_id:
                self.venue_order_id = event.venue_order_id
        elif cls is not _ACCEPTED and isinstance(event, ev.OrderCancelRejected):
            if self.status is not OrderStatus.PENDING_CANCEL:
                # Canceling an order that already closed is the idempotent-cancel answer, and a
                # cancel we never tracked as pending changes nothing: both are benign no-ops.
                return False
            status = self._working_status()
        else:
            trigger = _TRIGGER_OF[type(event)]
            status = TRANSITIONS.get((self.status, trigger)) or transition(self.status, trigger)
            if cls is _ACCEPTED and event.venue_order_id:
                self.venue_order_id = event.venue_order_id
        if status is not self.status:
            self.history.append(status)
        self.status = status
        self.ts_last = event.ts_event
        return True

    def request_cancel(self) -> None:
        status = transition(self.status, Trigger.CANCEL_REQUEST)
        self.history.append(status)
        self.status = status

    def _working_status(self) -> OrderStatus:
        if self.filled_qty > 0:
            return OrderStatus.PARTIALLY_FILLED
        if self.venue_order_id:
            return OrderStatus.ACCEPTED
        return OrderStatus.SUBMITTED


_TRIGGER_OF: dict[type, Trigger] = {
    ev.OrderAccepted: Trigger.ACCEPT,
    ev.OrderRejected: Trigger.REJECT,
    ev.OrderTriggered: Trigger.TRIGGER,
    ev.OrderCanceled: Trigger.CANCEL,
    ev.OrderExpired: Trigger.EXPIRE,
}

_FILLED, _ACCEPTED = ev.OrderFilled, ev.OrderAccepted
