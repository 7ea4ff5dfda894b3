"""Restart = replay + reconcile, against the simulated venue (which outlives the "crash").

A session trades through the durable client into a SQLite event log; then the process "dies":
from that moment nothing reaches the log, while the venue keeps going (fills, cancels, an order
placed by hand). A fresh process replays the file, asks the venue and must end up agreeing with
it exactly - or refuse to trade and say why.
"""

from __future__ import annotations

import asyncio
from decimal import Decimal

from titan.core import events as ev
from titan.core.clock import SimClock
from titan.core.eventlog import EventLog, read_log
from titan.core.ids import ClientOrderIds
from titan.core.instruments import Instrument, InstrumentKind, InstrumentRegistry
from titan.core.state import EXTERNAL_PHASE, ShadowState
from titan.execution.client import VenueSnapshot
from titan.execution.durable import DurableExecutionClient
from titan.execution.reconcile import ReconcilePolicy
from titan.execution.recovery import recover, replay_into
from titan.execution.sim import SimExecutionClient, SimVenue

PERP = Instrument(symbol="BTC/USDT:USDT", venue="sim", base="BTC", quote="USDT", settle="USDT",
                  kind=InstrumentKind.PERPETUAL, tick_size=Decimal("0.1"),
                  lot_size=Decimal("0.001"), taker_fee=Decimal("0.00055"),
                  maker_fee=Decimal("0.0002"), max_leverage=Decimal(50))
SPOT = Instrument(symbol="ETH/USDT", venue="sim", base="ETH", quote="USDT",
                  tick_size=Decimal("0.01"), lot_size=Decimal("0.0001"),
                  taker_fee=Decimal("0.001"), maker_fee=Decimal("0.001"))
REGISTRY = InstrumentRegistry([PERP, SPOT])


def bar(iid: str, ts: int, price: float) -> ev.Bar:
    return ev.Bar(instrument_id=iid, ts_event=ts, ts_init=ts, timeframe="1m", ts_open=ts - 60,
                  open=price, high=price, low=price, close=price, volume=10.0)


class Process:
    """One life of Titan: log, state, ids and the durable client in front of the venue."""

    def __init__(self, path, sim: SimVenue, clock: SimClock) -> None:
        self.log = EventLog(path, flush_interval_ms=5)
        self.state = ShadowState(REGISTRY)
        self.ids = ClientOrderIds()
        self.clock = clock
        self.sim = sim
        self.alive = True
        self.client = DurableExecutionClient(SimExecutionClient(sim, self.on_exec), self.log,
                                             self.on_exec, now_ns=clock.now_ns)

    def on_exec(self, e: ev.Message) -> None:  # what the kernel does with venue events
        if self.alive:
            self.log.append(e)
            self.state.apply(e)

    async def boot(self, policy="cancel"):
        await self.log.open()
        await self.client.start()
        return await recover(eventlog=self.log, state=self.state, ids=self.ids,
                             clients={"sim": self.client},
                             policy=ReconcilePolicy(unknown_orders=policy),
                             now_ns=self.clock.now_ns)

    def order(self, iid, side, qty, price=None, phase="hunter") -> str:
        cmd = ev.SubmitOrder(
            client_order_id=self.ids.next(phase), phase=phase, instrument_id=iid, side=side,
            order_type=ev.OrderType.LIMIT if price else ev.OrderType.MARKET,
            quantity=Decimal(qty), price=Decimal(price) if price else None,
            ts_init=self.clock.now_ns())
        self.log.append(cmd)
        self.state.apply(cmd)
        self.client.submit(cmd)
        return cmd.client_order_id

    def cancel(self, cid, iid) -> None:
        cmd = ev.CancelOrder(client_order_id=cid, instrument_id=iid, ts_init=self.clock.now_ns())
        self.log.append(cmd)
        self.state.apply(cmd)
        self.client.cancel(cmd)

    async def step(self, ts: int, prices: dict[str, float]) -> None:
        """Hand queued commands to the venue, then let one minute of market pass."""
        while self.client.queued:
            await asyncio.sleep(0.002)
        self.clock.advance_to(ts)
        for iid, p in prices.items():
            self.sim.on_market(bar(iid, ts, p))
        self.sim.process(ts)

    async def die(self) -> None:
        await self.log.flush()
        self.alive = False
        self.client._pump.cancel()  # SIGKILL: the pump dies with the process

    async def shutdown(self) -> None:
        await self.client.stop()
        await self.log.close()


