"""The breakout trap's geometry: how near a level is, when a break is confirmed, where the
protective stop and the target go. Pure functions of prices and ATR, so each number can be
checked by hand.

A long trap on a level ``L`` above price (mirror for a short below price):
    trigger  = L + entry_buffer_atr x ATR      a close at or beyond it confirms the break
    chase    = L + max_chase_atr x ATR         a close beyond this is too late to enter
    stop     = L - stop_atr x ATR              back under the level: the break failed
    target   = entry + reward_risk x (entry - stop)
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class TrapPlan:
    side: int  # +1 long (break up), -1 short (break down)
    level: float
    kind: str
    entry: float
    stop: float
    target: float


def gap_atr(price: float, level: float, side: int, atr: float) -> float:
    """How many ATR ``price`` still is before ``level`` in the trap's direction (< 0: beyond)."""
    return (level - price) * side / atr


def confirm(*, side: int, level: float, kind: str, close: float, atr: float,
            entry_buffer_atr: float, max_chase_atr: float, stop_atr: float,
            reward_risk: float) -> TrapPlan | None:
    """The trade plan if ``close`` confirms the break without chasing it, else None."""
    beyond = (close - level) * side
    if beyond < entry_buffer_atr * atr or beyond > max_chase_atr * atr:
        return None
    stop = level - side * stop_atr * atr
    target = close + side * reward_risk * abs(close - stop)
    return TrapPlan(side=side, level=level, kind=kind, entry=close, stop=stop, target=target)
