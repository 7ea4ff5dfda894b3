"""Create-order requests signed by Titan: byte for byte what ccxt's ``sign()`` would produce.

Why: ccxt's generic ``sign()`` spends ~15 us per order in option lookups and ``urllib``
encoding; Titan's create requests have a fixed shape (:mod:`.placement`), so the constant parts
(URL, API key header, the HMAC key schedule) are prepared once and an order costs one encoding
and one HMAC (~3 us). The wire format is ccxt 4.5.90's, pinned by a property test that compares
every signed request with ccxt's own ``sign()`` at the same timestamp, and by the emulator tests
that verify the signatures. Anything outside the fast shape (RSA/Ed25519 keys, a parameter
ccxt would rewrite, a sandbox URL ccxt refuses) returns ``None`` and the caller lets ccxt sign.

The timestamp is ccxt's ``nonce()`` (milliseconds minus the measured clock offset), so a clock
resync (``load_time_difference``) applies here too. Pure apart from reading the clock.

Per venue (implicit API method -> request):

* Binance spot ``privatePostOrder`` / USD-M ``fapiPrivatePostOrder``: form body
  ``timestamp=..&<params>&recvWindow=..&signature=<hex HMAC of the rest>``.
* Bybit v5 ``privatePostV5OrderCreate``: JSON body; headers carry key, timestamp, recv window
  and the HMAC of ``timestamp + key + recvWindow + body``.
* MEXC spot ``spotPrivatePostOrder``: everything in the query string
  (``<params>&timestamp=..&recvWindow=..&signature=..``), no body.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import orjson


class Mac:
    """HMAC-SHA256 (RFC 2104) with its two keyed SHA-256 states computed once: a message then
    costs two state copies and two short hashes - half of what copying an ``hmac`` object costs
    with OpenSSL 3 (its context copy and free dominate)."""

    __slots__ = ("_inner", "_outer")

    def __init__(self, secret: bytes) -> None:
        key = hashlib.sha256(secret).digest() if len(secret) > 64 else secret
        key = key.ljust(64, b"\0")
        self._inner = hashlib.sha256(bytes(b ^ 0x36 for b in key))
        self._outer = hashlib.sha256(bytes(b ^ 0x5C for b in key))

    def hexdigest(self, message: bytes) -> str:
        inner = self._inner.copy()
        inner.update(message)
        outer = self._outer.copy()
        outer.update(inner.digest())
        return outer.hexdigest()


class SignedRequest:
    """What ccxt's ``fetch(url, method, headers, body)`` takes."""

    __slots__ = ("url", "method", "headers", "body")

    def __init__(self, url: str, method: str, headers: dict[str, str], body: str | None) -> None:
        self.url = url
        self.method = method
        self.headers = headers
        self.body = body

    def as_dict(self) -> dict[str, Any]:
        """The shape ccxt's ``sign()`` returns (for ``set_last_request`` and comparisons)."""
        return {"url": self.url, "method": self.method, "body": self.body, "headers": self.headers}


Signer = Callable[[dict[str, Any]], "SignedRequest | None"]

# Characters urllib's quote(safe="") leaves alone: the rest must be escaped like ccxt does.
_UNRESERVED = re.compile(r"[A-Za-z0-9_.~-]*")
_match = _UNRESERVED.fullmatch
_PLAIN = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.~-=&"


def _form_value(v: Any) -> str:
    """One value as ccxt's ``urlencode`` writes it (booleans as true/false, quote(safe=''))."""
    if v is True:
        return "true"
    if v is False:
        return "false"
    s = v if v.__class__ is str else str(v)
    return s if _match(s) else quote(s, safe="")


def form(params: dict[str, Any]) -> str:
    """``k=v&k=v`` exactly as ccxt's ``Exchange.urlencode`` (keys in insertion order).

    Titan's requests are plain text (ids, symbols, decimals as strings): joined as they are,
    one byte-table pass shows nothing needed escaping (every ``=``/``&`` is a separator)."""
    try:
        s = "&".join([k + "=" + v for k, v in params.items()])
    except TypeError:  # a boolean or a number among the values
        return _escaped(params)
    n = len(params)
    if not s.encode().translate(None, _PLAIN) and s.count("=") == n and s.count("&") == n - 1:
        return s
    return _escaped(params)


def _escaped(params: dict[str, Any]) -> str:
    return "&".join([(k if _match(k) else quote(k, safe="")) + "=" + _form_value(v) for k, v in params.items()])


def _keyed(secret: str) -> Mac:
    return Mac(secret.encode())


def _binance(ex: Any, api_name: str, path: str) -> Signer | None:
    url = ex.safe_string(ex.urls.get("api", {}), api_name)
    secret, key = ex.secret or "", ex.apiKey or ""
    if not url or not key or not secret or "PRIVATE KEY" in secret:
        return None
    if "testnet.binancefuture.com" in url:
        return None  # ccxt refuses futures sandbox URLs: let it say so
    url = url + "/" + path
    mac = _keyed(secret)
    nonce, options, safe_integer = ex.nonce, ex.options, ex.safe_integer
    post = url

    def sign(params: dict[str, Any]) -> SignedRequest | None:
        if "timestamp" in params or "recvWindow" in params or "newClientOrderId" not in params:
            return None  # ccxt would reorder or inject: its own sign() is the reference
        query = "timestamp=" + str(nonce()) + "&" + form(params)
        recv = safe_integer(options, "recvWindow")
        if recv is not None:
            query += "&recvWindow=" + str(recv)
        return SignedRequest(post, "POST", {"X-MBX-APIKEY": key, "Content-Type": "application/x-www-form-urlencoded"},
                             query + "&signature=" + mac.hexdigest(query.encode()))

    return sign


