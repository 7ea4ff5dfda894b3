"""Venue error bodies -> ccxt's own exception (its real handle_errors) -> Titan's classification."""

from __future__ import annotations

import json

import ccxt
import ccxt.async_support as accxt
import pytest

from titan.core.errors import AuthError, InsufficientFunds, RateLimited
from titan.core.events import ErrorKind
from titan.execution.errors import classify, one_line, venue_code
from titan.execution.venues import fix_binance_error_table

LOCAL = "http://127.0.0.1:9"


def raised(ex, status: int, body: dict | str, url: str) -> BaseException:
    text = body if isinstance(body, str) else json.dumps(body)
    try:
        ex.handle_errors(status, "", url, "POST", {}, text, json.loads(text) if text.startswith("{") else None, {}, "")
        ex.throw_exactly_matched_exception({}, "", "")
    except ccxt.BaseError as e:
        return e
    raise AssertionError(f"ccxt raised nothing for {text}")


def bybit_error(code: int, msg: str) -> BaseException:
    return raised(accxt.bybit(), 200, {"retCode": code, "retMsg": msg, "result": {}, "retExtInfo": {}, "time": 1},
                  LOCAL + "/v5/order/create")


@pytest.mark.parametrize("code,msg,kind,maybe,flag", [
    (10004, "error sign! origin_string[...]", ErrorKind.AUTH, False, ""),
    (10003, "API key is invalid.", ErrorKind.AUTH, False, ""),
    (10006, "Too many visits!", ErrorKind.RATE_LIMITED, False, ""),
    (10002, "invalid request, please check your server timestamp", ErrorKind.TEMPORARY, False, ""),
    (110007, "ab not enough for new order", ErrorKind.INSUFFICIENT_FUNDS, False, ""),
    (170131, "Insufficient balance.", ErrorKind.INSUFFICIENT_FUNDS, False, ""),
    (110017, "Reduce-only rule not satisfied", ErrorKind.INVALID_ORDER, False, ""),
    (110072, "OrderLinkedID is duplicate", ErrorKind.INVALID_ORDER, False, "duplicate"),
    (110043, "Set leverage not modified", ErrorKind.INVALID_ORDER, False, "not_modified"),
    (110001, "Order does not exist.", ErrorKind.NOT_FOUND, False, ""),
    (10016, "System error. Please try again later.", ErrorKind.UNKNOWN, True, ""),
])
def test_bybit_codes(code, msg, kind, maybe, flag):
    c = classify(bybit_error(code, msg))
    assert (c.kind, c.maybe_processed, c.code) == (kind, maybe, str(code))
    assert c.duplicate == (flag == "duplicate") and c.not_modified == (flag == "not_modified")


def test_binance_local_url_needs_the_error_table_fix():
    """Pitfall: Binance picks its error table by host; on 127.0.0.1 -2022 becomes ExchangeError."""
    body = {"code": -2022, "msg": "ReduceOnly Order is rejected."}
    plain = accxt.binanceusdm()
    assert type(raised(plain, 400, body, LOCAL + "/fapi/v1/order")) is ccxt.ExchangeError
    fixed = accxt.binanceusdm()
    fix_binance_error_table(fixed)
    e = raised(fixed, 400, body, LOCAL + "/fapi/v1/order")
    assert isinstance(e, ccxt.InvalidOrder) and classify(e).kind is ErrorKind.INVALID_ORDER


