"""The circuit breaker: NORMAL -> DEFENSIVE -> HALTED as a transition table.

DEFENSIVE scales order sizes down and tightens leverage caps; HALTED admits only reduce-only
orders and cancels. A pair (state, trigger) that is not in the table changes nothing (a second
HALT while halted is not an error), so the table alone says how the breaker can move - in
particular, HALTED is left only by RESUME, which the operator (or a UTC day rollover after a
daily-loss halt) fires. Every change is a :class:`BreakerChanged` event carrying its reason.
"""

from __future__ import annotations

from enum import StrEnum

from titan.core.events import BreakerChanged, BreakerState


class Trigger(StrEnum):
    ELEVATE = "elevate"  # a risk condition appeared: tail risk, a phase escalated its drawdown
    CALM = "calm"  # no risk condition is left
    HALT = "halt"  # operator, daily loss budget, emergency flatten
    RESUME = "resume"  # operator, or the day rolled over a daily-loss halt


N, D, H = BreakerState.NORMAL, BreakerState.DEFENSIVE, BreakerState.HALTED
T = Trigger

TRANSITIONS: dict[tuple[BreakerState, Trigger], BreakerState] = {
    (N, T.ELEVATE): D,
    (N, T.HALT): H,
    (D, T.CALM): N,
    (D, T.HALT): H,
    (D, T.RESUME): N,
    (H, T.RESUME): N,
}


def next_state(state: BreakerState, trigger: Trigger) -> BreakerState:
    """The state after ``trigger``; unchanged when the table has no entry."""
    return TRANSITIONS.get((state, trigger), state)


class Breaker:
    """The current breaker state and why it is there."""

    __slots__ = ("state", "reason", "cause")

    def __init__(self) -> None:
        self.state = BreakerState.NORMAL
        self.reason = ""
        self.cause = ""  # short key of what halted it: "operator", "daily_loss", "emergency"

    @property
    def halted(self) -> bool:
        return self.state is BreakerState.HALTED

    @property
    def defensive(self) -> bool:
        return self.state is BreakerState.DEFENSIVE

    def fire(
        self, trigger: Trigger, reason: str, now_ns: int, *, cause: str = ""
    ) -> BreakerChanged | None:
        """Apply ``trigger``; the event when the state changed, else None."""
        new = next_state(self.state, trigger)
        if new is self.state:
            return None
        old, self.state, self.reason = self.state, new, reason
        self.cause = cause if new is BreakerState.HALTED else ""
        return BreakerChanged(old=old, new=new, reason=reason, ts_event=now_ns, ts_init=now_ns)
