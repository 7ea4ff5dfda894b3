"""Money properties of the SimVenue under random order flow, every fill model, with funding.

- Balances reconcile: USDT == initial - spot notional traded - fees + perp realized PnL
  (recomputed here with exact fractions, average cost) + funding; BTC == initial + spot bought
  - sold, exactly; spot balances never go negative.
- Parity with Titan's shadow state (what paper-mode reconciliation compares): folding the same
  commands and venue events into ``ShadowState`` gives the venue's balances and positions to the
  last digit, open orders agree, and every order event is a legal transition (no anomalies).
"""

from __future__ import annotations

from decimal import Decimal as D
from fractions import Fraction

from hypothesis import given
from hypothesis import strategies as st

from tests.unit.execution.test_sim_data import MIN, PERP, SPOT, Loop
from titan.core import events as ev
from titan.core.instruments import InstrumentRegistry
from titan.core.state import ShadowState
from titan.execution.sim import FillModel

BUY, SELL = ev.Side.BUY, ev.Side.SELL
START = {"USDT": D(20_000), "BTC": D(2)}


@st.composite
def order_cmd(draw, n):
    inst = draw(st.sampled_from([PERP, SPOT]))
    otype = draw(st.sampled_from(list(ev.OrderType)))
    side = draw(st.sampled_from([BUY, SELL]))
    price = trigger = None
    if otype in (ev.OrderType.LIMIT, ev.OrderType.STOP_LIMIT):
        price = D(draw(st.integers(950, 1050))) / 10  # around 100
    if otype in (ev.OrderType.STOP_MARKET, ev.OrderType.STOP_LIMIT):
        trigger = D(draw(st.integers(950, 1050))) / 10
    return ev.SubmitOrder(
        ts_init=0, client_order_id=f"c{n}", phase=draw(st.sampled_from(["a", "b"])),
        instrument_id=inst.id, side=side, order_type=otype,
        quantity=D(draw(st.integers(1, 3000))) / 1000, price=price, trigger_price=trigger,
        post_only=otype is ev.OrderType.LIMIT and draw(st.booleans()),
        reduce_only=inst is PERP and draw(st.integers(0, 3)) == 0,
        time_in_force=draw(st.sampled_from(list(ev.TimeInForce))),
    )


@st.composite
def scenario(draw):
    """Per minute: a bar for each instrument, maybe funding, and a few commands."""
    steps, price, n = [], 100.0, 0
    for minute in range(1, draw(st.integers(2, 25))):
        o = price
        c = round(max(50.0, o + draw(st.integers(-30, 30)) / 10), 1)
        hi = max(o, c) + draw(st.integers(0, 20)) / 10
        lo = min(o, c) - draw(st.integers(0, 20)) / 10
        price = c
        funding = draw(st.none() | st.integers(-50, 50).map(lambda r: r / 100_000))
        cmds = []
        for _ in range(draw(st.integers(0, 3))):
            if n and draw(st.integers(0, 4)) == 0:
                cmds.append(ev.CancelOrder(ts_init=0, client_order_id=f"c{draw(st.integers(1, n))}",
                                           instrument_id=PERP.id))
            else:
                n += 1
                cmds.append(draw(order_cmd(n)))
        steps.append((minute, (o, hi, lo, c), funding, cmds))
    return steps


