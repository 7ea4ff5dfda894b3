"""Bybit v5 public streams (spot and linear): message views, subscribe frames, the router.

Frames are ``{"topic":"orderbook.50.BTCUSDT","type":"snapshot"|"delta","ts":..,"data":..}``;
the topic routes the frame before it is decoded. Keep-alive is an application ping
(``{"op":"ping"}``) answered by the venue. Books: ``orderbook.N`` snapshot + deltas with ``u``
checks; a gap is repaired by resubscribing the topic, which makes the venue send a snapshot.
Quotes come from ``orderbook.1``; mark, index, funding and open interest from ``tickers``
(snapshot then partial deltas, merged here).
"""

from __future__ import annotations

import logging
from typing import Generic, TypeVar

import msgspec
import orjson

from titan.core.events import (
    Bar,
    BookDelta,
    FeedStatus,
    FundingRate,
    Liquidation,
    MarkPrice,
    OpenInterest,
    Quote,
    Side,
    Trade,
)
from titan.feeds.book import BybitBookSync, Outcome
from titan.feeds.router import MS, Handler, Route, Router, decoder, quoted_value
from titan.feeds.venues import Channel

log = logging.getLogger(__name__)
Levels = tuple[tuple[float, float], ...]
T = TypeVar("T")


class Message(msgspec.Struct, Generic[T], gc=False):
    topic: str
    ts: int
    data: T
    type: str = "snapshot"


class BookData(msgspec.Struct, gc=False):
    b: Levels
    a: Levels
    u: int
    seq: int = -1


class TradeItem(msgspec.Struct, gc=False):
    T: int
    S: str
    v: float
    p: float
    i: str = ""


class KlineItem(msgspec.Struct, gc=False):
    start: int
    end: int
    interval: str
    open: float
    high: float
    low: float
    close: float
    volume: float
    confirm: bool


class TickerData(msgspec.Struct, gc=False):
    """Linear tickers; a delta carries only the fields that changed (the rest are None)."""

    markPrice: str | None = None
    indexPrice: str | None = None
    openInterest: str | None = None
    fundingRate: str | None = None
    nextFundingTime: str | None = None
    fundingIntervalHour: str | None = None


class LiquidationItem(msgspec.Struct, gc=False):
    T: int
    S: str  # the liquidated *position's* side: Buy = a long was liquidated
    v: float
    p: float


class Control(msgspec.Struct):
    op: str = ""
    success: bool | None = None
    ret_msg: str = ""
    req_id: str | None = None


BOOK = decoder(Message[BookData])
TRADES = decoder(Message[list[TradeItem]])
KLINES = decoder(Message[list[KlineItem]])
TICKER = decoder(Message[TickerData])
LIQUIDATIONS = decoder(Message[list[LiquidationItem]])
CONTROL = msgspec.json.Decoder(Control)

_KEY = '"topic"'
_INTERVALS = {"D": "1d", "W": "1w", "M": "1M"}
_BUY, _SELL = Side.BUY, Side.SELL
_RESYNCED = FeedStatus.RESYNCED


def kline_timeframe(interval: str) -> str:
    """Bybit kline interval to a Titan timeframe: ``1`` -> ``1m``, ``60`` -> ``1h``, ``D`` -> ``1d``."""
    if interval in _INTERVALS:
        return _INTERVALS[interval]
    minutes = int(interval)
    return f"{minutes // 60}h" if minutes % 60 == 0 else f"{minutes}m"


def topic_name(symbol: str, channel: Channel, depth: int = 50) -> str:
    if channel is Channel.TRADES:
        return f"publicTrade.{symbol}"
    if channel is Channel.QUOTES:
        return f"orderbook.1.{symbol}"
    if channel is Channel.BOOK:
        return f"orderbook.{depth}.{symbol}"
    if channel is Channel.KLINES:
        return f"kline.1.{symbol}"
    if channel is Channel.MARK:
        return f"tickers.{symbol}"
    if channel is Channel.LIQUIDATIONS:
        return f"allLiquidation.{symbol}"
    raise ValueError(f"channel {channel!r}: not supported on Bybit")


def request_frame(op: str, topics: list[str], req_id: int) -> str:
    return orjson.dumps({"op": op, "req_id": str(req_id), "args": topics}).decode()


def _num(x: str | None) -> float | None:
    return float(x) if x else None


class _TickerState:
    __slots__ = ("mark", "index", "rate", "next_ts", "interval_h")

    def __init__(self) -> None:
        self.mark = self.index = self.rate = None
        self.next_ts = 0
        self.interval_h = 8.0


