"""The pure pieces behind the gate: drawdown levels, Hill index, correlation, execution quality,
netting, order rate."""

from __future__ import annotations

import math
import random
from decimal import Decimal as D

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from titan.brain.correlation import PhaseReturns, pearson, performance_score
from titan.brain.drawdown import DrawdownWatch, drawdown_tier
from titan.brain.exec_quality import HALT, OK, REDUCE, VenueQuality
from titan.brain.netting import net
from titan.brain.risk import OrderRate, max_add, price_band_bps, worst_case
from titan.brain.tail import TailWatch
from titan.core.events import Side

# ---- drawdown --------------------------------------------------------------------------------


@pytest.mark.parametrize("loss, tier", [(0.0, 0), (0.029, 0), (0.03, 1), (0.049, 1), (0.05, 2),
                                        (0.07, 3), (0.5, 3)])
def test_drawdown_tiers(loss, tier):
    assert drawdown_tier(loss, (0.03, 0.05, 0.07)) == tier


def test_portfolio_and_daily_levels():
    w = DrawdownWatch(0.15, 0.06, {"hunter": (0.03, 0.05, 0.07)})
    w.start_day(1, 10_000, {"hunter": 0.0}, {"hunter": 10_000})
    assert w.observe_equity(9_500) == (False, False)
    assert w.observe_equity(9_400) == (False, True)  # 6 % of the day's start
    assert w.observe_equity(9_300) == (False, False)  # reported once per day
    assert w.observe_equity(12_000) == (False, False)  # new peak
    assert w.observe_equity(10_201) == (False, False)
    assert w.observe_equity(10_200) == (True, False)  # 15 % below 12,000
    assert w.portfolio_drawdown(10_200) == pytest.approx(0.15)
    w.shift(-2_000)  # a withdrawal moves the baselines, it is not a loss
    assert w.peak == 10_000 and w.observe_equity(8_600)[0] is False


def test_phase_tiers_climb_once_per_day_and_reset():
    w = DrawdownWatch(0.15, 0.06, {"sentinel": (0.02, 0.04, 0.06)})
    w.start_day(1, 100_000, {"sentinel": 500.0}, {"sentinel": 100_000})
    assert w.observe_phase("sentinel", 0.0) is None  # lost 500 = 0.5 %
    assert w.observe_phase("sentinel", -1_600) == 1  # 2.1 %
    assert w.observe_phase("sentinel", -1_700) is None
    assert w.observe_phase("sentinel", -6_000) == 3  # jumps straight to 6.5 %
    assert w.observe_phase("sentinel", 10_000) is None and w.phase_tier["sentinel"] == 3
    w.start_day(2, 100_000, {"sentinel": 10_000.0}, {"sentinel": 100_000})
    assert w.phase_tier["sentinel"] == 0
    assert w.observe_phase("unknown", -1e9) is None


# ---- Hill tail index (native kernel; here: what it is fed) ---------------------------------------


def pareto(alpha: float, n: int, seed: int) -> list[float]:
    rng = np.random.default_rng(seed)
    u = rng.random(n)
    signs = rng.choice([-1.0, 1.0], n)
    return list(signs * 0.001 * (1.0 - u) ** (-1.0 / alpha))  # |r| ~ Pareto(alpha)


@pytest.mark.parametrize("alpha", [1.5, 3.0])
def test_tail_watch_recovers_the_tail_index_of_sampled_returns(alpha):
    t = TailWatch(window=4_000, fraction=0.1, sample_ns=60)
    price, ts = 100.0, 0
    t.sample("X", price, ts)
    for r in pareto(alpha, 4_000, 3):
        ts += 60
        price *= math.exp(r)
        assert t.sample("X", price, ts)
    assert t.index("X") == pytest.approx(alpha, rel=0.15)


def test_tail_watch_samples_on_its_interval_only_and_waits_for_a_full_window():
    t = TailWatch(window=50, fraction=0.1, sample_ns=60)
    price, ts = 100.0, 0
    rng = random.Random(1)
    for i in range(60):
        t.sample("X", price, ts)
        assert not t.sample("X", price * 2, ts + 1)  # too soon: ignored
        assert (t.index("X") is None) == (i < 50)  # 50 returns need 51 marks
        price *= math.exp(rng.gauss(0, 0.01))
        ts += 60
    assert t.samples("X") == 59
    assert t.index("Y") is None
    assert not t.sample("Y", float("nan"), 0) and not t.sample("Y", -1.0, 0)


# ---- correlation and performance ---------------------------------------------------------------


@given(st.lists(st.tuples(st.floats(-1, 1), st.floats(-1, 1)), min_size=3, max_size=40))
def test_pearson_agrees_with_numpy(pairs):
    xs, ys = [p[0] for p in pairs], [p[1] for p in pairs]
    got = pearson(xs, ys)
    if np.std(xs) < 1e-9 or np.std(ys) < 1e-9:
        return
    if got is None:
        return
    assert got == pytest.approx(float(np.corrcoef(xs, ys)[0, 1]), abs=1e-6)


@given(st.lists(st.tuples(st.floats(-0.05, 0.05), st.floats(-0.05, 0.05)), min_size=1, max_size=60),
       st.integers(3, 25))
