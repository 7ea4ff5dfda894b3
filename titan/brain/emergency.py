"""The panic button, as data: what must be canceled and closed to leave nothing at risk.

An emergency (portfolio drawdown rule, repeated venue errors, or the operator) halts new
entries, cancels every working order and closes every position - each phase's sub-position,
and positions Titan did not originate - with reduce-only market orders. Opposing
sub-positions of one instrument are first crossed internally (see ``netting``), so the orders
that reach the venue add up to exactly its net position and every one of them can be
reduce-only.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

from titan.core.events import Side
from titan.core.orders import Order
from titan.core.views import PositionView

Leg = tuple[str, Side, Decimal]  # (owner, side of the closing order, quantity)


def closing_legs(positions: Iterable[PositionView]) -> dict[str, list[Leg]]:
    """Per instrument, the orders that flatten every (owner) sub-position, in a stable order."""
    out: dict[str, list[Leg]] = {}
    for pos in positions:
        q = pos.quantity
        if q == 0:
            continue
        side = Side.SELL if q > 0 else Side.BUY
        out.setdefault(pos.instrument_id, []).append((pos.phase, side, abs(q)))
    return {iid: sorted(legs, key=lambda leg: leg[0]) for iid, legs in sorted(out.items())}


def orders_to_cancel(orders: Iterable[Order]) -> list[Order]:
    """Every working order, in client-order-id order (deterministic output)."""
    return sorted(orders, key=lambda o: o.client_order_id)
