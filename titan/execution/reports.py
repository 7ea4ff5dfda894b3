"""What a venue reports about one order or one execution, read exactly from ccxt's dicts.

ccxt turns every number into a float. For money the raw strings the venue sent are in
``info``; they are read first (Bybit ``execQty``/``execPrice``/``execFee``, Binance websocket
``l``/``L``/``n``, REST ``qty``/``price``/``commission``), and the float is the fallback, converted
through its shortest repr (exact for the <= 15 significant digits venues publish).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from titan.core.events import Liquidity
from titan.core.instruments import to_decimal

ZERO = Decimal(0)

_QTY = ("execQty", "l", "qty")
_PRICE = ("execPrice", "L", "price")
_FEE = ("execFee", "n", "commission")
_FEE_CCY = ("feeCurrency", "N", "commissionAsset")
_MAKER = ("isMaker", "m", "maker")

# ccxt unified order statuses -> Titan's view
OPEN, CLOSED, CANCELED, EXPIRED, REJECTED = "open", "closed", "canceled", "expired", "rejected"
_REASONS = {
    "EC_PostOnlyWillTakeLiquidity": "post-only order would take liquidity",
    "EC_CancelForNoFullFill": "FOK/IOC order could not be filled",
}


def _raw_decimal(info: Mapping[str, Any], keys: tuple[str, ...]) -> Decimal | None:
    for k in keys:
        v = info.get(k)
        if isinstance(v, str) and v:
            try:
                return Decimal(v)
            except InvalidOperation:
                continue
    return None


def _num(value: Any) -> Decimal | None:
    if value is None:
        return None
    try:
        return to_decimal(value)
    except (InvalidOperation, ValueError, TypeError):
        return None


@dataclass(frozen=True)
class FillReport:
    trade_id: str
    venue_order_id: str
    client_order_id: str
    qty: Decimal
    price: Decimal
    fee: Decimal
    fee_currency: str
    liquidity: Liquidity
    ts_ms: int


def fill_report(trade: Mapping[str, Any], *, fee_currency: str, default_liquidity: Liquidity = Liquidity.TAKER) -> FillReport | None:
    """One ccxt trade -> FillReport, or None when it is not an execution with an id and a size."""
    info = trade.get("info") or {}
    if not isinstance(info, Mapping):
        info = {}
    trade_id = str(trade.get("id") or "")
    qty = _raw_decimal(info, _QTY) or _num(trade.get("amount"))
    price = _raw_decimal(info, _PRICE) or _num(trade.get("price"))
    if not trade_id or qty is None or qty <= 0 or price is None:
        return None
    fee_dict = trade.get("fee") or {}
    fee = _raw_decimal(info, _FEE)
    if fee is None:
        fee = _num(fee_dict.get("cost")) or ZERO
    ccy = next((str(info[k]) for k in _FEE_CCY if isinstance(info.get(k), str) and info[k]), "")
    ccy = ccy or str(fee_dict.get("currency") or "") or fee_currency
    maker = next((info[k] for k in _MAKER if isinstance(info.get(k), bool)), None)
    if maker is None:
        tom = trade.get("takerOrMaker")
        liquidity = Liquidity.MAKER if tom == "maker" else Liquidity.TAKER if tom == "taker" else default_liquidity
    else:
        liquidity = Liquidity.MAKER if maker else Liquidity.TAKER
    return FillReport(
        trade_id=trade_id, venue_order_id=str(trade.get("order") or ""),
        client_order_id=str(trade.get("clientOrderId") or info.get("orderLinkId") or info.get("c") or ""),
        qty=qty, price=price, fee=fee, fee_currency=ccy, liquidity=liquidity,
        ts_ms=int(trade.get("timestamp") or 0),
    )


@dataclass(frozen=True)
class OrderReport:
    venue_order_id: str
    client_order_id: str
    status: str | None  # open, closed, canceled, expired, rejected, or None (not said: Bybit acks)
    amount: Decimal | None
    filled: Decimal | None
    reason: str
    ts_ms: int
    trades: tuple[Mapping[str, Any], ...] = ()

    @property
    def is_terminal(self) -> bool:
        return self.status in (CLOSED, CANCELED, EXPIRED, REJECTED)

    @property
    def ended_unfilled(self) -> bool:
        """Closed with less than its amount filled (Bybit's PartiallyFilledCanceled)."""
        return (self.status == CLOSED and self.amount is not None and self.filled is not None
                and self.filled < self.amount)


def order_report(order: Mapping[str, Any]) -> OrderReport:
    info = order.get("info") or {}
    if not isinstance(info, Mapping):
        info = {}
    filled = _raw_decimal(info, ("cumExecQty", "executedQty", "z")) if info else None
    if filled is None:
        filled = _num(order.get("filled"))
    amount = _raw_decimal(info, ("qty", "origQty", "q")) if info else None
    if amount is None:
        amount = _num(order.get("amount"))
    raw_reason = str(info.get("rejectReason") or "")
    reason = _REASONS.get(raw_reason, "" if raw_reason in ("", "EC_NoError") else raw_reason)
    if not reason and info.get("cancelType") not in (None, "", "UNKNOWN"):
        reason = str(info.get("cancelType"))
    return OrderReport(
        venue_order_id=str(order.get("id") or ""), client_order_id=str(order.get("clientOrderId") or ""),
        status=order.get("status"), amount=amount, filled=filled, reason=reason,
        ts_ms=int(order.get("lastUpdateTimestamp") or order.get("timestamp") or 0),
        trades=tuple(order.get("trades") or ()),
    )
