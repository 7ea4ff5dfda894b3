"""How a ``SubmitOrder`` becomes the arguments of ccxt ``create_order`` for one venue.

Pure: no I/O. Quantities and prices go to ccxt as decimal strings (never floats), already on the
instrument's grid. ``reduce_only`` is never sent on spot (ccxt would forward it and Binance spot
refuses unknown parameters). Post-only is ccxt's unified ``postOnly`` (Bybit ``PostOnly``,
Binance spot ``LIMIT_MAKER``, USD-M ``GTX``). Stops use ``triggerPrice``; Bybit contracts also need
the direction the price must move (a buy stop fires on the way up).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from titan.core import events as ev
from titan.core.instruments import Instrument
from titan.execution.venues import VenueProfile

_TYPE = {
    ev.OrderType.MARKET: "market", ev.OrderType.LIMIT: "limit",
    ev.OrderType.STOP_MARKET: "market", ev.OrderType.STOP_LIMIT: "limit",
}
_STOPS = (ev.OrderType.STOP_MARKET, ev.OrderType.STOP_LIMIT)


@dataclass(frozen=True)
class OrderArgs:
    symbol: str
    type: str
    side: str
    amount: str
    price: str | None
    params: dict[str, Any]


class Unplaceable(ValueError):
    """The order cannot be sent as asked; the message says why (an INVALID_ORDER rejection)."""


def _text(x: Decimal) -> str:
    return format(x, "f")


def order_args(cmd: ev.SubmitOrder, inst: Instrument, prof: VenueProfile) -> OrderArgs:
    """Raises :class:`Unplaceable` for an order this venue cannot take."""
    is_stop = cmd.order_type in _STOPS
    if is_stop and not (prof.spot_stops if inst.is_spot else prof.contract_stops):
        raise Unplaceable(f"{prof.name}: stop orders are not supported on {inst.kind.value} markets")
    if cmd.quantity <= 0:
        raise Unplaceable(f"quantity {cmd.quantity} is not positive")
    needs_price = cmd.order_type in (ev.OrderType.LIMIT, ev.OrderType.STOP_LIMIT)
    if needs_price and (cmd.price is None or cmd.price <= 0):
        raise Unplaceable(f"{cmd.order_type.value} order needs a positive price, got {cmd.price}")
    if is_stop and (cmd.trigger_price is None or cmd.trigger_price <= 0):
        raise Unplaceable(f"{cmd.order_type.value} order needs a positive trigger price, got {cmd.trigger_price}")
    if cmd.post_only and cmd.order_type is not ev.OrderType.LIMIT:
        raise Unplaceable("post-only applies to limit orders only")
    params: dict[str, Any] = {"clientOrderId": cmd.client_order_id}
    if cmd.post_only:
        params["postOnly"] = True
    elif cmd.time_in_force is not ev.TimeInForce.GTC and cmd.order_type is not ev.OrderType.MARKET:
        params["timeInForce"] = cmd.time_in_force.value.upper()
    if cmd.reduce_only and not inst.is_spot:
        params["reduceOnly"] = True
    if is_stop:
        assert cmd.trigger_price is not None
        params["triggerPrice"] = _text(cmd.trigger_price)
        if prof.ccxt_id == "bybit" and not inst.is_spot:
            params["triggerDirection"] = "ascending" if cmd.side is ev.Side.BUY else "descending"
    return OrderArgs(
        symbol=inst.symbol, type=_TYPE[cmd.order_type], side=cmd.side.value,
        amount=_text(cmd.quantity), price=_text(cmd.price) if needs_price and cmd.price is not None else None,
        params=params,
    )
