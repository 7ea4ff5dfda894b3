"""The kernel with its real collaborators: ShadowState, Brain, SimVenue behind its client, the
EventLog in memory. Phases written here observe what the kernel promises (state before phases,
fills before the owner's hook, every decision journaled, faults isolated)."""

from __future__ import annotations

import logging
from decimal import Decimal as D

import pytest

from titan.brain.brain import Brain
from titan.config import TitanConfig
from titan.core import events as ev
from titan.core.clock import SimClock
from titan.core.eventlog import EventLog
from titan.core.ids import ClientOrderIds
from titan.core.instruments import Instrument, InstrumentKind, InstrumentRegistry
from titan.core.state import ShadowState
from titan.execution.sim import SimExecutionClient, SimVenue
from titan.kernel import BRAIN_TIMER, Kernel
from titan.phases.base import Phase, bar_stream


BTC = Instrument(symbol="BTC/USDT:USDT", venue="sim", base="BTC", quote="USDT", settle="USDT",
                 kind=InstrumentKind.PERPETUAL, tick_size=D("0.1"), lot_size=D("0.001"))
ETH = Instrument(symbol="ETH/USDT:USDT", venue="elsewhere", base="ETH", quote="USDT", settle="USDT",
                 kind=InstrumentKind.PERPETUAL, tick_size=D("0.01"), lot_size=D("0.01"))
T0 = 1_700_006_400 * 1_000_000_000
MIN = 60_000_000_000


class DeadLetters:
    def __init__(self) -> None:
        self.items: list[tuple[str, str]] = []

    def record(self, event, handler, error):
        self.items.append((handler, type(error).__name__))


class World:
    def __init__(self, *phases: Phase) -> None:
        self.clock = SimClock(T0)
        reg = InstrumentRegistry([BTC, ETH])
        self.state = ShadowState(reg)
        self.brain = Brain(TitanConfig(), reg, self.state, ClientOrderIds(), owners={p.owner: "hunter" for p in phases})
        self.venue = SimVenue([BTC], clock=self.clock, balances={"USDT": D(10_000)}, default_leverage=5)
        self.log = EventLog.memory()
        self.dead = DeadLetters()
        self.kernel = Kernel(clock=self.clock, state=self.state, brain=self.brain, phases=phases,
                             clients={"sim": SimExecutionClient(self.venue)}, journal=self.log,
                             dead_letters=self.dead)
        self.venue.sink = self.kernel.on_exec
        self.kernel.on_system(ev.BalanceSet(venue="sim", currency="USDT", total=D(10_000), ts_event=T0, ts_init=T0))
        self.kernel.start()
        self.n = 0

    def bar(self, close: float, iid: str = BTC.id) -> ev.Bar:
        self.n += 1
        ts = T0 + self.n * MIN
        b = ev.Bar(instrument_id=iid, timeframe="1m", ts_open=ts - MIN, ts_event=ts, ts_init=ts,
                   open=close, high=close, low=close, close=close, volume=1.0)
        for te in self.clock.advance_to(ts):
            self.kernel.on_timer(te)
        self.venue.on_market(b)
        self.kernel.on_market(b)
        self.venue.process(ts)
        return b

    def journal(self) -> list[str]:
        return [type(e.msg).__name__ for e in self.log.entries()]


class Trader(Phase):
    """Buys 0.01 at the given bar counts; records what it saw of the state."""

    name = "trader"

    def __init__(self, buy_at=(), iid: str = BTC.id, **kw):
        super().__init__(instruments=[iid], **kw)
        self.buy_at = set(buy_at)
        self.n = 0
        self.marks: list[tuple[float, D | None]] = []
        self.orders: list[tuple[str, D]] = []
        self.timers: list[str] = []

    def on_bar(self, bar):
        self.n += 1
        self.marks.append((bar.close, self.ctx.view.mark(bar.instrument_id)))
        if self.n in self.buy_at:
            return [self.buy(bar.instrument_id, "0.01")]
        return None

    def on_order(self, event):
        self.orders.append((type(event).__name__, self.position(BTC.id)))
        return None

    def on_timer(self, event):
        self.timers.append(event.name)
        return None


