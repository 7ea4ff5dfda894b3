"""Dispatch market and execution events to phases, collect their intents, isolate faults.

Routing tables are built once from each phase's declared streams, so a bar is a dictionary
lookup away from the hooks that want it. A hook that raises marks its phase DEGRADED (a
``PhaseStatusChanged`` event, and the exception handed to ``on_fault`` for the dead-letter store);
the other phases keep running and the degraded one receives nothing until ``resume``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Any

from titan.core import events as ev
from titan.core.events import PhaseStatus
from titan.phases.base import Phase, PhaseContext

log = logging.getLogger(__name__)

FaultHandler = Callable[[Phase, str, BaseException, Any], None]
Emit = Callable[[ev.Message], None]

_HOOK_OF_KIND = {
    "bar": "on_bar",
    "trade": "on_trade",
    "quote": "on_quote",
    "book": "on_book",
    "funding": "on_funding",
    "mark": "on_mark",
}


class PhaseRunner:
    """Owns the phases of one kernel: binding, routing, fault isolation, status."""

    def __init__(
        self,
        phases: Iterable[Phase],
        *,
        emit: Emit,
        on_fault: FaultHandler | None = None,
        clock=None,
    ) -> None:
        self.phases: dict[str, Phase] = {}
        for phase in phases:
            if phase.owner in self.phases:
                raise ValueError(f"two phases share the owner name {phase.owner!r}")
            self.phases[phase.owner] = phase
        self.status: dict[str, PhaseStatus] = {n: PhaseStatus.STARTING for n in self.phases}
        self.faults: dict[str, int] = {n: 0 for n in self.phases}
        self._emit = emit
        self._on_fault = on_fault
        self._clock = clock
        self._bars: dict[tuple[str, str], tuple[tuple[Phase, Callable], ...]] = {}
        self._by_kind: dict[str, dict[str, tuple[tuple[Phase, Callable], ...]]] = {
            k: {} for k in _HOOK_OF_KIND if k != "bar"
        }
        self._route()

    # --- wiring ---------------------------------------------------------------------------------

    def _route(self) -> None:
        bars: dict[tuple[str, str], list] = {}
        other: dict[str, dict[str, list]] = {k: {} for k in self._by_kind}
        for phase in self.phases.values():
            if self.status[phase.owner] in (PhaseStatus.DEGRADED, PhaseStatus.DISABLED):
                continue
            for stream in phase.subscriptions():
                hook = getattr(phase, _HOOK_OF_KIND[stream.kind])
                if stream.kind == "bar":
                    targets = bars.setdefault((stream.instrument_id, stream.timeframe or "1m"), [])
                else:
                    targets = other[stream.kind].setdefault(stream.instrument_id, [])
                if all(p is not phase for p, _ in targets):
                    targets.append((phase, hook))
        # updated in place: the kernel holds on to ``bar_routes`` for its hot path
        self._bars.clear()
        self._bars.update({k: tuple(v) for k, v in bars.items()})
        self._by_kind = {k: {i: tuple(v) for i, v in d.items()} for k, d in other.items()}

    def bind(self, make_context: Callable[[Phase], PhaseContext]) -> None:
        for phase in self.phases.values():
            phase.bind(make_context(phase))

    @property
    def bar_routes(self) -> dict[tuple[str, str], tuple[tuple[Phase, Callable], ...]]:
        """(instrument_id, timeframe) -> the (phase, on_bar) pairs that read those bars; the same
        dict object for the runner's lifetime (re-routing updates it in place)."""
        return self._bars

    def streams(self) -> set[tuple[str, str, str]]:
        """Every (kind, instrument_id, timeframe) some phase reads: what the feeds must supply."""
        return {
            (s.kind, s.instrument_id, s.timeframe or ("1m" if s.kind == "bar" else ""))
            for p in self.phases.values()
            for s in p.subscriptions()
        }

    def start(self) -> list[ev.OrderIntent]:
        intents: list[ev.OrderIntent] = []
        for name, phase in self.phases.items():
            if self.status[name] is PhaseStatus.DISABLED:
                continue
            self._set_status(name, PhaseStatus.RUNNING, "started")
            self._call(phase, "on_start", phase.on_start, None, intents)
        return intents

    def stop(self) -> list[ev.OrderIntent]:
        intents: list[ev.OrderIntent] = []
        for name, phase in self.phases.items():
            if self.status[name] is PhaseStatus.RUNNING:
                self._call(phase, "on_stop", phase.on_stop, None, intents)
        return intents

    # --- dispatch (hot path) --------------------------------------------------------------------

    def on_bar(self, bar: ev.Bar) -> list[ev.OrderIntent] | None:
        targets = self._bars.get((bar.instrument_id, bar.timeframe))
        if not targets:
            return None
        out: list[ev.OrderIntent] | None = None
        for phase, hook in targets:
            try:
                result = hook(bar)
            except Exception as e:  # noqa: BLE001 - a phase fault must not stop the kernel
                self._fault(phase, "on_bar", e, bar)
                continue
            if result:
                if out is None:
                    out = []
                self._collect(phase, result, out)
        return out

    def on_data(self, kind: str, event: ev.Data) -> list[ev.OrderIntent] | None:
        targets = self._by_kind[kind].get(event.instrument_id)
        if not targets:
            return None
        out: list[ev.OrderIntent] | None = None
        hook_name = _HOOK_OF_KIND[kind]
        for phase, hook in targets:
            try:
                result = hook(event)
            except Exception as e:  # noqa: BLE001
                self._fault(phase, hook_name, e, event)
                continue
            if result:
                if out is None:
                    out = []
                self._collect(phase, result, out)
        return out

    def on_timer(self, event: ev.TimeEvent) -> list[ev.OrderIntent]:
        owner, sep, name = event.name.partition(":")
        phase = self.phases.get(owner) if sep else None
        if phase is None or self.status[owner] is not PhaseStatus.RUNNING:
            return []
        local = ev.TimeEvent(name=name, ts_event=event.ts_event, ts_init=event.ts_init)
        out: list[ev.OrderIntent] = []
        self._call(phase, "on_timer", phase.on_timer, local, out)
        return out

    def on_order(self, owner: str, event: ev.Message) -> list[ev.OrderIntent]:
        phase = self.phases.get(owner)
        if phase is None or self.status[owner] is not PhaseStatus.RUNNING:
            return []
        out: list[ev.OrderIntent] = []
        self._call(phase, "on_order", phase.on_order, event, out)
        return out

    # --- status -----------------------------------------------------------------------------------

    def disable(self, owner: str, reason: str) -> None:
        if owner in self.phases:
            self._set_status(owner, PhaseStatus.DISABLED, reason)
            self._route()

    def resume(self, owner: str, reason: str = "resumed") -> None:
        if owner in self.phases and self.status[owner] is not PhaseStatus.RUNNING:
            self._set_status(owner, PhaseStatus.RUNNING, reason)
            self._route()

    def _set_status(self, owner: str, new: PhaseStatus, reason: str) -> None:
        old = self.status[owner]
        if old is new:
            return
        self.status[owner] = new
        now = self._clock.now_ns() if self._clock is not None else 0
        self._emit(ev.PhaseStatusChanged(phase=owner, old=old, new=new, reason=reason,
                                         ts_event=now, ts_init=now))

    # --- internals --------------------------------------------------------------------------------

    def _call(self, phase: Phase, hook_name: str, hook: Callable, arg: Any, out: list) -> None:
        try:
            result = hook() if arg is None and hook_name in ("on_start", "on_stop") else hook(arg)
        except Exception as e:  # noqa: BLE001
            self._fault(phase, hook_name, e, arg)
            return
        if result:
            self._collect(phase, result, out)

    def collect(self, phase: Phase, result: Any, out: list[ev.OrderIntent]) -> None:
        """Check a hook's result (intents of this phase only) and append it to ``out``."""
        self._collect(phase, result, out)

    def fault(self, phase: Phase, hook: str, error: BaseException, event: Any) -> None:
        """A hook raised: count it, hand it on, mark the phase DEGRADED."""
        self._fault(phase, hook, error, event)

    def _collect(self, phase: Phase, result: Any, out: list[ev.OrderIntent]) -> None:
        items = (result,) if isinstance(result, (ev.OrderIntent, ev.CancelIntent)) else result
        for intent in items:
            if intent is None:
                continue
            if not isinstance(intent, (ev.OrderIntent, ev.CancelIntent)):
                self._fault(phase, "intent", TypeError(
                    f"hook returned {type(intent).__name__}, expected OrderIntent or CancelIntent"),
                    None)
                return
            if intent.phase != phase.owner:
                self._fault(phase, "intent", ValueError(
                    f"intent owned by {intent.phase!r}, expected {phase.owner!r}"), intent)
                return
            out.append(intent)

    def _fault(self, phase: Phase, hook: str, error: BaseException, event: Any) -> None:
        owner = phase.owner
        self.faults[owner] += 1
        log.error("phase %s: %s raised %s: %s", owner, hook, type(error).__name__, error)
        if self._on_fault is not None:
            self._on_fault(phase, hook, error, event)
        if self.status[owner] is not PhaseStatus.DEGRADED:
            self._set_status(owner, PhaseStatus.DEGRADED, f"{hook} raised {type(error).__name__}: {error}")
            self._route()
