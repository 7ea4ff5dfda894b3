"""Values worked out by hand (in the comments) for what TA-Lib lacks or where a convention
needs pinning down. Every test runs against both twins (compiled and reference)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tests.unit.indicators.conftest import kernel_params

nan = math.nan
DAY = 86_400_000_000_000


def same(a, b):
    np.testing.assert_allclose(np.asarray(a, dtype=float), np.asarray(b, dtype=float),
                               rtol=1e-14, atol=0, equal_nan=True)


@pytest.mark.parametrize("avg", kernel_params("average"))
def test_wma_weights_newest_heaviest(avg):
    # (1*1 + 2*2 + 3*3) / 6, (2*1 + 3*2 + 4*3) / 6
    same(avg.wma([1.0, 2.0, 3.0, 4.0], 3), [nan, nan, 14 / 6, 20 / 6])
    same(avg.sma([1.0, 2.0, 3.0, 4.0], 3), [nan, nan, 2.0, 3.0])


@pytest.mark.parametrize("mom", kernel_params("momentum"))
def test_rsi_flat_and_one_sided(mom):
    assert mom.rsi([5.0] * 6, 3)[3:].tolist() == [0.0] * 3  # no movement: 0 (TA-Lib)
    assert mom.rsi([1.0, 2.0, 3.0, 4.0, 5.0], 3)[3:].tolist() == [100.0, 100.0]
    # changes +2, -1, +1: gain 1, loss 1/3 -> 75
    same(mom.rsi([10.0, 12.0, 11.0, 12.0], 3), [nan, nan, nan, 75.0])


@pytest.mark.parametrize("vol", kernel_params("volatility"))
def test_zscore_stddev_realized(vol):
    # [1, 2, 3]: mean 2, population stdev sqrt(2/3); z of 3 = 1 / sqrt(2/3)
    same(vol.stddev([1.0, 2.0, 3.0], 3), [nan, nan, math.sqrt(2 / 3)])
    same(vol.zscore([1.0, 2.0, 3.0], 3), [nan, nan, 1 / math.sqrt(2 / 3)])
    same(vol.zscore([4.0, 4.0, 4.0], 3), [nan, nan, 0.0])  # flat window: 0, not NaN
    r1, r2 = math.log(110 / 100), math.log(99 / 110)
    same(vol.realized_volatility([100.0, 110.0, 99.0], 2), [nan, nan, math.sqrt(r1**2 + r2**2)])
    same(vol.realized_volatility([100.0, 110.0, 99.0], 2, 252.0),
         [nan, nan, math.sqrt((r1**2 + r2**2) * 252 / 2)])
    with pytest.raises(ValueError, match="values: price must be > 0"):
        vol.realized_volatility([1.0, 0.0, 2.0], 1)


@pytest.mark.parametrize("volume", kernel_params("volume"))
def test_vwap_restarts_at_the_utc_day(volume):
    t0 = 19_000 * DAY - 60_000_000_000  # 23:59 UTC
    ts = [t0, t0 + 30_000_000_000, t0 + 60_000_000_000, t0 + 90_000_000_000]
    out = volume.vwap([10.0, 20.0, 30.0, 40.0], [1.0, 3.0, 2.0, 2.0], ts)
    same(out, [10.0, (10 + 60) / 4, 30.0, (60 + 80) / 4])
    # zero volume so far: undefined (NaN), not a division by zero
    same(volume.vwap([10.0, 20.0], [0.0, 1.0], [0, 1]), [nan, 20.0])
    # a custom session: 1 h sessions anchored at 00:30
    v = volume.VWAP(3_600_000_000_000, 1_800_000_000_000)
    assert v.update(1.0, 1.0, 1_799_999_999_999) == 1.0
    assert v.update(3.0, 1.0, 1_800_000_000_000) == 3.0  # new session starts here
    with pytest.raises(ValueError, match="ts_ns: .* before"):
        v.update(1.0, 1.0, 0)


@pytest.mark.parametrize("micro", kernel_params("microstructure"))
def test_ofi_cont_kukanov_stoikov_cases(micro):
    o = micro.OrderFlowImbalance(1)
    assert math.isnan(o.update(100.0, 5.0, 101.0, 7.0))
    assert o.update(100.0, 8.0, 101.0, 7.0) == 3.0  # bid size 5 -> 8 at the same price
    assert o.update(100.5, 2.0, 101.0, 7.0) == 2.0  # bid improves: new bid size counts
    assert o.update(100.0, 4.0, 101.0, 7.0) == -2.0  # bid drops: the old bid (2) is gone
    assert o.update(100.0, 4.0, 100.8, 4.0) == -4.0  # ask improves: selling pressure
    assert o.update(100.0, 4.0, 101.2, 9.0) == 4.0  # ask retreats: the old ask (4) is gone
    assert o.last == 4.0
    w = micro.OrderFlowImbalance(2)
    for q in [(1.0, 1.0, 2.0, 1.0), (1.0, 2.0, 2.0, 1.0), (1.0, 3.0, 2.0, 1.0)]:
        w.update(*q)
    assert w.value == 2.0  # 1 + 1


@pytest.mark.parametrize("micro", kernel_params("microstructure"))
def test_vpin_bulk_classification(micro):
    # the last two changes are (-1, +1): sigma 1; the bar rising by 1 is Phi(1) buy, the rest
    # sell; two buckets of 5 from its volume 10: VPIN = |2 Phi(1) - 1| = erf(1 / sqrt 2)
    v = micro.VPIN(5.0, n_buckets=2, sigma_window=2)
    for price, vol in [(100.0, 0.0), (101.0, 0.0), (100.0, 0.0)]:
        assert math.isnan(v.update(price, vol))
    assert v.update(101.0, 10.0) == pytest.approx(math.erf(1 / math.sqrt(2)), rel=1e-12)
    assert v.buckets == 2
    assert 0.0 <= v.value <= 1.0


@pytest.mark.parametrize("micro", kernel_params("microstructure"))
def test_cvd_signs_by_aggressor(micro):
    same(micro.cvd([1.0, 2.0, 0.5], [1.0, -1.0, -1.0]), [1.0, -1.0, -1.5])
    with pytest.raises(ValueError, match="side"):
        micro.cvd([1.0], [0.0])


H = [1.0, 2.0, 5.0, 3.0, 2.0, 1.0, 4.0, 6.0, 2.0, 1.0, 0.5]
L = [0.5, 1.5, 4.0, 2.0, 1.0, 0.2, 3.0, 5.0, 1.0, 0.6, 0.1]


@pytest.mark.parametrize("sw", kernel_params("swings"))
def test_fractals_and_swings(sw):
    up, down = sw.fractals(H, L, 2)
    # up fractals at bars 2 (5.0) and 7 (6.0), known on bars 4 and 9; down at bar 5 (0.2) on 7
    expect_up = [nan] * 11
    expect_up[4], expect_up[9] = 5.0, 6.0
    expect_down = [nan] * 11
    expect_down[7] = 0.2
    same(up, expect_up)
    same(down, expect_down)
    f = sw.Fractals(2)
    flags = [f.update(h, low) for h, low in zip(H, L, strict=True)]
    assert flags == [0, 0, 0, 0, 1, 0, 0, 2, 0, 1, 0]
    assert (f.high, f.high_index, f.low, f.low_index) == (6.0, 7, 0.2, 5)
    # a tie is not a swing (strict)
    up, _ = sw.swings([1.0, 3.0, 3.0, 1.0, 0.5], [0.0] * 5, 1, 1)
    assert np.isnan(up).all()


@pytest.mark.parametrize("sw", kernel_params("swings"))
def test_equal_highs_form_a_pool_then_get_swept(sw):
    highs = [99.0, 100.0, 99.0, 99.5, 100.05, 99.2, 99.0, 100.2, 99.0]
    lows = [h - 1.0 for h in highs]
    e = sw.EqualLevels(1, 1, tolerance=0.001)
    flags = []
    for h, low in zip(highs[:7], lows[:7], strict=True):
        flags.append(e.update(h, low))
    # swing highs 100.0 (bar 1, known on 2) and 100.05 (bar 4, known on 5): 0.05 <= 0.1, and
    # 100.05 stays inside the tolerance band, so it does not sweep the first one
    assert flags == [0, 0, 0, 0, 0, 1, 0]
    np.testing.assert_array_equal(e.pools(), [[1.0, 100.05, 2.0, 1.0, 4.0]])
    # bar 7 trades to 100.2 > 100.05 * 1.001: the pool is swept; it also confirms bar 6's
    # low 98 as a swing equal to bar 2's low: an equal-lows pool
    e.update(highs[7], lows[7])
    assert e.swept_high == 1 and e.new_low == 98.0
    np.testing.assert_array_equal(e.pools(), [[-1.0, 98.0, 2.0, 2.0, 6.0]])
    eq_high, _, swept_high, _ = sw.equal_levels(highs, lows, 1, 1, 0.001)
    assert eq_high[5] == 100.05 and np.isnan(np.delete(eq_high, 5)).all()
    assert swept_high.tolist() == [0, 0, 0, 0, 0, 0, 0, 1, 0]


@pytest.mark.parametrize("sw", kernel_params("swings"))
def test_premium_discount(sw):
    h, low, c = [10.0, 12.0, 11.0], [8.0, 9.0, 10.0], [9.0, 11.0, 10.5]
    # range of the last 2 bars: [8, 12] then [9, 12]
    same(sw.premium_discount(h, low, c, 2), [nan, (11 - 8) / 4, (10.5 - 9) / 3])
    same(sw.premium_discount([5.0, 5.0], [5.0, 5.0], [5.0, 5.0], 2), [nan, 0.5])


@pytest.mark.parametrize("zones", kernel_params("zones"))
def test_fair_value_gap_and_its_fill(zones):
    bars = [(10.0, 9.0), (12.0, 10.5), (14.0, 11.0), (13.0, 10.5), (12.0, 9.9)]
    side, bottom, top, filled = zones.fair_value_gaps(*zip(*bars, strict=True))
    # bar 2's low 11 > bar 0's high 10: bullish gap [10, 11]; bar 4 trades through 10
    same(side, [0, 0, 1, 0, 0])
    same(bottom, [nan, nan, 10.0, nan, nan])
    same(top, [nan, nan, 11.0, nan, nan])
    same(filled, [0, 0, 0, 0, 1])
    g = zones.FairValueGaps()
    for h, low in bars[:4]:
        g.update(h, low)
    np.testing.assert_array_equal(g.gaps(), [[1.0, 10.0, 11.0, 1.0, 2.0, 0.5]])  # half filled
    # bearish mirror, and min_size filters it out
    bars = [(10.0, 9.0), (8.5, 7.0), (8.0, 6.0)]
    assert zones.fair_value_gaps(*zip(*bars, strict=True))[0].tolist() == [0, 0, -1]
    assert zones.fair_value_gaps(*zip(*bars, strict=True), min_size=1.0)[0].tolist() == [0, 0, 0]


@pytest.mark.parametrize("zones", kernel_params("zones"))
def test_order_block_on_a_break_of_structure(zones):
    # swing high 12 at bar 1 (left = right = 1, known on bar 2); bar 3 is the last down-close
    # candle; bar 4 closes at 13 > 12: bullish block = bar 3's range [9.5, 11]
    o = [10.0, 11.0, 11.5, 11.0, 10.0, 12.5, 12.0]
    h = [11.0, 12.0, 11.8, 11.0, 13.5, 13.0, 12.2]
    low = [9.5, 10.5, 10.8, 9.5, 9.8, 12.0, 9.0]
    c = [10.5, 11.5, 11.0, 10.0, 13.0, 12.2, 9.2]
    bb, bt, sb, st, broken = zones.order_blocks(o, h, low, c, 1, 1)
    same(bb, [nan, nan, nan, nan, 9.5, nan, nan])
    same(bt, [nan, nan, nan, nan, 11.0, nan, nan])
    # bar 6 closes at 9.2 < 9.5: the block is broken
    same(broken, [0, 0, 0, 0, 0, 0, 1])
    ob = zones.OrderBlocks(1, 1)
    for bar in zip(o[:5], h[:5], low[:5], c[:5], strict=True):
        ob.update(*bar)
    np.testing.assert_array_equal(ob.blocks(), [[1.0, 9.5, 11.0, 3.0, 4.0, 0.0]])


@pytest.mark.parametrize("sq", kernel_params("squeeze"))
def test_squeeze_marks_the_narrowest_bands(sq):
    x = [100.0, 110.0, 90.0, 105.0, 95.0, 100.0, 101.0, 100.0, 100.5, 100.0]
    out = sq.squeeze(x, 3, 2.0, 3)
    # bandwidths from bar 2 on shrink after bar 4, so the squeeze fires at the new lows
    assert np.isnan(out[:4]).all()
    widths = []
    for i in range(2, len(x)):
        w = np.array(x[i - 2:i + 1])
        widths.append(4 * w.std() / w.mean())
    expect = [1.0 if widths[j] <= min(widths[j - 2:j + 1]) + 1e-15 else 0.0
              for j in range(2, len(widths))]
    assert out[4:].tolist() == expect


@pytest.mark.parametrize("tail", kernel_params("tail"))
def test_hill_by_hand_and_on_a_pareto_sample(tail):
    # |r| sorted: .08 .04 | .02 .01 .005; k = 2: alpha = 2 / (ln 4 + ln 2) = 2 / ln 8
    out = tail.hill([0.01, -0.02, 0.04, 0.005, -0.08], 5, 0.4)
    assert np.isnan(out[:4]).all()
    assert out[4] == pytest.approx(2 / math.log(8), rel=1e-14)
    h = tail.HillTailIndex(5, 0.4)
    assert [h.k, h.window] == [2, 5]
    # a Pareto tail with alpha = 3 is recovered to within a few percent
    rng = np.random.default_rng(11)
    x = (rng.pareto(3.0, 4000) + 1.0) * rng.choice([-1.0, 1.0], 4000)
    assert tail.hill(x, 4000, 0.05)[-1] == pytest.approx(3.0, rel=0.12)
    # too many zero returns: the threshold order statistic is 0 -> undefined
    assert np.isnan(tail.hill([0.0, 0.0, 0.0, 0.0, 0.1], 5, 0.2)[-1])
