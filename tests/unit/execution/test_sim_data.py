"""Real market data for the SimVenue tests (``tests/data/sim/``), the instruments it trades, and
a loop that drives a venue exactly as the runners do. The tests here check the loaders, so a
broken file fails loudly instead of silently testing nothing."""

from __future__ import annotations

import csv
import gzip
from collections.abc import Callable, Iterable
from decimal import Decimal as D
from pathlib import Path

from titan.core import events as ev
from titan.core.clock import SimClock
from titan.core.instruments import Instrument, InstrumentKind
from titan.execution.sim import SimVenue

DATA = Path(__file__).resolve().parents[2] / "data" / "sim"
MS = 1_000_000
MIN = 60_000 * MS

PERP = Instrument(
    symbol="BTC/USDT:USDT", venue="bybit", base="BTC", quote="USDT", settle="USDT",
    kind=InstrumentKind.PERPETUAL, tick_size=D("0.1"), lot_size=D("0.001"), min_qty=D("0.001"),
    maker_fee=D("0.0002"), taker_fee=D("0.00055"), max_leverage=D("100"),
)
USDM = Instrument(
    symbol="BTC/USDT:USDT", venue="binanceusdm", base="BTC", quote="USDT", settle="USDT",
    kind=InstrumentKind.PERPETUAL, tick_size=D("0.1"), lot_size=D("0.001"),
    min_notional=D("100"), maker_fee=D("0.0002"), taker_fee=D("0.0005"),
)
SPOT = Instrument(
    symbol="BTC/USDT", venue="bybit", base="BTC", quote="USDT", tick_size=D("0.1"),
    lot_size=D("0.001"), maker_fee=D("0.001"), taker_fee=D("0.001"),
)


def _rows(name: str) -> list[dict[str, str]]:
    with gzip.open(DATA / name, "rt", newline="") as f:
        return list(csv.DictReader(f))


def bybit_bars(iid: str = PERP.id) -> list[ev.Bar]:
    """Bybit BTCUSDT perpetual 1m bars of 2022-12-13 (``ts_event`` = the bar's close time)."""
    out = []
    for r in _rows("bybit-linear_BTCUSDT-PERP_1m_20221213.csv.gz"):
        t0 = int(r["ts"]) * MS
        out.append(ev.Bar(
            instrument_id=iid, ts_event=t0 + MIN, ts_init=t0 + MIN, timeframe="1m", ts_open=t0,
            open=float(r["open"]), high=float(r["high"]), low=float(r["low"]),
            close=float(r["close"]), volume=float(r["volume"]),
        ))
    return out


def bybit_funding(iid: str = PERP.id) -> list[ev.FundingRate]:
    """Recorded settlements (``ts_next`` 0: the rate was settled at ``ts_event``)."""
    return [
        ev.FundingRate(instrument_id=iid, ts_event=int(r["ts"]) * MS, ts_init=int(r["ts"]) * MS,
                       rate=float(r["funding_rate"]))
        for r in _rows("bybit-linear_BTCUSDT-PERP_funding_rate_20221213.csv.gz")
    ]


def binance_book_rows() -> list[dict[str, str]]:
    return _rows("binance-usdm_BTCUSDT_l2-deltas_20240808T2354_20s.csv.gz")


def binance_book(iid: str = USDM.id) -> list[ev.BookDelta]:
    """One BookDelta per venue update (the snapshot first), levels as floats."""
    out: list[ev.BookDelta] = []
    group: list[dict[str, str]] = []

    def flush() -> None:
        if not group:
            return
        ts = int(group[0]["ts"]) * MS
        out.append(ev.BookDelta(
            instrument_id=iid, ts_event=ts, ts_init=ts,
            bids=tuple((float(r["price"]), float(r["qty"])) for r in group if r["side"] == "b"),
            asks=tuple((float(r["price"]), float(r["qty"])) for r in group if r["side"] == "a"),
            is_snapshot=group[0]["is_snapshot"] == "True",
            first_update_id=int(group[0]["first_update_id"]),
            last_update_id=int(group[0]["last_update_id"]),
        ))
        group.clear()

    for r in binance_book_rows():
        if group and r["last_update_id"] != group[0]["last_update_id"]:
            flush()
        group.append(r)
    flush()
    return out


