"""A full trading session for the built-in phase tests: the real Kernel, ShadowState, Brain and
SimVenue, fed by a plain loop that follows SimVenue's loop contract (titan/execution/sim.py).

Used until ``titan.backtest``'s runner can drive several instruments and streams; nothing here
decides anything - it only moves events between the real components.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal

from titan.brain.brain import Brain
from titan.config import TitanConfig
from titan.core import events as ev
from titan.core.clock import SimClock
from titan.core.ids import ClientOrderIds
from titan.core.instruments import Instrument, InstrumentRegistry
from titan.core.state import ShadowState
from titan.execution.sim import SimExecutionClient, SimVenue
from titan.kernel import Kernel
from titan.phases.base import Phase

NS_MIN = 60_000_000_000


@dataclass
class Session:
    kernel: Kernel
    state: ShadowState
    brain: Brain
    venue: SimVenue
    clock: SimClock
    cash: Decimal
    messages: list[ev.Message] = field(default_factory=list)

    @property
    def fills(self) -> list[ev.OrderFilled]:
        return [m for m in self.messages if isinstance(m, ev.OrderFilled)]

    @property
    def submits(self) -> list[ev.SubmitOrder]:
        return [m for m in self.messages if isinstance(m, ev.SubmitOrder)]

    @property
    def denials(self) -> list[ev.OrderDenied]:
        return [m for m in self.messages if isinstance(m, ev.OrderDenied)]

    def pnl(self, phase: str) -> Decimal:
        return self.state.phase_pnl(phase)


class _Journal:
    def __init__(self, out: list[ev.Message]) -> None:
        self.out = out

    def append(self, msg: ev.Message) -> int:
        self.out.append(msg)
        return len(self.out)


def run_session(phases: Iterable[Phase], events: Iterable[ev.Data], instruments: list[Instrument],
                *, cash: float | str = 10_000, config: TitanConfig | None = None,
                fill: str = "next_open", balances: dict[str, str] | None = None,
                leverage: float = 20, observe=None) -> Session:
    """Replay ``events`` (time-ordered) through the whole stack; returns the finished session.
    ``observe(session, event)`` runs after each event has gone through venue and kernel."""
    config = config or TitanConfig()
    registry = InstrumentRegistry(instruments)
    messages: list[ev.Message] = []
    events = iter(events)
    first = next(events)
    clock = SimClock(first.ts_event - NS_MIN)
    state = ShadowState(registry)
    brain = Brain(config, registry, state, ClientOrderIds("TST"))
    money = {"USDT": Decimal(str(cash)), **{k: Decimal(v) for k, v in (balances or {}).items()}}
    venue = SimVenue(instruments, clock=clock, balances=money, fill_model=fill,
                     default_leverage=leverage)
    kernel = Kernel(clock=clock, state=state, brain=brain, phases=list(phases),
                    clients={venue.venue: SimExecutionClient(venue)}, journal=_Journal(messages))
    venue.sink = kernel.on_exec
    now = clock.now_ns()
    for cur, total in money.items():
        kernel.on_system(ev.BalanceSet(venue=venue.venue, currency=cur, total=total,
                                       reason="initial cash", ts_event=now, ts_init=now))
    clock.set_timer("brain", brain.timer_interval_ns)
    kernel.start()
    session = Session(kernel, state, brain, venue, clock, money["USDT"], messages)
    for evt in _chain(first, events):
        for t in clock.advance_to(evt.ts_event):
            kernel.on_timer(t)
        venue.on_market(evt)
        kernel.on_market(evt)
        venue.process(evt.ts_event)
        if observe is not None:
            observe(session, evt)
    kernel.stop()
    return session


def _chain(first, rest):
    yield first
    yield from rest


# ---- data helpers ---------------------------------------------------------------------------

T0 = 1_735_689_600_000_000_000  # 2025-01-01 00:00 UTC


def bars(iid: str, rows: Iterable[tuple[float, float, float, float]], *, start: int = T0,
         tf: str = "1m", volume: float = 1.0) -> list[ev.Bar]:
    """Hand-built closed bars (open, high, low, close), one ``tf`` apart from ``start``."""
    from titan.feeds.bars import timeframe_ns

    step = timeframe_ns(tf)
    return [ev.Bar(instrument_id=iid, timeframe=tf, ts_open=start + i * step,
                   ts_event=start + (i + 1) * step, ts_init=start + (i + 1) * step,
                   open=o, high=h, low=lo, close=c, volume=volume)
            for i, (o, h, lo, c) in enumerate(rows)]
