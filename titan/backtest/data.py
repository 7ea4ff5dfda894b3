"""Market data for a backtest: which streams, in which window, and the marks they imply.

The runner replays *streams* - loaded series from ``titan.feeds.history`` (columns, turned into
events lazily) or plain lists of events (``titan.feeds.replay.load_recording``). This module
cuts them to a time window and extracts each instrument's price path (the *marks*) as numpy
arrays, from which the equity curve is rebuilt after the run without costing the hot loop
anything.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from titan.core import events as ev
from titan.core.errors import DataError
from titan.feeds.history import BarSeries, FundingSeries, QuoteSeries, TradeSeries

Stream = BarSeries | FundingSeries | TradeSeries | QuoteSeries | Sequence[ev.Data]
NS = 1_000_000_000


def parse_time(text: str, name: str = "time") -> int:
    """``2025-05-10``, ``2025-05-10T12:30`` or ``2025-05-10 12:30:00`` (UTC) or epoch ms -> ns."""
    s = text.strip()
    if s.isdigit():
        return int(s) * 1_000_000
    try:
        t = dt.datetime.fromisoformat(s.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"{name}: expected a date like 2025-05-10 or 2025-05-10T12:30 (UTC), got {text!r}") from None
    if t.tzinfo is None:
        t = t.replace(tzinfo=dt.UTC)
    return int(t.timestamp()) * NS + t.microsecond * 1000


def window(stream: Stream, start_ns: int | None, end_ns: int | None) -> Stream:
    """The part of a stream with ``start_ns <= ts_event < end_ns`` (bars: by open time)."""
    if start_ns is None and end_ns is None:
        return stream
    lo = -(1 << 62) if start_ns is None else start_ns
    hi = 1 << 62 if end_ns is None else end_ns
    if isinstance(stream, BarSeries):
        keep = (stream.ts_open >= lo) & (stream.ts_open < hi)
        return BarSeries(stream.instrument_id, stream.timeframe, stream.ts_open[keep], stream.open[keep],
                         stream.high[keep], stream.low[keep], stream.close[keep], stream.volume[keep],
                         stream.report)
    if isinstance(stream, FundingSeries):
        keep = (stream.ts_event >= lo) & (stream.ts_event < hi)
        return FundingSeries(stream.instrument_id, stream.ts_event[keep], stream.rate[keep],
                             stream.interval_ns, stream.report)
    if isinstance(stream, TradeSeries):
        keep = (stream.ts_event >= lo) & (stream.ts_event < hi)
        return TradeSeries(stream.instrument_id, stream.ts_event[keep], stream.price[keep], stream.size[keep],
                           stream.side[keep], stream.trade_id[keep], stream.report)
    if isinstance(stream, QuoteSeries):
        keep = (stream.ts_event >= lo) & (stream.ts_event < hi)
        return QuoteSeries(stream.instrument_id, stream.ts_event[keep], stream.bid[keep], stream.bid_size[keep],
                           stream.ask[keep], stream.ask_size[keep], stream.report)
    return [e for e in stream if lo <= e.ts_event < hi]


def funding_settlements(series: FundingSeries) -> list[ev.FundingRate]:
    """Recorded funding as a list of settlement records (``FundingSeries.events()``, listed)."""
    return list(series.events())


def first_ts(streams: Iterable[Stream], *, received: bool = False) -> int | None:
    """The earliest ``ts_event`` (or ``ts_init`` with ``received``) of any stream."""
    out = None
    for s in streams:
        ts = _ts_array(s, received)
        if ts.size and (out is None or int(ts[0]) < out):
            out = int(ts[0])
    return out


def last_ts(streams: Iterable[Stream]) -> int | None:
    out = None
    for s in streams:
        ts = _ts_array(s)
        if ts.size and (out is None or int(ts[-1]) > out):
            out = int(ts[-1])
    return out


def event_count(streams: Iterable[Stream]) -> int:
    return sum(int(_ts_array(s).size) for s in streams)


def _ts_array(stream: Stream, received: bool = False) -> np.ndarray:
    if isinstance(stream, BarSeries):
        return stream.ts_event  # a loaded candle is known at its close: ts_init = ts_event
    if isinstance(stream, (FundingSeries, TradeSeries, QuoteSeries)):
        return stream.ts_event
    if received:
        return np.fromiter((e.ts_init for e in stream), dtype=np.int64, count=len(stream))
    return np.fromiter((e.ts_event for e in stream), dtype=np.int64, count=len(stream))


class Marks:
    """One instrument's price path: ``ts`` (int64 ns, ascending) and ``price`` (float64)."""

    __slots__ = ("ts", "price")

    def __init__(self, ts: np.ndarray, price: np.ndarray) -> None:
        self.ts = ts
        self.price = price

    def at(self, times: np.ndarray) -> np.ndarray:
        """The last price at or before each time (NaN before the first)."""
        i = np.searchsorted(self.ts, times, side="right") - 1
        out = self.price[np.clip(i, 0, None)] if self.price.size else np.full(len(times), np.nan)
        return np.where(i >= 0, out, np.nan)


