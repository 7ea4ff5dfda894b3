"""HMAC-SHA256 request verification, exactly over the bytes the client sent.

Never re-serialise parsed parameters: the signature covers the raw query string (and, for POST,
the raw body), so the emulator verifies against ``request.query_string`` and the body text.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from urllib.parse import parse_qsl


def hmac_hex(secret: str, payload: str) -> str:
    return hmac.new(secret.encode(), payload.encode(), hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class AuthFailure:
    """Why a signed request was refused; the dialect turns ``kind`` into the venue's error."""

    kind: str  # "missing_key" | "bad_key" | "bad_signature" | "timestamp"
    detail: str = ""


def check_window(ts_ms: int, recv_window: int, server_ms: int) -> bool:
    """Both Bybit and Binance: ``server - recvWindow <= ts < server + 1000``."""
    return server_ms - recv_window <= ts_ms < server_ms + 1000


def verify_bybit(headers, query_string: str, body: str, method: str, keys: dict[str, str],
                 server_ms: int) -> AuthFailure | None:
    key = headers.get("X-BAPI-API-KEY", "")
    if not key or key not in keys:
        return AuthFailure("bad_key" if key else "missing_key")
    ts = headers.get("X-BAPI-TIMESTAMP", "")
    window = headers.get("X-BAPI-RECV-WINDOW", "5000")
    payload = query_string if method in ("GET", "DELETE") else body
    origin = f"{ts}{key}{window}{payload}"
    if not hmac.compare_digest(hmac_hex(keys[key], origin), headers.get("X-BAPI-SIGN", "")):
        return AuthFailure("bad_signature", origin)
    if not ts.isdigit() or not window.isdigit() or not check_window(int(ts), int(window), server_ms):
        return AuthFailure("timestamp", f"req_timestamp[{ts}],server_timestamp[{server_ms}],recv_window[{window}]")
    return None


def split_signed(query_string: str, body: str) -> tuple[str, str, dict[str, str]]:
    """Binance/MEXC: (signed payload, signature, all params) from query string + form body."""
    total = query_string + body  # Binance: "totalParams" is the plain concatenation
    payload, sep, signature = total.rpartition("&signature=")
    if not sep:
        if total.startswith("signature="):
            payload, signature = "", total[len("signature="):]
        else:
            payload, signature = total, ""
    params = dict(parse_qsl(query_string, keep_blank_values=True))
    params.update(parse_qsl(body, keep_blank_values=True))
    return payload, signature.split("&", 1)[0], params


def verify_query_signed(key: str, query_string: str, body: str, keys: dict[str, str],
                        server_ms: int, default_window: int) -> tuple[AuthFailure | None, dict[str, str]]:
    """Binance spot/USD-M and MEXC spot: HMAC over ``query + body`` without the signature."""
    payload, signature, params = split_signed(query_string, body)
    if not key:
        return AuthFailure("missing_key"), params
    if key not in keys:
        return AuthFailure("bad_key"), params
    if not signature or not hmac.compare_digest(hmac_hex(keys[key], payload), signature):
        return AuthFailure("bad_signature", payload), params
    ts = params.get("timestamp", "")
    window = params.get("recvWindow", str(default_window))
    if not ts.isdigit() or not window.isdigit() or not check_window(int(ts), int(window), server_ms):
        return AuthFailure("timestamp"), params
    return None, params