def test_state_is_marked_before_the_phases_see_the_bar():
    t = Trader()
    w = World(t)
    for px in (100.0, 101.5, 99.0):
        w.bar(px)
    assert [(c, float(m)) for c, m in t.marks] == [(100.0, 100.0), (101.5, 101.5), (99.0, 99.0)]


def test_an_intent_becomes_a_journaled_decision_an_order_and_a_fill_the_owner_sees():
    t = Trader(buy_at=[2])
    w = World(t)
    w.bar(100.0)
    trigger = w.bar(101.0)
    assert w.journal()[-5:] == ["Bar", "OrderApproved", "SubmitOrder", "OrderAccepted", "OrderFilled"]
    assert next(e.msg for e in w.log.entries() if type(e.msg).__name__ == "Bar") == trigger
    # the fill reached the state before the owner's hook: it already sees its position
    assert t.orders == [("OrderAccepted", D(0)), ("OrderFilled", D("0.01"))]
    assert w.state.position_qty(BTC.id, "trader") == D("0.01") == w.venue.position(BTC.id)
    assert w.kernel.counters == {"market": 2, "intents": 1, "submitted": 1, "denied": 0, "canceled": 0, "exec": 2}


class Crasher(Phase):
    name = "crasher"
    streams = (bar_stream(BTC.id),)

    def on_bar(self, bar):
        raise ZeroDivisionError("bug")


def test_a_faulting_phase_is_degraded_journaled_and_the_others_trade_on():
    t = Trader(buy_at=[3])
    w = World(Crasher(), t)
    for px in (100.0, 100.0, 100.0):
        w.bar(px)
    assert w.kernel.runner.status["crasher"] is ev.PhaseStatus.DEGRADED
    assert w.dead.items == [("crasher.on_bar", "ZeroDivisionError")]
    changes = [e.msg for e in w.log.entries() if isinstance(e.msg, ev.PhaseStatusChanged)]
    assert [(c.phase, c.new) for c in changes][-1] == ("crasher", ev.PhaseStatus.DEGRADED)
    assert w.venue.position(BTC.id) == D("0.01")


def test_a_denial_is_an_event_the_owner_receives():
    t = Trader(buy_at=[1])
    w = World(t)
    w.kernel.command(w.brain.halt("test", w.clock.now_ns()))
    w.bar(100.0)
    assert w.journal()[-2:] == ["Bar", "OrderDenied"]
    assert t.orders == [("OrderDenied", D(0))] and w.kernel.denied == 1 and w.venue.position(BTC.id) == 0


def test_an_order_for_a_venue_without_client_is_rejected_locally():
    t = Trader(buy_at=[1], iid=ETH.id)
    w = World(t)
    w.bar(2000.0, ETH.id)
    (order,) = list(w.state.orders())
    assert order.status.name == "REJECTED" and w.journal()[-2:] == ["SubmitOrder", "OrderRejected"]


def test_the_brain_has_its_own_timer_and_phase_timers_reach_only_their_phase():
    t = Trader()
    w = World(t)
    assert BRAIN_TIMER in w.clock.timer_names()
    t.ctx.set_timer("tick", 2 * MIN)
    w.kernel.on_timer(ev.TimeEvent(name=BRAIN_TIMER, ts_event=T0 + MIN, ts_init=T0 + MIN))
    assert t.timers == []
    for _ in range(4):
        w.bar(100.0)
    assert t.timers == ["tick", "tick"]
    w.kernel.stop()
    assert BRAIN_TIMER not in w.clock.timer_names()


def test_an_emergency_flatten_closes_positions_and_disables_the_phases():
    t = Trader(buy_at=[1])
    w = World(t)
    w.bar(100.0)
    w.kernel.command(w.brain.flatten("operator test", w.clock.now_ns()))
    w.venue.process(w.clock.now_ns())
    assert w.kernel.runner.status["trader"] is ev.PhaseStatus.DISABLED
    assert w.venue.position(BTC.id) == 0 and w.state.position_qty(BTC.id) == 0
    w.bar(100.0)
    assert t.n == 1  # a disabled phase receives nothing


