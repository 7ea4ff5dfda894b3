"""How a ``SubmitOrder`` becomes the venue's create-order request.

Titan builds the request itself and hands it to ccxt's implicit API method (which signs it, sends
it, maps errors): ccxt's unified ``create_order`` spends 85-200 us per order in option handling
and precision formatting that Titan has already done (quantities and prices arrive as Decimals on
the instrument's grid). Pure: no I/O.

Per venue: Bybit v5 ``POST /v5/order/create`` (``orderLinkId``; post-only ``timeInForce=PostOnly``;
stops ``triggerPrice`` + ``triggerDirection``, spot stops ``orderFilter=StopOrder``; spot market
orders in base units ``marketUnit=baseCoin``). Binance spot ``POST /api/v3/order``
(``newClientOrderId``; post-only ``LIMIT_MAKER``; stops ``STOP_LOSS``/``STOP_LOSS_LIMIT``).
Binance USD-M ``POST /fapi/v1/order`` (post-only ``GTX``; ``reduceOnly``; stops go through the
algo-order API, not supported). MEXC spot ``POST /api/v3/order`` (post-only ``LIMIT_MAKER``, IOC
and FOK are order types; no stops). ``reduce_only`` is never sent on spot.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from titan.core import events as ev
from titan.core.instruments import Instrument
from titan.execution.venues import VenueProfile

_STOPS = (ev.OrderType.STOP_MARKET, ev.OrderType.STOP_LIMIT)
_PRICED = (ev.OrderType.LIMIT, ev.OrderType.STOP_LIMIT)
# enum spellings looked up, not derived per order (an Enum's .value is a descriptor call)
_UPPER_SIDE = {s: s.value.upper() for s in ev.Side}
_BYBIT_SIDE = {ev.Side.BUY: "Buy", ev.Side.SELL: "Sell"}
_UPPER_TIF = {t: t.value.upper() for t in ev.TimeInForce}


@dataclass(frozen=True)
class VenueRequest:
    method: str  # ccxt implicit API method name, e.g. ``privatePostV5OrderCreate``
    params: dict[str, Any]


class Unplaceable(ValueError):
    """The order cannot be sent as asked; the message says why (an INVALID_ORDER rejection)."""


def _text(x: Decimal) -> str:
    return format(x, "f")


def check(cmd: ev.SubmitOrder, inst: Instrument, prof: VenueProfile) -> None:
    """Raise :class:`Unplaceable` for an order this venue cannot take."""
    is_stop = cmd.order_type in _STOPS
    if is_stop and not (prof.spot_stops if inst.is_spot else prof.contract_stops):
        raise Unplaceable(f"{prof.name}: stop orders are not supported on {inst.kind.value} markets")
    if cmd.quantity <= 0:
        raise Unplaceable(f"quantity {cmd.quantity} is not positive")
    if cmd.order_type in _PRICED and (cmd.price is None or cmd.price <= 0):
        raise Unplaceable(f"{cmd.order_type.value} order needs a positive price, got {cmd.price}")
    if is_stop and (cmd.trigger_price is None or cmd.trigger_price <= 0):
        raise Unplaceable(f"{cmd.order_type.value} order needs a positive trigger price, got {cmd.trigger_price}")
    if cmd.post_only and cmd.order_type is not ev.OrderType.LIMIT:
        raise Unplaceable("post-only applies to limit orders only")


def create_request(cmd: ev.SubmitOrder, inst: Instrument, market_id: str, prof: VenueProfile) -> VenueRequest:
    """The create-order request for ``prof``'s venue; raises :class:`Unplaceable`."""
    check(cmd, inst, prof)
    builder = _BUILDERS.get(prof.ccxt_id)
    if builder is None:
        raise Unplaceable(f"{prof.name}: no order request builder")
    return builder(cmd, inst, market_id)


