"""PolicyGuard in front of the real simulated venue client: a command stamped with another
risk policy's hash never reaches the venue; cancels always do."""

from __future__ import annotations

import asyncio
from decimal import Decimal as D

import pytest

from titan.config import TitanConfig, config_from_dict, policy_hash
from titan.core import events as ev
from titan.core.clock import SimClock
from titan.core.instruments import Instrument, InstrumentKind
from titan.execution.client import ExecutionClient
from titan.execution.guard import PolicyGuard
from titan.execution.sim import SimExecutionClient, SimVenue

PERP = Instrument(symbol="BTC/USDT:USDT", venue="sim", base="BTC", quote="USDT", settle="USDT",
                  kind=InstrumentKind.PERPETUAL, tick_size=D("0.1"), lot_size=D("0.001"))
LOADED = policy_hash(TitanConfig())
STALE = policy_hash(config_from_dict({"brain": {"max_total_leverage": 60}}))


def setup():
    clock = SimClock(1_000)
    events: list[ev.Message] = []
    venue = SimVenue([PERP], clock=clock, balances={"USDT": D(100_000)}, default_leverage=10)
    client = SimExecutionClient(venue, events.append)
    guard = PolicyGuard(client, LOADED, events.append, clock.now_ns)
    venue.on_market(ev.Trade(instrument_id=PERP.id, price=50_000.0, size=1.0,
                             aggressor=ev.Side.BUY, ts_event=1_000, ts_init=1_000))
    return clock, venue, guard, events


def order(cid: str, h: str, **kw) -> ev.SubmitOrder:
    kw.setdefault("order_type", ev.OrderType.MARKET)
    return ev.SubmitOrder(client_order_id=cid, phase="hunter", instrument_id=PERP.id,
                          side=ev.Side.BUY, quantity=D("0.01"), policy_hash=h, ts_init=1_000, **kw)


def test_matching_hash_reaches_the_venue():
    clock, venue, guard, events = setup()
    guard.submit(order("A", LOADED))
    venue.process(clock.now_ns())
    assert any(isinstance(e, ev.OrderFilled) and e.client_order_id == "A" for e in events)
    assert venue.position(PERP.id) == D("0.01") and guard.rejected == 0


@pytest.mark.parametrize("h", [STALE, "", "f" * 64])
def test_other_hash_is_rejected_as_policy_and_never_sent(h):
    clock, venue, guard, events = setup()
    guard.submit(order("B", h))
    venue.process(clock.now_ns())
    assert venue.position(PERP.id) == 0 and venue.open_orders() == []
    (rej,) = events
    assert isinstance(rej, ev.OrderRejected) and rej.client_order_id == "B"
    assert rej.kind is ev.ErrorKind.POLICY and "differs from the loaded risk policy" in rej.reason
    assert LOADED[:12] in rej.reason and "\n" not in rej.reason
    assert guard.rejected == 1


def test_cancels_always_pass():
    clock, venue, guard, events = setup()
    guard.submit(order("C", LOADED, order_type=ev.OrderType.LIMIT, price=D("40000")))
    venue.process(clock.now_ns())
    assert venue.open_orders() == ["C"]
    guard.cancel(ev.CancelOrder(client_order_id="C", instrument_id=PERP.id, ts_init=1_000))
    venue.process(clock.now_ns())
    assert venue.open_orders() == [] and any(isinstance(e, ev.OrderCanceled) for e in events)


def test_the_guard_is_an_execution_client_and_delegates_the_rest():
    clock, venue, guard, events = setup()
    assert isinstance(guard, ExecutionClient) and guard.venue == "sim"
    snap = asyncio.run(guard.snapshot())
    assert snap.venue == "sim"
    guard.cancel_all(ev.CancelAllOrders(ts_init=1_000))  # beyond the protocol: the wrapped client's
    with pytest.raises(ValueError, match="policy_hash"):
        PolicyGuard(guard.inner, "", events.append, clock.now_ns)
