"""Historical market data from disk: candles, trades, funding, quotes, book deltas.

Loaders return small column series (numpy arrays, int64 ns times, float64 values) that the
backtest can use vectorised, and that turn into Titan events with ``.events()``. Every file is
validated on load (``titan.feeds.validate``): bad rows are reported as ``file:line`` and, with
the default ``on_error="raise"``, loading stops with a ``DataError``; ``on_error="drop"`` leaves
them out *and* keeps them in ``series.report`` (logged once) - they are never used silently.
Gaps are not errors; they are listed in the report.

File layouts are those of the shared data README: CSV(.gz) with a header, first column ``ts`` in
epoch milliseconds (candle open time), or Parquet with the same column names.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from titan.core.errors import DataError
from titan.core.events import Bar, BookDelta, FundingRate, Quote, Side, Trade
from titan.feeds.bars import timeframe_name, timeframe_ns
from titan.feeds.tables import Table, read_header, read_table
from titan.feeds.validate import (
    Problem,
    ValidationReport,
    check_ohlcv,
    check_time,
    check_values,
    infer_step_ms,
    sort_problems,
)

log = logging.getLogger(__name__)
MS = 1_000_000
FUNDING_8H = 8 * 3600 * 1_000_000_000


class _Series:
    instrument_id: str
    report: ValidationReport
    ts_event: np.ndarray

    def __len__(self) -> int:
        return int(self.ts_event.size)


class BarSeries(_Series):
    """OHLCV columns; ``ts_open`` and ``ts_event`` (close time = open + timeframe) in ns."""

    __slots__ = ("instrument_id", "timeframe", "ts_open", "ts_event", "open", "high", "low", "close",
                 "volume", "report")

    def __init__(self, instrument_id: str, timeframe: str, ts_open: np.ndarray, open_: np.ndarray,
                 high: np.ndarray, low: np.ndarray, close: np.ndarray, volume: np.ndarray,
                 report: ValidationReport) -> None:
        self.instrument_id = instrument_id
        self.timeframe = timeframe
        self.ts_open = ts_open
        self.ts_event = ts_open + timeframe_ns(timeframe)
        self.open, self.high, self.low, self.close, self.volume = open_, high, low, close, volume
        self.report = report

    def events(self) -> Iterator[Bar]:
        iid, tf = self.instrument_id, self.timeframe
        cols = (self.ts_open.tolist(), self.ts_event.tolist(), self.open.tolist(), self.high.tolist(),
                self.low.tolist(), self.close.tolist(), self.volume.tolist())
        for t0, t1, o, h, lo, c, v in zip(*cols, strict=False):
            yield Bar(instrument_id=iid, ts_event=t1, ts_init=t1, timeframe=tf, ts_open=t0,
                      open=o, high=h, low=lo, close=c, volume=v)


class TradeSeries(_Series):
    """Trades: ``side`` is the aggressor (+1 buy, -1 sell); ``trade_id`` -1 when unknown."""

    __slots__ = ("instrument_id", "ts_event", "price", "size", "side", "trade_id", "report")

    def __init__(self, instrument_id: str, ts_event, price, size, side, trade_id, report) -> None:
        self.instrument_id = instrument_id
        self.ts_event, self.price, self.size, self.side, self.trade_id = ts_event, price, size, side, trade_id
        self.report = report

    def events(self) -> Iterator[Trade]:
        iid, buy, sell = self.instrument_id, Side.BUY, Side.SELL
        for ts, p, q, s, tid in zip(self.ts_event.tolist(), self.price.tolist(), self.size.tolist(),
                                    self.side.tolist(), self.trade_id.tolist(), strict=False):
            yield Trade(instrument_id=iid, ts_event=ts, ts_init=ts, price=p, size=q,
                        aggressor=buy if s > 0 else sell, trade_id=str(tid) if tid >= 0 else "")


class FundingSeries(_Series):
    """Funding settlements: ``rate`` is the fraction paid per interval at ``ts_event``.

    ``events()`` yields settlement records (``ts_next`` 0: settled at ``ts_event``), which is
    what a history file holds and how the SimVenue books them at their own time. (A live
    ticker's ``FundingRate`` has ``ts_next`` set: it *announces* the rate of a later settlement.)
    """

    __slots__ = ("instrument_id", "ts_event", "rate", "interval_ns", "report")

    def __init__(self, instrument_id: str, ts_event, rate, interval_ns: int, report) -> None:
        self.instrument_id, self.ts_event, self.rate = instrument_id, ts_event, rate
        self.interval_ns = interval_ns
        self.report = report

    def events(self) -> Iterator[FundingRate]:
        iid, step = self.instrument_id, self.interval_ns
        for ts, r in zip(self.ts_event.tolist(), self.rate.tolist(), strict=False):
            yield FundingRate(instrument_id=iid, ts_event=ts, ts_init=ts, rate=r, interval_ns=step)


class QuoteSeries(_Series):
    __slots__ = ("instrument_id", "ts_event", "bid", "bid_size", "ask", "ask_size", "report")

    def __init__(self, instrument_id: str, ts_event, bid, bid_size, ask, ask_size, report) -> None:
        self.instrument_id, self.ts_event = instrument_id, ts_event
        self.bid, self.bid_size, self.ask, self.ask_size = bid, bid_size, ask, ask_size
        self.report = report

    def events(self) -> Iterator[Quote]:
        iid = self.instrument_id
        for ts, b, bs, a, az in zip(self.ts_event.tolist(), self.bid.tolist(), self.bid_size.tolist(),
                                    self.ask.tolist(), self.ask_size.tolist(), strict=False):
            yield Quote(instrument_id=iid, ts_event=ts, ts_init=ts, bid=b, bid_size=bs, ask=a, ask_size=az)


# ---- loaders -----------------------------------------------------------------------------


def load_bars(path: str | Path, instrument_id: str, timeframe: str | None = None, *,
              on_error: str = "raise") -> BarSeries:
    """Candles ``ts,open,high,low,close[,volume]``; ``timeframe`` is inferred when omitted."""
    t, report = _table(path, "candles", ["ts", "open", "high", "low", "close"], optional=["volume"])
    ts = t.columns["ts"]
    step_ms = timeframe_ns(timeframe) // MS if timeframe else infer_step_ms(ts[np.isfinite(ts)].astype(np.int64))
    if step_ms <= 0 or (not timeframe and step_ms % 60_000):
        raise DataError(str(path), "cannot infer the timeframe (pass timeframe=, e.g. '1m')")
    tf = timeframe or timeframe_name(step_ms * MS)
    vol = t.columns.get("volume", np.zeros(len(t)))
    bad = _bad_ts(report, t) | check_ohlcv(report, t.columns["open"], t.columns["high"], t.columns["low"],
                                           t.columns["close"], vol, t.lines)
    keep = _time_filter(report, t, ~bad, step_ms)
    _finish(report, on_error, len(t))
    c = t.columns
    return BarSeries(instrument_id, tf, c["ts"][keep].astype(np.int64) * MS, c["open"][keep], c["high"][keep],
                     c["low"][keep], c["close"][keep], vol[keep], report)


def load_trades(path: str | Path, instrument_id: str, *, on_error: str = "raise") -> TradeSeries:
    """Trades with ``price`` and ``qty``/``amount``, aggressor from ``side`` or ``is_buyer_maker``."""
    header = read_header(path)
    size_col = "qty" if "qty" in header else "amount"
    side_col = "is_buyer_maker" if "is_buyer_maker" in header else "side"
    id_col = next((c for c in ("trade_id", "id") if c in header), None)
    numeric = ["ts", "price", size_col] + ([id_col] if id_col else [])
    t, report = _table(path, "trades", numeric, text=[side_col])
    raw_side = np.char.lower(t.columns[side_col].astype(str))
    if side_col == "is_buyer_maker":
        side = np.where(raw_side == "true", -1, np.where(raw_side == "false", 1, 0)).astype(np.int8)
    else:
        side = np.where(raw_side == "buy", 1, np.where(raw_side == "sell", -1, 0)).astype(np.int8)
    for i in np.flatnonzero(side == 0):
        report.problems.append(_problem(report, t.lines[i], "value", f"bad {side_col} {str(t.columns[side_col][i])!r}"))
    bad = (side == 0) | _bad_ts(report, t)
    bad |= check_values(report, "price", t.columns["price"], t.lines, positive=True)
    bad |= check_values(report, size_col, t.columns[size_col], t.lines, positive=True)
    keep = _time_filter(report, t, ~bad, 0, allow_equal=True)
    _finish(report, on_error, len(t))
    ids = t.columns[id_col][keep].astype(np.int64) if id_col else np.full(int(keep.sum()), -1, np.int64)
    return TradeSeries(instrument_id, t.columns["ts"][keep].astype(np.int64) * MS, t.columns["price"][keep],
                       t.columns[size_col][keep], side[keep], ids, report)


def load_funding(path: str | Path, instrument_id: str, *, on_error: str = "raise") -> FundingSeries:
    """Funding history ``ts,funding_rate`` (fraction per interval; ``ts`` = settlement time)."""
    t, report = _table(path, "funding", ["ts", "funding_rate"])
    bad = _bad_ts(report, t) | check_values(report, "funding_rate", t.columns["funding_rate"], t.lines)
    keep = _time_filter(report, t, ~bad, 0)
    _finish(report, on_error, len(t))
    ts = t.columns["ts"][keep].astype(np.int64) * MS
    step = infer_step_ms(ts // MS) * MS or FUNDING_8H
    return FundingSeries(instrument_id, ts, t.columns["funding_rate"][keep], step, report)


def load_quotes(path: str | Path, instrument_id: str, *, on_error: str = "raise") -> QuoteSeries:
    """Top of book ``ts,bid,bid_size,ask,ask_size``."""
    cols = ["ts", "bid", "bid_size", "ask", "ask_size"]
    t, report = _table(path, "quotes", cols)
    bad = _bad_ts(report, t)
    for c in cols[1:]:
        bad |= check_values(report, c, t.columns[c], t.lines, positive=c in ("bid", "ask"))
    crossed = (t.columns["bid"] >= t.columns["ask"]) & ~bad
    for i in np.flatnonzero(crossed):
        report.problems.append(_problem(report, t.lines[i], "value", f"crossed quote bid {float(t.columns['bid'][i])!r} >= ask {float(t.columns['ask'][i])!r}"))
    keep = _time_filter(report, t, ~(bad | crossed), 0, allow_equal=True)
    _finish(report, on_error, len(t))
    c = {k: t.columns[k][keep] for k in cols}
    return QuoteSeries(instrument_id, c["ts"].astype(np.int64) * MS, c["bid"], c["bid_size"], c["ask"], c["ask_size"], report)


def load_book_deltas(path: str | Path, instrument_id: str) -> list[BookDelta]:
    """L2 rows ``ts,...,first_update_id,last_update_id,[prev_update_id,]side,price,qty,is_snapshot``
    grouped into one ``BookDelta`` per update (snapshot rows into one snapshot)."""
    header = read_header(path)
    numeric = ["ts", "first_update_id", "last_update_id", "price", "qty"]
    has_prev = "prev_update_id" in header
    t, report = _table(path, "book", numeric + (["prev_update_id"] if has_prev else []), text=["side", "is_snapshot"])
    _finish(report, "raise", len(t))
    c = t.columns
    snap = np.char.lower(c["is_snapshot"].astype(str)) == "true"
    bid = np.char.lower(c["side"].astype(str)) == "b"
    last = c["last_update_id"]
    cut = np.flatnonzero((np.diff(last) != 0) | (np.diff(snap) != 0)) + 1
    out: list[BookDelta] = []
    prices, sizes = c["price"].tolist(), c["qty"].tolist()
    for a, b in zip(np.r_[0, cut].tolist(), np.r_[cut, len(t)].tolist(), strict=False):
        levels = list(zip(prices[a:b], sizes[a:b], strict=False))
        sides = bid[a:b].tolist()
        ts = int(c["ts"][a]) * MS
        out.append(BookDelta(
            instrument_id=instrument_id, ts_event=ts, ts_init=ts,
            bids=tuple(lv for lv, isb in zip(levels, sides, strict=False) if isb),
            asks=tuple(lv for lv, isb in zip(levels, sides, strict=False) if not isb),
            is_snapshot=bool(snap[a]), first_update_id=int(c["first_update_id"][a]),
            last_update_id=int(last[a]), prev_update_id=int(c["prev_update_id"][a]) if has_prev else -1,
        ))
    return out


def validate_file(path: str | Path, timeframe: str | None = None) -> ValidationReport:
    """Validate any supported file (kind detected from its header) without raising on problems."""
    p = Path(path)
    if p.name.endswith((".jsonl", ".jsonl.gz", ".log", ".log.gz")):
        from titan.feeds.replay import validate_recording

        return validate_recording(p)
    header = read_header(p)
    if {"open", "high", "low", "close"} <= set(header):
        return load_bars(p, "validate@file", timeframe, on_error="drop").report
    if "funding_rate" in header:
        return load_funding(p, "validate@file", on_error="drop").report
    if {"bid", "ask"} <= set(header):
        return load_quotes(p, "validate@file", on_error="drop").report
    if {"side", "is_snapshot", "price"} <= set(header):
        t, report = _table(p, "book", ["ts", "last_update_id", "price", "qty"])
        bad = _bad_ts(report, t) | check_values(report, "price", t.columns["price"], t.lines, positive=True)
        bad |= check_values(report, "qty", t.columns["qty"], t.lines)
        _time_filter(report, t, ~bad, 0, allow_equal=True)
        sort_problems(report)
        return report
    if "price" in header:
        return load_trades(p, "validate@file", on_error="drop").report
    raise DataError(f"{p}:1", f"unknown layout (header {','.join(header)})")


# ---- shared steps ------------------------------------------------------------------------


def _table(path, kind: str, numeric: list[str], *, text: list[str] | None = None,
           optional: list[str] | None = None) -> tuple[Table, ValidationReport]:
    header = read_header(path)
    numeric = numeric + [c for c in optional or () if c in header]
    t = read_table(path, numeric, text or ())
    report = ValidationReport(path=str(path), kind=kind, rows=len(t) + len(t.problems), problems=list(t.problems))
    return t, report


def _problem(report: ValidationReport, line, kind: str, message: str) -> Problem:
    return Problem(location=f"{report.path}:{int(line)}", kind=kind, message=message)


def _bad_ts(report: ValidationReport, t: Table) -> np.ndarray:
    ts = t.columns["ts"]
    bad = ~np.isfinite(ts) | (ts < 0) | (ts != np.floor(ts))
    for i in np.flatnonzero(bad):
        report.problems.append(_problem(report, t.lines[i], "value", f"bad timestamp {float(ts[i])!r} (expected epoch ms)"))
    return bad


def _time_filter(report: ValidationReport, t: Table, keep: np.ndarray, step_ms: int, *,
                 allow_equal: bool = False) -> np.ndarray:
    """Run the time checks on the rows still kept; returns the final keep mask."""
    idx = np.flatnonzero(keep)
    ts = t.columns["ts"][idx].astype(np.int64)
    if allow_equal:  # trades/quotes may share a millisecond; only backwards time is wrong
        running = np.maximum.accumulate(ts) if ts.size else ts
        back = np.flatnonzero(ts[1:] < running[:-1]) + 1
        for i in back:
            report.problems.append(_problem(report, t.lines[idx[i]], "backwards",
                                            f"time goes backwards: {int(ts[i])} after {int(running[i - 1])}"))
        if ts.size:
            report.first_ms, report.last_ms = int(ts[0]), int(ts[-1])
        bad = np.zeros(ts.size, dtype=bool)
        bad[back] = True
    else:
        bad = check_time(report, ts, t.lines[idx], step_ms=step_ms)
    out = keep.copy()
    out[idx[bad]] = False
    return out


def _finish(report: ValidationReport, on_error: str, rows: int) -> None:
    if on_error not in ("raise", "drop"):
        raise ValueError(f"on_error: expected 'raise' or 'drop', got {on_error!r}")
    sort_problems(report)
    if not report.problems:
        return
    first = report.problems[0]
    more = len(report.problems) - 1
    if on_error == "raise":
        location, _, _ = first.location.rpartition(":")
        raise DataError(first.location, f"{first.message}" + (f" (and {more} more problem(s); run `titan data validate {location}`)" if more else ""))
    log.warning("%s: %d bad row(s) left out (first: %s)", report.path, len(report.problems), first)
