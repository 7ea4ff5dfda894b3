"""Recorded market data that drives the emulator's books: loaders and a stepping cursor.

Two recorded shapes are supported:

* L2 deltas (Binance captures): a REST snapshot then every diff-depth level change, grouped by
  update id, merged in time order with the recorded trades. Update ids are the recorded ones, so
  REST ``lastUpdateId`` and websocket ``U``/``u`` share one sequence.
* One-minute quote bars (Bybit, QuantConnect LEAN samples): each minute becomes the trades of that
  minute (one print spanning the bar's low..high with its volume) followed by a one-level snapshot
  of the closing best bid/ask and their sizes.

Nothing moves until :meth:`Tape.take` is called (by a test, the control API, or the replay task).
"""

from __future__ import annotations

import csv
import gzip
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from pathlib import Path

DATA = Path(__file__).resolve().parents[2] / "data" / "emulator"


@dataclass(frozen=True)
class BookUpdate:
    ts_ms: int
    bids: tuple[tuple[Decimal, Decimal], ...]
    asks: tuple[tuple[Decimal, Decimal], ...]
    snapshot: bool = False
    first_update_id: int = 0
    last_update_id: int = 0
    prev_update_id: int = -1


@dataclass(frozen=True)
class TradePrint:
    """A recorded trade; ``low``/``high`` span the prices it covered (a bar's range)."""

    ts_ms: int
    price: Decimal
    qty: Decimal
    side: str  # taker side: "buy" | "sell"
    trade_id: str
    low: Decimal
    high: Decimal


Item = BookUpdate | TradePrint


class Tape:
    """A cursor over recorded items; the first snapshot (and what precedes it) is the start."""

    def __init__(self, items: list[Item], source: str = "") -> None:
        if not items:
            raise ValueError(f"{source or 'tape'}: no recorded items")
        self.items = items
        self.source = source
        start = next((i for i, it in enumerate(items) if isinstance(it, BookUpdate) and it.snapshot), 0)
        self._start = start + 1
        self.pos = self._start

    def initial(self) -> list[Item]:
        return self.items[: self._start]

    def take(self, n: int) -> list[Item]:
        out = self.items[self.pos : self.pos + max(0, n)]
        self.pos += len(out)
        return out

    @property
    def remaining(self) -> int:
        return len(self.items) - self.pos

    @property
    def ts_ms(self) -> int:
        return self.items[min(self.pos, len(self.items)) - 1].ts_ms


def _rows(path: Path) -> Iterator[dict[str, str]]:
    with gzip.open(path, "rt", newline="") as f:
        yield from csv.DictReader(f)


def load_l2(book_file: str, trades_file: str, data_dir: Path = DATA) -> Tape:
    """Binance-style L2 deltas (``side`` b/a, ``is_snapshot``) plus trades, in time order."""
    return Tape(_l2_items(book_file, trades_file, data_dir), source=book_file)


@lru_cache(maxsize=16)
def _l2_items(book_file: str, trades_file: str, data_dir: Path) -> list[Item]:
    updates: list[BookUpdate] = []
    group: list[dict[str, str]] = []

    def flush() -> None:
        if not group:
            return
        first = group[0]
        bids = tuple((Decimal(r["price"]), Decimal(r["qty"])) for r in group if r["side"] == "b")
        asks = tuple((Decimal(r["price"]), Decimal(r["qty"])) for r in group if r["side"] == "a")
        updates.append(BookUpdate(
            ts_ms=int(first["ts"]), bids=bids, asks=asks, snapshot=first["is_snapshot"] == "True",
            first_update_id=int(first["first_update_id"]), last_update_id=int(first["last_update_id"]),
            prev_update_id=int(first.get("prev_update_id") or -1),
        ))
        group.clear()

    key = None
    for row in _rows(data_dir / book_file):
        k = (row["last_update_id"], row["is_snapshot"])
        if k != key:
            flush()
            key = k
        group.append(row)
    flush()
    trades = [
        TradePrint(
            ts_ms=int(r["ts"]), price=Decimal(r["price"]), qty=Decimal(r["qty"]),
            side="sell" if r["is_buyer_maker"] == "True" else "buy", trade_id=r["trade_id"],
            low=Decimal(r["price"]), high=Decimal(r["price"]),
        )
        for r in _rows(data_dir / trades_file)
    ]
    snap_ts = next(u.ts_ms for u in updates if u.snapshot)
    trades = [t for t in trades if t.ts_ms >= snap_ts]
    items: list[Item] = [*updates, *trades]
    # stable: at equal ts, book updates (listed first) precede trades
    items.sort(key=lambda it: it.ts_ms)
    return items


def load_quote_bars(quote_file: str, bars_file: str, data_dir: Path = DATA) -> Tape:
    """One-minute quote bars + trade bars -> per minute: a range print, then a 1-level snapshot."""
    return Tape(_bar_items(quote_file, bars_file, data_dir), source=quote_file)


@lru_cache(maxsize=16)
def _bar_items(quote_file: str, bars_file: str, data_dir: Path) -> list[Item]:
    bars = {int(r["ts"]): r for r in _rows(data_dir / bars_file)}
    quotes = {int(r["ts"]): r for r in _rows(data_dir / quote_file)}
    items: list[Item] = []
    seq = 0
    for ts in sorted(set(bars) | set(quotes)):
        bar = bars.get(ts)
        if bar is not None and items:
            close, vol = Decimal(bar["close"]), Decimal(bar["volume"])
            up = close >= Decimal(bar["open"])
            items.append(TradePrint(
                ts_ms=ts + 59_999, price=close, qty=vol, side="buy" if up else "sell",
                trade_id=f"bar-{ts}", low=Decimal(bar["low"]), high=Decimal(bar["high"]),
            ))
        q = quotes.get(ts)
        if q is not None:
            seq += 1
            items.append(BookUpdate(
                ts_ms=ts + 60_000,
                bids=((Decimal(q["bid_close"]), Decimal(q["bid_size"])),),
                asks=((Decimal(q["ask_close"]), Decimal(q["ask_size"])),),
                snapshot=True, first_update_id=seq, last_update_id=seq,
            ))
    return items


@dataclass(frozen=True)
class Candle:
    ts_ms: int
    open: str
    high: str
    low: str
    close: str
    volume: str


@lru_cache(maxsize=16)
def load_candles(file: str, data_dir: Path = DATA) -> list[Candle]:
    return [Candle(int(r["ts"]), r["open"], r["high"], r["low"], r["close"], r["volume"])
            for r in _rows(data_dir / file)]


@lru_cache(maxsize=16)
def load_funding(file: str, data_dir: Path = DATA) -> list[tuple[int, Decimal]]:
    return [(int(r["ts"]), Decimal(r["funding_rate"])) for r in _rows(data_dir / file)]
