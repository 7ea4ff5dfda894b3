"""The two legs of a basis trade: which spot market hedges a perpetual, and quantities that are
exactly equal in base units on both (each leg rounds to its own lot and contract size).
"""

from __future__ import annotations

from decimal import Decimal
from math import lcm

from titan.core.instruments import Instrument, split_instrument_id

ZERO = Decimal(0)


def spot_of(perp_iid: str) -> str:
    """The spot market of a linear perpetual on the same venue:
    ``BTC/USDT:USDT@bybit`` -> ``BTC/USDT@bybit``."""
    symbol, venue = split_instrument_id(perp_iid)
    pair, sep, _ = symbol.partition(":")
    if not sep:
        raise ValueError(f"{perp_iid}: not a perpetual (expected BASE/QUOTE:SETTLE@venue)")
    return f"{pair}@{venue}"


def base_step(spot: Instrument | None, perp: Instrument | None) -> Decimal:
    """The smallest base quantity both legs can trade exactly: the least common multiple of the
    spot lot and the perp lot times its contract size (1e-8 when neither is known)."""
    steps = [s for s in (spot.lot_size if spot else None,
                         perp.lot_size * perp.contract_size if perp else None) if s]
    if not steps:
        return Decimal("1e-8")
    exp = min(s.as_tuple().exponent for s in steps)  # type: ignore[type-var]
    scale = Decimal(1).scaleb(exp)
    ints = [int(s / scale) for s in steps]
    return (Decimal(lcm(*ints)) * scale).normalize()


def equal_legs(base_qty: Decimal, spot: Instrument | None, perp: Instrument | None
               ) -> tuple[Decimal, Decimal]:
    """(spot base quantity, perp contracts) for at most ``base_qty``, equal in base units."""
    step = base_step(spot, perp)
    if base_qty <= 0:
        return ZERO, ZERO
    q = (base_qty / step).to_integral_value(rounding="ROUND_FLOOR") * step
    cs = perp.contract_size if perp else Decimal(1)
    return q, q / cs


def hedge_contracts(spot_qty: Decimal, perp: Instrument | None) -> Decimal:
    """The short perp contracts that hedge ``spot_qty`` base, floored to the perp lot."""
    if perp is None:
        return spot_qty
    return perp.round_qty(spot_qty / perp.contract_size)
