"""Execution algorithms: exact slice sums, timing, the Almgren-Chriss trajectory, the driver on
a SimClock, and children filled through the simulated venue."""

from __future__ import annotations

import math
from decimal import Decimal as D

import pytest
from hypothesis import given
from hypothesis import strategies as st

from titan.core import events as ev
from titan.core.clock import SimClock
from titan.execution.algos import (
    NS,
    ExecAlgo,
    Slice,
    ac_trajectory,
    almgren_chriss,
    intraday_profile,
    split,
    twap,
    vwap,
)

from .test_sim_data import MIN, PERP, Loop, bybit_bars

LOTS = st.sampled_from([D("1"), D("0.1"), D("0.001"), D("0.00001")])


@given(st.integers(1, 10**6), LOTS, st.lists(st.floats(0, 1e6, allow_nan=False), min_size=1,
                                               max_size=40).filter(lambda w: sum(w) > 0),
       st.integers(0, 50))
def test_split_sums_exactly_and_tracks_the_cumulative_target(units, lot, weights, min_units):
    total, min_qty = units * lot, min_units * lot
    parts = split(total, weights, lot, min_qty)
    assert sum(parts, D(0)) == total and len(parts) == len(weights)
    assert all(p >= 0 and p % lot == 0 for p in parts)
    nonzero = [p for p in parts if p]
    if total >= min_qty:
        assert all(p >= min_qty for p in nonzero)
    if not min_units:  # without merging, every prefix is within one lot of its ideal share
        run, acc, grand = D(0), 0.0, math.fsum(weights)
        for p, w in zip(parts, weights, strict=True):
            run += p
            acc += w
            assert abs(float(run) - float(total) * acc / grand) <= float(lot) * (1 + 1e-9)


def test_twap_carries_the_remainder_and_spaces_slices_evenly():
    sched = twap(D("1.000"), 0, 3 * MIN, 3, D("0.001"))
    assert sched == (Slice(ts_ns=0, quantity=D("0.333")), Slice(ts_ns=MIN, quantity=D("0.333")),
                     Slice(ts_ns=2 * MIN, quantity=D("0.334")))


