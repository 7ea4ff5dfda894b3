"""Market data in: live websockets, recorded replays, history on disk.

Live (asyncio, aiohttp):
    ``client.MarketFeed(sink, clock=..., urls=..., options=...)`` - one shared websocket per venue
    endpoint; ``await subscribe(instrument_id, Channel.BOOK)``; ``book(instrument_id)``;
    ``start()``/``stop()``. Health is ``FeedStatusChanged`` on the same sink.
    ``replay_server.ReplayServer(recording, speed=...)`` - recorded venue frames served on
    127.0.0.1 in the venue's own protocol (paper mode, tests), with fault injection.

Synchronous pieces (no I/O):
    ``binance`` / ``bybit`` routers (frames -> events), ``book`` (sequence rules), ``bars``
    (trades -> bars), ``recording`` (raw captures), ``venues`` (endpoints, channels, symbols).

History:
    ``history.load_bars/load_trades/load_funding/load_quotes/load_book_deltas`` (numpy series,
    validated, bad rows as file:line), ``replay.ReplayFeed`` (time-ordered merge),
    ``replay.load_recording`` (captures through the live routers), ``download`` (ccxt history).

Import the submodule you need; this package imports nothing heavy on its own.
"""
