"""The simulated venue's money: balances per currency and one net position per instrument.

It books fills, fees and funding the way the venues (and :mod:`titan.core.state`) do, in exact
``Decimal``, so paper-mode reconciliation can compare the two to the cent:

- spot: a buy adds base and spends quote (a sell the reverse); the fee is paid in quote;
- perpetuals/futures: a fill moves no balance except the fee; reducing the position realizes
  average-cost PnL into the settle currency; funding is paid into it as well.

Money is never rounded here: a fee is ``qty x price x contract size x rate`` exactly (instrument
prices and quantities have few digits, so the products are exact in Decimal's 28 digits).
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

from titan.core.instruments import Instrument

ZERO = Decimal(0)


class Holding:
    """A net average-cost position (signed quantity in order units) and what it earned."""

    __slots__ = ("quantity", "avg_price", "realized_pnl", "fees", "funding")

    def __init__(self) -> None:
        self.quantity = ZERO
        self.avg_price = ZERO
        self.realized_pnl = ZERO
        self.fees = ZERO
        self.funding = ZERO

    def trade(self, signed_qty: Decimal, price: Decimal, multiplier: Decimal) -> Decimal:
        """Add a signed quantity at ``price``; returns the PnL it realized (average cost)."""
        q0 = self.quantity
        q1 = q0 + signed_qty
        realized = ZERO
        if q0 == 0 or (q0 > 0) == (signed_qty > 0):
            self.avg_price = (self.avg_price * abs(q0) + price * abs(signed_qty)) / abs(q1)
        else:
            closed = min(abs(signed_qty), abs(q0))
            realized = (price - self.avg_price) * closed * multiplier
            if q0 < 0:
                realized = -realized
            if q1 == 0:
                self.avg_price = ZERO
            elif (q1 > 0) != (q0 > 0):  # flipped: the remainder opens at the fill price
                self.avg_price = price
        self.quantity = q1
        self.realized_pnl += realized
        return realized


class SimAccount:
    """Balances and positions of one simulated account."""

    def __init__(self, balances: Mapping[str, Decimal | int | str] | None = None) -> None:
        self.balances: dict[str, Decimal] = {}
        for currency, amount in (balances or {}).items():
            value = Decimal(str(amount)) if not isinstance(amount, Decimal) else amount
            if not value.is_finite() or value < 0:
                raise ValueError(f"balances[{currency!r}]: must be a finite amount >= 0, got {amount!r}")
            self.balances[currency] = value
        self.holdings: dict[str, Holding] = {}

    def balance(self, currency: str) -> Decimal:
        return self.balances.get(currency, ZERO)

    def holding(self, iid: str) -> Holding:
        h = self.holdings.get(iid)
        if h is None:
            h = self.holdings[iid] = Holding()
        return h

    def position(self, iid: str) -> Decimal:
        h = self.holdings.get(iid)
        return h.quantity if h is not None else ZERO

    def fill(self, inst: Instrument, signed_qty: Decimal, price: Decimal, fee: Decimal,
             fee_currency: str, iid: str = "") -> Decimal:
        """Book one execution; returns the realized PnL (reported, for spot, not booked).
        ``iid`` is ``inst.id`` if the caller has it at hand."""
        mult = inst.contract_size
        h = self.holding(iid or inst.id)
        realized = h.trade(signed_qty, price, mult)
        if inst.is_spot:
            self._add(inst.base, signed_qty * mult)
            self._add(inst.quote, -signed_qty * mult * price)
        elif realized:
            self._add(inst.settle_currency, realized)
        if fee:
            self._add(fee_currency, -fee)
            h.fees += fee
        return realized

    def fund(self, inst: Instrument, amount: Decimal) -> None:
        self._add(inst.settle_currency, amount)
        self.holding(inst.id).funding += amount

    def _add(self, currency: str, amount: Decimal) -> None:
        self.balances[currency] = self.balances.get(currency, ZERO) + amount
