"""The port every venue client implements: live (ccxt), simulated (backtest/paper).

A client is driven by the synchronous kernel: ``submit`` and ``cancel`` return at once (a live
client schedules the venue call as a task); every outcome arrives later as an order event passed
to the ``sink`` given at construction - OrderAccepted, OrderRejected, OrderFilled, OrderCanceled,
OrderExpired, OrderCancelRejected. A venue error never escapes as an exception from these calls.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Protocol, runtime_checkable

import msgspec

from titan.core import events as ev

EventSink = Callable[[ev.Message], None]


class VenueOrder(msgspec.Struct, frozen=True, kw_only=True):
    """An open order as the venue reports it."""

    client_order_id: str
    venue_order_id: str
    instrument_id: str
    side: ev.Side
    order_type: ev.OrderType
    quantity: Decimal
    filled_qty: Decimal
    price: Decimal | None = None
    reduce_only: bool = False
    ts_event: int = 0


class VenuePosition(msgspec.Struct, frozen=True, kw_only=True):
    """A net position as the venue reports it (signed: > 0 long, < 0 short)."""

    instrument_id: str
    quantity: Decimal
    avg_price: Decimal = Decimal(0)


class VenueFill(msgspec.Struct, frozen=True, kw_only=True):
    """A recent execution as the venue reports it (for inferring fills missed while down)."""

    client_order_id: str
    venue_order_id: str
    trade_id: str
    instrument_id: str
    side: ev.Side
    quantity: Decimal
    price: Decimal
    fee: Decimal
    fee_currency: str
    liquidity: ev.Liquidity
    ts_event: int


class VenueSnapshot(msgspec.Struct, frozen=True, kw_only=True):
    """Everything reconciliation compares against: the venue's truth at ``ts``."""

    venue: str
    ts: int
    open_orders: tuple[VenueOrder, ...] = ()
    positions: tuple[VenuePosition, ...] = ()
    balances: dict[str, Decimal] = {}
    fills: tuple[VenueFill, ...] = ()


@runtime_checkable
class ExecutionClient(Protocol):
    """What the kernel needs from a venue. See the module docstring for the contract."""

    venue: str

    async def start(self) -> None:
        """Connect, load instruments, subscribe to private streams."""

    async def stop(self) -> None:
        """Close connections; pending outcomes may still be delivered before it returns."""

    def submit(self, cmd: ev.SubmitOrder) -> None:
        """Place an order. Non-blocking; outcomes arrive as events on the sink."""

    def cancel(self, cmd: ev.CancelOrder) -> None:
        """Cancel an order. Idempotent: canceling a closed order yields an event, not an error."""

    async def snapshot(self) -> VenueSnapshot:
        """Open orders, positions, balances and recent fills, for reconciliation."""