def _bybit(ex: Any, api_name: str, path: str) -> Signer | None:
    base = ex.safe_string(ex.urls.get("api", {}), api_name)
    secret, key = ex.secret or "", ex.apiKey or ""
    if not base or not key or not secret or "PRIVATE KEY" in secret:
        return None
    url = ex.implode_hostname(base) + "/" + path
    if "openapi" in url or "unified/v3" in url or "contract/v3" in url or "v5" not in url:
        return None  # the other Bybit signing schemes stay ccxt's
    mac = _keyed(secret)
    nonce, options, dumps = ex.nonce, ex.options, orjson.dumps

    def sign(params: dict[str, Any]) -> SignedRequest | None:
        ts = str(nonce())
        recv = str(options["recvWindow"])
        body = dumps(params).decode()
        broker = ex.safe_string(options, "brokerId", "CCXT")
        return SignedRequest(url, "POST", {
            "Content-Type": "application/json", "X-BAPI-API-KEY": key, "X-BAPI-TIMESTAMP": ts,
            "X-BAPI-RECV-WINDOW": recv, "X-BAPI-SIGN": mac.hexdigest((ts + key + recv + body).encode()),
            "Referer": broker,
        }, body)

    return sign


def _mexc(ex: Any, api_name: str, path: str) -> Signer | None:
    urls = ex.urls.get("api", {}).get("spot", {})
    base = ex.safe_string(urls, "private") if isinstance(urls, dict) else None
    secret, key = ex.secret or "", ex.apiKey or ""
    if api_name != "spot" or not base or not key or not secret or "{" in path:
        return None
    url = base + "/api/" + ex.version + "/" + path
    mac = _keyed(secret)
    nonce, options, safe_integer, safe_string = ex.nonce, ex.options, ex.safe_integer, ex.safe_string

    def sign(params: dict[str, Any]) -> SignedRequest | None:
        if "timestamp" in params or "recvWindow" in params:
            return None
        query = (form(params) + "&" if params else "") + "timestamp=" + str(nonce()) + \
            "&recvWindow=" + str(safe_integer(options, "recvWindow", 5000))
        return SignedRequest(url + "?" + query + "&signature=" + mac.hexdigest(query.encode()), "POST", {
            "X-MEXC-APIKEY": key, "source": safe_string(options, "broker", "CCXT"),
            "Content-Type": "application/json"}, None)

    return sign


# implicit API method -> (ccxt api section, path, builder)
_CREATE: dict[tuple[str, str], tuple[str, str, Callable[[Any, str, str], Signer | None]]] = {
    ("binance", "privatePostOrder"): ("private", "order", _binance),
    ("binanceusdm", "fapiPrivatePostOrder"): ("fapiPrivate", "order", _binance),
    ("bybit", "privatePostV5OrderCreate"): ("private", "v5/order/create", _bybit),
    ("mexc", "spotPrivatePostOrder"): ("spot", "order", _mexc),
}


def endpoint(ccxt_id: str, method: str) -> tuple[str, list[str], str] | None:
    """(path, api, HTTP method) of an implicit create method, as ccxt's ``sign()`` takes them."""
    found = _CREATE.get((ccxt_id, method))
    if found is None:
        return None
    api, path, _ = found
    return path, (["spot", "private"] if ccxt_id == "mexc" else [api]), "POST"


def create_signer(exchange: Any, method: str) -> Signer | None:
    """A signer for one implicit create method of ``exchange`` (keys and URLs as configured
    now), or ``None`` where ccxt must sign (see the module docstring)."""
    found = _CREATE.get((exchange.id, method))
    if found is None:
        return None
    api, path, build = found
    return build(exchange, api, path)


class CreateRoute:
    """Everything per create endpoint that does not change per order: the request's ccxt
    coordinates (for ``sign()`` where Titan's signer declines), its URL path (for the rate
    limiter's weights) and Titan's signer."""

    __slots__ = ("method", "path", "api", "http", "url_path", "sign", "marks_auth")

    def __init__(self, exchange: Any, method: str, url_path: str) -> None:
        path, api, http = endpoint(exchange.id, method)  # type: ignore[misc]
        self.method, self.path, self.api, self.http, self.url_path = method, path, api, http, url_path
        self.sign = create_signer(exchange, method)
        # ccxt's binance.request() notes a successful private (spot) call: -2015 then means a ban
        self.marks_auth = exchange.id == "binance" and api == ["private"]

    def signed(self, exchange: Any, params: dict[str, Any]) -> SignedRequest:
        """Titan's signature, or ccxt's own ``sign()`` where Titan's declines."""
        out = self.sign(params) if self.sign is not None else None
        if out is None:
            r = exchange.sign(self.path, self.api, self.http, dict(params))
            out = SignedRequest(r["url"], r["method"], r["headers"], r["body"])
        return out


def create_routes(exchange: Any, url_path: Callable[[Any, str, Any], str]) -> dict[str, CreateRoute]:
    """The venue's create endpoints by implicit method name (``VenueRequest.method``)."""
    return {m: CreateRoute(exchange, m, url_path(exchange, *endpoint(exchange.id, m)[:2]))  # type: ignore[misc]
            for venue, m in _CREATE if venue == exchange.id}
