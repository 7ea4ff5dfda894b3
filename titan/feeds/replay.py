"""Replaying recorded data in time order, for backtests and paper runs.

``ReplayFeed(bars, funding, trades, ...)`` merges any number of event streams - loaded series
(``titan.feeds.history``) or plain iterables of events - into one stream ordered by
``(ts_event, stream position)``: at equal times the stream given first goes first. A stream
whose times go backwards is bad input and stops the replay with a ``DataError`` naming it.

``load_recording`` turns raw websocket captures into Titan events through the same routers the
live client uses (the REST snapshot lines of a capture resync its books), so a backtest sees
exactly what the live feed would have produced.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator, Mapping
from pathlib import Path

import msgspec

from titan.core.clock import SimClock
from titan.core.errors import DataError
from titan.core.events import Data, FeedStatusChanged
from titan.feeds.binance import BinanceRouter
from titan.feeds.bybit import BybitRouter
from titan.feeds.options import FeedOptions
from titan.feeds.recording import Recording, _open_text, symbol_of
from titan.feeds.router import Router
from titan.feeds.validate import Problem, ValidationReport
from titan.feeds.venues import Channel, endpoint_for


class ReplayFeed:
    """Merge event streams by ``(ts_event, stream order)``; each stream must be time-ordered."""

    def __init__(self, *streams) -> None:
        if not streams:
            raise ValueError("streams: at least one is required")
        self.streams = streams

    def __iter__(self) -> Iterator[Data]:
        sources = [self._checked(i, s) for i, s in enumerate(self.streams)]
        return heapq.merge(*sources, key=_ts)

    @staticmethod
    def _name(i: int, stream) -> str:
        iid = getattr(stream, "instrument_id", "")
        return f"stream {i}" + (f" ({type(stream).__name__} {iid})" if iid else "")

    def _checked(self, i: int, stream) -> Iterator[Data]:
        events = stream.events() if hasattr(stream, "events") else stream
        prev = None
        for n, evt in enumerate(events):
            ts = evt.ts_event
            if prev is not None and ts < prev:
                raise DataError(self._name(i, stream), f"ts_event goes backwards at event {n}: {ts} < {prev}")
            prev = ts
            yield evt


def _ts(evt: Data) -> int:
    return evt.ts_event


# ---- raw websocket recordings -----------------------------------------------------------

_BINANCE_CHANNELS = (
    ("@trade", Channel.TRADES), ("@aggTrade", Channel.TRADES), ("@bookTicker", Channel.QUOTES), ("@depth", Channel.BOOK),
    ("@kline_1m", Channel.KLINES), ("@markPrice", Channel.MARK), ("@forceOrder", Channel.LIQUIDATIONS),
)
_BYBIT_CHANNELS = (
    ("publicTrade.", Channel.TRADES), ("orderbook.1.", Channel.QUOTES), ("orderbook.", Channel.BOOK),
    ("kline.1.", Channel.KLINES), ("tickers.", Channel.MARK), ("allLiquidation.", Channel.LIQUIDATIONS),
)


def channel_of(family: str, key: str) -> Channel | None:
    table = _BINANCE_CHANNELS if family == "binance" else _BYBIT_CHANNELS
    for marker, channel in table:
        if (marker in key) if family == "binance" else key.startswith(marker):
            return channel
    return None


def load_recording(
    recording: Recording | str | Path,
    instruments: Mapping[str, str] | str,
) -> dict[str, list[Data]]:
    """Events of a raw capture, per venue stream, in arrival order (``ts_init`` = receive time).

    ``instruments`` maps venue symbols (``BTCUSDT``) to instrument ids, or is one instrument id
    used for every symbol. Streams Titan does not parse are skipped.
    """
    rec = recording if isinstance(recording, Recording) else Recording.load(recording)
    keys = rec.keys

    def iid_of(symbol: str) -> str:
        if isinstance(instruments, str):
            return instruments
        if symbol not in instruments:
            raise DataError(", ".join(rec.sources), f"no instrument id given for symbol {symbol}")
        return instruments[symbol]

    first_iid = iid_of(symbol_of(rec.family, keys[0])) if keys else ""
    depth = next((k.split("@", 1)[1] for k in keys if "@depth" in k), "depth@100ms")
    levels = next((int(k.split(".")[1]) for k in keys if k.startswith("orderbook.") and not k.startswith("orderbook.1.")), 50)
    trades = "aggTrade" if any(k.endswith("@aggTrade") for k in keys) else "trade"
    options = FeedOptions(binance_depth_stream=depth, binance_trade_stream=trades, bybit_book_depth=levels)
    out: dict[str, list[Data]] = {}
    clock = SimClock()
    pending: set[str] = set()
    if not first_iid:
        return out
    target: list[list[Data]] = [[]]

    def sink(evt) -> None:
        if not isinstance(evt, FeedStatusChanged):  # health of an offline replay means nothing
            target[0].append(evt)

    router_cls = BinanceRouter if rec.family == "binance" else BybitRouter
    router: Router = router_cls(endpoint_for(first_iid), sink, clock, options, on_resync=pending.add)
    for key in keys:
        channel = channel_of(rec.family, key)
        if channel is None:
            continue
        iid = iid_of(symbol_of(rec.family, key))
        if router.stream_for(iid, channel) == key:
            router.watch(iid, channel)
            out[key] = []
    snaps, s = rec.snapshots, 0
    for frame in rec.frames:
        while s < len(snaps) and snaps[s].ts <= frame.ts:
            snap = snaps[s]
            s += 1
            clock.advance_to(snap.ts)
            for key in [k for k in pending if symbol_of(rec.family, k) == snap.symbol]:
                pending.discard(key)
                target[0] = out[key]
                router.on_depth_snapshot(key, snap.text)
        clock.advance_to(frame.ts)
        if frame.key in out:
            target[0] = out[frame.key]
            router.on_frame(frame.text)
    return out


def validate_recording(path: str | Path) -> ValidationReport:
    """Check a raw capture: every line is JSON, receive times never go backwards."""
    p = Path(path)
    report = ValidationReport(path=str(p), kind="frames")
    prev = -1
    try:
        with _open_text(p) as fh:
            for n, line in enumerate(fh, 1):
                line = line.rstrip("\r\n")
                if not line:
                    continue
                report.rows += 1
                head, sep, rest = line.partition(" ")
                text = rest if sep and head.isdigit() else line
                if sep and head.isdigit():
                    ts = int(head)
                    if ts < prev:
                        report.problems.append(Problem(location=f"{p}:{n}", kind="backwards",
                                                       message=f"receive time goes backwards: {ts} after {prev}"))
                    prev = max(prev, ts)
                try:
                    msgspec.json.decode(text)
                except msgspec.DecodeError as e:
                    report.problems.append(Problem(location=f"{p}:{n}", kind="bad_row", message=f"invalid JSON ({e})"))
    except FileNotFoundError:
        raise DataError(str(p), "file not found") from None
    except (OSError, EOFError, UnicodeDecodeError) as e:
        raise DataError(str(p), f"unreadable ({e})") from None
    return report
