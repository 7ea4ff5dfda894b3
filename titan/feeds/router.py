"""From websocket frames to Titan events, for one endpoint (synchronous, no I/O).

A router knows, per venue stream (``btcusdt@trade``, ``orderbook.50.BTCUSDT``), which handler
decodes it and which instrument it belongs to. Handlers decode with msgspec decoders built once
into small view Structs (numbers arrive as strings and are read as floats by the decoder) and
pass events to one ``sink``. A frame that does not decode is dropped, counted and logged; if it
belonged to a book, the book is invalidated and a resync requested - never silently continued.

The async websocket client (``titan.feeds.client``) and the benchmarks drive routers the same
way: ``router.on_frame(text)``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import msgspec

from titan.core.clock import Clock
from titan.core.events import BookDelta, FeedStatus, FeedStatusChanged, Message
from titan.core.instruments import split_instrument_id
from titan.feeds.bars import BarAggregator
from titan.feeds.book import BookSync, Outcome
from titan.feeds.options import FeedOptions
from titan.feeds.venues import PERP_ONLY, Channel, Endpoint, venue_symbol

log = logging.getLogger(__name__)

Sink = Callable[[Message], None]
Handler = Callable[[str, int], None]
DECODE_ERRORS = (msgspec.DecodeError, msgspec.ValidationError, ValueError, TypeError)
MS = 1_000_000
BID, ASK = 0, 1


class FeedStats:
    """Counters (never per-tick logs): what came in, what was dropped and why."""

    __slots__ = (
        "frames", "control", "decode_errors", "unknown", "gaps", "crossed", "resyncs",
        "skipped", "reconnects", "stale", "sub_errors", "snapshot_errors",
    )

    def __init__(self) -> None:
        for name in self.__slots__:
            setattr(self, name, 0)

    def as_dict(self) -> dict[str, int]:
        return {name: getattr(self, name) for name in self.__slots__}


class Route(msgspec.Struct, frozen=True):
    instrument_id: str
    channel: Channel
    symbol: str  # the venue's market id, e.g. BTCUSDT


class Router:
    """Base class; :class:`titan.feeds.binance.BinanceRouter` and ``bybit.BybitRouter`` fill it."""

    def __init__(
        self,
        endpoint: Endpoint,
        sink: Sink,
        clock: Clock,
        options: FeedOptions | None = None,
        *,
        on_resync: Callable[[str], None] | None = None,
        stats: FeedStats | None = None,
    ) -> None:
        self.endpoint = endpoint
        self.sink = sink
        self.clock = clock
        self.options = options or FeedOptions()
        self.on_resync = on_resync or (lambda stream: None)
        self.stats = stats or FeedStats()
        self.handlers: dict[str, Handler] = {}
        self._handlers_get = self.handlers.get
        self._now = clock.now_ns
        self.routes: dict[str, Route] = {}
        self.books: dict[str, BookSync] = {}  # by stream
        self.book_ts: dict[str, int] = {}  # venue time of the newest diff or snapshot, by stream
        # snapshots of synced books that had no venue time yet (a spot REST snapshot before any
        # diff): held, and published just before the first diff applied after them, with its time
        self.unstamped: dict[str, BookDelta] = {}
        self.aggregators: dict[str, BarAggregator] = {}  # by instrument id
        self._resyncing: set[str] = set()

    # ---- subscriptions -----------------------------------------------------------------

    def stream_for(self, instrument_id: str, channel: Channel) -> str:
        """The venue stream/topic name carrying ``channel`` for an instrument."""
        symbol, _ = split_instrument_id(instrument_id)
        if channel in PERP_ONLY and not self.endpoint.futures:
            raise ValueError(f"{instrument_id}: channel {channel.value!r} exists only for perpetuals")
        return self._stream_name(venue_symbol(symbol), Channel(channel))

    def watch(self, instrument_id: str, channel: Channel) -> str:
        """Install the handler for one (instrument, channel); returns the venue stream name."""
        stream = self.stream_for(instrument_id, channel)
        symbol = venue_symbol(split_instrument_id(instrument_id)[0])
        self.routes[stream] = Route(instrument_id, Channel(channel), symbol)
        self.handlers[stream] = self._make_handler(stream, self.routes[stream])
        return stream

    def reset_stream(self, stream: str, reason: str) -> None:
        """Forget a book's state after a disconnect: it must resync from scratch."""
        sync = self.books.get(stream)
        if sync is not None:
            sync.reset(reason)
        self.unstamped.pop(stream, None)
        self._resyncing.discard(stream)

    def unwatch(self, stream: str) -> None:
        self.handlers.pop(stream, None)
        self.routes.pop(stream, None)
        self.books.pop(stream, None)
        self.book_ts.pop(stream, None)
        self.unstamped.pop(stream, None)
        self._resyncing.discard(stream)

    def attach_bars(self, aggregator: BarAggregator) -> None:
        """Feed this instrument's trades into ``aggregator`` (rebinds the trade handler)."""
        self.aggregators[aggregator.instrument_id] = aggregator
        self._rebind_trades(aggregator.instrument_id)

    def detach_bars(self, instrument_id: str) -> None:
        self.aggregators.pop(instrument_id, None)
        self._rebind_trades(instrument_id)

    def _rebind_trades(self, instrument_id: str) -> None:
        for stream, route in self.routes.items():
            if route.instrument_id == instrument_id and route.channel is Channel.TRADES:
                self.handlers[stream] = self._make_handler(stream, route)

    def book(self, instrument_id: str) -> BookSync | None:
        """The synced L2 book of an instrument's BOOK channel, if subscribed."""
        for stream, route in self.routes.items():
            if route.instrument_id == instrument_id and route.channel is Channel.BOOK:
                return self.books.get(stream)
        return None

    # ---- frames ------------------------------------------------------------------------

    def on_frame(self, frame: str) -> bool:
        """Route one text frame; True if it carried market data. Never raises for bad input."""
        self.stats.frames += 1
        ts_init = self._now()
        stream = self._stream_of(frame)
        handler = self._handlers_get(stream) if stream is not None else None
        if handler is None:
            self._on_other(frame, stream)
            return False
        try:
            handler(frame, ts_init)
        except DECODE_ERRORS as e:
            self._bad_frame(stream, frame, e)
            return False
        return True

    def flush_bars(self, now_ns: int) -> None:
        """Close bars whose interval has ended (called on a timer by the live client)."""
        for agg in self.aggregators.values():
            for bar in agg.flush(now_ns, now_ns):
                self.sink(bar)

    def _on_other(self, frame: str, stream: str | None) -> None:
        try:
            known = self._on_control(frame)
        except DECODE_ERRORS as e:
            self._bad_frame(stream, frame, e)
            return
        if known:
            self.stats.control += 1
        else:
            self.stats.unknown += 1

    def _bad_frame(self, stream: str | None, frame: str, error: Exception) -> None:
        self.stats.decode_errors += 1
        n = self.stats.decode_errors
        if n <= 10 or n & (n - 1) == 0:
            log.warning(
                "%s: dropped undecodable frame #%d on %s (%s): %.80r",
                self.endpoint.name, n, stream or "unknown stream", str(error).splitlines()[0], frame,
            )
        if stream is not None and stream in self.books:
            self.book_invalid(stream, f"undecodable frame: {str(error).splitlines()[0]}")

    # ---- books -------------------------------------------------------------------------

    def book_outcome(self, stream: str, outcome: Outcome, ts_init: int) -> None:
        """React to a sync outcome other than APPLIED: resync requests and status events."""
        if outcome is Outcome.BUFFERED:
            self._request_resync(stream)
        elif outcome is Outcome.SYNCED:
            self._synced(stream, ts_init)
        elif outcome is Outcome.GAP or outcome is Outcome.CROSSED:
            self.book_invalid(stream, self.books[stream].reason, crossed=outcome is Outcome.CROSSED)
        elif outcome is Outcome.STALE_SNAPSHOT:
            self._resyncing.discard(stream)
            self._request_resync(stream)

    def book_invalid(self, stream: str, reason: str, *, crossed: bool = False) -> None:
        self.unstamped.pop(stream, None)
        sync = self.books[stream]
        if sync.valid:
            sync.invalidate(reason)
        if crossed:
            self.stats.crossed += 1
        else:
            self.stats.gaps += 1
        log.warning("%s %s: book invalid (%s); resyncing", self.endpoint.name, stream, reason)
        self.status(self.routes[stream].instrument_id, FeedStatus.GAP, reason)
        self._resyncing.discard(stream)
        self._request_resync(stream)

    def _request_resync(self, stream: str) -> None:
        if stream not in self._resyncing:
            self._resyncing.add(stream)
            self.on_resync(stream)

    def _synced(self, stream: str, ts_init: int) -> None:
        self._resyncing.discard(stream)
        self.stats.resyncs += 1
        sync = self.books[stream]
        route = self.routes[stream]
        ts_event = self.book_ts.get(stream, 0)
        snapshot = self.snapshot_event(route.instrument_id, sync, ts_init, ts_event)
        if ts_event:
            self.unstamped.pop(stream, None)
            self.sink(snapshot)
        else:  # no venue time yet: never the receive clock's - the first diff's, when it comes
            self.unstamped[stream] = snapshot
        self.status(route.instrument_id, FeedStatus.RESYNCED, f"book synced at update id {sync.last_update_id}")

    def publish_unstamped(self, stream: str, ts_event: int) -> None:
        """Publish the held snapshot of ``stream`` stamped ``ts_event`` (the venue time of the
        first diff applied after it; the diff's own delta follows)."""
        held = self.unstamped.pop(stream)
        self.sink(msgspec.structs.replace(held, ts_event=ts_event))

    @staticmethod
    def snapshot_event(instrument_id: str, sync: BookSync, ts_init: int, ts_event: int = 0) -> BookDelta:
        """The whole current book as one ``BookDelta(is_snapshot=True)``.

        ``ts_event`` is the book's venue time (the newest diff's or the snapshot's own, so the
        stream's times never go backwards); ``ts_init`` stands in only if none is given.
        """
        book = sync.book
        return BookDelta(
            instrument_id=instrument_id, ts_event=ts_event or ts_init, ts_init=ts_init,
            bids=tuple(map(tuple, book.levels(BID).tolist())),
            asks=tuple(map(tuple, book.levels(ASK).tolist())),
            is_snapshot=True, first_update_id=sync.last_update_id, last_update_id=sync.last_update_id,
        )

    def status(self, instrument_id: str, status: FeedStatus, detail: str = "") -> None:
        now = self.clock.now_ns()
        self.sink(FeedStatusChanged(
            ts_event=now, ts_init=now, venue=self.endpoint.venue, instrument_id=instrument_id,
            status=status, detail=detail,
        ))

    # ---- venue specifics ---------------------------------------------------------------

    def _stream_name(self, symbol: str, channel: Channel) -> str:
        raise NotImplementedError

    def _stream_of(self, frame: str) -> str | None:
        raise NotImplementedError

    def _make_handler(self, stream: str, route: Route) -> Handler:
        raise NotImplementedError

    def _on_control(self, frame: str) -> bool:
        """Handle a non-data frame (ack, pong, error); True if it was recognised."""
        raise NotImplementedError

    def subscribe_frames(self, streams: list[str], req_id: int) -> list[str]:
        """Subscribe requests for ``streams``, split to the venue's per-request cap."""
        return [self._request("subscribe", c, req_id + i) for i, c in enumerate(self._chunks(streams))]

    def unsubscribe_frames(self, streams: list[str], req_id: int) -> list[str]:
        return [self._request("unsubscribe", c, req_id + i) for i, c in enumerate(self._chunks(streams))]

    def _chunks(self, streams: list[str]) -> list[list[str]]:
        n = self.endpoint.max_args
        return [streams[i: i + n] for i in range(0, len(streams), n)]

    def _request(self, op: str, streams: list[str], req_id: int) -> str:
        raise NotImplementedError

    def ping_frame(self, req_id: int) -> str | None:
        return None


def quoted_value(frame: str, key: str) -> str | None:
    """The string value of the first ``key`` (given with its quotes) in a JSON text, or None.

    A cheap look-ahead used to route a frame before decoding it; tolerant of whitespace.
    """
    i = frame.find(key)
    if i < 0:
        return None
    start = frame.find('"', i + len(key)) + 1
    if start <= 0 or frame[i + len(key): start - 1].strip() != ":":
        return None
    end = frame.find('"', start)
    return frame[start:end] if end > start else None


def decoder(typ: Any) -> msgspec.json.Decoder:
    """A reusable lax decoder: the venues send numbers as strings; read them as numbers."""
    return msgspec.json.Decoder(typ, strict=False)
