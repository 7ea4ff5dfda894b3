from __future__ import annotations

from decimal import Decimal

import pytest

from titan.core import events as ev
from titan.core.clock import SimClock
from titan.core.events import PhaseStatus
from titan.phases.base import Phase, Stream, bar_stream
from titan.phases.runner import PhaseRunner

IID = "BTC/USDT@sim"


def bar(close: float, ts: int = 60, iid: str = IID, tf: str = "1m") -> ev.Bar:
    return ev.Bar(instrument_id=iid, timeframe=tf, ts_open=ts - 60, ts_event=ts, ts_init=ts,
                  open=close, high=close, low=close, close=close, volume=1.0)


class Buyer(Phase):
    name = "buyer"
    streams = (bar_stream(IID),)

    def on_bar(self, b):
        return [self.buy(b.instrument_id, 1)]


class Crasher(Phase):
    name = "crasher"
    streams = (bar_stream(IID), Stream(kind="trade", instrument_id=IID))

    def on_bar(self, b):
        raise RuntimeError("bug in strategy")


class Impostor(Phase):
    name = "impostor"
    streams = (bar_stream(IID),)

    def on_bar(self, b):
        return [ev.OrderIntent(phase="buyer", instrument_id=IID, side=ev.Side.BUY,
                               quantity=Decimal(1))]


def make(*phases):
    events, faults = [], []
    runner = PhaseRunner(phases, emit=events.append,
                         on_fault=lambda p, h, e, evt: faults.append((p.owner, h, str(e))),
                         clock=SimClock())
    runner.start()
    return runner, events, faults


def test_faulting_phase_is_isolated_others_continue():
    runner, events, faults = make(Crasher(), Buyer())
    out = runner.on_bar(bar(100.0))
    assert [i.phase for i in out] == ["buyer"]
    assert faults == [("crasher", "on_bar", "bug in strategy")]
    assert runner.status["crasher"] is PhaseStatus.DEGRADED
    degraded = [e for e in events if e.new is PhaseStatus.DEGRADED]
    assert len(degraded) == 1 and "RuntimeError" in degraded[0].reason
    # degraded phase no longer receives data
    runner.on_bar(bar(101.0))
    assert len(faults) == 1
    runner.resume("crasher")
    runner.on_bar(bar(102.0))
    assert len(faults) == 2


def test_routing_by_instrument_and_timeframe():
    runner, _, _ = make(Buyer())
    assert runner.on_bar(bar(1.0, tf="5m")) is None
    assert runner.on_bar(bar(1.0, iid="ETH/USDT@sim")) is None
    assert len(runner.on_bar(bar(1.0))) == 1
    assert runner.streams() == {("bar", IID, "1m")}


def test_a_phase_cannot_spoof_another_owner():
    runner, _, faults = make(Impostor(), Buyer())
    out = runner.on_bar(bar(1.0))
    assert [i.phase for i in out] == ["buyer"]
    assert faults and faults[0][0] == "impostor" and "owned by 'buyer'" in faults[0][2]


def test_duplicate_owner_rejected():
    with pytest.raises(ValueError, match="owner name"):
        PhaseRunner([Buyer(), Buyer()], emit=print)


def test_timer_routed_to_owner_without_prefix():
    seen = []

    class Timed(Phase):
        name = "timed"

        def on_timer(self, e):
            seen.append(e.name)
            return [self.sell(IID, 2)]

    runner, _, _ = make(Timed())
    out = runner.on_timer(ev.TimeEvent(name="timed:rebalance", ts_event=5, ts_init=5))
    assert seen == ["rebalance"] and out[0].side is ev.Side.SELL
    assert runner.on_timer(ev.TimeEvent(name="other:x", ts_event=5, ts_init=5)) == []
