"""The synchronous kernel: the one piece of code that runs a trading session, live or simulated.

Market event -> state -> bus -> phases -> Brain (marks) -> intents -> Brain (decide) -> orders
-> client.
Execution event -> state -> Brain -> the owning phase.
Timer -> the owning phase, or the Brain (its own timer, ``BRAIN_TIMER``).

No ``await`` anywhere: ``LiveRunner`` (uvloop) and ``BacktestRunner`` (a plain loop) only feed
it, so a backtest and a live session execute the same lines. The order of the steps is plain
code, not handler priorities; the bus is only for listeners (dashboard, recorders).

Every decision is logged: the market event that produced intents, the Brain's OrderApproved /
OrderDenied with its checks, the commands and every execution event - which is what
``titan explain`` walks back. Market data that produced nothing is not logged.

``on_bar`` is the hot path of a backtest (millions of calls): no allocation when nothing
happens, no bus work without subscribers, counters are plain ints.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Protocol

from titan.core import events as ev
from titan.core.bus import MessageBus
from titan.core.clock import Clock
from titan.core.instruments import split_instrument_id
from titan.core.state import ShadowState
from titan.phases.base import Phase, PhaseContext
from titan.phases.runner import PhaseRunner

log = logging.getLogger(__name__)

BRAIN_TIMER = "@brain"  # no phase owner starts with "@", so it never reaches a phase
ADVISORY = frozenset({"ai_quant"})  # phase families that never size positions


class BrainPort(Protocol):
    def decide(self, intents: Sequence[ev.OrderIntent], now_ns: int) -> list[ev.Message]: ...
    def on_event(self, event: ev.Message, now_ns: int) -> list[ev.Message]: ...
    def on_market(self, event: ev.Data, now_ns: int) -> list[ev.Message]: ...
    def on_timer(self, now_ns: int) -> list[ev.Message]: ...


class ClientPort(Protocol):
    def submit(self, cmd: ev.SubmitOrder) -> None: ...
    def cancel(self, cmd: ev.CancelOrder) -> None: ...


class JournalPort(Protocol):
    def append(self, msg: ev.Message) -> int: ...


class DeadLetterPort(Protocol):
    def record(self, event: Any, handler: str, error: BaseException) -> None: ...


class Kernel:
    """Wires state, phases, Brain and venue clients; every entry point is a plain method."""

    def __init__(
        self,
        *,
        clock: Clock,
        state: ShadowState,
        brain: BrainPort,
        phases: Iterable[Phase],
        clients: dict[str, ClientPort],
        bus: MessageBus | None = None,
        journal: JournalPort | None = None,
        dead_letters: DeadLetterPort | None = None,
    ) -> None:
        self.clock = clock
        self.state = state
        self.brain = brain
        self.bus = bus or MessageBus()
        self.clients = clients
        self.journal = journal
        self.dead_letters = dead_letters
        self.runner = PhaseRunner(phases, emit=self._system, on_fault=self._phase_fault, clock=clock)
        self.runner.bind(self._context)
        # phases that override on_order: the base hook returns nothing, so events for the
        # others need not reach the runner at all
        self._order_listeners = frozenset(
            owner for owner, phase in self.runner.phases.items()
            if getattr(getattr(phase, "on_order", None), "__func__", None) is not Phase.on_order)
        self.market_events = 0
        self.intents = 0
        self.submitted = 0
        self.denied = 0
        self.canceled = 0
        self.commands = 0  # submits + cancels handed to clients: a runner's cheap "anything sent?"
        self.exec_events = 0
        self._append: Callable[[ev.Message], int] | None = journal.append if journal else None
        self._apply = state.apply
        self._apply_bar = getattr(state, "apply_bar", state.apply)
        self._now = clock.now_ns
        self._subs = self.bus._subs  # the bus's pattern table: empty means nobody listens
        self._topics: dict[tuple[type, str], str] = {}
        self._bar_routes = self.runner.bar_routes
        self._brain_market = brain.on_market
        # instruments the Brain's on_market acts on (a live dict), if it says: skip the others
        self._watch: dict | None = getattr(brain, "market_watch", None)
        self._brain_event = brain.on_event
        self._venues: dict[str, str | None] = {}  # instrument id -> venue (None: malformed id)
        self._market = {
            ev.Bar: self.on_bar,
            ev.Trade: self._dispatcher("trade"),
            ev.Quote: self._dispatcher("quote"),
            ev.BookDelta: self._dispatcher("book"),
            ev.FundingRate: self._dispatcher("funding"),
            ev.MarkPrice: self._dispatcher("mark"),
        }
        self.started = False

    def _context(self, phase: Phase) -> PhaseContext:
        family = phase.family

        def budget():
            allocations = getattr(self.brain, "allocations", None)
            return allocations.get(family) if allocations else None

        return PhaseContext(phase.owner, self.clock, self.state, self.state.instruments,
                            emit=self.on_system, budget=budget)

    @property
    def counters(self) -> dict[str, int]:
        return {
            "market": self.market_events, "intents": self.intents, "submitted": self.submitted,
            "denied": self.denied, "canceled": self.canceled, "exec": self.exec_events,
        }

    # ---- lifecycle ------------------------------------------------------------------------------

    def start(self) -> None:
        """Start the Brain's timer and the phases (their ``on_start`` intents are decided at once)."""
        self.started = True
        interval = int(getattr(self.brain, "timer_interval_ns", 0) or 0)
        if interval > 0:
            self.clock.set_timer(BRAIN_TIMER, interval)
        intents = self.runner.start()
        if intents:
            self._decide(intents, None)

    def stop(self) -> None:
        intents = self.runner.stop()
        if intents:
            self._decide(intents, None)
        self.clock.cancel_timer(BRAIN_TIMER)
        self.started = False

    # ---- market data (hot path) -----------------------------------------------------------------

    def on_market(self, event: ev.Data) -> None:
        """One market event: state, listeners, phases, then the Brain on the collected intents."""
        handler = self._market.get(event.__class__)
        if handler is None:
            self.market_events += 1
            self._apply(event)
            if self._subs:
                self._publish(event)
            out = self._brain_market(event, self._now())
            if out:
                self._dispatch(out)
            return
        handler(event)

    def on_bar(self, bar: ev.Bar) -> None:
        """``on_market`` for a bar, callable directly by a runner that knows the type.

        The phases' dispatch is ``PhaseRunner.on_bar`` inlined (one call less per bar); faults
        and results still go through the runner."""
        self.market_events += 1
        self._apply_bar(bar)
        if self._subs:
            self._publish(bar)
        intents = None
        targets = self._bar_routes.get((bar.instrument_id, bar.timeframe))
        if targets is not None:
            for phase, hook in targets:
                try:
                    result = hook(bar)
                except Exception as e:  # noqa: BLE001 - a phase fault must not stop the kernel
                    self.runner.fault(phase, "on_bar", e, bar)
                    continue
                if result:
                    if intents is None:
                        intents = []
                    self.runner.collect(phase, result, intents)
        watch = self._watch
        if watch is None or bar.instrument_id in watch:
            out = self._brain_market(bar, self._now())
            if out:
                self._dispatch(out)
        if intents:
            self._decide(intents, bar)

    def _dispatcher(self, kind: str) -> Callable[[ev.Data], None]:
        on_data = self.runner.on_data

        def handle(event: ev.Data) -> None:
            self.market_events += 1
            self._apply(event)
            if self._subs:
                self._publish(event)
            intents = on_data(kind, event)
            watch = self._watch
            if watch is None or event.instrument_id in watch:
                out = self._brain_market(event, self._now())
                if out:
                    self._dispatch(out)
            if intents:
                self._decide(intents, event)

        return handle

    def _publish(self, event: ev.Message) -> None:
        key = (event.__class__, getattr(event, "instrument_id", ""))
        topic = self._topics.get(key)
        if topic is None:
            topic = f"data.{event.__class__.__name__.lower()}.{key[1]}" if key[1] else (
                f"events.{event.__class__.__name__}")
            self._topics[key] = topic
        self.bus.publish(topic, event)

    def _topic(self, prefix: str, event: ev.Message) -> str:
        key = (event.__class__, prefix)
        topic = self._topics.get(key)
        if topic is None:
            topic = self._topics[key] = f"{prefix}.{event.__class__.__name__}"
        return topic

    # ---- execution events -----------------------------------------------------------------------

    def on_exec(self, event: ev.Message) -> None:
        """An execution event from a venue client: state, then Brain, then the owning phase."""
        self.exec_events += 1
        if self._append is not None:
            self._append(event)
        self._apply(event)
        if self._subs:
            self.bus.publish(self._topic("events.order", event), event)
        out = self._brain_event(event, self._now())
        if out:
            self._dispatch(out)
        if self._order_listeners:
            owner = self._owner(event)
            if owner in self._order_listeners:
                intents = self.runner.on_order(owner, event)
                if intents:
                    self._decide(intents, None)

    def on_system(self, event: ev.Message) -> None:
        """A system event from outside the kernel (balances, feed health, truth score, regime)."""
        if self._append is not None:
            self._append(event)
        self._apply(event)
        if self._subs:
            self.bus.publish(self._topic("events.system", event), event)
        out = self.brain.on_event(event, self._now())
        if out:
            self._dispatch(out)

    def _owner(self, event: ev.Message) -> str:
        cid = getattr(event, "client_order_id", "")
        if not cid:
            return ""
        order = self.state.order(cid)
        return order.phase if order is not None else ""

    # ---- timers ---------------------------------------------------------------------------------

    def on_timer(self, event: ev.TimeEvent) -> None:
        """A due timer: the Brain's own (``BRAIN_TIMER``) or a phase's (``owner:name``)."""
        if event.name == BRAIN_TIMER:
            out = self.brain.on_timer(event.ts_event)
            if out:
                self._dispatch(out)
            return
        intents = self.runner.on_timer(event)
        if intents:
            self._decide(intents, None)

    # ---- operator -------------------------------------------------------------------------------

    def command(self, messages: Sequence[ev.Message]) -> None:
        """Route Brain output produced outside a tick (operator halt/flatten/resume)."""
        self._dispatch(messages)

    # ---- decisions and commands -----------------------------------------------------------------

    def _decide(self, intents: list[ev.OrderIntent], trigger: ev.Message | None) -> None:
        self.intents += len(intents)
        if trigger is not None and self._append is not None:
            self._append(trigger)  # the market event behind the intents, for `titan explain`
        self._dispatch(self.brain.decide(intents, self._now()))

    def _dispatch(self, messages: Sequence[ev.Message]) -> None:
        append = self._append
        for msg in messages:
            cls = msg.__class__
            if cls is ev.SubmitOrder:
                self._submit(msg)
                continue
            if cls is ev.CancelOrder:
                self._cancel(msg)
                continue
            if append is not None:
                append(msg)
            self._apply(msg)
            if cls is ev.OrderDenied:
                self.denied += 1
                if self._subs:
                    self.bus.publish("events.decision.denied", msg)
                if msg.phase in self._order_listeners:
                    intents = self.runner.on_order(msg.phase, msg)
                    if intents:
                        log.warning("phase %s answered a denial with new intents; ignored",
                                    msg.phase)
            elif cls is ev.OrderApproved:
                if self._subs:
                    self.bus.publish("events.decision.approved", msg)
            else:
                self._on_brain_event(msg)

    def _submit(self, cmd: ev.SubmitOrder) -> None:
        client = self._client(cmd.instrument_id)
        if self._append is not None:
            self._append(cmd)
        self._apply(cmd)
        self.submitted += 1
        self.commands += 1
        if client is None:
            self._reject_locally(cmd.client_order_id, f"no client for {cmd.instrument_id}")
            return
        client.submit(cmd)

    def _cancel(self, cmd: ev.CancelOrder) -> None:
        client = self._client(cmd.instrument_id)
        if self._append is not None:
            self._append(cmd)
        self._apply(cmd)
        self.canceled += 1
        self.commands += 1
        if client is not None:
            client.cancel(cmd)

    def _client(self, instrument_id: str) -> ClientPort | None:
        try:
            venue = self._venues[instrument_id]
        except KeyError:
            try:
                venue = split_instrument_id(instrument_id)[1]
            except ValueError:
                venue = None
            if len(self._venues) < 100_000:
                self._venues[instrument_id] = venue
        return self.clients.get(venue) if venue is not None else None

    def _reject_locally(self, client_order_id: str, reason: str) -> None:
        now = self._now()
        self.on_exec(ev.OrderRejected(client_order_id=client_order_id, reason=reason,
                                      kind=ev.ErrorKind.INVALID_ORDER, ts_event=now, ts_init=now))

    def _on_brain_event(self, msg: ev.Message) -> None:
        cls = msg.__class__
        if self._subs:
            self.bus.publish(self._topic("events.system", msg), msg)
        if cls is ev.EmergencyFlatten:
            for owner, phase in list(self.runner.phases.items()):
                # advisory phases keep reporting the regime; a DEGRADED phase already gets nothing
                if (phase.family not in ADVISORY
                        and self.runner.status[owner] is not ev.PhaseStatus.DEGRADED):
                    self.runner.disable(owner, f"emergency flatten: {msg.reason}")
        elif cls is ev.PhaseStatusChanged and msg.phase in self.runner.phases:
            if msg.new is ev.PhaseStatus.DISABLED:
                self.runner.disable(msg.phase, msg.reason)
            elif (msg.new is ev.PhaseStatus.RUNNING
                  and self.runner.status[msg.phase] is ev.PhaseStatus.DISABLED):
                # a phase DEGRADED by its own fault stays down until resumed by name
                self.runner.resume(msg.phase, msg.reason)

    # ---- faults -----------------------------------------------------------------------------------

    def _system(self, event: ev.Message) -> None:
        """Events raised by the phase runner (status changes)."""
        if self._append is not None:
            self._append(event)
        if self._subs:
            self.bus.publish(self._topic("events.system", event), event)

    def _phase_fault(self, phase: Phase, hook: str, error: BaseException, event: Any) -> None:
        if self.dead_letters is not None:
            self.dead_letters.record(event, f"{phase.owner}.{hook}", error)