def marks(streams: Iterable[Stream]) -> dict[str, Marks]:
    """Each instrument's price path, as ``ShadowState`` marks it: the mark price where a
    MarkPrice stream exists, else bar closes, trades and quote mids merged in time."""
    parts: dict[str, list[tuple[np.ndarray, np.ndarray]]] = {}
    mark_priced: dict[str, list[tuple[np.ndarray, np.ndarray]]] = {}
    for s in streams:
        if isinstance(s, BarSeries):
            parts.setdefault(s.instrument_id, []).append((s.ts_event, s.close))
        elif isinstance(s, TradeSeries):
            parts.setdefault(s.instrument_id, []).append((s.ts_event, s.price))
        elif isinstance(s, QuoteSeries):
            parts.setdefault(s.instrument_id, []).append((s.ts_event, (s.bid + s.ask) * 0.5))
        elif not isinstance(s, FundingSeries):
            for iid, ts, px, is_mark in _event_prices(s):
                (mark_priced if is_mark else parts).setdefault(iid, []).append((ts, px))
    out: dict[str, Marks] = {}
    for iid in set(parts) | set(mark_priced):
        chosen = mark_priced.get(iid) or parts[iid]
        ts = np.concatenate([t for t, _ in chosen]).astype(np.int64)
        px = np.concatenate([p for _, p in chosen]).astype(np.float64)
        order = np.argsort(ts, kind="stable")
        out[iid] = Marks(ts[order], px[order])
    return out


def tick_prices(streams: Iterable[Stream]) -> np.ndarray | None:
    """Prices as the venue printed them - candles, trades, else quotes' bids and asks (never
    mid prices, which fall between ticks) - to infer the tick from."""
    by_kind: dict[str, list[float]] = {}
    for s in streams:
        if isinstance(s, BarSeries):
            return s.close
        if isinstance(s, TradeSeries):
            return s.price
        if isinstance(s, QuoteSeries):
            by_kind.setdefault("quote", []).extend(np.concatenate([s.bid, s.ask]).tolist())
        elif not isinstance(s, FundingSeries):
            for e in s[:20_000]:
                cls = e.__class__
                if cls is ev.Trade:
                    by_kind.setdefault("trade", []).append(e.price)
                elif cls is ev.Bar:
                    by_kind.setdefault("bar", []).append(e.close)
                elif cls is ev.Quote:
                    by_kind.setdefault("quote", []).extend((e.bid, e.ask))
    for kind in ("bar", "trade", "quote"):
        if by_kind.get(kind):
            return np.asarray(by_kind[kind], dtype=np.float64)
    return None


def _event_prices(events: Sequence[ev.Data]):
    rows: dict[tuple[str, bool], tuple[list[int], list[float]]] = {}
    for e in events:
        cls = e.__class__
        if cls is ev.Bar:
            p, is_mark = e.close, False
        elif cls is ev.Trade:
            p, is_mark = e.price, False
        elif cls is ev.Quote:
            if not (e.bid > 0 and e.ask > 0):
                continue
            p, is_mark = (e.bid + e.ask) * 0.5, False
        elif cls is ev.MarkPrice:
            p, is_mark = e.mark, True
        else:
            continue
        ts_list, px_list = rows.setdefault((e.instrument_id, is_mark), ([], []))
        ts_list.append(e.ts_event)
        px_list.append(p)
    for (iid, is_mark), (ts_list, px_list) in rows.items():
        yield iid, np.asarray(ts_list, dtype=np.int64), np.asarray(px_list, dtype=np.float64), is_mark


RECORDING_SUFFIXES = (".log", ".log.gz", ".jsonl", ".jsonl.gz")


def is_recording(path: str | Path) -> bool:
    return Path(path).name.endswith(RECORDING_SUFFIXES)


def recording_venue(path: str | Path, perpetual: bool) -> str:
    """The venue a raw capture comes from (its first message's protocol, and the market kind):
    its events must carry that venue's instrument ids, as the live feed's would."""
    import gzip

    p = Path(path)
    opener = gzip.open if p.suffix == ".gz" else open
    try:
        with opener(p, "rt", encoding="utf-8") as f:
            head = next((line for line in f if line.strip()), "")
    except (OSError, EOFError, UnicodeDecodeError) as e:
        raise DataError(str(p), f"unreadable ({e})") from None
    if '"stream"' in head:
        return "binanceusdm" if perpetual else "binance"
    if '"topic"' in head:
        return "bybit"
    raise DataError(f"{p}:1", "not a Binance or Bybit websocket recording")


def load_file(path: str | Path, instrument_id: str, timeframe: str | None = None) -> list[Stream]:
    """A data file as backtest streams: candles, trades or quotes (by header), or a raw
    websocket recording (``.log[.gz]``, ``.jsonl[.gz]``) replayed through the live routers."""
    from titan.feeds.history import load_bars, load_quotes, load_trades
    from titan.feeds.tables import read_header

    p = Path(path)
    if not p.is_file():
        raise DataError(str(path), "file not found")
    if is_recording(p):
        from titan.feeds.replay import load_recording

        streams = load_recording(p, instrument_id)
        return [events for events in streams.values() if events]
    header = read_header(p)
    if {"open", "high", "low", "close"} <= set(header):
        return [load_bars(p, instrument_id, timeframe)]
    if {"bid", "ask"} <= set(header):
        return [load_quotes(p, instrument_id)]
    if "price" in header:
        return [load_trades(p, instrument_id)]
    raise DataError(f"{p}:1", f"not candles, trades, quotes or a recording (header {','.join(header)})")
