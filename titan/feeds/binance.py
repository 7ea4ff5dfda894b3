"""Binance spot and USD-M public streams: message views, subscribe frames, the router.

Titan connects to the combined-stream endpoint (``/stream``) and subscribes at run time with
``{"method":"SUBSCRIBE","params":[...],"id":n}``; every data frame then arrives wrapped as
``{"stream":"btcusdt@trade","data":{...}}``, so the stream name routes the frame before it is
decoded. Books follow the diff-depth + REST snapshot procedure (``titan.feeds.book``).
"""

from __future__ import annotations

import logging
from typing import Generic, TypeVar

import msgspec
import orjson

from titan.core.events import (
    Bar,
    BookDelta,
    FundingRate,
    Liquidation,
    MarkPrice,
    Quote,
    Side,
    Trade,
)
from titan.feeds.book import BinanceBookSync, Outcome
from titan.feeds.router import DECODE_ERRORS, MS, Handler, Route, Router, decoder, quoted_value
from titan.feeds.venues import Channel

log = logging.getLogger(__name__)
Levels = tuple[tuple[float, float], ...]
T = TypeVar("T")


class Envelope(msgspec.Struct, Generic[T], gc=False):
    """``{"stream": ..., "data": ...}``; the stream name is read before decoding, so not kept."""

    data: T


class TradeMsg(msgspec.Struct, gc=False):
    T: int
    t: int
    p: float
    q: float
    m: bool


class AggTradeMsg(msgspec.Struct, gc=False):
    T: int
    a: int
    p: float
    q: float
    m: bool


class BookTickerMsg(msgspec.Struct, gc=False):
    b: float
    B: float
    a: float
    A: float
    u: int = 0
    E: int = 0
    T: int = 0


class DepthMsg(msgspec.Struct, gc=False):
    E: int
    U: int
    u: int
    b: Levels
    a: Levels
    pu: int = -1
    T: int = 0


class KlineData(msgspec.Struct, gc=False):
    t: int
    T: int
    i: str
    o: float
    h: float
    l: float  # noqa: E741 - the venue's field name
    c: float
    v: float
    x: bool


class KlineMsg(msgspec.Struct, gc=False):
    E: int
    k: KlineData


class MarkPriceMsg(msgspec.Struct, gc=False):
    E: int
    p: float
    i: str = ""
    r: str = ""  # empty for delivery contracts
    T: int = 0


class ForceOrderData(msgspec.Struct, gc=False):
    S: str
    q: float
    p: float
    T: int
    ap: float = 0.0


class ForceOrderMsg(msgspec.Struct, gc=False):
    E: int
    o: ForceOrderData


class DepthSnapshot(msgspec.Struct, gc=False):
    """REST ``GET /api/v3/depth`` / ``/fapi/v1/depth`` response."""

    lastUpdateId: int
    bids: Levels
    asks: Levels
    E: int = 0
    T: int = 0


class Ack(msgspec.Struct):
    id: int | str | None = None
    result: object = None
    error: dict | None = None


TRADE = decoder(Envelope[TradeMsg])
AGG_TRADE = decoder(Envelope[AggTradeMsg])
BOOK_TICKER = decoder(Envelope[BookTickerMsg])
DEPTH = decoder(Envelope[DepthMsg])
KLINE = decoder(Envelope[KlineMsg])
MARK = decoder(Envelope[MarkPriceMsg])
FORCE_ORDER = decoder(Envelope[ForceOrderMsg])
SNAPSHOT = decoder(DepthSnapshot)
ACK = msgspec.json.Decoder(Ack)

_PREFIX = '{"stream":"'
_BUY, _SELL = Side.BUY, Side.SELL


def stream_name(symbol: str, channel: Channel, depth_stream: str = "depth@100ms",
                trade_stream: str = "trade") -> str:
    s = symbol.lower()
    if channel is Channel.TRADES:
        return f"{s}@{trade_stream}"
    if channel is Channel.QUOTES:
        return f"{s}@bookTicker"
    if channel is Channel.BOOK:
        return f"{s}@{depth_stream}"
    if channel is Channel.KLINES:
        return f"{s}@kline_1m"
    if channel is Channel.MARK:
        return f"{s}@markPrice@1s"
    if channel is Channel.LIQUIDATIONS:
        return f"{s}@forceOrder"
    raise ValueError(f"channel {channel!r}: not supported on Binance")


def subscribe_frame(streams: list[str], req_id: int, method: str = "SUBSCRIBE") -> str:
    return orjson.dumps({"method": method, "params": streams, "id": req_id}).decode()


