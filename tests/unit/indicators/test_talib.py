"""Indicator values on real BTC and ETH candles against TA-Lib, an independent implementation.

Both twins (compiled and reference) are held to the same expectations. NaN positions must be
identical (TA-Lib's warm-up lengths); values agree to ~1e-12 relative - TA-Lib's wheel is
built with fused multiply-add and re-sums its WMA differently, so the last bits can differ.
Standard deviations are the exception: TA-Lib computes E[x^2] - E[x]^2, which loses digits at
BTC prices, so there the bound is TA-Lib's own cancellation error and our values are checked
against an exact two-pass computation instead.
"""

from __future__ import annotations

import numpy as np
import pytest
from numpy.lib.stride_tricks import sliding_window_view

from tests.unit.indicators.conftest import kernel_params

talib = pytest.importorskip("talib")

EPS = np.finfo(float).eps


def close_to(ours, ref, scale, rel=1e-12):
    """Same NaN positions; |ours - ref| <= rel * scale everywhere else."""
    ours, ref = np.asarray(ours), np.asarray(ref)
    np.testing.assert_array_equal(np.isnan(ours), np.isnan(ref))
    assert np.isfinite(ours[~np.isnan(ours)]).all()
    np.testing.assert_allclose(ours, ref, rtol=0, atol=rel * scale, equal_nan=True)


@pytest.mark.parametrize("avg", kernel_params("average"))
@pytest.mark.parametrize("period", [1, 2, 9, 30, 200])
def test_averages(avg, bars, period):
    c = bars["close"]
    close_to(avg.sma(c, period), talib.SMA(c, period), c.max())
    close_to(avg.ema(c, period), talib.EMA(c, period), c.max())
    close_to(avg.wma(c, period), talib.WMA(c, period), c.max())


@pytest.mark.parametrize("mom", kernel_params("momentum"))
def test_momentum(mom, bars):
    h, lo, c = bars["high"], bars["low"], bars["close"]
    for period in (2, 14, 50):
        close_to(mom.rsi(c, period), talib.RSI(c, period), 100.0)
    for fast, slow, signal in [(12, 26, 9), (5, 35, 5), (3, 3, 1)]:
        for ours, ref in zip(mom.macd(c, fast, slow, signal), talib.MACD(c, fast, slow, signal), strict=True):
            close_to(ours, ref, c.max())
    for fk, sk, sd in [(5, 3, 3), (14, 3, 3), (21, 7, 5)]:
        ref = talib.STOCH(h, lo, c, fk, sk, 0, sd, 0)
        for ours, theirs in zip(mom.stoch(h, lo, c, fk, sk, sd), ref, strict=True):
            close_to(ours, theirs, 100.0)


@pytest.mark.parametrize("vol", kernel_params("volatility"))
@pytest.mark.parametrize("period", [5, 20, 100])
def test_bollinger_and_stddev(vol, bars, period):
    c = bars["close"]
    upper, middle, lower, bandwidth = vol.bbands(c, period, 2.0, 1.5)
    t_up, t_mid, t_lo = talib.BBANDS(c, period, 2.0, 1.5, 0)
    close_to(middle, t_mid, c.max())
    # TA-Lib's variance error: a few ulps of E[x^2], i.e. of max(x)^2
    var_err = 8 * period * EPS * c.max() ** 2
    sd, t_sd = vol.stddev(c, period), talib.STDDEV(c, period, 1.0)
    np.testing.assert_array_equal(np.isnan(sd), np.isnan(t_sd))
    ok = ~np.isnan(sd)
    assert (np.abs(sd[ok] ** 2 - t_sd[ok] ** 2) <= var_err).all()
    assert (np.abs((upper - middle)[ok] / 2.0 - sd[ok]) <= 1e-9 * c.max()).all()
    assert (np.abs((middle - lower)[ok] / 1.5 - sd[ok]) <= 1e-9 * c.max()).all()
    np.testing.assert_allclose(bandwidth[ok], ((upper - lower) / middle)[ok], rtol=1e-15)
    # ours is exact: two-pass population stdev of every window, to ~1e-13 of the range
    exact = sliding_window_view(c, period).std(axis=1)
    span = np.ptp(c)
    assert (np.abs(sd[period - 1:] ** 2 - exact ** 2) <= 1e-13 * span ** 2).all()


@pytest.mark.parametrize("vol", kernel_params("volatility"))
def test_atr(vol, bars):
    h, lo, c = bars["high"], bars["low"], bars["close"]
    for period in (1, 2, 14, 100):
        close_to(vol.atr(h, lo, c, period), talib.ATR(h, lo, c, period), c.max())


@pytest.mark.parametrize("trend", kernel_params("trend"))
def test_adx_and_donchian(trend, bars):
    h, lo, c = bars["high"], bars["low"], bars["close"]
    for period in (2, 14, 30):
        adx, pdi, mdi = trend.adx(h, lo, c, period)
        close_to(adx, talib.ADX(h, lo, c, period), 100.0)
        close_to(pdi, talib.PLUS_DI(h, lo, c, period), 100.0)
        close_to(mdi, talib.MINUS_DI(h, lo, c, period), 100.0)
        upper, middle, lower = trend.donchian(h, lo, period)
        close_to(upper, talib.MAX(h, period), h.max(), rel=0)
        close_to(lower, talib.MIN(lo, period), h.max(), rel=0)
        close_to(middle, (talib.MAX(h, period) + talib.MIN(lo, period)) / 2, h.max(), rel=0)


@pytest.mark.parametrize("volume", kernel_params("volume"))
def test_obv(volume, bars):
    c, v = bars["close"], bars["volume"]
    close_to(volume.obv(c, v), talib.OBV(c, v), v.sum())


@pytest.mark.parametrize("vol", kernel_params("volatility"))
def test_zscore_matches_talib_parts(vol, bars):
    c = bars["close"]
    period = 20
    z = vol.zscore(c, period)
    mean, sd = talib.SMA(c, period), talib.STDDEV(c, period, 1.0)
    ok = ~np.isnan(z)
    # the z-score error is dominated by TA-Lib's stdev error (see above)
    rel_sd = 8 * period * EPS * c.max() ** 2 / sd[ok] ** 2
    assert (np.abs(z[ok] - (c[ok] - mean[ok]) / sd[ok]) <= np.abs(z[ok]) * rel_sd + 1e-9).all()
