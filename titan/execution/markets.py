"""Titan instruments from ccxt's ``load_markets`` result (tick, lot, minimums, contract size, fees).

ccxt reports these as floats; they become ``Decimal`` through their shortest repr, which is exact
for every value a venue publishes (at most 15 significant digits). All three venues use ccxt's
TICK_SIZE precision mode, so ``precision`` holds step sizes, not digit counts.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

from titan.core.instruments import Instrument, InstrumentKind, InstrumentRegistry, to_decimal

ZERO = Decimal(0)


def _dec(value: Any, default: Decimal = ZERO) -> Decimal:
    if value is None or value == "":
        return default
    return to_decimal(value)


def _limit(market: Mapping[str, Any], key: str, bound: str) -> Decimal:
    return _dec(((market.get("limits") or {}).get(key) or {}).get(bound))


def instrument_from_market(market: Mapping[str, Any], venue: str) -> Instrument | None:
    """One ccxt market -> Instrument; None for what Titan does not trade (options, inactive)."""
    if market.get("option") or market.get("active") is False:
        return None
    if market.get("spot"):
        kind = InstrumentKind.SPOT
    elif market.get("swap"):
        kind = InstrumentKind.PERPETUAL
    elif market.get("future"):
        kind = InstrumentKind.FUTURE
    else:
        return None
    precision = market.get("precision") or {}
    tick, lot = _dec(precision.get("price")), _dec(precision.get("amount"))
    if tick <= 0 or lot <= 0:
        return None
    return Instrument(
        symbol=market["symbol"], venue=venue, base=market["base"], quote=market["quote"], kind=kind,
        settle=market.get("settle") or "", tick_size=tick, lot_size=lot,
        min_qty=_limit(market, "amount", "min"), max_qty=_limit(market, "amount", "max"),
        min_notional=_limit(market, "cost", "min"),
        contract_size=_dec(market.get("contractSize"), Decimal(1)) if kind is not InstrumentKind.SPOT else Decimal(1),
        maker_fee=_dec(market.get("maker")), taker_fee=_dec(market.get("taker")),
        max_leverage=_dec(_limit(market, "leverage", "max") or None, Decimal(1)),
    )


def instruments_from_markets(markets: Mapping[str, Mapping[str, Any]], venue: str,
                             symbols: Iterable[str] = ()) -> InstrumentRegistry:
    """Every tradable market (or only ``symbols``, unified ccxt symbols) as a registry."""
    wanted = set(symbols)
    reg = InstrumentRegistry()
    for sym, market in markets.items():
        if wanted and sym not in wanted:
            continue
        inst = instrument_from_market(market, venue)
        if inst is not None:
            reg.add(inst)
    return reg