def test_listeners_on_the_bus_see_data_and_order_events():
    t = Trader(buy_at=[1])
    w = World(t)
    seen: list[str] = []
    w.kernel.bus.subscribe("data.bar.*", lambda e: seen.append("bar"))
    w.kernel.bus.subscribe("events.order.*", lambda e: seen.append(type(e).__name__))
    w.bar(100.0)
    assert seen == ["bar", "OrderAccepted", "OrderFilled"]


@pytest.mark.parametrize("cls", [ev.Trade, ev.Quote])
def test_other_market_data_routes_to_its_hook(cls):
    got = []

    class Ticks(Phase):
        name = "ticks"
        streams = (bar_stream(BTC.id),)

        def subscriptions(self):
            from titan.phases.base import Stream

            return (Stream(kind="trade", instrument_id=BTC.id), Stream(kind="quote", instrument_id=BTC.id))

        def on_trade(self, e):
            got.append(("trade", float(self.ctx.view.mark(BTC.id))))

        def on_quote(self, e):
            got.append(("quote", float(self.ctx.view.mark(BTC.id))))

    w = World(Ticks())
    if cls is ev.Trade:
        e = ev.Trade(instrument_id=BTC.id, price=50.0, size=1.0, aggressor=ev.Side.BUY, ts_event=T0, ts_init=T0)
    else:
        e = ev.Quote(instrument_id=BTC.id, bid=49.0, bid_size=1.0, ask=51.0, ask_size=1.0, ts_event=T0, ts_init=T0)
    w.kernel.on_market(e)
    assert got == [("trade" if cls is ev.Trade else "quote", 50.0)] and w.kernel.market_events == 1


class Quoter(Phase):
    """Rests a far limit buy on bar 1, cancels it on bar 3, and tries to cancel a foreign id."""

    name = "quoter"

    def __init__(self, **kw):
        super().__init__(instruments=[BTC.id], **kw)
        self.n = 0
        self.seen: list[str] = []

    def on_bar(self, bar):
        self.n += 1
        if self.n == 1:
            return [self.buy(bar.instrument_id, "0.01", price=bar.close * 0.97)]
        if self.n == 3:
            mine = [o.client_order_id for o in self.open_orders(bar.instrument_id)]
            return [self.cancel(cid, reason="stale") for cid in mine] + [self.cancel("TTN-xxx-0000000999")]
        return None

    def on_order(self, event):
        self.seen.append(type(event).__name__)


def test_phase_cancels_its_own_resting_order_through_the_brain():
    q = Quoter()
    w = World(q)
    for close in (100.0, 101.0, 102.0, 103.0):
        w.bar(close)
    assert "OrderAccepted" in q.seen and q.seen[-1] == "OrderCanceled"
    assert list(w.state.open_orders("quoter")) == []
    names = w.journal()
    assert names.count("CancelOrder") == 1  # the foreign id was not turned into a cancel
    assert "AlertRaised" in names


class Advisor(Phase):
    name = "advisor"
    family = "ai_quant"

    def __init__(self, **kw):
        super().__init__(instruments=[BTC.id], **kw)
        self.bars = 0
        self.budgets: list = []

    def on_bar(self, bar):
        self.bars += 1
        self.budgets.append(self.ctx.budget())


def test_emergency_flatten_spares_advisory_phases_and_resume_spares_degraded_ones():
    t, a = Trader(buy_at=[1]), Advisor()
    w = World(t, a)
    w.bar(100.0)
    w.kernel.runner.fault(t, "on_bar", RuntimeError("x"), None)  # trader DEGRADED by a fault
    w.kernel.command(w.brain.flatten("operator test", w.clock.now_ns()))
    assert w.kernel.runner.status["advisor"] is ev.PhaseStatus.RUNNING
    w.bar(100.0)
    assert a.bars == 2
    w.kernel.command(w.brain.resume("operator", w.clock.now_ns()))
    assert w.kernel.runner.status["trader"] is ev.PhaseStatus.DEGRADED


def test_phases_see_their_family_budget():
    a = Advisor()
    w = World(a)
    w.bar(100.0)
    assert a.budgets[-1] == w.brain.allocations.get("ai_quant")
    t = Trader()
    w2 = World(t)
    w2.bar(100.0)
    assert t.ctx.budget() == w2.brain.allocations["hunter"] and t.ctx.budget() > 0
