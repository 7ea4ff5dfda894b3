"""The Brain inside the real kernel, in front of the simulated venue behind the policy guard:
the whole path from a phase's intent to a venue fill and back, with no stand-ins."""

from __future__ import annotations

from decimal import Decimal as D

from titan.brain.brain import Brain
from titan.config import TitanConfig, config_from_dict, policy_hash
from titan.core import events as ev
from titan.core.clock import SimClock
from titan.core.ids import ClientOrderIds
from titan.core.instruments import Instrument, InstrumentKind, InstrumentRegistry
from titan.core.state import ShadowState
from titan.execution.guard import PolicyGuard
from titan.execution.sim import SimExecutionClient, SimVenue
from titan.kernel import Kernel
from titan.phases.base import Phase

BTC = Instrument(symbol="BTC/USDT:USDT", venue="sim", base="BTC", quote="USDT", settle="USDT",
                 kind=InstrumentKind.PERPETUAL, tick_size=D("0.1"), lot_size=D("0.001"),
                 min_qty=D("0.001"))
MIN = 60_000_000_000
T0 = 1_700_006_400 * 1_000_000_000


class Buyer(Phase):
    """Buys 0.2 BTC whenever it is flat."""

    name = "buyer"
    family = "hunter"

    def on_bar(self, bar: ev.Bar):
        if self.position(bar.instrument_id) == 0:
            return [self.buy(bar.instrument_id, "0.2")]
        return None


def bar(i: int, close: float) -> ev.Bar:
    ts = T0 + i * MIN
    return ev.Bar(instrument_id=BTC.id, timeframe="1m", ts_open=ts - MIN, open=close, high=close,
                  low=close, close=close, volume=1.0, ts_event=ts, ts_init=ts)


def session(cfg: TitanConfig, stamped_with: TitanConfig | None = None):
    """(kernel, venue, brain, events seen by the kernel)."""
    clock = SimClock(T0)
    reg = InstrumentRegistry([BTC])
    state = ShadowState(reg)
    seen: list[ev.Message] = []
    brain = Brain(cfg, reg, state, ClientOrderIds("TTN"), owners={"buyer": "hunter"},
                  policy_hash=policy_hash(stamped_with or cfg))
    clients: dict = {}
    kernel = Kernel(clock=clock, state=state, brain=brain, clients=clients,
                    phases=[Buyer(instruments=[BTC.id])])

    def sink(e: ev.Message) -> None:
        seen.append(e)
        kernel.on_exec(e)

    venue = SimVenue([BTC], clock=clock, balances={"USDT": D(10_000)}, default_leverage=10)
    clients["sim"] = PolicyGuard(SimExecutionClient(venue, sink), policy_hash(cfg), sink,
                                 clock.now_ns)
    kernel.on_system(ev.BalanceSet(venue="sim", currency="USDT", total=D(10_000), ts_event=T0,
                                   ts_init=T0))
    kernel.start()
    return clock, kernel, venue, brain, seen


def run(clock, kernel, venue, closes) -> None:
    first = (clock.now_ns() - T0) // MIN + 1  # one bar per minute, after the last one
    for i, close in enumerate(closes, start=first):
        b = bar(i, close)
        for t in clock.advance_to(b.ts_event):
            kernel.on_timer(t)
        venue.on_market(b)
        kernel.on_market(b)
        venue.process(b.ts_event)


def test_a_crash_is_flattened_at_the_venue():
    clock, kernel, venue, brain, seen = session(TitanConfig())
    run(clock, kernel, venue, [50_000.0, 50_100.0, 50_200.0])
    assert venue.position(BTC.id) == D("0.2") and kernel.state.position_qty(BTC.id, "buyer") == D("0.2")
    run(clock, kernel, venue, [41_000.0])  # -1,840 on 10,000: beyond the 15 % rule
    assert brain.emergency and brain.breaker is ev.BreakerState.HALTED
    run(clock, kernel, venue, [41_000.0, 41_500.0])  # the close fills; the phase stays disabled
    assert venue.position(BTC.id) == 0 and kernel.state.position_qty(BTC.id) == 0
    assert kernel.runner.status["buyer"] is ev.PhaseStatus.DISABLED
    kernel.command(brain.resume("reviewed", clock.now_ns()))
    assert kernel.runner.status["buyer"] is ev.PhaseStatus.RUNNING
    run(clock, kernel, venue, [41_600.0, 41_700.0])
    assert venue.position(BTC.id) == D("0.2")  # trading again under the new baseline


def test_orders_stamped_under_another_policy_never_reach_the_venue():
    stale = config_from_dict({"brain": {"max_total_leverage": 40}})
    clock, kernel, venue, brain, seen = session(TitanConfig(), stamped_with=stale)
    run(clock, kernel, venue, [50_000.0, 50_100.0, 50_200.0])
    rejected = [e for e in seen if isinstance(e, ev.OrderRejected)]
    assert rejected and all(e.kind is ev.ErrorKind.POLICY for e in rejected)
    assert venue.position(BTC.id) == 0 and not brain.emergency  # policy is not a venue error
