"""Tuning of the market-data client, with defaults that match the venues' published rules."""

from __future__ import annotations

from typing import Literal

import msgspec


class FeedOptions(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """How the feed connects, keeps alive and resyncs.

    ``stale_after_s``: a connection with no data frame for this long is declared stale and
    reconnected. Reconnects wait a random time in ``[0, min(reconnect_max_s,
    reconnect_min_s * 2**attempt)]`` (exponential backoff with full jitter).
    ``binance_depth_stream`` picks the diff-depth speed (``depth@100ms``; recordings may hold
    ``depth@0ms``), ``binance_trade_stream`` raw or aggregated trades (``aggTrade`` ids are
    prefixed ``a``); ``bybit_book_depth`` the Bybit ``orderbook.N`` level count.
    ``max_streams_per_connection`` (0 = the venue's limit) lowers the per-connection cap.
    """

    stale_after_s: float = 30.0
    reconnect_min_s: float = 0.5
    reconnect_max_s: float = 30.0
    ping_interval_s: float = 20.0
    connect_timeout_s: float = 10.0
    emit_bar_updates: bool = False
    binance_depth_stream: str = "depth@100ms"
    binance_trade_stream: Literal["trade", "aggTrade"] = "trade"
    binance_snapshot_limit: int = 1000
    bybit_book_depth: int = 50
    max_streams_per_connection: int = 0
    resync_retry_s: float = 0.5
    bar_flush_interval_s: float = 1.0

    @classmethod
    def from_config(cls, section, **overrides) -> FeedOptions:
        """Build from ``titan.config.FeedsSection`` (duck-typed to keep this module light)."""
        return cls(
            stale_after_s=section.stale_after_s,
            reconnect_min_s=section.reconnect_min_s,
            reconnect_max_s=section.reconnect_max_s,
            ping_interval_s=section.ping_interval_s,
            emit_bar_updates=section.emit_bar_updates,
            **overrides,
        )
