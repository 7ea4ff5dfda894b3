"""Titan's create-order signer against ccxt's own ``sign()``: the same bytes at the same timestamp.

ccxt is the oracle (its pinned version signs what the venues accept; the emulator tests verify the
signatures on the wire). Requests come from :func:`create_request` for generated orders, and as
arbitrary parameter dicts (any text, reserved and non-ASCII characters, booleans, numbers)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from titan.core import events as ev
from titan.core.instruments import Instrument, InstrumentKind
from titan.execution.placement import Unplaceable, create_request
from titan.execution.signing import create_signer, endpoint, form
from titan.execution.venues import build_exchange, profile

D = Decimal
NOW_MS = 1_723_161_256_501
METHODS = {"binance": "privatePostOrder", "binanceusdm": "fapiPrivatePostOrder",
           "bybit": "privatePostV5OrderCreate", "mexc": "spotPrivatePostOrder"}
SPOT = Instrument(symbol="BTC/USDT", venue="binance", base="BTC", quote="USDT", tick_size=D("0.01"),
                  lot_size=D("0.00001"))
PERP = Instrument(symbol="BTC/USDT:USDT", venue="bybit", base="BTC", quote="USDT", kind=InstrumentKind.PERPETUAL,
                  settle="USDT", tick_size=D("0.1"), lot_size=D("0.001"))


def exchange(venue: str, *, secret: str = "emu-api-secret", recv_window_ms: int | None = 5000):
    ex = build_exchange(profile(venue), api_key="emu-api-key", secret=secret, rest_url="http://127.0.0.1:9",
                        ws_url="ws://127.0.0.1:9", enable_rate_limit=False, recv_window_ms=recv_window_ms)
    ex.options["timeDifference"] = 0
    ex.nonce = lambda: NOW_MS  # the same timestamp for both signers
    return ex


EXCHANGES = {venue: exchange(venue) for venue in METHODS}
SIGNERS = {venue: create_signer(ex, METHODS[venue]) for venue, ex in EXCHANGES.items()}


def ccxt_sign(venue: str, params: dict) -> dict:
    path, api, method = endpoint(profile(venue).ccxt_id, METHODS[venue])
    return EXCHANGES[venue].sign(path, api, method, dict(params))


decimals = st.decimals(min_value=D("0.00000001"), max_value=D("1000000"), places=8, allow_nan=False,
                       allow_infinity=False)
ids = st.from_regex(r"[A-Za-z0-9]{1,8}-[a-z0-9]{3}-\d{10}", fullmatch=True) | st.text(min_size=1, max_size=36)


@given(st.sampled_from(list(METHODS)), st.sampled_from(list(ev.OrderType)), st.sampled_from(list(ev.Side)),
       st.sampled_from(list(ev.TimeInForce)), st.booleans(), st.booleans(), st.booleans(), decimals, decimals, ids)
def test_placement_requests_are_signed_exactly_like_ccxt(venue, otype, side, tif, post_only, reduce_only, spot,
                                                         qty, price, cid):
    inst = SPOT if spot else PERP
    if spot != (venue in ("binance", "mexc")) and venue != "bybit":
        return  # markets these venues do not list
    cmd = ev.SubmitOrder(client_order_id=cid, phase="hunter", instrument_id=inst.id, side=side, order_type=otype,
                         quantity=qty, price=price, trigger_price=price, time_in_force=tif,
                         post_only=post_only and otype is ev.OrderType.LIMIT, reduce_only=reduce_only, ts_init=0)
    try:
        req = create_request(cmd, inst, "BTCUSDT", profile(venue))
    except Unplaceable:
        return
    assert req.method == METHODS[venue]
    signed = SIGNERS[venue](dict(req.params))
    assert signed is not None, "a placement request must take the fast path"
    assert signed.as_dict() == ccxt_sign(venue, req.params)


values = st.one_of(st.text(max_size=12), st.booleans(), st.integers(-10**6, 10**6),
                   st.sampled_from(["a b", "x/y", "%", "+", "&=", "é", "~._-", "\n"]))


@given(st.sampled_from(list(METHODS)), st.dictionaries(st.text(min_size=1, max_size=8), values, max_size=6))
def test_any_parameters_are_signed_like_ccxt_or_left_to_it(venue, params):
    if venue.startswith("binance"):
        params = {"newClientOrderId": "TTN-hun-0000000001", **params}
    signed = SIGNERS[venue](dict(params))
    if signed is None:  # only where ccxt would rewrite the parameters itself
        assert {"timestamp", "recvWindow"} & set(params) or "newClientOrderId" not in params
        return
    assert signed.as_dict() == ccxt_sign(venue, params)


def test_form_encoding_matches_urllib_for_reserved_characters():
    from urllib.parse import quote, urlencode

    params = {"symbol": "BTC/USDT", "note": "a b&c=d", "flag": True, "n": 5, "id": "TTN-hun-0000000001"}
    expected = urlencode({**params, "flag": "true"}, quote_via=quote)
    assert form(params) == expected


@pytest.mark.parametrize("venue", list(METHODS))
def test_a_measured_clock_offset_reaches_the_signature(venue):
    """ccxt's nonce() (local time minus the offset ``load_time_difference`` measured) is signed,
    read at each request: a resync after the signer was built still applies."""
    ex = exchange(venue)
    del ex.nonce  # the class's nonce again, on a pinned local clock
    ex.milliseconds = lambda: NOW_MS
    sign = create_signer(ex, METHODS[venue])
    ex.options["timeDifference"] = 8000
    params = {"symbol": "BTCUSDT", "newClientOrderId": "TTN-hun-0000000001"}
    signed = sign(dict(params))
    path, api, method = endpoint(profile(venue).ccxt_id, METHODS[venue])
    assert signed.as_dict() == ex.sign(path, api, method, dict(params))
    assert str(NOW_MS - 8000) in (signed.body or "") + signed.url + str(signed.headers)


@pytest.mark.parametrize("venue", list(METHODS))
def test_keys_ccxt_must_handle_are_left_to_it(venue):
    """RSA/Ed25519 keys are ccxt's to sign (MEXC signs every key with HMAC: so do we)."""
    rsa = "-----BEGIN PRIVATE KEY-----\nabc\n-----END PRIVATE KEY-----"
    ex = exchange(venue, secret=rsa)
    sign = create_signer(ex, METHODS[venue])
    if venue != "mexc":
        assert sign is None
    else:
        params = {"symbol": "BTCUSDT"}
        path, api, method = endpoint("mexc", METHODS[venue])
        assert sign(dict(params)).as_dict() == ex.sign(path, api, method, dict(params))
    assert create_signer(exchange(venue), "privateGetOrder") is None


