"""Read-only views of Titan's state, as the Brain and the phases see it.

``ShadowState`` (``titan.core.state``) implements :class:`PortfolioView`; the Brain and the
phases depend only on this protocol, never on the mutable state itself. Money is ``Decimal``.
Quantities are signed (> 0 long, < 0 short) and in base units (contracts x contract size is the
state's job). "Phase" is the owner tag carried by every order (a built-in phase or a strategy).
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import Protocol

from titan.core.orders import Order


class PositionView(Protocol):
    instrument_id: str
    phase: str
    quantity: Decimal  # signed
    avg_price: Decimal
    realized_pnl: Decimal


class PortfolioView(Protocol):
    def equity(self) -> Decimal:
        """Balances in the account currency plus unrealized PnL at the last marks."""

    def balance(self, currency: str) -> Decimal: ...

    def mark(self, instrument_id: str) -> Decimal | None:
        """Last known price of the instrument (mark price for perpetuals), or None."""

    def mark_ts(self, instrument_id: str) -> int:
        """``ts_event`` of that mark, 0 if none."""

    def position_qty(self, instrument_id: str, phase: str | None = None) -> Decimal:
        """Net signed quantity for the instrument, overall or for one phase."""

    def positions(self, phase: str | None = None) -> Iterable[PositionView]:
        """Non-flat positions, per (instrument, phase), or only those of one phase."""

    def open_orders(
        self, phase: str | None = None, instrument_id: str | None = None
    ) -> Iterable[Order]: ...

    def phase_pnl(self, phase: str) -> Decimal:
        """Cumulative realized + unrealized PnL of a phase, net of fees and funding."""

    def gross_exposure(self, phase: str | None = None) -> Decimal:
        """Sum of |quantity x mark| over positions (account currency)."""