def agrees_with(state: ShadowState, snap: VenueSnapshot) -> None:
    venue_pos = {p.instrument_id: p.quantity for p in snap.positions}
    assert state.position_qty(PERP.id) == venue_pos.get(PERP.id, Decimal(0))
    ours = {c: v for (_, c), v in state.balances("sim").items() if v}
    assert ours == {c: v for c, v in snap.balances.items() if v}
    assert {o.client_order_id for o in state.open_orders()} == {
        o.client_order_id for o in snap.open_orders}
    for o in snap.open_orders:
        assert state.order(o.client_order_id).filled_qty == o.filled_qty


def test_restart_after_a_crash_replays_reconciles_and_agrees_with_the_venue(tmp_path):
    path = tmp_path / "titan.sqlite"
    clock = SimClock(start_ns=60_000_000_000)
    sim = SimVenue([PERP, SPOT], clock=clock, balances={"USDT": 100_000}, default_leverage=10)
    sim.sink = lambda e: None

    async def first_life():
        p = Process(path, sim, clock)
        first = await p.boot()  # empty log: the venue's cash is adopted
        t = 120_000_000_000
        await p.step(t, {PERP.id: 30000.0, SPOT.id: 2000.0})
        p.order(PERP.id, ev.Side.BUY, "0.010")
        p.order(SPOT.id, ev.Side.BUY, "1.5", phase="scavenger")
        resting = p.order(PERP.id, ev.Side.BUY, "0.005", price="29000")
        far = p.order(PERP.id, ev.Side.SELL, "0.004", price="35000")
        await p.step(t + 60_000_000_000, {PERP.id: 30100.0, SPOT.id: 2010.0})
        live = p.state.clone()
        await p.die()
        # after the crash the venue keeps going: the resting buy fills, a cancel that was
        # logged but never sent is lost, a market order logged just before death executes
        lost = p.order(PERP.id, ev.Side.SELL, "0.003")  # durable, then the process dies
        await p.log.flush()
        return first, live, resting, far, lost

    first, live, resting, far, lost = asyncio.run(first_life())
    assert first.ready and first.corrections >= 1  # USDT balance set from the venue

    # the lost order reached the venue in its last moment; the resting buy fills at 28900
    sim.submit(_logged(path, lost))
    clock.advance_to(240_000_000_000)
    sim.on_market(bar(PERP.id, 240_000_000_000, 28900.0))
    sim.process(240_000_000_000)
    sim.submit(ev.SubmitOrder(client_order_id="BY-HAND-1", phase="", instrument_id=PERP.id,
                              side=ev.Side.SELL, order_type=ev.OrderType.LIMIT,
                              quantity=Decimal("0.002"), price=Decimal("40000"), ts_init=1))
    sim.process(240_000_000_000)
    truth = sim.snapshot()
    assert {o.client_order_id for o in truth.open_orders} == {far, "BY-HAND-1"}

    async def second_life():
        p = Process(path, sim, clock)
        report = await p.boot()
        await p.step(300_000_000_000, {PERP.id: 28900.0})  # the policy's cancel reaches the venue
        await p.log.flush()
        state, ids = p.state, p.ids
        await p.shutdown()
        return report, state, ids

    report, state, ids = asyncio.run(second_life())
    assert report.ready, report.reason
    kinds = sorted(d.kind for d in report.results[0].discrepancies)
    assert kinds.count("missing_fill") == 2  # the resting buy and the lost market sell
    assert "unknown_order" in kinds
    assert report.results[0].commands[0].client_order_id == "BY-HAND-1"
    # ids continue after the highest in the log
    assert ids.next_seq == 6
    # the hand-placed order was adopted and then canceled at the venue by policy
    assert state.order("BY-HAND-1").phase == EXTERNAL_PHASE
    after = sim.snapshot()
    assert {o.client_order_id for o in after.open_orders} == {far}
    agrees_with(state, after)
    # the file alone rebuilds exactly this state
    rebuilt = ShadowState(REGISTRY)
    replay_into(path, rebuilt)
    assert rebuilt == state
    assert live.position_qty(PERP.id) == Decimal("0.010")  # before the crash
    assert state.position_qty(PERP.id) == Decimal("0.012")  # 0.010 + 0.005 - 0.003


def _logged(path, cid: str) -> ev.SubmitOrder:
    """The command exactly as the log holds it (it was durable before the process died)."""
    return next(e.msg for e in read_log(path)
                if isinstance(e.msg, ev.SubmitOrder) and e.msg.client_order_id == cid)


