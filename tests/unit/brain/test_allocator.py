from __future__ import annotations

import math
from decimal import Decimal as D

import pytest

from titan.brain.allocator import Allocator, budgets_from_shares, logistic_ramp, memberships
from titan.config import TitanConfig, config_from_dict

SEED = TitanConfig()


def shares(equity: float, alloc: Allocator | None = None) -> dict[str, float]:
    return (alloc or Allocator(SEED)).compute(equity)


def test_ramp_ends_and_midpoint():
    assert logistic_ramp(-1, 4) == 0 and logistic_ramp(0, 4) == 0
    assert logistic_ramp(1, 4) == 1 and logistic_ramp(2, 4) == 1
    assert logistic_ramp(0.5, 4) == pytest.approx(0.5)
    xs = [i / 100 for i in range(101)]
    ys = [logistic_ramp(x, 4) for x in xs]
    assert ys == sorted(ys)  # monotone
    # steeper = flatter at the ends, sharper in the middle
    assert logistic_ramp(0.1, 8) < logistic_ramp(0.1, 2) and logistic_ramp(0.45, 8) < logistic_ramp(0.45, 2)


@pytest.mark.parametrize("equity, expected", [
    (100, {}),  # below every range: nothing trades
    (1_000, {"scavenger": 1.0}),
    (2_500, {"scavenger": 1.0}),  # the overlap starts: Hunter enters from 0
    (20_000, {"hunter": 1.0}),
    (50_000, {"hunter": 0.5, "sentinel": 0.5}),  # ranges touch: a switch at the boundary
    (80_000, {"sentinel": 1.0}),
])
def test_seed_ranges(equity, expected):
    got = {p: s for p, s in shares(equity).items() if s > 0}
    assert got == pytest.approx(expected)


def test_smooth_handover_across_the_scavenger_hunter_overlap():
    prev_h = -1.0
    for e in [2_500 * (2 ** (i / 50)) for i in range(51)]:  # 2.5k .. 5k in log steps
        s = shares(e)
        assert s["scavenger"] + s["hunter"] == pytest.approx(1.0)
        assert s["hunter"] >= prev_h  # capital only moves towards Hunter as equity grows
        prev_h = s["hunter"]
    mid = math.sqrt(2_500 * 5_000)
    assert shares(mid)["hunter"] == pytest.approx(0.5)
    # no jump: neighbouring equities have neighbouring shares
    assert abs(shares(3_000)["hunter"] - shares(3_010)["hunter"]) < 0.01


def test_ai_quant_never_gets_capital_and_sums_are_one():
    for e in [10, 300, 3_000, 30_000, 300_000]:
        s = shares(e)
        assert s["ai_quant"] == 0
        assert sum(s.values()) in (0, pytest.approx(1.0))


def test_regime_and_switches_move_capital():
    a = Allocator(SEED)
    assert a.set_regime("ranging")  # scavenger not allowed
    s = a.compute(3_500)
    assert s["scavenger"] == 0 and s["hunter"] == pytest.approx(1.0)
    assert a.lev_scale == 0.8
    assert not a.set_regime("moonshot") and a.regime == "ranging"
    a.set_regime("volatile")  # sentinel only, out of range at 3.5k
    assert sum(a.compute(3_500).values()) == 0
    b = Allocator(SEED)
    b.set_enabled("hunter", False)
    assert b.compute(3_500)["scavenger"] == pytest.approx(1.0)
    with pytest.raises(KeyError, match="unknown phase"):
        b.set_enabled("nope", True)


def test_performance_tilts_shares_within_the_overlap():
    a = Allocator(SEED)
    base = a.compute(3_536)["hunter"]
    a.set_performance({"hunter": 1.0, "scavenger": -1.0})
    assert a.compute(3_536)["hunter"] > base + 0.1
    a.set_performance({"hunter": 5.0})  # clamped
    assert a.performance["hunter"] == 1.0


def test_update_emits_only_on_material_moves():
    a = Allocator(SEED)
    first = a.update(1_000, 1)
    assert first is not None and first.budgets["scavenger"] == D("1000.00")
    assert a.update(1_010, 2) is None  # same phase, share unchanged
    moved = a.update(3_536, 3)
    assert moved is not None and moved.budgets["hunter"] > 0
    assert a.update(3_536, 4, "regime trending", force=True).reason == "regime trending"


def test_budgets_never_exceed_equity_even_with_float_shares():
    s = {"a": 0.1, "b": 0.2, "c": 0.7000000000000001}
    b = budgets_from_shares(s, D("0.10"))
    assert sum(b.values()) <= D("0.10")
    b = budgets_from_shares({"a": 1 / 3, "b": 1 / 3, "c": 1 / 3}, D("100"))
    assert sum(b.values()) <= D(100) and all(v == D("33.33") for v in b.values())


def test_custom_overlapping_ranges_use_the_same_rule():
    cfg = config_from_dict({"phases": {"hunter": {"equity_max": 100_000},
                                       "sentinel": {"equity_min": 20_000}}})
    m = memberships(40_000, Allocator(cfg).ranges, 4.0)
    assert 0 < m["hunter"] < 1 and 0 < m["sentinel"] < 1
    assert m["hunter"] + m["sentinel"] == pytest.approx(1.0)