@pytest.mark.parametrize("venue", list(METHODS))
def test_the_client_signs_its_creates_itself_on_every_venue(venue):
    """What ``CcxtExecutionClient`` routes its creates through: Titan's signer for the placement
    request's implicit method, and the URL path the rate limiter weighs - the one ccxt's own
    ``fetch2`` would have weighed."""
    from titan.execution.signing import create_routes
    from titan.execution.venues import api_path

    ex = exchange(venue)
    routes = create_routes(ex, api_path)
    route = routes[METHODS[venue]]
    assert list(routes) == [METHODS[venue]] and route.sign is not None
    assert route.url_path == {"binance": "/api/v3/order", "binanceusdm": "/fapi/v1/order",
                              "bybit": "/v5/order/create", "mexc": "/api/v3/order"}[venue]
    params = {"symbol": "BTCUSDT", "newClientOrderId": "TTN-hun-0000000001"}
    assert route.signed(ex, params).as_dict() == ccxt_sign(venue, params)
    declined = {**params, "recvWindow": 1000}  # Titan's signer declines: ccxt's sign() is used
    assert route.signed(ex, declined).as_dict() == ccxt_sign(venue, declined)


@given(st.binary(max_size=200), st.binary(max_size=600))
def test_mac_is_hmac_sha256(secret, message):
    """Titan's precomputed-state HMAC against the standard library's, keys longer than a block too."""
    import hashlib
    import hmac

    from titan.execution.signing import Mac

    assert Mac(secret).hexdigest(message) == hmac.new(secret, message, hashlib.sha256).hexdigest()