def test_a_venue_that_cannot_be_asked_means_not_ready(tmp_path):
    """The real ccxt client pointed at a port where nothing listens."""
    from titan.config import Credentials, ExecutionSection, Secret, VenueConfig
    from titan.execution.ccxt_client import CcxtExecutionClient

    async def main():
        log = EventLog(tmp_path / "t.sqlite")
        await log.open()
        client = CcxtExecutionClient(
            "bybit", credentials=Credentials(venue="bybit", api_key=Secret("key-0123456789"),
                                             secret=Secret("secret-0123456789")),
            config=VenueConfig(enabled=True, rest_url="http://127.0.0.1:9",
                               ws_url="ws://127.0.0.1:9"),
            execution=ExecutionSection(max_retries=0), sink=lambda e: None,
            enable_ccxt_rate_limit=False)
        try:
            report = await recover(eventlog=log, state=ShadowState(REGISTRY),
                                   ids=ClientOrderIds(), clients={"bybit": client},
                                   policy=ReconcilePolicy())
        finally:
            await client.stop()
            await log.close()
        return report

    report = asyncio.run(main())
    assert not report.ready and not report.results
    assert report.reason.startswith("bybit: snapshot failed (ExchangeNotAvailable"), report.reason


def test_periodic_reconciliation_leaves_orders_in_flight_alone_and_repairs_lost_reports():
    from titan.config import StateSection
    from titan.execution.recovery import PeriodicReconciler

    clock = SimClock(start_ns=60 * 10**9)
    sim = SimVenue([PERP], clock=clock, balances={"USDT": 100_000}, default_leverage=10,
                   latency_ns=2 * 10**9)
    state = ShadowState(REGISTRY)
    lost: list[ev.Message] = []

    def sink(e: ev.Message) -> None:  # the private stream drops every fill
        (lost.append if isinstance(e, ev.OrderFilled) else state.apply)(e)

    client = SimExecutionClient(sim, sink)
    emitted: list[ev.Message] = []
    sent: list[list[ev.Message]] = []

    def on_event(e: ev.Message) -> None:
        emitted.append(e)
        state.apply(e)

    policy = ReconcilePolicy.from_config(StateSection(inflight_timeout_s=30), startup=False)
    periodic = PeriodicReconciler(state, {"sim": client}, policy, on_event=on_event,
                                  on_command=sent.append, now_ns=clock.now_ns)
    sim.on_market(bar(PERP.id, clock.now_ns(), 30000.0))
    asyncio.run(periodic.run_once())  # adopts the venue's cash
    assert state.balance("USDT") == Decimal(100_000)

    cmd = ev.SubmitOrder(client_order_id="TTN-hun-0000000001", phase="hunter",
                         instrument_id=PERP.id, side=ev.Side.BUY, order_type=ev.OrderType.MARKET,
                         quantity=Decimal("0.010"), ts_init=clock.now_ns())
    state.apply(cmd)
    client.submit(cmd)  # takes 2 s to reach the venue
    (first,) = asyncio.run(periodic.run_once())
    assert first.ok and first.deferred == (PERP.id,)
    assert not [d for d in first.discrepancies if d.kind == "not_at_venue"]  # not canceled
    assert state.order(cmd.client_order_id).is_open

    clock.advance_to(clock.now_ns() + 3 * 10**9)
    sim.on_market(bar(PERP.id, clock.now_ns(), 30010.0))
    sim.process(clock.now_ns())
    assert len(lost) == 1 and state.position_qty(PERP.id) == 0  # the fill never arrived
    (still_recent,) = asyncio.run(periodic.run_once())
    # a fill the venue lists is booked at once (trade ids make a late copy harmless) ...
    assert [d.kind for d in still_recent.discrepancies] == ["missing_fill"]
    assert state.position_qty(PERP.id) == sim.position(PERP.id) == Decimal("0.010")
    # ... but positions, balances and working orders of a busy instrument wait
    assert still_recent.deferred == (PERP.id,)
    for e in lost:  # the stream's copy finally arrives
        state.apply(e)
    assert state.position_qty(PERP.id) == Decimal("0.010")

    clock.advance_to(clock.now_ns() + 31 * 10**9)  # activity is now older than the window
    (settled,) = asyncio.run(periodic.run_once())
    assert settled.ok and not settled.deferred and not settled.discrepancies
    assert state.balance("USDT") == sim.balance("USDT")
    assert not sent and isinstance(emitted[-1], ev.ReconciliationCompleted)
