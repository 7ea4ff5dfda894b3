"""Venue profiles: URL localisation keeps what ccxt derives meaning from."""

from __future__ import annotations

import pytest

from titan.execution.venues import api_path, build_exchange, localize_url, profile

REST, WS = "http://127.0.0.1:5001", "ws://127.0.0.1:5001"


@pytest.mark.parametrize("url,expected", [
    ("https://api.bybit.com", REST),
    ("https://fapi.binance.com/fapi/v1", REST + "/fapi/v1"),
    ("wss://stream.binance.com:9443/ws", WS + "/stream/ws"),
    ("wss://fstream.binance.com/ws", WS + "/fstream/ws"),
    ("wss://ws-api.binance.com:443/ws-api/v3", WS + "/ws-api/ws-api/v3"),
    ("wss://stream.bybit.com/v5/public/spot", WS + "/stream/v5/public/spot"),
])
def test_localize_url(url, expected):
    assert localize_url(url, REST, WS) == expected


@pytest.mark.parametrize("venue", ["bybit", "binance", "binanceusdm", "mexc"])
def test_every_url_is_rewritten(venue):
    ex = build_exchange(profile(venue), api_key="k", secret="s", rest_url=REST, ws_url=WS, recv_window_ms=4321)
    urls: list[str] = []

    def walk(node):
        if isinstance(node, dict):
            for v in node.values():
                walk(v)
        elif isinstance(node, str):
            urls.append(node)

    walk(ex.urls["api"])
    assert urls and all(u.startswith((REST, WS)) for u in urls), [u for u in urls if not u.startswith((REST, WS))]
    assert ex.options["recvWindow"] == 4321


def test_options_trim_load_markets_and_acknowledge_fetch_order():
    by = build_exchange(profile("bybit"), api_key="k", secret="s")
    assert by.options["fetchMarkets"]["types"] == ["spot", "linear"] and by.options["fetchOrder"]["acknowledged"]
    assert by.has["fetchCurrencies"] is False
    bn = build_exchange(profile("binanceusdm"), api_key="k", secret="s")
    assert bn.options["fetchMarkets"]["types"] == ["linear"] and bn.options["fetchCurrencies"] is False


@pytest.mark.parametrize("venue,path,api,expected", [
    ("bybit", "v5/order/create", "private", "/v5/order/create"),
    ("binance", "order", "private", "/api/v3/order"),
    ("binanceusdm", "order", "fapiPrivate", "/fapi/v1/order"),
    ("binanceusdm", "account", "fapiPrivateV3", "/fapi/v3/account"),
    ("mexc", "order", ["spot", "private"], "/api/v3/order"),
])
def test_api_path_for_rate_limit_weights(venue, path, api, expected):
    ex = build_exchange(profile(venue), api_key="k", secret="s", rest_url=REST, ws_url=WS)
    assert api_path(ex, path, api) == expected


def test_unknown_venue():
    with pytest.raises(ValueError, match="expected one of"):
        profile("kraken")
