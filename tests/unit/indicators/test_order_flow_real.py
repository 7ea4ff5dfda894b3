"""Order flow and session indicators on real Binance trades, quotes and candles, each against an
independent computation written differently (Decimal sums, vectorised numpy, bucket
boundaries by interpolation, per-day grouping)."""

from __future__ import annotations

import math
from decimal import Decimal

import numpy as np
import pytest

from tests.unit.indicators.conftest import candles, kernel_params, quotes, trades

DAY = 86_400_000_000_000


@pytest.mark.parametrize("micro", kernel_params("microstructure"))
def test_cvd_equals_the_exact_signed_volume(micro):
    t = trades()
    exact = Decimal(0)
    expect = []
    for q, side in zip(t["qty_text"], t["side"], strict=True):
        exact += Decimal(q) if side > 0 else -Decimal(q)
        expect.append(float(exact))
    got = micro.cvd(t["size"], t["side"])
    np.testing.assert_allclose(got, expect, rtol=0, atol=1e-9)
    stream = micro.CumulativeVolumeDelta()
    for q, side in zip(t["size"][:100], t["side"][:100], strict=True):
        stream.update(q, side)
    assert stream.value == got[99]


def ofi_numpy(b, bq, a, aq, window):
    """Cont-Kukanov-Stoikov e_n, vectorised, summed over a rolling window by cumsum."""
    e = ((b[1:] >= b[:-1]) * bq[1:] - (b[1:] <= b[:-1]) * bq[:-1]
         - (a[1:] <= a[:-1]) * aq[1:] + (a[1:] >= a[:-1]) * aq[:-1])
    out = np.full(b.size, np.nan)
    csum = np.concatenate([[0.0], np.cumsum(e)])
    out[window:] = csum[window:] - csum[:-window]
    return e, out


@pytest.mark.parametrize("micro", kernel_params("microstructure"))
@pytest.mark.parametrize("window", [1, 10, 250])
def test_ofi_on_real_quotes(micro, window):
    q = quotes()
    b, bq, a, aq = q["bid"], q["bid_size"], q["ask"], q["ask_size"]
    e, expect = ofi_numpy(b, bq, a, aq, window)
    got = micro.ofi(b, bq, a, aq, window)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(expect))
    scale = np.abs(e).max() * window
    np.testing.assert_allclose(got, expect, rtol=0, atol=1e-12 * scale, equal_nan=True)
    # the quotes move: the signal is not trivially zero
    assert np.nanmax(np.abs(got)) > 0


def vpin_oracle(price, volume, bucket, n_buckets, sigma_window):
    """VPIN from cumulative buy volume interpolated at bucket boundaries (a different route)."""
    dp = np.diff(price)
    sd = np.full(dp.size, np.nan)
    for i in range(sigma_window - 1, dp.size):
        sd[i] = dp[i - sigma_window + 1:i + 1].std()
    frac = np.array([0.5 * math.erfc(-(d / s) / math.sqrt(2)) if s > 0 else
                     (1.0 if d > 0 else 0.0 if d < 0 else 0.5) for d, s in zip(dp, sd, strict=True)])
    use = ~np.isnan(sd)
    vol, frac = volume[1:][use], frac[use]
    cum_v = np.concatenate([[0.0], np.cumsum(vol)])
    cum_b = np.concatenate([[0.0], np.cumsum(vol * frac)])
    out = np.full(price.size, np.nan)
    first = np.flatnonzero(use)[0] + 1  # bar index of the first classified bar
    for j in range(vol.size):
        done = int(cum_v[j + 1] // bucket)  # buckets completed after bar j
        if done < n_buckets:
            continue
        edges = bucket * np.arange(done - n_buckets, done + 1)
        buys = np.interp(edges, cum_v, cum_b)
        imb = np.abs(bucket - 2 * np.diff(buys))
        out[first + j] = imb.sum() / (n_buckets * bucket)
    return out


@pytest.mark.parametrize("micro", kernel_params("microstructure"))
@pytest.mark.parametrize("symbol", ["BTC", "ETH"])
def test_vpin_on_real_candles(micro, symbol):
    c = candles(symbol)
    price, volume = c["close"][:600], c["volume"][:600]
    bucket = float(np.median(volume)) * 3
    got = micro.vpin(price, volume, bucket, 20, 30)
    expect = vpin_oracle(price, volume, bucket, 20, 30)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(expect))
    np.testing.assert_allclose(got, expect, rtol=0, atol=1e-9, equal_nan=True)
    assert np.nanmin(got) > 0.0 and np.nanmax(got) < 1.0


@pytest.mark.parametrize("volume", kernel_params("volume"))
@pytest.mark.parametrize("symbol", ["BTC", "ETH"])
def test_session_vwap_on_real_candles(volume, symbol):
    c = candles(symbol)
    typical = (c["high"] + c["low"] + c["close"]) / 3
    got = volume.vwap(typical, c["volume"], c["ts_ns"])
    day = c["ts_ns"] // DAY
    expect = np.empty_like(typical)
    for d in np.unique(day):
        m = day == d
        expect[m] = np.cumsum(typical[m] * c["volume"][m]) / np.cumsum(c["volume"][m])
    assert np.unique(day).size == 3  # the slice crosses two UTC midnights
    np.testing.assert_allclose(got, expect, rtol=1e-12)
    # at each midnight the VWAP restarts from the first bar of the day
    starts = np.flatnonzero(np.diff(day)) + 1
    np.testing.assert_allclose(got[starts], typical[starts], rtol=1e-15)


@pytest.mark.parametrize("avg", kernel_params("average"))
def test_ema_streaming_api(avg):
    # TA-Lib seeding: the SMA of the first n, then alpha = 2 / (n + 1)
    e = avg.EMA(3)
    assert not e.ready and math.isnan(e.value) and e.count == 0
    assert [e.update(x) for x in (1.0, 2.0, 3.0)][2] == 2.0
    assert e.update(4.0) == 3.0 and e.ready and e.alpha == 0.5
    e.reset()
    assert not e.ready and math.isnan(e.value) and e.count == 0
