"""Netting: opposing orders of different owners on one instrument, in one tick, cross inside.

If Hunter buys 5 and Scavenger sells 3 in the same tick, sending both pays two fees and two
spreads for a net change of +2. Instead 3 cross internally (Scavenger's 3 move to Hunter at the
mark, an ``InternalCross``) and one order of 2 goes to the venue. Buyers and sellers are paired
in the order the intents arrived, so the result is deterministic. Orders of the same owner are
never crossed with each other.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from titan.core.events import Side

ZERO = Decimal(0)


def net(legs: Sequence[tuple[str, Side, Decimal]]) -> tuple[list[tuple[int, int, Decimal]], list[Decimal]]:
    """``legs`` are (owner, side, quantity) on one instrument. Returns the crosses as
    (buyer index, seller index, quantity) and each leg's residual quantity for the venue."""
    residual = [q for _, _, q in legs]
    crosses: list[tuple[int, int, Decimal]] = []
    buys = [i for i, (_, side, _) in enumerate(legs) if side is Side.BUY]
    sells = [i for i, (_, side, _) in enumerate(legs) if side is Side.SELL]
    for b in buys:
        for s in sells:
            if residual[b] <= 0:
                break
            if residual[s] <= 0 or legs[b][0] == legs[s][0]:
                continue
            q = min(residual[b], residual[s])
            residual[b] -= q
            residual[s] -= q
            crosses.append((b, s, q))
    return crosses, residual
