"""A local exchange emulator: Bybit v5, Binance spot + USD-M and MEXC spot on 127.0.0.1.

It exists so the genuine ccxt client (signing, parsing, error mapping) runs end to end without a
network. Each venue is a real aiohttp server on its own port, serving REST and websockets:

========  ==========================================================================================
venue     what it speaks
========  ==========================================================================================
bybit     ``/v5/...`` REST (market, account, order, execution, position), websockets
          ``/stream/v5/public/{spot,linear}`` and ``/stream/v5/private`` (auth, order, execution,
          position); one unified account trades spot and linear ``BTCUSDT``
binance   ``/api/v3/...`` spot and ``/fapi/...`` USD-M REST; websockets ``/stream/ws/<n>``,
          ``/fstream/{public,market}/ws/<n>``, ``/fstream/private/ws?listenKey=`` and the spot
          WebSocket API ``/ws-api/ws-api/v3`` (``userDataStream.subscribe.signature``)
mexc      ``/api/v3/...`` spot REST
========  ==========================================================================================

Point ccxt at it by rewriting ``exchange.urls['api']`` (``titan.execution.venues.localize`` does
this): REST keeps its path (``https://fapi.binance.com/fapi/v1`` -> ``http://127.0.0.1:P/fapi/v1``);
websockets keep their path and gain the original host's first label as a prefix
(``wss://stream.bybit.com/v5/private`` -> ``ws://127.0.0.1:P/stream/v5/private``).

Behaviour
    Private requests are verified like the venue does (HMAC-SHA256 over the raw bytes, API key,
    timestamp window) and refused with the venue's real error bodies and codes. Balances, orders,
    fills and positions are kept in ``Decimal`` by :mod:`.engine`, which also documents the
    matching rules (recorded book walked by takers, resting orders filled by recorded trades,
    maker/taker fees, post-only and reduce-only, stops, funding at the recorded funding times the
    tape passes or on request). Books are driven by recorded real
    data (:mod:`.tape`, files in ``tests/data/emulator``) and stay still until advanced. The
    venues' published rate limits are enforced (:mod:`.limits`). Klines and funding history are
    served from recorded files with the venues' paging (``start``/``end``/``limit``, Bybit newest
    first; ``startTime``/``endTime``/``limit``, Binance oldest first).

In process::

    async with Emulator(time_scale=1.0) as emu:
        url = emu.base_url("bybit")               # also "binance", "binanceusdm", "mexc"
        ws = emu.ws_url("bybit")
        ex = emu.exchange("bybit")                # the engine Exchange (state, advance, trades)
        ex.advance("BTCUSDT", 10)                 # replay 10 recorded events of one market
        ex.print_trade("BTCUSDT", price, qty, "sell")
        ex.settle_funding("BTCUSDT", Decimal("0.0001"))
        await emu.inject("bybit", Fault("timeout_after_accept", path="/v5/order/create", delay_s=3))
        emu.requests("bybit")                     # [RequestRecord(method, path, query, body, status, code, ...)]

Keys: ``API_KEY`` / ``API_SECRET`` (``emu-api-key`` / ``emu-api-secret``) unless given.
Engine symbols: Bybit linear ``BTCUSDT``, Bybit spot ``BTCUSDT:spot``; elsewhere ``BTCUSDT``.

Fault kinds (see :class:`.faults.Fault`): ``latency``, ``http_5xx``, ``timeout_after_accept``,
``rate_limit``, ``drop_ws``.

Control API (the same, over HTTP on every venue port, for a separate process)::

    GET    /_emulator/requests[?since=N]        request log as JSON
    DELETE /_emulator/requests
    POST   /_emulator/faults    {"kind": "http_5xx", "path": "/v5/order/create", "times": 1}
    DELETE /_emulator/faults
    POST   /_emulator/advance   {"section": "unified", "symbol": "BTCUSDT", "steps": 10}
    POST   /_emulator/trade     {"section": "spot", "symbol": "BTCUSDT", "price": "61830", "qty": "1", "side": "sell"}
    POST   /_emulator/funding   {"section": "usdm", "symbol": "BTCUSDT", "rate": "0.0001"}
    GET    /_emulator/state?section=usdm          balances, positions, open orders, fills

Sections: bybit ``unified``; binance ``spot`` and ``usdm``; mexc ``spot``.

As a process: ``python -m tests.kit.emulator --help``.
"""

from tests.kit.emulator.faults import Fault, RequestRecord
from tests.kit.emulator.server import API_KEY, API_SECRET, Emulator

__all__ = ["API_KEY", "API_SECRET", "Emulator", "Fault", "RequestRecord"]