def _bybit(cmd: ev.SubmitOrder, inst: Instrument, market_id: str) -> VenueRequest:
    market = cmd.order_type in (ev.OrderType.MARKET, ev.OrderType.STOP_MARKET)
    p: dict[str, Any] = {
        "category": "spot" if inst.is_spot else "linear", "symbol": market_id,
        "side": _BYBIT_SIDE[cmd.side], "orderType": "Market" if market else "Limit",
        "qty": _text(cmd.quantity), "orderLinkId": cmd.client_order_id,
    }
    if not market:
        assert cmd.price is not None
        p["price"] = _text(cmd.price)
        p["timeInForce"] = "PostOnly" if cmd.post_only else _UPPER_TIF[cmd.time_in_force]
    if inst.is_spot and market:
        p["marketUnit"] = "baseCoin"  # quantity in base units, both sides
    if cmd.reduce_only and not inst.is_spot:
        p["reduceOnly"] = True
    if cmd.order_type in _STOPS:
        assert cmd.trigger_price is not None
        p["triggerPrice"] = _text(cmd.trigger_price)
        if inst.is_spot:
            p["orderFilter"] = "StopOrder"
        else:  # a buy stop fires on the way up
            p["triggerDirection"] = 1 if cmd.side is ev.Side.BUY else 2
    return VenueRequest("privatePostV5OrderCreate", p)


def _binance_type(cmd: ev.SubmitOrder, inst: Instrument) -> str:
    t = cmd.order_type
    if t is ev.OrderType.MARKET:
        return "MARKET"
    if t is ev.OrderType.STOP_MARKET:
        return "STOP_LOSS"
    if t is ev.OrderType.STOP_LIMIT:
        return "STOP_LOSS_LIMIT"
    return "LIMIT_MAKER" if cmd.post_only and inst.is_spot else "LIMIT"


def _binance(cmd: ev.SubmitOrder, inst: Instrument, market_id: str) -> VenueRequest:
    otype = _binance_type(cmd, inst)
    p: dict[str, Any] = {"symbol": market_id, "side": _UPPER_SIDE[cmd.side], "type": otype,
                         "quantity": _text(cmd.quantity), "newClientOrderId": cmd.client_order_id}
    if cmd.price is not None and cmd.order_type in _PRICED:
        p["price"] = _text(cmd.price)
    if otype in ("LIMIT", "STOP_LOSS_LIMIT"):
        p["timeInForce"] = "GTX" if cmd.post_only else _UPPER_TIF[cmd.time_in_force]
    if cmd.trigger_price is not None and cmd.order_type in _STOPS:
        p["stopPrice"] = _text(cmd.trigger_price)
    if inst.is_spot:
        p["newOrderRespType"] = "FULL"
        return VenueRequest("privatePostOrder", p)
    if cmd.reduce_only:
        p["reduceOnly"] = "true"
    p["newOrderRespType"] = "RESULT"
    return VenueRequest("fapiPrivatePostOrder", p)


_MEXC_TIF = {ev.TimeInForce.IOC: "IMMEDIATE_OR_CANCEL", ev.TimeInForce.FOK: "FILL_OR_KILL"}


def _mexc(cmd: ev.SubmitOrder, inst: Instrument, market_id: str) -> VenueRequest:
    if cmd.order_type is ev.OrderType.MARKET:
        otype = "MARKET"
    elif cmd.post_only:
        otype = "LIMIT_MAKER"
    else:
        otype = _MEXC_TIF.get(cmd.time_in_force, "LIMIT")
    p: dict[str, Any] = {"symbol": market_id, "side": _UPPER_SIDE[cmd.side], "type": otype,
                         "quantity": _text(cmd.quantity)}
    if cmd.price is not None and cmd.order_type is ev.OrderType.LIMIT:
        p["price"] = _text(cmd.price)
    p["newClientOrderId"] = cmd.client_order_id
    return VenueRequest("spotPrivatePostOrder", p)


_BUILDERS = {"bybit": _bybit, "binance": _binance, "binanceusdm": _binance, "mexc": _mexc}
