"""Position size from risk: how much to trade so that being stopped out costs a fixed fraction.

``qty = risk_fraction x budget / |entry - stop|`` (Van Tharp's position sizing by R, the
classic fixed-fractional rule), capped so the notional stays within ``leverage x budget``, then
floored to the instrument's lot. The Brain caps the result again against the phase's
allocation and every risk limit, so this is the phase's *wish*, never a guarantee.

The budget is the phase family's allocation (``PhaseContext.budget``, see ``Desk.budget``), so
``risk_fraction`` is a fraction of the capital the phase actually manages.
"""

from __future__ import annotations

from decimal import Decimal

from titan.core.instruments import Instrument, to_decimal

ZERO = Decimal(0)


def risk_qty(
    *,
    budget: Decimal,
    risk_fraction: float,
    entry: float,
    stop: float,
    leverage: float,
    instrument: Instrument | None,
) -> Decimal:
    """Base quantity (contracts for contract instruments) risking ``risk_fraction`` of
    ``budget`` between ``entry`` and ``stop``; zero when nothing sensible can be traded."""
    distance = abs(entry - stop)
    if budget <= 0 or distance <= 0 or entry <= 0 or risk_fraction <= 0:
        return ZERO
    b = float(budget)
    qty = risk_fraction * b / distance
    cap = leverage * b / entry
    qty = min(qty, cap)
    if instrument is None:
        return to_decimal(round(qty, 8))
    qty /= float(instrument.contract_size)
    q = instrument.round_qty(to_decimal(qty))
    if instrument.check_order(q, to_decimal(entry)) is not None:
        return ZERO
    return q
