"""The daemon's own candle history: 1m bars from real trades (checked against a plain numpy
per-minute OHLCV of the same trades), bounded on disk, resumed after a restart, and the venue's
own 1m bars preferred where a phase subscribed to them."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from titan.core import events as ev
from titan.feeds.history import load_bars, load_trades
from titan.ops.bar_history import BarHistory, file_name

DATA = Path(__file__).resolve().parents[2] / "data" / "feeds"
IID = "BTC/USDT:USDT@binanceusdm"
MIN_MS = 60_000


def trades():
    return load_trades(DATA / "binance-usdm_BTCUSDT_trades_20240808T2354.csv.gz", IID)


def minute_bars(series) -> np.ndarray:
    """Rows (open ms, o, h, l, c, v) of every minute the trades touched but the last (a bar
    closes when the first trade of a later minute arrives)."""
    ms = series.ts_event // 1_000_000
    minute = ms - ms % MIN_MS
    rows = []
    for m in np.unique(minute)[:-1]:
        sel = minute == m
        p, q = series.price[sel], series.size[sel]
        rows.append((m, p[0], p.max(), p.min(), p[-1], q.sum()))
    return np.array(rows)


def test_bars_from_trades_equal_a_numpy_ohlcv_and_load_as_candles(tmp_path):
    series = trades()
    h = BarHistory(tmp_path, [IID], max_bars=1000)
    for t in series.events():
        h.on_market(t)
        h.on_market(ev.Trade(instrument_id="ETH/USDT:USDT@binanceusdm", price=1.0, size=1.0,
                             aggressor=ev.Side.BUY, ts_event=t.ts_event, ts_init=t.ts_init))
    h.write(h.take())
    assert [p.name for p in tmp_path.iterdir()] == [file_name(IID)]  # only what it records
    want = minute_bars(series)
    assert len(want) >= 2 and h.bars(IID) == len(want)
    got = load_bars(h.path(IID), IID, "1m")
    assert got.ts_open.tolist() == (want[:, 0].astype(np.int64) * 1_000_000).tolist()
    for col, i in (("open", 1), ("high", 2), ("low", 3), ("close", 4)):
        assert getattr(got, col).tolist() == want[:, i].tolist()
    assert np.allclose(got.volume, want[:, 5], rtol=0, atol=1e-9)


def test_the_file_is_bounded_and_a_restart_resumes_without_duplicates(tmp_path):
    series = trades()
    want = minute_bars(series)
    h = BarHistory(tmp_path, [IID], max_bars=2)
    for t in series.events():  # one write per bar: the file grows past the bound, then shrinks
        h.on_market(t)
        h.write(h.take())
    lines = h.path(IID).read_text().splitlines()
    assert lines[0] == "ts,open,high,low,close,volume" and len(lines) - 1 <= 2 + 2 // 4
    again = BarHistory(tmp_path, [IID], max_bars=2)
    again.load()
    for t in series.events():  # the same minutes again: nothing new to keep
        again.on_market(t)
    assert again.take() == {}
    kept = load_bars(again.path(IID), IID, "1m")
    assert kept.ts_open.tolist()[-1] == int(want[-1, 0]) * 1_000_000


def test_the_venues_own_1m_bars_win_over_bars_built_from_trades(tmp_path):
    series = trades()
    h = BarHistory(tmp_path, [IID], max_bars=100)
    events = list(series.events())
    t0 = events[0].ts_event - events[0].ts_event % (MIN_MS * 1_000_000)
    venue_bar = ev.Bar(instrument_id=IID, timeframe="1m", ts_open=t0 - 60 * 10**9, ts_event=t0,
                       ts_init=t0, open=1.0, high=2.0, low=0.5, close=1.5, volume=9.0)
    h.on_market(venue_bar)
    for t in events:
        h.on_market(t)
    assert h.take() == {IID: [(venue_bar.ts_open // 1_000_000, 1.0, 2.0, 0.5, 1.5, 9.0)]}