def binance_trades(iid: str = USDM.id) -> list[ev.Trade]:
    return [
        ev.Trade(instrument_id=iid, ts_event=int(r["ts"]) * MS, ts_init=int(r["ts"]) * MS,
                 price=float(r["price"]), size=float(r["qty"]), trade_id=r["trade_id"],
                 aggressor=ev.Side.SELL if r["is_buyer_maker"] == "True" else ev.Side.BUY)
        for r in _rows("binance-usdm_BTCUSDT_trades_20240808T2354_20s.csv.gz")
    ]


def binance_market(iid: str = USDM.id) -> list[ev.Data]:
    """Book updates and trades merged in time order (book first at equal times)."""
    book = binance_book(iid)
    start = book[0].ts_event
    trades = [t for t in binance_trades(iid) if t.ts_event >= start]
    return sorted(book + trades, key=lambda e: (e.ts_event, e.__class__ is ev.Trade))


class Loop:
    """Drives a SimVenue as the runners do; ``strategy(evt)`` plays the kernel's part."""

    def __init__(self, instruments: Iterable[Instrument], start_ns: int = 0, **kwargs) -> None:
        self.clock = SimClock(start_ns)
        self.events: list[ev.Message] = []
        self.venue = SimVenue(list(instruments), clock=self.clock, sink=self.events.append,
                              **kwargs)

    def run(self, data: Iterable[ev.Data], strategy: Callable[[ev.Data], None] | None = None,
            on_timer: Callable[[ev.TimeEvent], None] | None = None) -> list[ev.Message]:
        before = len(self.events)
        for evt in data:
            ts = evt.ts_event
            for timer in self.clock.advance_to(ts):  # the runner dispatches due timers first
                if on_timer is not None:
                    on_timer(timer)
            self.venue.on_market(evt)
            if strategy is not None:
                strategy(evt)
            self.venue.process(ts)
        return self.events[before:]

    def of(self, cls: type) -> list:
        return [e for e in self.events if isinstance(e, cls)]


def order(cid: str, side: ev.Side, qty: str, *, iid: str = PERP.id, price: str | None = None,
          order_type: ev.OrderType | None = None, trigger: str | None = None,
          **kwargs) -> ev.SubmitOrder:
    if order_type is None:
        order_type = ev.OrderType.LIMIT if price is not None else ev.OrderType.MARKET
    return ev.SubmitOrder(
        ts_init=0, client_order_id=cid, phase="test", instrument_id=iid, side=side,
        order_type=order_type, quantity=D(qty), price=None if price is None else D(price),
        trigger_price=None if trigger is None else D(trigger), **kwargs,
    )


# ---- the loaders themselves -----------------------------------------------------------------


def test_bars_are_the_real_file():
    bars = bybit_bars()
    assert len(bars) == 721
    first = bars[0]
    assert (first.open, first.high, first.low, first.close) == (17194.0, 17199.5, 17193.5, 17199.0)
    assert all(b.low <= min(b.open, b.close) and b.high >= max(b.open, b.close) for b in bars)
    assert all(b2.ts_event - b1.ts_event == MIN for b1, b2 in zip(bars, bars[1:], strict=False))


def test_funding_rows_are_the_three_settlements():
    rates = [f.rate for f in bybit_funding()]
    assert rates == [-0.0002016, -0.00022398, -0.00038555]


def test_book_replays_without_crossing():
    from native.reference.matching import Matcher

    book = binance_book()
    assert book[0].is_snapshot and len(book[0].bids) == 1000 and len(book[0].asks) == 1000
    assert not any(d.is_snapshot for d in book[1:])
    m = Matcher(0.1, 0.001, True)
    for d in book:
        m.apply_delta(d.bids, d.asks, d.is_snapshot)
        assert m.best_bid() < m.best_ask()
    assert len(binance_trades()) == 615
