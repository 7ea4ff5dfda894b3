"""ccxt's ``fetch`` for Titan's signed create requests, minus the per-order work Titan never needs.

For every request, ccxt's async ``fetch`` re-derives things that are constant for an exchange
Titan built: the proxy settings (eighteen attribute checks; Titan configures none), the default
headers (the session's, the exchange's, User-Agent, Accept-Encoding) and a new aiohttp
``ClientTimeout``. :class:`CreateTransport` prepares those once and keeps identical everything
that reaches the wire or interprets the answer: the same session call (URL, body bytes, headers
in ccxt's order, timeout, no proxy) and ccxt's own response handling (``on_rest_response``,
``parse_json``, ``handle_errors``, ``handle_http_status_code``, the aiohttp exceptions mapped to
ccxt's). An exchange with any proxy, ``verbose`` on, or its session replaced by a socks one
goes through ccxt's ``fetch`` unchanged. Pinned to ccxt 4.5.90 by a test that compares both
with the same answers (statuses, venue error bodies, text, network failures) and by the
emulator tests.
"""

from __future__ import annotations

import socket
from typing import Any

import aiohttp
import yarl
from ccxt.base.errors import ExchangeError, ExchangeNotAvailable, RequestTimeout

from titan.execution.signing import SignedRequest

_PROXIES = (
    "proxyUrl", "proxy_url", "proxyUrlCallback", "proxy_url_callback", "proxy", "httpProxy", "http_proxy",
    "httpProxyCallback", "http_proxy_callback", "httpsProxy", "https_proxy", "httpsProxyCallback",
    "https_proxy_callback", "socksProxy", "socks_proxy", "socksProxyCallback", "socks_proxy_callback",
    "aiohttp_proxy",
)


def proxied(exchange: Any) -> bool:
    """Whether any of ccxt's proxy settings is set (then ccxt's ``fetch`` does the work)."""
    return any(getattr(exchange, name, None) not in (None, "") for name in _PROXIES)


class CreateTransport:
    """Hands Titan's signed requests to the exchange's aiohttp session as ccxt's ``fetch`` does."""

    def __init__(self, exchange: Any) -> None:
        self.exchange = exchange
        self._timeout_ms: float | None = None
        self._timeout: aiohttp.ClientTimeout | None = None
        self._session: Any = None
        self._extra: dict[str, str] = {}
        self.plain = not proxied(exchange)

    def _defaults(self, session: Any) -> dict[str, str]:
        """ccxt's ``prepare_request_headers`` of no headers: what it adds to every request."""
        if session is not self._session:
            self._session = session
            self._extra = self.exchange.prepare_request_headers({})
        return self._extra

    def _client_timeout(self) -> aiohttp.ClientTimeout:
        ms = self.exchange.timeout
        if ms != self._timeout_ms:
            s = ms / 1000
            self._timeout_ms, self._timeout = ms, aiohttp.ClientTimeout(total=s, sock_connect=s, sock_read=s)
        return self._timeout  # type: ignore[return-value]

    async def send(self, signed: SignedRequest) -> Any:
        """The venue's decoded answer, or the ccxt error its answer maps to."""
        ex = self.exchange
        if not self.plain or ex.verbose or ex.socks_proxy_sessions:
            return await ex.fetch(signed.url, signed.method, signed.headers, signed.body)
        ex.open(True)  # the lazy session, and ccxt's refusal after close()
        session = ex.session
        headers = dict(signed.headers)
        headers.update(self._defaults(session))
        ex.last_request_headers = headers
        url, method, body = signed.url, signed.method, signed.body
        try:
            async with getattr(session, method.lower())(
                    yarl.URL(url, encoded=True), data=body.encode() if body else None, headers=headers,
                    timeout=self._client_timeout(), proxy=None) as response:
                text = await response.text(errors="replace")
                raw = response.headers
                answer_headers: dict[str, str] = {}
                for name in raw:
                    answer_headers[name] = (answer_headers[name] + ", " + raw[name]) if name in answer_headers \
                        else raw[name]
                status, reason = response.status, response.reason
                text = ex.on_rest_response(status, reason, url, method, answer_headers, text, headers, body)
                decoded = ex.parse_json(text)
                if ex.enableLastHttpResponse:
                    ex.last_http_response = text
                if ex.enableLastResponseHeaders:
                    ex.last_response_headers = answer_headers
                if ex.enableLastJsonResponse:
                    ex.last_json_response = decoded
                if decoded and not isinstance(decoded, list) and ex.returnResponseHeaders:
                    decoded["responseHeaders"] = answer_headers
        except socket.gaierror as e:
            raise ExchangeNotAvailable(" ".join([ex.id, method, url])) from e
        except TimeoutError as e:  # asyncio's and concurrent.futures' are this one since 3.11
            raise RequestTimeout(" ".join([ex.id, method, url])) from e
        except aiohttp.ClientConnectionError as e:
            raise ExchangeNotAvailable(" ".join([ex.id, method, url])) from e
        except aiohttp.ClientError as e:
            raise ExchangeError(" ".join([ex.id, method, url])) from e
        ex.handle_errors(status, reason, url, method, answer_headers, text, decoded, headers, body)
        ex.handle_http_status_code(status, reason, url, method, text)
        if decoded is not None:
            return decoded
        if ex.is_text_response(answer_headers):
            return text
        if text == "" or text is None:
            return text
        return response.content