@pytest.mark.parametrize("status,body,url,kind,maybe,flag", [
    (400, {"code": -5022, "msg": "Due to the order could not be executed as maker, the Post Only order will be rejected."},
     "/fapi/v1/order", ErrorKind.INVALID_ORDER, False, ""),
    (400, {"code": -2019, "msg": "Margin is insufficient."}, "/fapi/v1/order", ErrorKind.INSUFFICIENT_FUNDS, False, ""),
    (400, {"code": -4116, "msg": "ClientOrderId is duplicated."}, "/fapi/v1/order", ErrorKind.INVALID_ORDER, False, "duplicate"),
    (400, {"code": -4046, "msg": "No need to change margin type."}, "/fapi/v1/marginType", ErrorKind.INVALID_ORDER, False, "not_modified"),
    (400, {"code": -2010, "msg": "Account has insufficient balance for requested action."}, "/api/v3/order",
     ErrorKind.INSUFFICIENT_FUNDS, False, ""),
    (400, {"code": -2010, "msg": "Order would immediately match and take."}, "/api/v3/order", ErrorKind.INVALID_ORDER, False, ""),
    (400, {"code": -2010, "msg": "Duplicate order sent."}, "/api/v3/order", ErrorKind.INVALID_ORDER, False, "duplicate"),
    (400, {"code": -2011, "msg": "Unknown order sent."}, "/api/v3/order", ErrorKind.NOT_FOUND, False, ""),
    (400, {"code": -1021, "msg": "Timestamp for this request is outside of the recvWindow."}, "/api/v3/order",
     ErrorKind.TEMPORARY, False, ""),
    (400, {"code": -1022, "msg": "Signature for this request is not valid."}, "/api/v3/order", ErrorKind.AUTH, False, ""),
    (401, {"code": -2015, "msg": "Invalid API-key, IP, or permissions for action."}, "/api/v3/order", ErrorKind.AUTH, False, ""),
    (429, {"code": -1003, "msg": "Too much request weight used"}, "/api/v3/order", ErrorKind.RATE_LIMITED, False, ""),
    (429, {"code": -1015, "msg": "Too many new orders"}, "/api/v3/order", ErrorKind.RATE_LIMITED, False, ""),
    (503, "<html>503 Service Temporarily Unavailable</html>", "/api/v3/order", ErrorKind.TEMPORARY, True, ""),
])
def test_binance_codes(status, body, url, kind, maybe, flag):
    ex = accxt.binanceusdm() if url.startswith("/fapi") else accxt.binance()
    fix_binance_error_table(ex)
    e = raised(ex, status, body, LOCAL + url) if status != 503 else ccxt.ExchangeNotAvailable(f"binance 503 {body}")
    c = classify(e)
    assert (c.kind, c.maybe_processed) == (kind, maybe), (type(e).__name__, c)
    assert c.duplicate == (flag == "duplicate") and c.not_modified == (flag == "not_modified")


def test_binance_2015_after_success_is_still_auth():
    """Pitfall: once a private call succeeded, ccxt raises DDoSProtection for -2015."""
    ex = accxt.binance()
    ex.options["hasAlreadyAuthenticatedSuccessfully"] = True
    e = raised(ex, 401, {"code": -2015, "msg": "Invalid API-key, IP, or permissions for action."}, LOCAL + "/api/v3/order")
    assert isinstance(e, ccxt.DDoSProtection)
    assert classify(e).kind is ErrorKind.AUTH


@pytest.mark.parametrize("exc,kind,maybe", [
    (ccxt.RequestTimeout("bybit POST /v5/order/create"), ErrorKind.TEMPORARY, True),
    (ccxt.NetworkError("connection reset"), ErrorKind.TEMPORARY, True),
    (ccxt.ExchangeError("something odd"), ErrorKind.UNKNOWN, True),
    (ccxt.InvalidNonce("x"), ErrorKind.TEMPORARY, False),
    (TimeoutError(), ErrorKind.TEMPORARY, True),
    (RuntimeError("a bug"), ErrorKind.UNKNOWN, True),
])
def test_generic_exceptions(exc, kind, maybe):
    c = classify(exc)
    assert (c.kind, c.maybe_processed) == (kind, maybe)


def test_titan_error_classes_and_messages():
    e = bybit_error(10004, "error sign! origin_string[1700000000000key5000{}]")
    c = classify(e)
    assert isinstance(c.to_error(), AuthError) and c.to_error().code == "10004"
    assert isinstance(classify(bybit_error(110007, "ab not enough")).to_error(), InsufficientFunds)
    assert isinstance(classify(bybit_error(10006, "Too many visits!")).to_error(), RateLimited)
    assert venue_code(e) == "10004"
    line = one_line(e)
    assert line.startswith("AuthenticationError: error sign!") and "\n" not in line and line.endswith("(code 10004)")


def test_the_api_key_never_reaches_an_event_reason():
    from titan.config import Secret

    key = Secret("emu-key-4b1d2c3e")
    e = bybit_error(10004, f"error sign! origin_string[1700000000000{key.reveal()}5000{{}}]")
    assert key.reveal() in str(e)  # ccxt keeps the venue's text as it came
    assert key.reveal() not in classify(e).message and "***" in classify(e).message
