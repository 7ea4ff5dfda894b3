"""What a directional phase needs besides its signal: its budget, whether an order of its own
is still working, and the reduce-only intents that take a position off.

Shared by Scavenger and Hunter. Everything is read through the phase's ``PortfolioView``, so a
phase's notion of "in a trade" always agrees with the shadow state (fills, denials and
rejections included) instead of being a second bookkeeping of its own.
"""

from __future__ import annotations

from decimal import Decimal

from titan.core import events as ev
from titan.phases.base import Phase
from titan.phases.common.sizing import ZERO


class Desk(Phase):
    """A :class:`Phase` with position helpers (requires a bound context)."""

    def budget(self) -> Decimal:
        """The capital the phase sizes from: its family's allocation from the Brain (what every
        order is capped to anyway), or the account equity where no Brain allocates."""
        assert self.ctx is not None
        allocated = self.ctx.budget()
        return allocated if allocated is not None else self.ctx.view.equity()

    def working(self, instrument_id: str) -> bool:
        """True while any order of this phase on the instrument is not finished."""
        assert self.ctx is not None
        return any(True for _ in self.ctx.view.open_orders(self.owner, instrument_id))

    def reduce(self, instrument_id: str, fraction: float, tag: str) -> ev.OrderIntent | None:
        """A reduce-only market intent for ``fraction`` of the current position (floored to the
        lot; the whole position when the fraction is 1 or the remainder would be dust)."""
        qty = self.position(instrument_id)
        if qty == 0:
            return None
        size = abs(qty)
        if fraction < 1.0:
            part = size * Decimal(repr(fraction))
            inst = self.ctx.instruments.get(instrument_id) if self.ctx is not None else None
            if inst is not None:
                part = inst.round_qty(part)
                if part <= 0 or inst.check_order(size - part, None) is not None:
                    part = size
            size = part if part > ZERO else size
        side = ev.Side.SELL if qty > 0 else ev.Side.BUY
        return self.intent(instrument_id, side, size, reduce_only=True, tag=tag)

    def stray(self, instrument_id: str) -> ev.OrderIntent | None:
        """Close a position the phase has no setup for - one held from before a restart, or an
        orphaned entry that filled: a phase never holds risk it has no stop for."""
        if self.position(instrument_id) == 0 or self.working(instrument_id):
            return None
        return self.reduce(instrument_id, 1.0, "stray")
