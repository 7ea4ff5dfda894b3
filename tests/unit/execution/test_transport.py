"""``CreateTransport`` against ccxt's own ``fetch``: the same call reaches the aiohttp session and
the same answer (or the same ccxt error) comes back, for venue answers of every kind.

The stand-in session is the HTTP boundary (no network in unit tests): it records what it was
handed and plays one answer - a status, a body, or an aiohttp failure - for both sides."""

from __future__ import annotations

import asyncio
import socket

import aiohttp
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from titan.execution.signing import create_routes
from titan.execution.transport import CreateTransport, proxied
from titan.execution.venues import api_path, build_exchange, profile

METHODS = {"binance": "privatePostOrder", "binanceusdm": "fapiPrivatePostOrder",
           "bybit": "privatePostV5OrderCreate", "mexc": "spotPrivatePostOrder"}
BODIES = [
    '{"orderId":1,"status":"NEW","clientOrderId":"TTN-hun-0000000001"}',
    '{"code":-2010,"msg":"Account has insufficient balance for requested action."}',
    '{"code":-1021,"msg":"Timestamp for this request is outside of the recvWindow."}',
    '{"code":-2015,"msg":"Invalid API-key, IP, or permissions for action."}',
    '{"code":-5022,"msg":"Due to the order could not be executed as maker, the Post Only order will be rejected."}',
    '{"retCode":0,"retMsg":"OK","result":{"orderId":"1","orderLinkId":"TTN-hun-0000000001"},"time":1}',
    '{"retCode":110007,"retMsg":"ab not enough for new order","result":{},"time":1}',
    '{"retCode":10006,"retMsg":"Too many visits!","result":{},"time":1}',
    '{"code":700002,"msg":"Signature for this request is not valid."}',
    "[]", "Internal Server Error", "", "<html>bad gateway</html>",
]
FAILURES = [aiohttp.ClientConnectionError("refused"), aiohttp.ClientPayloadError("cut"),
            TimeoutError(), socket.gaierror("no name")]


class Answer:
    reason = "Reason"

    def __init__(self, status: int, body: str, content_type: str) -> None:
        self.status, self.body = status, body
        self.headers = {"Content-Type": content_type, "Retry-After": "1"}
        self.content = body.encode()

    async def text(self, errors: str = "strict") -> str:
        return self.body


class Call:
    def __init__(self, answer: Answer | None, failure: BaseException | None) -> None:
        self.answer, self.failure = answer, failure

    async def __aenter__(self) -> Answer:
        if self.failure is not None:
            raise self.failure
        assert self.answer is not None
        return self.answer

    async def __aexit__(self, *exc) -> bool:
        return False


class Session:
    """The aiohttp session's place: records each call, plays the given answer."""

    headers = {"X-Session": "s"}
    closed = False

    def __init__(self, answer: Answer | None = None, failure: BaseException | None = None) -> None:
        self.answer, self.failure, self.calls = answer, failure, []

    def post(self, url, **kw) -> Call:
        self.calls.append((str(url), kw))
        return Call(self.answer, self.failure)

    async def close(self) -> None:
        return None


def exchange(venue: str):
    ex = build_exchange(profile(venue), api_key="emu-api-key", secret="emu-api-secret",
                        rest_url="http://127.0.0.1:9", ws_url="ws://127.0.0.1:9", enable_rate_limit=False,
                        recv_window_ms=5000)
    ex.options["timeDifference"] = 0
    ex.nonce = lambda: 1_723_161_256_501
    return ex


async def outcome(fn):
    try:
        return ("ok", await fn())
    except Exception as e:  # noqa: BLE001 - the comparison is the point
        return ("error", type(e), str(e))


def run_both(venue: str, answer: Answer | None, failure: BaseException | None):
    a, b = exchange(venue), exchange(venue)
    a.session, b.session = Session(answer, failure), Session(answer, failure)
    params = {"symbol": "BTCUSDT", "side": "BUY", "newClientOrderId": "TTN-hun-0000000001"}
    signed = create_routes(a, api_path)[METHODS[venue]].signed(a, params)

    async def both():
        ccxt_side = await outcome(lambda: a.fetch(signed.url, signed.method, dict(signed.headers), signed.body))
        titan_side = await outcome(lambda: CreateTransport(b).send(signed))
        return ccxt_side, titan_side

    ccxt_side, titan_side = asyncio.run(both())
    calls_a, calls_b = a.session.calls, b.session.calls
    a.session = b.session = None  # nothing to close: no real session was opened
    a.calls, b.calls = calls_a, calls_b
    return (a, ccxt_side), (b, titan_side)


@settings(max_examples=60)
@given(st.sampled_from(list(METHODS)), st.sampled_from([200, 201, 400, 401, 403, 404, 418, 429, 500, 502, 503, 504]),
       st.sampled_from(BODIES), st.sampled_from(["application/json", "text/plain", "text/html"]))
def test_answers_come_back_as_ccxt_fetch_returns_or_raises_them(venue, status, body, content_type):
    (a, expected), (b, got) = run_both(venue, Answer(status, body, content_type), None)
    assert got == expected
    assert b.calls == a.calls  # url, body bytes, headers (ccxt's order), timeout, proxy
    assert list(b.calls[0][1]["headers"]) == list(a.calls[0][1]["headers"])
    for attr in ("last_request_headers", "last_http_response", "last_response_headers"):
        assert getattr(b, attr) == getattr(a, attr), attr


@pytest.mark.parametrize("failure", FAILURES, ids=lambda e: type(e).__name__)
@pytest.mark.parametrize("venue", list(METHODS))
def test_network_failures_map_to_the_same_ccxt_errors(venue, failure):
    (_, expected), (_, got) = run_both(venue, None, failure)
    assert expected[0] == "error" and got == expected


def test_an_exchange_with_a_proxy_or_verbose_goes_through_ccxt_fetch():
    ex = exchange("bybit")
    assert not proxied(ex)
    ex.httpsProxy = "http://127.0.0.1:3128"
    assert proxied(ex) and not CreateTransport(ex).plain