def test_twap_below_the_minimum_merges_forward():
    sched = twap(D("0.010"), 0, 10 * MIN, 10, D("0.001"), min_qty=D("0.003"))
    assert [s.quantity for s in sched] == [D("0.003"), D("0.003"), D("0.004")]
    assert [s.ts_ns // MIN for s in sched] == [2, 5, 8]  # the last carry joins the last slice


def test_vwap_follows_the_real_intraday_volume_profile():
    bars = bybit_bars()
    start = bars[60].ts_open  # 01:00 UTC
    profile = intraday_profile(bars, start, start + 60 * MIN, 4)
    expected = [sum(b.volume for b in bars[60 + 15 * k: 75 + 15 * k]) for k in range(4)]
    assert profile == pytest.approx(expected)
    sched = vwap(D("2.000"), start, start + 60 * MIN, profile, D("0.001"))
    assert sum(s.quantity for s in sched) == D("2.000")
    shares = [float(s.quantity) / 2 for s in sched]
    assert shares == pytest.approx([v / sum(expected) for v in expected], abs=0.001)
    assert vwap(D(5), 0, 4, [0, 1, 0, 1], D(1)) == (Slice(ts_ns=1, quantity=D(2)),
                                                    Slice(ts_ns=3, quantity=D(3)))


# ---- Almgren-Chriss ----------------------------------------------------------------------------


@given(st.floats(0, 1e-3), st.floats(0.01, 50), st.floats(1e-4, 1), st.floats(0, 0.9),
       st.integers(2, 60), st.floats(1, 600))
def test_ac_trajectory_solves_the_discrete_optimality_equation(lam, sigma, eta, g, n, tau):
    gamma = g * 2 * eta / tau  # permanent impact small enough that eta~ > 0
    x = ac_trajectory(10.0, n, tau, risk_aversion=lam, volatility=sigma, eta=eta, gamma=gamma)
    assert x[0] == pytest.approx(10.0) and x[-1] == pytest.approx(0.0, abs=1e-9)
    # Almgren-Chriss (2000), eq. for the optimal strategy: the second difference of the
    # holdings is proportional to the holdings, with factor tau^2 lambda sigma^2 / eta~.
    k2 = tau * tau * lam * sigma * sigma / (eta - gamma * tau / 2)
    for j in range(1, n):
        second = x[j - 1] - 2 * x[j] + x[j + 1]
        assert second == pytest.approx(k2 * x[j], rel=1e-6, abs=1e-9)
    assert all(a >= b for a, b in zip(x, x[1:], strict=False))  # a sale never buys back


def test_ac_closed_form_values_and_limits():
    # kappa from cosh(kappa tau) = 1 + tau^2 lambda sigma^2 / (2 eta): 1 + 1*1e-6*100/(2*0.01)
    x = ac_trajectory(1.0, 4, 1.0, risk_aversion=1e-6, volatility=10.0, eta=0.01)
    kappa = math.acosh(1.005)
    assert x == pytest.approx([math.sinh(kappa * (4 - j)) / math.sinh(4 * kappa) for j in range(5)])
    assert ac_trajectory(2.0, 4, 1.0, risk_aversion=0, volatility=1, eta=1) == [2.0, 1.5, 1.0, 0.5, 0.0]


def test_almgren_chriss_schedule_front_loads_with_risk_aversion_and_sums_exactly():
    kw = dict(volatility=20.0, eta=0.05, gamma=0.0)
    lot = D("0.001")
    neutral = almgren_chriss(D("3.000"), 0, 10 * MIN, 10, lot, risk_aversion=0.0, **kw)
    assert neutral == twap(D("3.000"), 0, 10 * MIN, 10, lot)
    averse = almgren_chriss(D("3.000"), 0, 10 * MIN, 10, lot, risk_aversion=1e-6, **kw)
    assert sum(s.quantity for s in averse) == D("3.000")
    qty = [s.quantity for s in averse]
    assert qty == sorted(qty, reverse=True) and qty[0] > qty[-1] * 2
    x = ac_trajectory(3.0, 10, 60.0, risk_aversion=1e-6, **kw)
    done = D(0)
    for j, s in enumerate(averse, start=1):  # within a lot of the closed form at every step
        done += s.quantity
        assert abs(float(done) - (3.0 - x[j])) <= 0.001 + 1e-9


# ---- the driver --------------------------------------------------------------------------------


def parent(qty: str = "0.010") -> ev.OrderIntent:
    return ev.OrderIntent(phase="hunter", instrument_id=PERP.id, side=ev.Side.BUY,
                          quantity=D(qty), tag="entry")


def test_driver_releases_children_on_the_clock_alerts():
    clock = SimClock(0)
    algo = ExecAlgo(parent(), twap(D("0.010"), MIN, 5 * MIN, 4, D("0.001")), name="twap1")
    algo.start(clock)
    assert clock.timer_names() == ["algo:twap1"]
    children = []
    for t in range(1, 7):
        for evt in clock.advance_to(t * MIN):
            children += [(c.ts_init // MIN, c.quantity, c.tag) for c in algo.on_timer(evt)]
    assert children == [(1, D("0.002"), "entry/twap1#1"), (2, D("0.003"), "entry/twap1#2"),
                        (3, D("0.002"), "entry/twap1#3"), (4, D("0.003"), "entry/twap1#4")]
    assert algo.done and algo.remaining == 0 and clock.timer_names() == []
    assert algo.on_timer(ev.TimeEvent(name="other", ts_event=0, ts_init=0)) == []


def test_driver_merges_overdue_slices_and_stop_returns_the_rest():
    clock = SimClock(0)
    algo = ExecAlgo(parent(), twap(D("0.010"), 0, 10 * MIN, 10, D("0.001")), name="a")
    algo.start(clock)
    (first,) = [c for e in clock.advance_to(0) for c in algo.on_timer(e)]
    assert first.quantity == D("0.001")
    (late,) = algo.due(3 * MIN + 1)  # three slices fell due while nobody looked
    assert late.quantity == D("0.003")
    assert algo.stop() == D("0.006") and algo.done and clock.timer_names() == []


def test_driver_refuses_a_schedule_that_does_not_add_up():
    with pytest.raises(ValueError, match="sums to 0.009, the parent wants 0.010"):
        ExecAlgo(parent(), twap(D("0.009"), 0, MIN, 3, D("0.001")), name="x")


def test_children_go_through_the_same_client_and_fill_the_parent():
    """A VWAP parent sliced over an hour of real bars; every child becomes an order (here the
    Brain's part is a plain conversion) on the SimVenue, and the fills add up to the parent."""
    bars = bybit_bars()[60:121]
    start = bars[0].ts_event
    profile = intraday_profile(bybit_bars(), start, start + 60 * MIN, 6)
    algo = ExecAlgo(parent("0.500"), vwap(D("0.500"), start, start + 60 * MIN, profile,
                                           D("0.001")), name="vw")
    loop = Loop([PERP], start_ns=start - MIN, balances={"USDT": D(100_000)}, fill_model="next_open")
    algo.start(loop.clock)
    n = [0]

    def on_timer(t):
        for child in algo.on_timer(t):
            n[0] += 1
            loop.venue.submit(ev.SubmitOrder(
                ts_init=child.ts_init, client_order_id=f"c{n[0]}", phase=child.phase,
                instrument_id=child.instrument_id, side=child.side,
                order_type=child.order_type, quantity=child.quantity, tag=child.tag))

    loop.run(bars, on_timer=on_timer)
    fills = loop.of(ev.OrderFilled)
    assert algo.done and sum(f.last_qty for f in fills) == D("0.500")
    assert loop.venue.position(PERP.id) == D("0.500") and n[0] == len({f.client_order_id for f in fills})


@pytest.mark.parametrize("call, message", [
    (lambda: split(D("1.0005"), [1], D("0.001")), "not a positive multiple of the lot"),
    (lambda: split(D(1), [1, -1], D("0.001")), "weights: must be finite, >= 0"),
    (lambda: split(D(1), [], D("0.001")), "weights: at least one slice"),
    (lambda: twap(D(1), 10, 10, 2, D(1)), "end_ns: must be after start_ns"),
    (lambda: twap(D(1), 0, 10, 0, D(1)), "slices: must be >= 1"),
    (lambda: ac_trajectory(1.0, 4, 10.0, risk_aversion=1, volatility=1, eta=0.01, gamma=0.01),
     "eta: must exceed gamma"),
    (lambda: intraday_profile([], 0, 2 * 86_400 * NS, 4), "at most one day"),
])
def test_bad_input_says_what(call, message):
    with pytest.raises(ValueError, match=message):
        call()