def test_rolling_sums_agree_with_the_window_recomputed(steps, window):
    r = PhaseReturns(("a", "b"), window=window, min_samples=3, sample_ns=1)
    pnl = {"a": 0.0, "b": 0.0}
    r.sample(pnl, {"a": 1.0, "b": 1.0}, 0)
    for i, (x, y) in enumerate(steps, start=1):
        pnl = {"a": pnl["a"] + x, "b": pnl["b"] + y}
        r.sample(pnl, {"a": 1.0, "b": 1.0}, i)
    xs, ys = r.returns("a"), r.returns("b")
    assert len(xs) == min(window, len(steps))
    exact = pearson(xs, ys) if len(xs) >= 3 else None
    got = r.correlation("a", "b")
    if exact is None or got is None:  # both undefined, or variance at rounding level
        assert got is None or exact is None
    else:
        assert got == pytest.approx(exact, abs=1e-6)
    want = performance_score(xs) if len(xs) >= 3 else 0.0
    assert r.scores()["a"] == pytest.approx(want, abs=1e-6)


def test_rolling_correlation_survives_variances_whose_product_underflows():
    r = PhaseReturns(("a", "b"), window=3, min_samples=3, sample_ns=1)
    pnl = {"a": 0.0, "b": 0.0}
    r.sample(pnl, {"a": 1.0, "b": 1.0}, 0)
    for i, x in enumerate((0.0, 0.0, 6e-158), start=1):  # variances ~1e-315: their product is 0
        pnl = {"a": pnl["a"] + x, "b": pnl["b"] + x}
        assert r.sample(pnl, {"a": 1.0, "b": 1.0}, i)
    assert r.correlation("a", "b") == pytest.approx(1.0)


def test_phase_returns_correlate_and_score():
    r = PhaseReturns(("a", "b", "c"), window=50, min_samples=10, sample_ns=10)
    rng = random.Random(5)
    pnl = {"a": 0.0, "b": 0.0, "c": 0.0}
    for i in range(40):
        x = rng.gauss(0, 1)
        pnl = {"a": pnl["a"] + x, "b": pnl["b"] + 2 * x, "c": pnl["c"] + rng.gauss(0.5, 0.1)}
        assert r.sample(pnl, {"a": 100, "b": 100, "c": 100}, i * 10)
        assert not r.sample(pnl, {"a": 100}, i * 10 + 1)
    assert r.correlation("a", "b") == pytest.approx(1.0)
    assert [q for q, _ in r.partners("a", 0.8)] == ["b"]
    assert abs(r.correlation("a", "c")) < 0.8
    scores = r.scores()
    assert scores["c"] > 0.9 and abs(scores["a"]) < scores["c"]
    assert performance_score([]) == 0 and performance_score([0.1, 0.1]) == 1.0


# ---- execution quality -----------------------------------------------------------------------


def test_venue_quality_levels():
    q = VenueQuality(window=4, min_samples=2, max_slippage_bps=10, max_ack_latency_ms=100,
                     halt_factor=2)
    q.record_slippage("bybit", 30)
    assert q.level("bybit")[0] == OK  # one sample is not enough
    q.record_slippage("bybit", 0)
    assert q.level("bybit")[0] == REDUCE and "slippage 15.0 bps" in q.level("bybit")[1]
    q.record_latency("bybit", 500)
    q.record_latency("bybit", 500)
    assert q.level("bybit")[0] == HALT and "latency" in q.level("bybit")[1]
    for _ in range(4):
        q.record_latency("bybit", 10)
        q.record_slippage("bybit", 1)
    assert q.level("bybit") == (OK, "") and q.means("bybit") == (1.0, 10.0)
    assert q.level("binance") == (OK, "")


# ---- netting ---------------------------------------------------------------------------------


legs_st = st.lists(
    st.tuples(st.sampled_from(["a", "b", "c"]), st.sampled_from([Side.BUY, Side.SELL]),
              st.integers(1, 1000).map(lambda n: D(n) / 100)),
    max_size=8,
)


@given(legs_st)
def test_netting_conserves_quantity_and_never_crosses_an_owner_with_itself(legs):
    crosses, residual = net(legs)
    for b, s, q in crosses:
        assert legs[b][1] is Side.BUY and legs[s][1] is Side.SELL and legs[b][0] != legs[s][0]
        assert q > 0
    for i, (_, _, q) in enumerate(legs):
        crossed = sum((c[2] for c in crosses if i in (c[0], c[1])), D(0))
        assert residual[i] + crossed == q and residual[i] >= 0
    # what reaches the venue is what the owners asked for, net
    asked = sum((q if s is Side.BUY else -q for _, s, q in legs), D(0))
    sent = sum((r if legs[i][1] is Side.BUY else -r for i, r in enumerate(residual)), D(0))
    assert sent == asked
    assert net(legs) == (crosses, residual)  # deterministic


def test_netting_example():
    crosses, residual = net([("hunter", Side.BUY, D(5)), ("scavenger", Side.SELL, D(3))])
    assert crosses == [(0, 1, D(3))] and residual == [D(2), D(0)]


# ---- small gate helpers ----------------------------------------------------------------------


def test_gate_helpers():
    assert price_band_bps(105, 100) == pytest.approx(500)
    assert worst_case(2, 3, 10) == 8 and worst_case(-2, 0, 0) == 2
    # long 2 with a working buy of 1, cap 5: 2 more may be added
    assert max_add(3, 3, 5, 1e9, 1.0) == (2, "position_cap")
    # short 4 (extent along a buy = -4), no headroom: only the 8 that reverse to +4 at most
    assert max_add(-4, 4, 100, 0, 1.0) == (8, "leverage")
    r = OrderRate(2)
    r.record("a", 0)
    r.record("a", 1)
    assert not r.allow("a", 2) and r.allow("b", 2)
    assert r.allow("a", 60_000_000_000) and r.count("a", 60_000_000_000) == 1  # 0 left the window
