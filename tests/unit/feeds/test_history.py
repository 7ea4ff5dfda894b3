"""Loaders and validation: exact values from real files; every bad row reported as file:line."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest

from titan.core.errors import DataError
from titan.core.events import Bar, BookDelta, FundingRate, Side
from titan.feeds.history import (
    load_bars,
    load_book_deltas,
    load_funding,
    load_quotes,
    load_trades,
    validate_file,
)

DATA = Path(__file__).resolve().parents[2] / "data" / "feeds"
CANDLES = DATA / "binance-usdm_BTCUSDT-PERP_1m_20250504.csv.gz"
MS = 1_000_000


def real_lines(path: Path, n: int) -> list[str]:
    with gzip.open(path, "rt") as fh:
        return [next(fh).rstrip("\n") for _ in range(n + 1)]


def write(tmp_path: Path, name: str, lines: list[str], gz: bool = True) -> Path:
    p = tmp_path / name
    body = ("\n".join(lines) + "\n").encode()
    p.write_bytes(gzip.compress(body) if gz else body)
    return p


def test_load_bars_columns_and_events():
    s = load_bars(CANDLES, "BTC/USDT:USDT@binanceusdm")
    assert len(s) == 5000 and s.timeframe == "1m" and s.report.ok and not s.report.gaps
    # first row: 1746372780000,95505.4,95505.5,95502.7,95502.7,16.536
    assert s.ts_open[0] == 1746372780000 * MS and s.ts_event[0] == 1746372840000 * MS
    assert (s.open[0], s.high[0], s.low[0], s.close[0], s.volume[0]) == (95505.4, 95505.5, 95502.7, 95502.7, 16.536)
    assert s.ts_open.dtype == np.int64 and s.close.dtype == np.float64
    bars = list(s.events())
    assert bars[0] == Bar(instrument_id="BTC/USDT:USDT@binanceusdm", ts_event=1746372840000 * MS,
                          ts_init=1746372840000 * MS, timeframe="1m", ts_open=1746372780000 * MS,
                          open=95505.4, high=95505.5, low=95502.7, close=95502.7, volume=16.536)
    assert len(bars) == 5000 and all(b.ts_event - b.ts_open == 60_000 * MS for b in bars)


def test_explicit_timeframe_must_fit_the_data(tmp_path):
    with pytest.raises(DataError, match="not a multiple of 300000 ms"):
        load_bars(CANDLES, "X@v", "5m")


def test_bad_rows_are_reported_with_file_and_line(tmp_path):
    lines = real_lines(CANDLES, 12)
    lines[3] = lines[3].replace(",", ",x", 1)  # line 4: not a number
    lines[5] = lines[4]  # line 6: duplicate of line 5's timestamp... (and values)
    t, o, h, lo, c, v = lines[7].split(",")
    lines[7] = ",".join([t, o, str(float(o) - 100), lo, c, v])  # line 8: high below open
    lines[9] = lines[9] + ",7"  # line 10: one field too many
    lines[11], lines[12] = lines[12], lines[11]  # lines 12/13: time goes backwards
    p = write(tmp_path, "bad.csv.gz", lines)
    with pytest.raises(DataError) as e:
        load_bars(p, "X@v", "1m")
    assert str(e.value).startswith(f"{p}:4: column 'open': not a number: 'x")
    assert "and 4 more problem(s); run `titan data validate" in str(e.value)
    report = validate_file(p, "1m")
    found = {(pr.location.rsplit(":", 1)[1], pr.kind) for pr in report.problems}
    assert found == {("4", "bad_row"), ("6", "duplicate"), ("8", "ohlc"), ("10", "bad_row"), ("13", "backwards")}
    assert "high below open/close/low" in str(next(p for p in report.problems if p.kind == "ohlc"))
    dropped = load_bars(p, "X@v", "1m", on_error="drop")
    assert len(dropped) == 12 - 5 and dropped.report.problems == report.problems
    assert np.all(np.diff(dropped.ts_open) > 0)


def test_gaps_are_reported_not_errors(tmp_path):
    lines = real_lines(CANDLES, 30)
    del lines[10:13]  # three missing minutes after line 10
    s = load_bars(write(tmp_path, "gap.csv", lines, gz=False), "X@v")
    assert s.report.ok and len(s) == 27
    (gap,) = s.report.gaps
    assert gap.missing == 3 and gap.after.endswith("gap.csv:10")
    assert gap.start_ms == int(lines[9].split(",")[0]) + 60_000


def test_empty_and_unreadable_inputs(tmp_path):
    with pytest.raises(DataError, match="file not found"):
        load_bars(tmp_path / "none.csv", "X@v")
    junk = tmp_path / "junk.csv.gz"
    junk.write_bytes(b"\x1f\x8b\x08\x00garbage")
    with pytest.raises(DataError, match="unreadable"):
        load_bars(junk, "X@v")
    with pytest.raises(DataError, match="missing column"):
        load_bars(write(tmp_path, "h.csv", ["ts,open,close", "1,2,3"]), "X@v")
    with pytest.raises(DataError, match="unknown layout"):
        validate_file(write(tmp_path, "u.csv", ["ts,foo", "1,2"]))


def test_trades_side_and_ids():
    t = load_trades(DATA / "binance-usdm_BTCUSDT_trades_20240808T2354.csv.gz", "BTC/USDT:USDT@binanceusdm")
    assert len(t) == 21313 and t.report.ok
    first = next(t.events())
    assert (first.price, first.size, first.aggressor, first.trade_id) == (61800.3, 0.006, Side.BUY, "5266583935")
    assert np.all(np.diff(t.trade_id) == 1)
    assert set(np.unique(t.side).tolist()) == {-1, 1}


def test_trades_bad_side_is_a_bad_row(tmp_path):
    lines = real_lines(DATA / "binance-usdm_BTCUSDT_trades_20240808T2354.csv.gz", 5)
    lines[2] = lines[2].replace("False", "maybe")
    with pytest.raises(DataError, match=r"bad.csv:3: bad is_buyer_maker 'maybe'"):
        load_trades(write(tmp_path, "bad.csv", lines, gz=False), "X@v")


def test_funding_and_quotes(tmp_path):
    f = load_funding(DATA / "bybit-linear_BTCUSDT-PERP_funding_rate_20221213.csv.gz", "BTC/USDT:USDT@bybit")
    assert f.rate.tolist() == [-0.0002016, -0.00022398, f.rate[2]] and f.interval_ns == 8 * 3600 * 10**9
    evt = next(f.events())
    assert evt == FundingRate(instrument_id="BTC/USDT:USDT@bybit", ts_event=1670889600000 * MS,
                              ts_init=1670889600000 * MS, rate=-0.0002016, ts_next=0)  # a settlement record
    q = load_quotes(write(tmp_path, "q.csv", ["ts,bid,bid_size,ask,ask_size", "1,100.5,2,100.6,3",
                                               "2,100.7,1,100.6,1", "2,100.4,1,100.6,1"], gz=False), "X@v",
                    on_error="drop")
    assert len(q) == 2 and [p.kind for p in q.report.problems] == ["value"]
    assert "crossed quote" in q.report.problems[0].message


def test_book_deltas_rebuild_the_capture():
    deltas = load_book_deltas(DATA / "binance-usdm_BTCUSDT_l2-deltas_head.csv.gz", "BTC/USDT:USDT@binanceusdm")
    snap = deltas[0]
    assert isinstance(snap, BookDelta) and snap.is_snapshot and snap.last_update_id == 5123107852948
    assert len(snap.bids) == 1000 and len(snap.asks) == 1000
    assert not deltas[1].is_snapshot and deltas[2].prev_update_id == deltas[1].last_update_id
    assert sum(len(d.bids) + len(d.asks) for d in deltas) == 8000


def test_parquet_when_pyarrow_is_installed(tmp_path):
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    s = load_bars(CANDLES, "X@v")
    table = pa.table({"ts": s.ts_open // MS, "open": s.open, "high": s.high, "low": s.low, "close": s.close,
                      "volume": s.volume})
    path = tmp_path / "c.parquet"
    pq.write_table(table, path)
    p = load_bars(path, "X@v")
    assert np.array_equal(p.close, s.close) and np.array_equal(p.ts_open, s.ts_open)


def test_recordings_validate():
    report = validate_file(DATA / "binanceusdm_BTCUSDT_session_head.log.gz")
    assert report.ok and report.rows == 4500 and report.kind == "frames"
