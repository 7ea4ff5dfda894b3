"""Per-symbol setup state machines: Watch -> CloseWatch -> InTrade (seed 004 section 3).

A phase that trades setups (a level being approached, a trap arming, a position open) keeps one
:class:`SetupMachine` per symbol. Transitions follow a table; an illegal one raises; every state
can carry a timeout after which the machine falls back to IDLE on the next ``expire(now)``;
every change is kept in ``history`` so a decision can be explained afterwards.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum


class SetupState(str, Enum):
    IDLE = "IDLE"
    WATCH = "WATCH"
    CLOSE_WATCH = "CLOSE_WATCH"
    IN_TRADE = "IN_TRADE"


I, W, C, T = SetupState.IDLE, SetupState.WATCH, SetupState.CLOSE_WATCH, SetupState.IN_TRADE

ALLOWED: frozenset[tuple[SetupState, SetupState]] = frozenset({
    (I, W), (W, C), (C, W), (C, T), (W, T), (W, I), (C, I), (T, I),
})


class IllegalSetupTransition(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class SetupTransition:
    ts: int
    old: SetupState
    new: SetupState
    reason: str


@dataclass(slots=True)
class SetupMachine:
    """One symbol's setup. ``timeouts_ns`` maps a state to how long it may last (0 = forever)."""

    symbol: str
    timeouts_ns: dict[SetupState, int] = field(default_factory=dict)
    state: SetupState = SetupState.IDLE
    since: int = 0
    data: dict = field(default_factory=dict)
    history: list[SetupTransition] = field(default_factory=list)

    def to(self, new: SetupState, now: int, reason: str = "") -> None:
        if new is self.state:
            return
        if (self.state, new) not in ALLOWED:
            raise IllegalSetupTransition(
                f"{self.symbol}: {self.state.value} -> {new.value} is not allowed"
            )
        self.history.append(SetupTransition(now, self.state, new, reason))
        self.state = new
        self.since = now
        if new is SetupState.IDLE:
            self.data.clear()

    def expire(self, now: int) -> bool:
        """Fall back to IDLE if the current state outlived its timeout. True if it did.

        IN_TRADE never expires on its own: leaving a trade needs an exit, not a timer.
        """
        limit = self.timeouts_ns.get(self.state, 0)
        if limit and self.state is not SetupState.IN_TRADE and now - self.since >= limit:
            self.to(SetupState.IDLE, now, "timeout")
            return True
        return False


class SetupBook:
    """The machines of one phase, by symbol, sharing one timeout table."""

    def __init__(self, timeouts_ns: dict[SetupState, int] | None = None) -> None:
        self.timeouts_ns = dict(timeouts_ns or {})
        self._machines: dict[str, SetupMachine] = {}

    def __getitem__(self, symbol: str) -> SetupMachine:
        machine = self._machines.get(symbol)
        if machine is None:
            machine = SetupMachine(symbol, self.timeouts_ns)
            self._machines[symbol] = machine
        return machine

    def expire_all(self, now: int) -> list[str]:
        return [s for s, m in self._machines.items() if m.expire(now)]

    def in_state(self, state: SetupState) -> list[str]:
        return [s for s, m in self._machines.items() if m.state is state]
