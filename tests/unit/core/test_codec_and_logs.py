from __future__ import annotations

import io
import json
import logging
from decimal import Decimal

import msgspec
import pytest

from titan.core import codec
from titan.core import events as ev
from titan.core.logs import RedactFilter, redact, register_secret, setup_logging


def test_decimal_survives_exactly():
    cmd = ev.SubmitOrder(client_order_id="c", phase="p", instrument_id="i", side=ev.Side.SELL,
                         order_type=ev.OrderType.LIMIT, quantity=Decimal("0.10000000000000000001"),
                         price=Decimal("65000.15"), ts_init=5)
    back = codec.decode(codec.encode(cmd))
    assert back == cmd and isinstance(back.quantity, Decimal)
    assert str(back.quantity) == "0.10000000000000000001"


def test_bad_bytes_raise_msgspec_errors():
    with pytest.raises(msgspec.DecodeError):
        codec.decode(b"\xc1")
    with pytest.raises(msgspec.ValidationError):
        codec.decode(msgspec.msgpack.encode({"type": "Nope"}))


def test_every_message_type_is_in_the_union():
    names = {t.__name__ for t in codec.message_types()}
    assert {"Trade", "Quote", "BookDelta", "Bar", "FundingRate", "OrderIntent", "SubmitOrder",
            "CancelOrder", "OrderAccepted", "OrderRejected", "OrderFilled", "OrderCanceled",
            "OrderExpired", "OrderDenied", "BreakerChanged"} <= names
    assert "Data" not in names and "Event" not in names


def test_redaction_of_registered_and_shaped_secrets():
    register_secret("sk-very-secret-value")
    text = redact("key sk-very-secret-value api_key=abcd1234 Authorization: Bearer tok.en-123")
    assert "sk-very-secret-value" not in text and "abcd1234" not in text and "tok.en-123" not in text
    assert text.count("***") == 3


def test_json_logging_redacts_args_and_exceptions():
    register_secret("hunter2hunter2")
    stream = io.StringIO()
    setup_logging("INFO", json=True, stream=stream)
    log = logging.getLogger("titan.test")
    log.info("login with %s", "hunter2hunter2")
    try:
        raise RuntimeError("secret is hunter2hunter2")
    except RuntimeError:
        log.exception("boom")
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert lines[0]["msg"] == "login with ***"
    assert "hunter2hunter2" not in stream.getvalue()
    assert "RuntimeError" in lines[1]["exc"]
    root = logging.getLogger()
    assert all(any(isinstance(f, RedactFilter) for f in h.filters) for h in root.handlers)


def test_to_builtins_keeps_decimals_exact_as_strings():
    out = codec.to_builtins(ev.BalanceSet(venue="v", currency="USDT", total=Decimal("0.10000000000000000001"),
                                          ts_event=1, ts_init=2))
    assert out["total"] == "0.10000000000000000001" and out["type"] == "BalanceSet"
    assert codec.to_json(ev.BalanceSet(venue="v", currency="USDT", total=Decimal("1.5"),
                                       ts_event=1, ts_init=2)).count(b'"1.5"') == 1