def play(steps, model, latency_min):
    loop = Loop([PERP, SPOT], balances=START, fill_model=model, latency_ns=latency_min * MIN,
                default_leverage=5)
    state = ShadowState(InstrumentRegistry([PERP, SPOT]))
    for cur, total in START.items():
        state.apply(ev.BalanceSet(ts_event=0, ts_init=0, venue="bybit", currency=cur, total=total))
    seen = 0
    for minute, (o, hi, lo, c), funding, cmds in steps:
        ts = minute * MIN
        data = [ev.Bar(instrument_id=i.id, ts_event=ts, ts_init=ts, timeframe="1m",
                       ts_open=ts - MIN, open=o, high=hi, low=lo, close=c, volume=1.0)
                for i in (PERP, SPOT)]
        if funding is not None:
            data.insert(0, ev.FundingRate(instrument_id=PERP.id, ts_event=ts, ts_init=ts,
                                          rate=funding))

        def kernel(evt, cmds=cmds, data=data):
            nonlocal seen
            for e in loop.events[seen:]:  # the kernel folds what the venue reported
                state.apply(e)
            seen = len(loop.events)
            if evt is data[-1]:
                for cmd in cmds:
                    state.apply(cmd)
                    if isinstance(cmd, ev.SubmitOrder):
                        loop.venue.submit(cmd)
                    else:
                        loop.venue.cancel(cmd)

        loop.run(data, kernel)
    # let commands still in flight (latency) land, on quiet bars
    last = steps[-1][0]
    loop.run([ev.Bar(instrument_id=PERP.id, ts_event=(last + k) * MIN, ts_init=0, timeframe="1m",
                     ts_open=(last + k - 1) * MIN, open=c, high=c, low=c, close=c, volume=1.0)
              for k in range(1, latency_min + 2)])
    for e in loop.events[seen:]:
        state.apply(e)
    return loop, state


def realized_oracle(fills: list[ev.OrderFilled]) -> Fraction:
    """Average-cost realized PnL of the perp, in exact fractions."""
    qty, avg, realized = Fraction(0), Fraction(0), Fraction(0)
    for f in fills:
        q = Fraction(f.last_qty) * (1 if f.side is BUY else -1)
        p = Fraction(f.last_price)
        if qty == 0 or (qty > 0) == (q > 0):
            avg = (avg * abs(qty) + p * abs(q)) / abs(qty + q)
        else:
            closed = min(abs(q), abs(qty))
            realized += (p - avg) * closed * (1 if qty > 0 else -1)
            if qty + q == 0:
                avg = Fraction(0)
            elif (qty + q > 0) != (qty > 0):
                avg = p
        qty += q
    return realized


@given(scenario(), st.sampled_from(list(FillModel)), st.integers(0, 2))
def test_balances_reconcile_and_match_the_shadow_state(steps, model, latency_min):
    loop, state = play(steps, model, latency_min)
    venue = loop.venue
    fills = loop.of(ev.OrderFilled)
    spot = [f for f in fills if f.instrument_id == SPOT.id]
    perp = [f for f in fills if f.instrument_id == PERP.id]
    signed = [(f.last_qty if f.side is BUY else -f.last_qty, f) for f in spot]
    fees = sum((f.fee for f in fills), D(0))
    funding = sum((p.amount for p in loop.of(ev.FundingPaid)), D(0))

    assert venue.balance("BTC") == START["BTC"] + sum((q for q, _ in signed), D(0))
    assert venue.balance("BTC") >= 0
    expected_usdt = (Fraction(START["USDT"]) - sum((Fraction(q * f.last_price) for q, f in signed), Fraction(0))
                     - Fraction(fees) + realized_oracle(perp) + Fraction(funding))
    assert abs(Fraction(venue.balance("USDT")) - expected_usdt) < Fraction(1, 10**12)
    assert venue.position(PERP.id) == sum(
        (f.last_qty if f.side is BUY else -f.last_qty for f in perp), D(0))

    snap = venue.snapshot()
    # Two races are noted by the state as anomalies, and only these: a cancel that reached the
    # venue after its order closed is answered OrderCancelRejected (cancel is idempotent), and
    # a stop that triggers while a cancel is on its way (the order table has no
    # PENDING_CANCEL + TRIGGER transition).
    late = {e.client_order_id for e in loop.of(ev.OrderCancelRejected)}
    assert all(not state.order(cid).is_open for cid in late)
    allowed = ("cannot take CANCEL_REJECT", "order in PENDING_CANCEL cannot take TRIGGER")
    assert all(a.endswith(allowed) for a in state.anomalies), list(state.anomalies)
    assert {c: state.balance(c, "bybit") for c in snap.balances} == snap.balances
    assert {p.instrument_id: p.quantity for p in snap.positions} == {
        p.instrument_id: p.quantity for p in state.net_positions("bybit") if p.instrument_id == PERP.id}
    assert {o.client_order_id for o in snap.open_orders} == {
        o.client_order_id for o in state.open_orders()}
