"""Where each venue's public market data lives, and the rules of its websocket.

An *endpoint* is one websocket URL family: Binance spot, Binance USD-M, Bybit spot, Bybit
linear. All subscriptions for one endpoint share connections; a new connection opens only when
the venue's per-connection limit is reached. Base URLs are configurable so tests and paper mode
can point the same client at the replay server on 127.0.0.1.
"""

from __future__ import annotations

from enum import Enum

import msgspec

from titan.core.instruments import split_instrument_id


class Channel(str, Enum):
    """What to stream for one instrument (venue-neutral names)."""

    TRADES = "trades"  # Trade
    QUOTES = "quotes"  # Quote (best bid/offer)
    BOOK = "book"  # BookDelta, L2 book kept in sync
    KLINES = "klines"  # Bar (the venue's 1m candles)
    MARK = "mark"  # MarkPrice, FundingRate (+ OpenInterest on Bybit); perpetuals only
    LIQUIDATIONS = "liquidations"  # Liquidation; perpetuals only


PERP_ONLY = frozenset({Channel.MARK, Channel.LIQUIDATIONS})


class VenueUrls(msgspec.Struct, frozen=True, kw_only=True):
    """Base URLs (scheme + host[:port]) of a venue's public websocket and REST API."""

    ws: str
    rest: str


DEFAULT_URLS: dict[str, VenueUrls] = {
    "binance": VenueUrls(ws="wss://stream.binance.com:9443", rest="https://api.binance.com"),
    "binanceusdm": VenueUrls(ws="wss://fstream.binance.com", rest="https://fapi.binance.com"),
    "bybit": VenueUrls(ws="wss://stream.bybit.com", rest="https://api.bybit.com"),
}


class Endpoint(msgspec.Struct, frozen=True, kw_only=True):
    """One websocket endpoint and its limits.

    ``max_streams`` is the venue's cap on subscriptions per connection; ``max_args`` the cap
    on topics per subscribe request; ``max_requests_per_s`` its inbound message rate limit.
    ``json_ping`` means the venue wants an application-level ping (Bybit); otherwise websocket
    ping frames are used (Binance answers them, and pings us; aiohttp answers those).
    """

    name: str
    venue: str
    family: str  # "binance" | "bybit": the protocol spoken
    path: str
    depth_path: str = ""  # REST depth snapshot path (Binance)
    futures: bool = False
    max_streams: int = 1024
    max_args: int = 200
    max_requests_per_s: float = 5.0
    json_ping: bool = False


ENDPOINTS: dict[str, Endpoint] = {
    "binance": Endpoint(
        name="binance", venue="binance", family="binance", path="/stream",
        depth_path="/api/v3/depth", max_streams=1024, max_args=200, max_requests_per_s=5.0,
    ),
    "binanceusdm": Endpoint(
        name="binanceusdm", venue="binanceusdm", family="binance", path="/stream",
        depth_path="/fapi/v1/depth", futures=True, max_streams=1024, max_args=200,
        max_requests_per_s=10.0,
    ),
    "bybit-spot": Endpoint(
        name="bybit-spot", venue="bybit", family="bybit", path="/v5/public/spot",
        max_streams=500, max_args=10, max_requests_per_s=10.0, json_ping=True,
    ),
    "bybit-linear": Endpoint(
        name="bybit-linear", venue="bybit", family="bybit", path="/v5/public/linear",
        futures=True, max_streams=500, max_args=200, max_requests_per_s=10.0, json_ping=True,
    ),
}


def venue_symbol(symbol: str) -> str:
    """The venue's market id for a ccxt unified symbol: ``BTC/USDT:USDT`` -> ``BTCUSDT``."""
    base, sep, rest = symbol.partition("/")
    quote = rest.split(":", 1)[0]
    if not sep or not base or not quote:
        raise ValueError(f"symbol {symbol!r}: expected BASE/QUOTE or BASE/QUOTE:SETTLE")
    return f"{base}{quote}".upper()


def endpoint_for(instrument_id: str) -> Endpoint:
    """The endpoint that streams an instrument, from its venue and whether it is a perpetual."""
    symbol, venue = split_instrument_id(instrument_id)
    perp = ":" in symbol
    if venue == "binance":
        if perp:
            raise ValueError(f"{instrument_id}: Binance perpetuals use the venue 'binanceusdm'")
        return ENDPOINTS["binance"]
    if venue == "binanceusdm":
        if not perp:
            raise ValueError(f"{instrument_id}: binanceusdm lists perpetuals (BASE/QUOTE:SETTLE)")
        return ENDPOINTS["binanceusdm"]
    if venue == "bybit":
        return ENDPOINTS["bybit-linear" if perp else "bybit-spot"]
    raise ValueError(f"{instrument_id}: no market-data feed for venue {venue!r}")