class BinanceRouter(Router):
    """Routes combined-stream frames of Binance spot or USD-M (``endpoint.futures``)."""

    def _stream_name(self, symbol: str, channel: Channel) -> str:
        return stream_name(symbol, channel, self.options.binance_depth_stream, self.options.binance_trade_stream)

    def on_frame(self, frame: str) -> bool:
        """The hot path: combined-stream frames are routed on their prefix, without a lookup call."""
        if frame.startswith(_PREFIX):
            stream = frame[11:frame.find('"', 11)]
            handler = self._handlers_get(stream)
            if handler is not None:
                self.stats.frames += 1
                try:
                    handler(frame, self._now())
                except DECODE_ERRORS as e:
                    self._bad_frame(stream, frame, e)
                    return False
                return True
        return super().on_frame(frame)

    def _stream_of(self, frame: str) -> str | None:
        if frame.startswith(_PREFIX):
            end = frame.find('"', 11)
            if end > 11:
                return frame[11:end]
        return quoted_value(frame, '"stream"')

    def _request(self, op: str, streams: list[str], req_id: int) -> str:
        return subscribe_frame(streams, req_id, op.upper())

    def _on_control(self, frame: str) -> bool:
        ack = ACK.decode(frame)
        if ack.error is not None:
            self.stats.sub_errors += 1
            log.error("%s: request %s refused: %s", self.endpoint.name, ack.id, ack.error)
        return ack.id is not None

    def on_depth_snapshot(self, stream: str, body: bytes | str) -> Outcome:
        """Feed a REST depth snapshot for a BOOK stream; returns what the sync made of it.

        The book's venue time becomes the newer of the snapshot's own (USD-M sends ``T``/``E``;
        spot sends none) and the newest diff's: the published snapshot carries venue time, never
        the receive clock's."""
        sync = self.books.get(stream)
        if sync is None:
            return Outcome.SKIPPED
        snap = SNAPSHOT.decode(body)
        outcome = sync.on_snapshot(snap.lastUpdateId, snap.bids, snap.asks)
        venue_ts = (snap.T or snap.E) * MS
        if venue_ts > self.book_ts.get(stream, 0):
            self.book_ts[stream] = venue_ts
        self.book_outcome(stream, outcome, self.clock.now_ns())
        return outcome

    # ---- handlers ------------------------------------------------------------------------

    def _make_handler(self, stream: str, route: Route) -> Handler:
        ch = route.channel
        iid = route.instrument_id
        sink = self.sink
        if ch is Channel.TRADES:
            agg = self.aggregators.get(iid)

            def on_trade(frame: str, ts_init: int, dec=TRADE.decode, ms=MS, buy=_BUY, sell=_SELL,
                         trade=Trade) -> None:
                v = dec(frame).data
                ts = v.T * ms
                sink(trade(
                    instrument_id=iid, ts_event=ts, ts_init=ts_init, price=v.p, size=v.q,
                    aggressor=sell if v.m else buy, trade_id=str(v.t),
                ))
                if agg is not None:
                    for bar in agg.on_trade(ts, v.p, v.q, ts_init):
                        sink(bar)

            def on_agg_trade(frame: str, ts_init: int, dec=AGG_TRADE.decode) -> None:
                v = dec(frame).data
                ts = v.T * MS
                sink(Trade(
                    instrument_id=iid, ts_event=ts, ts_init=ts_init, price=v.p, size=v.q,
                    aggressor=_SELL if v.m else _BUY, trade_id=f"a{v.a}",
                ))
                if agg is not None:
                    for bar in agg.on_trade(ts, v.p, v.q, ts_init):
                        sink(bar)

            return on_agg_trade if stream.endswith("@aggTrade") else on_trade
        if ch is Channel.QUOTES:

            def on_quote(frame: str, ts_init: int, dec=BOOK_TICKER.decode) -> None:
                v = dec(frame).data
                ts = (v.T or v.E) * MS or ts_init  # spot bookTicker carries no time
                sink(Quote(
                    instrument_id=iid, ts_event=ts, ts_init=ts_init,
                    bid=v.b, bid_size=v.B, ask=v.a, ask_size=v.A,
                ))

            return on_quote
        if ch is Channel.BOOK:
            sync = self.books[stream] = BinanceBookSync(futures=self.endpoint.futures)
            on_diff = sync.on_diff
            outcome = self.book_outcome
            applied = Outcome.APPLIED

            book_ts = self.book_ts
            unstamped = self.unstamped

            def on_depth(frame: str, ts_init: int, dec=DEPTH.decode) -> None:
                v = dec(frame).data
                ts = book_ts[stream] = v.E * MS
                result = on_diff(v.U, v.u, v.pu, v.b, v.a)
                if result is applied:
                    if unstamped and stream in unstamped:
                        self.publish_unstamped(stream, ts)
                    sink(BookDelta(
                        instrument_id=iid, ts_event=ts, ts_init=ts_init, bids=v.b, asks=v.a,
                        first_update_id=v.U, last_update_id=v.u, prev_update_id=v.pu,
                    ))
                elif result is not Outcome.SKIPPED:
                    outcome(stream, result, ts_init)

            return on_depth
        if ch is Channel.KLINES:
            emit_updates = self.options.emit_bar_updates

            def on_kline(frame: str, ts_init: int, dec=KLINE.decode) -> None:
                k = dec(frame).data.k
                if k.x or emit_updates:
                    sink(Bar(
                        instrument_id=iid, ts_event=(k.T + 1) * MS, ts_init=ts_init, timeframe=k.i,
                        ts_open=k.t * MS, open=k.o, high=k.h, low=k.l, close=k.c, volume=k.v,
                        closed=k.x,
                    ))

            return on_kline
        if ch is Channel.MARK:

            def on_mark(frame: str, ts_init: int, dec=MARK.decode) -> None:
                v = dec(frame).data
                ts = v.E * MS
                sink(MarkPrice(
                    instrument_id=iid, ts_event=ts, ts_init=ts_init, mark=v.p,
                    index=float(v.i) if v.i else 0.0,
                ))
                if v.r:
                    sink(FundingRate(
                        instrument_id=iid, ts_event=ts, ts_init=ts_init, rate=float(v.r),
                        ts_next=v.T * MS,
                    ))

            return on_mark
        if ch is Channel.LIQUIDATIONS:

            def on_liquidation(frame: str, ts_init: int, dec=FORCE_ORDER.decode) -> None:
                o = dec(frame).data.o
                sink(Liquidation(
                    instrument_id=iid, ts_event=o.T * MS, ts_init=ts_init,
                    side=_BUY if o.S == "BUY" else _SELL, price=o.ap or o.p, size=o.q,
                ))

            return on_liquidation
        raise ValueError(f"channel {ch!r}: not supported on Binance")
