"""The simulated venue's pre-trade rules, as pure functions of an order and the account.

Each returns why an order cannot be taken (a one-line reason) or None; :mod:`titan.execution.sim`
turns a reason into ``OrderRejected`` with the right ``ErrorKind``. Amounts are ``Decimal``.

Funds: a spot buy needs ``qty x price x (1 + fee)`` of quote, a spot sell ``qty`` of base; a
derivatives order needs margin ``notional / leverage`` for the part that grows the position
(reducing needs none). What open orders need is *held* and not available to the next order.
"""

from __future__ import annotations

from decimal import Decimal

from titan.core import events as ev
from titan.core.instruments import Instrument, InstrumentKind

ZERO = Decimal(0)
_PRICED = (ev.OrderType.LIMIT, ev.OrderType.STOP_LIMIT)
_STOPS = (ev.OrderType.STOP_MARKET, ev.OrderType.STOP_LIMIT)


def invalid_numbers(cmd: ev.SubmitOrder, inst: Instrument) -> str | None:
    """Quantity off the lot, price or trigger off the tick or missing, post-only not a limit."""
    lot, tick, t = inst.lot_size, inst.tick_size, cmd.order_type
    if cmd.quantity <= 0 or cmd.quantity % lot:
        return f"quantity {cmd.quantity} is not a positive multiple of the lot {lot}"
    if t in _PRICED:
        if cmd.price is None or cmd.price <= 0:
            return f"{t.value} order needs a positive price, got {cmd.price}"
        if cmd.price % tick:
            return f"price {cmd.price} is not on the tick {tick}"
    if t in _STOPS:
        if cmd.trigger_price is None or cmd.trigger_price <= 0:
            return f"{t.value} order needs a positive trigger price, got {cmd.trigger_price}"
        if cmd.trigger_price % tick:
            return f"trigger price {cmd.trigger_price} is not on the tick {tick}"
    if cmd.post_only and t is not ev.OrderType.LIMIT:
        return f"post-only needs a limit order, got {t.value}"
    return None


def reduce_only_breach(cmd: ev.SubmitOrder, position: Decimal) -> str | None:
    """A reduce-only order must shrink the position, never grow or flip it."""
    if position * cmd.side.sign >= 0:
        return f"reduce-only {cmd.side.value} would increase the position {position}"
    if cmd.quantity > abs(position):
        return f"reduce-only {cmd.quantity} would flip the position {position}"
    return None


def hold(inst: Instrument, side: ev.Side, qty: Decimal, price: Decimal, fee_rate: Decimal,
         leverage: Decimal, reduce_only: bool = False, position: Decimal = ZERO) -> tuple[str, Decimal]:
    """(currency, amount) that ``qty`` of an order at ``price`` needs from the account.

    ``position`` (derivatives) lets the part of an order that reduces the position go free.
    """
    if inst.kind is InstrumentKind.SPOT:
        base_qty = qty * inst.contract_size
        if side is ev.Side.BUY:
            return inst.quote, base_qty * price * (1 + max(fee_rate, ZERO))
        return inst.base, base_qty
    ccy = inst.settle or inst.quote
    if reduce_only:
        return ccy, ZERO
    # position x side.sign >= 0: the order does not reduce the position
    grows = qty if ((position >= 0) if side is ev.Side.BUY else (position <= 0)) else \
        max(ZERO, qty - abs(position))
    return ccy, grows * inst.contract_size * price / leverage


def shortfall(currency: str, need: Decimal, free: Decimal) -> str | None:
    if need > free:
        return f"insufficient {currency}: order needs {need}, {max(free, ZERO)} available"
    return None
