"""Instruments and exact rounding of what leaves the process.

Prices round *in the trader's favour of safety*: a buy price rounds down and a sell price rounds
up, so rounding never makes a limit more aggressive than the strategy asked. Quantities floor to
the lot, so rounding never increases size. All in ``Decimal``; floats are converted through their
shortest repr (``Decimal(repr(x))``) so 0.1 stays 0.1.
"""

from __future__ import annotations

from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from enum import Enum

import msgspec

from titan.core.events import Side

ZERO = Decimal(0)


class InstrumentKind(str, Enum):
    SPOT = "spot"
    PERPETUAL = "perpetual"
    FUTURE = "future"


def to_decimal(x: Decimal | float | int | str) -> Decimal:
    """Exact conversion: floats go through their shortest repr, never their binary expansion."""
    if isinstance(x, Decimal):
        return x
    if isinstance(x, float):
        return Decimal(repr(x))
    return Decimal(x)


def instrument_id(symbol: str, venue: str) -> str:
    """Titan's instrument key: the ccxt unified symbol and the venue, ``BTC/USDT:USDT@bybit``."""
    return f"{symbol}@{venue}"


def split_instrument_id(iid: str) -> tuple[str, str]:
    """Inverse of :func:`instrument_id`: ``(symbol, venue)``."""
    symbol, sep, venue = iid.rpartition("@")
    if not sep or not symbol or not venue:
        raise ValueError(f"instrument id {iid!r}: expected SYMBOL@VENUE")
    return symbol, venue


class Instrument(msgspec.Struct, frozen=True, kw_only=True):
    """What Titan must know to size, round and account for orders on one market.

    ``contract_size`` is the base quantity per contract (1 for spot and most linear perpetuals).
    Fees are fractions (0.00055 = 5.5 bps).
    """

    symbol: str
    venue: str
    base: str
    quote: str
    kind: InstrumentKind = InstrumentKind.SPOT
    settle: str = ""
    tick_size: Decimal
    lot_size: Decimal
    min_qty: Decimal = ZERO
    max_qty: Decimal = ZERO
    min_notional: Decimal = ZERO
    contract_size: Decimal = Decimal(1)
    maker_fee: Decimal = ZERO
    taker_fee: Decimal = ZERO
    max_leverage: Decimal = Decimal(1)

    def __post_init__(self) -> None:
        if self.tick_size <= 0:
            raise ValueError(f"{self.symbol}: tick_size must be > 0, got {self.tick_size}")
        if self.lot_size <= 0:
            raise ValueError(f"{self.symbol}: lot_size must be > 0, got {self.lot_size}")

    @property
    def id(self) -> str:
        return instrument_id(self.symbol, self.venue)

    @property
    def is_spot(self) -> bool:
        return self.kind is InstrumentKind.SPOT

    @property
    def settle_currency(self) -> str:
        return self.settle or self.quote

    def round_price(self, price: Decimal | float | str, side: Side) -> Decimal:
        """To the tick grid: buys round down, sells round up."""
        p = to_decimal(price)
        rounding = ROUND_FLOOR if side is Side.BUY else ROUND_CEILING
        return _to_grid(p, self.tick_size, rounding)

    def round_qty(self, qty: Decimal | float | str) -> Decimal:
        """Floor to the lot; the result is a multiple of ``lot_size`` and never exceeds ``qty``."""
        q = to_decimal(qty)
        if q <= 0:
            return ZERO
        return _to_grid(q, self.lot_size, ROUND_FLOOR)

    def notional(self, qty: Decimal, price: Decimal) -> Decimal:
        return qty * price * self.contract_size

    def check_order(self, qty: Decimal, price: Decimal | None) -> str | None:
        """Why an already-rounded order cannot be sent, or None if it can."""
        if qty <= 0:
            return f"quantity {qty} rounds to zero at lot {self.lot_size}"
        if self.min_qty and qty < self.min_qty:
            return f"quantity {qty} below minimum {self.min_qty}"
        if self.max_qty and qty > self.max_qty:
            return f"quantity {qty} above maximum {self.max_qty}"
        if price is not None:
            if price <= 0:
                return f"price {price} is not positive"
            if self.min_notional and self.notional(qty, price) < self.min_notional:
                return f"notional {self.notional(qty, price)} below minimum {self.min_notional}"
        return None


def _to_grid(value: Decimal, step: Decimal, rounding: str) -> Decimal:
    units = (value / step).to_integral_value(rounding=rounding)
    return (units * step).quantize(step)


class InstrumentRegistry:
    """The instruments Titan trades, by id. Filled from ``load_markets`` or from config."""

    def __init__(self, instruments: list[Instrument] | None = None) -> None:
        self._by_id: dict[str, Instrument] = {}
        for inst in instruments or ():
            self.add(inst)

    def add(self, inst: Instrument) -> None:
        self._by_id[inst.id] = inst

    def get(self, iid: str) -> Instrument | None:
        return self._by_id.get(iid)

    def __getitem__(self, iid: str) -> Instrument:
        try:
            return self._by_id[iid]
        except KeyError:
            raise KeyError(f"unknown instrument {iid!r}") from None

    def __contains__(self, iid: object) -> bool:
        return iid in self._by_id

    def __iter__(self):
        return iter(self._by_id.values())

    def __len__(self) -> int:
        return len(self._by_id)