class BybitRouter(Router):
    """Routes Bybit v5 public frames of one category (spot or linear)."""

    def _stream_name(self, symbol: str, channel: Channel) -> str:
        return topic_name(symbol, channel, self.options.bybit_book_depth)

    def _stream_of(self, frame: str) -> str | None:
        return quoted_value(frame, _KEY)

    def _request(self, op: str, streams: list[str], req_id: int) -> str:
        return request_frame(op, streams, req_id)

    def ping_frame(self, req_id: int) -> str:
        return orjson.dumps({"req_id": str(req_id), "op": "ping"}).decode()

    def _on_control(self, frame: str) -> bool:
        msg = CONTROL.decode(frame)
        if msg.op in ("subscribe", "unsubscribe") and msg.success is False:
            self.stats.sub_errors += 1
            log.error("%s: %s refused: %s", self.endpoint.name, msg.op, msg.ret_msg)
        return bool(msg.op)

    # ---- handlers ------------------------------------------------------------------------

    def _make_handler(self, stream: str, route: Route) -> Handler:
        ch = route.channel
        iid = route.instrument_id
        sink = self.sink
        if ch is Channel.TRADES:
            agg = self.aggregators.get(iid)

            def on_trades(frame: str, ts_init: int, dec=TRADES.decode) -> None:
                for t in dec(frame).data:
                    ts = t.T * MS
                    sink(Trade(
                        instrument_id=iid, ts_event=ts, ts_init=ts_init, price=t.p, size=t.v,
                        aggressor=_BUY if t.S == "Buy" else _SELL, trade_id=t.i,
                    ))
                    if agg is not None:
                        for bar in agg.on_trade(ts, t.p, t.v, ts_init):
                            sink(bar)

            return on_trades
        if ch is Channel.BOOK or ch is Channel.QUOTES:
            return self._book_handler(stream, iid, quotes=ch is Channel.QUOTES)
        if ch is Channel.KLINES:
            emit_updates = self.options.emit_bar_updates

            def on_kline(frame: str, ts_init: int, dec=KLINES.decode) -> None:
                for k in dec(frame).data:
                    if k.confirm or emit_updates:
                        sink(Bar(
                            instrument_id=iid, ts_event=(k.end + 1) * MS, ts_init=ts_init,
                            timeframe=kline_timeframe(k.interval), ts_open=k.start * MS,
                            open=k.open, high=k.high, low=k.low, close=k.close, volume=k.volume,
                            closed=k.confirm,
                        ))

            return on_kline
        if ch is Channel.MARK:
            return self._ticker_handler(iid)
        if ch is Channel.LIQUIDATIONS:

            def on_liquidation(frame: str, ts_init: int, dec=LIQUIDATIONS.decode) -> None:
                for x in dec(frame).data:
                    sink(Liquidation(
                        instrument_id=iid, ts_event=x.T * MS, ts_init=ts_init,
                        side=_SELL if x.S == "Buy" else _BUY, price=x.p, size=x.v,
                    ))

            return on_liquidation
        raise ValueError(f"channel {ch!r}: not supported on Bybit")

    def _book_handler(self, stream: str, iid: str, *, quotes: bool) -> Handler:
        sync = self.books[stream] = BybitBookSync()
        sink = self.sink
        outcome = self.book_outcome
        applied, synced = Outcome.APPLIED, Outcome.SYNCED

        def on_book(frame: str, ts_init: int, dec=BOOK.decode) -> None:
            m = dec(frame)
            d = m.data
            snapshot = m.type == "snapshot"
            if snapshot:
                result = sync.on_snapshot(d.u, d.seq, d.b, d.a)
            else:
                result = sync.on_delta(d.u, d.seq, d.b, d.a)
            if quotes:
                if result is applied or result is synced:
                    bid, bid_size, ask, ask_size = sync.book.top()
                    sink(Quote(
                        instrument_id=iid, ts_event=m.ts * MS, ts_init=ts_init,
                        bid=bid, bid_size=bid_size, ask=ask, ask_size=ask_size,
                    ))
                if result is not applied and result is not synced and result is not Outcome.SKIPPED:
                    outcome(stream, result, ts_init)
                return
            if result is applied:
                sink(BookDelta(
                    instrument_id=iid, ts_event=m.ts * MS, ts_init=ts_init, bids=d.b, asks=d.a,
                    first_update_id=d.u, last_update_id=d.u, sequence=d.seq,
                ))
            elif result is synced:
                sink(BookDelta(
                    instrument_id=iid, ts_event=m.ts * MS, ts_init=ts_init, bids=d.b, asks=d.a,
                    is_snapshot=True, first_update_id=d.u, last_update_id=d.u, sequence=d.seq,
                ))
                self.stats.resyncs += 1
                self._resyncing.discard(stream)
                self.status(iid, _RESYNCED, f"book snapshot at u={d.u}")
            elif result is not Outcome.SKIPPED:
                outcome(stream, result, ts_init)

        return on_book

    def _ticker_handler(self, iid: str) -> Handler:
        state = _TickerState()
        sink = self.sink

        def on_ticker(frame: str, ts_init: int, dec=TICKER.decode) -> None:
            m = dec(frame)
            d = m.data
            ts = m.ts * MS
            if d.indexPrice:
                state.index = float(d.indexPrice)
            if d.markPrice:
                state.mark = float(d.markPrice)
            if (d.markPrice or d.indexPrice) and state.mark is not None:
                sink(MarkPrice(instrument_id=iid, ts_event=ts, ts_init=ts_init, mark=state.mark,
                               index=state.index or 0.0))
            if d.fundingIntervalHour:
                state.interval_h = float(d.fundingIntervalHour)
            if d.nextFundingTime:
                state.next_ts = int(d.nextFundingTime) * MS
            rate = _num(d.fundingRate)
            if rate is not None:
                state.rate = rate
            if (rate is not None or d.nextFundingTime) and state.rate is not None:
                sink(FundingRate(instrument_id=iid, ts_event=ts, ts_init=ts_init, rate=state.rate,
                                 ts_next=state.next_ts, interval_ns=int(state.interval_h * 3600e9)))
            oi = _num(d.openInterest)
            if oi is not None:
                sink(OpenInterest(instrument_id=iid, ts_event=ts, ts_init=ts_init, value=oi))

        return on_ticker
