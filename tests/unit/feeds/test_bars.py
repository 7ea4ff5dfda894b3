"""Bars from trades: UTC alignment, close on the next bar or a timer, updates, many timeframes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from titan.feeds.bars import BarAggregator, timeframe_name, timeframe_ns
from titan.feeds.history import load_bars, load_trades

M = 60_000_000_000
DATA = Path(__file__).resolve().parents[2] / "data" / "feeds"
SHARED = Path(__file__).resolve().parents[4] / "shared" / "data"


@pytest.mark.parametrize("tf, ns", [("1m", M), ("15m", 15 * M), ("4h", 240 * M), ("1d", 1440 * M), ("1w", 10080 * M)])
def test_timeframes(tf, ns):
    assert timeframe_ns(tf) == ns and timeframe_name(ns) == tf


@pytest.mark.parametrize("bad", ["", "0m", "5s", "m", "1y", "-1m"])
def test_bad_timeframes(bad):
    with pytest.raises(ValueError, match="timeframe"):
        timeframe_ns(bad)


def test_bars_close_when_the_next_bar_starts_and_on_flush():
    agg = BarAggregator("X@v", ["1m", "5m"])
    t0 = 1_699_999_860 * 1_000_000_000  # 22:11:00 UTC, a 1m boundary one minute into a 5m bar
    assert agg.on_trade(t0 + 1, 10.0, 1.0) == []
    assert agg.on_trade(t0 + 30 * 10**9, 12.0, 2.0) == []
    assert agg.on_trade(t0 + 40 * 10**9, 9.0, 0.5) == []
    closed = agg.on_trade(t0 + M + 5, 11.0, 1.0)
    assert [(b.timeframe, b.ts_open, b.ts_event, b.open, b.high, b.low, b.close, b.volume, b.closed) for b in closed] == [
        ("1m", t0, t0 + M, 10.0, 12.0, 9.0, 9.0, 3.5, True)]
    assert agg.flush(t0 + 2 * M - 1) == []
    flushed = agg.flush(t0 + 2 * M)
    assert [(b.timeframe, b.close, b.volume) for b in flushed] == [("1m", 11.0, 1.0)]
    five = agg.flush(t0 - t0 % (5 * M) + 5 * M)
    assert [(b.timeframe, b.ts_open, b.open, b.high, b.low, b.close, b.volume) for b in five] == [
        ("5m", t0 - t0 % (5 * M), 10.0, 12.0, 9.0, 11.0, 4.5)]


def test_updates_and_late_trades():
    agg = BarAggregator("X@v", ["1m"], emit_updates=True)
    first = agg.on_trade(M + 1, 5.0, 1.0)
    assert [(b.closed, b.close) for b in first] == [(False, 5.0)]
    agg.on_trade(M + 2, 6.0, 1.0)
    assert agg.on_trade(M, 99.0, 1.0) == []  # older than what was seen: ignored, never reopens
    out = agg.on_trade(2 * M, 7.0, 1.0)
    assert [(b.closed, b.high, b.close) for b in out] == [(True, 6.0, 6.0), (False, 7.0, 7.0)]


def reference_bars(ts: np.ndarray, price: np.ndarray, size: np.ndarray, step: int):
    """Independent numpy groupby: one row per interval that has trades."""
    bucket = ts - ts % step
    starts = np.flatnonzero(np.r_[True, bucket[1:] != bucket[:-1]])
    ends = np.r_[starts[1:], ts.size]
    return [(int(bucket[a]), price[a], price[a:b].max(), price[a:b].min(), price[b - 1], size[a:b].sum())
            for a, b in zip(starts, ends, strict=False)]


def run(agg: BarAggregator, ts, price, size):
    out = []
    for t, p, q in zip(ts.tolist(), price.tolist(), size.tolist(), strict=False):
        out += agg.on_trade(t, p, q)
    out += agg.flush(10**30)
    return out


trades = st.lists(st.tuples(st.integers(0, 3 * 3600 * 10**9), st.integers(1, 1000), st.integers(1, 100)),
                  min_size=1, max_size=200)


@given(trades)
def test_matches_a_groupby_for_any_trades(rows):
    rows.sort(key=lambda r: r[0])
    ts = np.array([r[0] for r in rows], dtype=np.int64)
    price = np.array([r[1] / 4 for r in rows])
    size = np.array([r[2] / 10 for r in rows])
    bars = run(BarAggregator("X@v", ["1m", "15m", "1h"]), ts, price, size)
    for tf in ("1m", "15m", "1h"):
        got = [(b.ts_open, b.open, b.high, b.low, b.close, b.volume) for b in bars if b.timeframe == tf]
        want = reference_bars(ts, price, size, timeframe_ns(tf))
        assert [g[:5] for g in got] == [w[:5] for w in want]
        assert np.allclose([g[5] for g in got], [w[5] for w in want], rtol=1e-12)


def test_real_trades_to_bars_and_five_minute_consistency():
    t = load_trades(DATA / "binance-usdm_BTCUSDT_trades_20240808T2354.csv.gz", "BTC/USDT:USDT@binanceusdm")
    bars = run(BarAggregator(t.instrument_id, ["1m", "5m"]), t.ts_event, t.price, t.size)
    one = [b for b in bars if b.timeframe == "1m"]
    five = [b for b in bars if b.timeframe == "5m"]
    want = reference_bars(t.ts_event, t.price, t.size, M)
    assert [(b.ts_open, b.open, b.high, b.low, b.close) for b in one] == [w[:5] for w in want]
    assert len(one) == 6  # 23:54 .. 23:59
    for b5 in five:  # a 5m bar is the merge of its 1m bars
        parts = [b for b in one if b5.ts_open <= b.ts_open < b5.ts_event]
        assert (b5.open, b5.close) == (parts[0].open, parts[-1].close)
        assert b5.high == max(b.high for b in parts) and b5.low == min(b.low for b in parts)
        assert b5.volume == pytest.approx(sum(b.volume for b in parts), rel=1e-12)


@pytest.mark.skipif(not SHARED.is_dir(), reason="cross-source check on the shared data set (developer machines)")
def test_trades_rebuild_the_recorded_candles():
    """freqtrade's XRP/ETH trades aggregate to its 1m candles exactly (GPL data: not copied here)."""
    t = load_trades(SHARED / "trades/binance-spot_XRPETH_trades_20191011-20191013.csv.gz", "XRP/ETH@binance")
    c = load_bars(SHARED / "candles/binance-spot_XRPETH_1m_20191011-20191013.csv.gz", "XRP/ETH@binance", "1m")
    bars = run(BarAggregator("XRP/ETH@binance", ["1m"]), t.ts_event, t.price, t.size)
    got = {b.ts_open: b for b in bars}
    assert len(got) == len(c)
    for i in range(len(c)):
        b = got[int(c.ts_open[i])]
        assert (b.open, b.high, b.low, b.close) == (c.open[i], c.high[i], c.low[i], c.close[i])
        assert b.volume == pytest.approx(c.volume[i], rel=1e-9)


def test_timer_runs_on_venue_time_and_closed_bars_stay_closed():
    """Replayed history (venue clock two years behind the receive clock) closes bars on time."""
    agg = BarAggregator("X@v", ["1m"])
    lag = 2 * 365 * 86400 * 10**9
    t0 = 1_723_161_240 * 10**9  # 23:54:00 UTC
    agg.on_trade(t0 + 5 * 10**9, 10.0, 1.0, ts_init=t0 + 5 * 10**9 + lag)
    assert agg.flush(t0 + 30 * 10**9 + lag) == []  # wall clock far ahead, venue time mid-bar
    (bar,) = agg.flush(t0 + M + lag)
    assert (bar.ts_open, bar.close) == (t0, 10.0)
    assert agg.on_trade(t0 + 59 * 10**9, 11.0, 1.0, ts_init=t0 + M + lag) == []  # too late: not reopened
    assert agg.flush(t0 + 10 * M + lag) == []
