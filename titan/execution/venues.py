"""Venue profiles: which ccxt class, which options, and the per-venue fixes Titan needs.

Everything here was checked against ccxt 4.5.90 and the local exchange emulator (see shared
research venues.md): options that trim ``load_markets`` to the markets Titan trades, URL
localisation (emulator / custom hosts), Binance's error table chosen by URL, Bybit's
``fetchOrder`` acknowledgement, and how each venue finds an order by its client id.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import ccxt.pro


@dataclass(frozen=True)
class VenueProfile:
    name: str  # Titan's venue name (the ``@venue`` of instrument ids)
    ccxt_id: str
    options: Mapping[str, Any] = field(default_factory=dict)
    has: Mapping[str, bool] = field(default_factory=dict)
    private_stream: bool = True  # ccxt.pro watch_orders / watch_my_trades work here
    contract_stops: bool = True  # stop orders on contracts through the plain order endpoint
    spot_stops: bool = True
    # A ws URL substring identifying the private stream connection(s)
    private_marker: tuple[str, ...] = ()


PROFILES: dict[str, VenueProfile] = {
    "bybit": VenueProfile(
        "bybit", "bybit",
        options={
            "fetchMarkets": {"types": ["spot", "linear"]},
            # Unified trading account: skip the two account probes on the first private call.
            "enableUnifiedMargin": False, "enableUnifiedAccount": True, "unifiedMarginStatus": 6,
            # UTA fetchOrder raises ArgumentsRequired locally unless acknowledged.
            "fetchOrder": {"acknowledged": True},
        },
        has={"fetchCurrencies": False},
        private_marker=("/v5/private",),
    ),
    "binance": VenueProfile(
        "binance", "binance",
        options={"fetchMarkets": {"types": ["spot"]}, "fetchCurrencies": False, "fetchMargins": False,
                 "warnOnFetchOpenOrdersWithoutSymbol": False},
        private_marker=("ws-api",),
    ),
    "binanceusdm": VenueProfile(
        "binanceusdm", "binanceusdm",
        options={"fetchMarkets": {"types": ["linear"]}, "fetchCurrencies": False, "fetchMargins": False,
                 "warnOnFetchOpenOrdersWithoutSymbol": False},
        # Conditional orders on USD-M moved to the algo-order API (POST /fapi/v1/algoOrder),
        # with its own ids and lifecycle; Titan does not drive it yet.
        contract_stops=False,
        private_marker=("/private/ws",),
    ),
    "mexc": VenueProfile(
        "mexc", "mexc",
        has={"fetchCurrencies": False},
        # MEXC's private stream is protobuf over a listenKey; Titan polls REST instead.
        private_stream=False, spot_stops=False,
    ),
}


def profile(venue: str) -> VenueProfile:
    try:
        return PROFILES[venue]
    except KeyError:
        raise ValueError(f"venue {venue!r}: expected one of {', '.join(sorted(PROFILES))}") from None


def localize_url(url: str, rest_base: str, ws_base: str) -> str:
    """Rewrite one venue URL onto a local base, keeping what ccxt derives meaning from.

    REST keeps its path; a websocket URL keeps its path and gains the first label of the original
    host as a prefix (ccxt.pro tells spot from futures by substrings such as ``/stream`` and
    ``/v5/public/spot``)."""
    parts = urlsplit(url)
    if parts.scheme in ("ws", "wss"):
        if not ws_base:
            return url
        label = parts.hostname.split(".")[0] if parts.hostname else ""
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        return f"{ws_base.rstrip('/')}/{label}{path}"
    if parts.scheme in ("http", "https") and rest_base:
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        return rest_base.rstrip("/") + path
    return url


def localize(tree: Any, rest_base: str, ws_base: str) -> Any:
    """Apply :func:`localize_url` to every URL in ccxt's (nested) ``urls['api']``."""
    if isinstance(tree, dict):
        return {k: localize(v, rest_base, ws_base) for k, v in tree.items()}
    if isinstance(tree, str):
        return localize_url(tree.replace("{hostname}", "local"), rest_base, ws_base)
    return tree


_BINANCE_HOSTS = (("/fapi/", "https://fapi.binance.com"), ("/dapi/", "https://dapi.binance.com"),
                  ("/eapi/", "https://eapi.binance.com"), ("/papi/", "https://papi.binance.com"),
                  ("/api/", "https://api.binance.com"), ("/sapi/", "https://api.binance.com"))


def fix_binance_error_table(exchange: Any) -> None:
    """Binance picks its spot/linear error table from the URL host; on a local host only the
    generic table applies (``-2022`` reduce-only would become ExchangeError). Map the path back."""
    original = exchange.get_exceptions_by_url

    def by_path(url: str | None, exact_or_broad: str) -> dict:
        if url:
            path = urlsplit(url).path
            for prefix, host in _BINANCE_HOSTS:
                if path.startswith(prefix):
                    return original(host + path, exact_or_broad)
        return original(url, exact_or_broad)

    exchange.get_exceptions_by_url = by_path


def build_exchange(
    prof: VenueProfile,
    *,
    api_key: str,
    secret: str,
    password: str | None = None,
    rest_url: str = "",
    ws_url: str = "",
    testnet: bool = False,
    recv_window_ms: int | None = None,
    timeout_s: float = 10.0,
    enable_rate_limit: bool = True,
    extra_options: Mapping[str, Any] | None = None,
) -> Any:
    """A ccxt.pro exchange (REST and websockets in one object) configured for Titan."""
    cls = getattr(ccxt.pro, prof.ccxt_id)
    options: dict[str, Any] = {k: (dict(v) if isinstance(v, dict) else v) for k, v in prof.options.items()}
    if recv_window_ms is not None:
        options["recvWindow"] = recv_window_ms
    for k, v in (extra_options or {}).items():
        options[k] = v
    config: dict[str, Any] = {
        "apiKey": api_key, "secret": secret, "enableRateLimit": enable_rate_limit,
        "timeout": int(timeout_s * 1000), "options": options,
    }
    if password:
        config["password"] = password
    ex = cls(config)
    for k, v in prof.has.items():
        ex.has[k] = v
    if testnet:
        ex.set_sandbox_mode(True)  # before localisation: it swaps urls['api']
    if rest_url or ws_url:
        ex.urls["api"] = localize(ex.urls["api"], rest_url, ws_url)
        if prof.ccxt_id.startswith("binance"):
            fix_binance_error_table(ex)
    return ex


_API_PATHS: dict[tuple[int, str, str], str] = {}


def api_path(exchange: Any, path: str, api: Any) -> str:
    """The URL path ccxt will request for an implicit-API call (for rate-limit weights)."""
    key = (id(exchange), path, api if isinstance(api, str) else "/".join(api))
    found = _API_PATHS.get(key)
    if found is None:
        found = _API_PATHS[key] = _api_path(exchange, path, api)
    return found


def _api_path(exchange: Any, path: str, api: Any) -> str:
    urls = exchange.urls["api"]
    if isinstance(api, list):
        node: Any = urls
        for part in api:
            node = node.get(part) if isinstance(node, dict) else None
        base = node if isinstance(node, str) else ""
        if exchange.id == "mexc" and api and api[0] == "spot":
            return "/api/v3/" + path
    else:
        base = urls.get(api, "") if isinstance(urls, dict) else ""
    return urlsplit(base).path.rstrip("/") + "/" + path.lstrip("/") if base else "/" + path.lstrip("/")
