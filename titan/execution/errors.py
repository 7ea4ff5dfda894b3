"""ccxt exceptions -> Titan's ``ErrorKind``, and whether the venue may have acted anyway.

The one question that matters after a failed create is *could the order exist?* A rate-limit
answer, an auth failure or a validation error means the venue refused the request before acting;
a timeout, a 5xx or an unexplained exchange error does not say - so the order must be looked up by
its client id before anything is sent again (:mod:`titan.execution.retry`).

ccxt's hierarchy has traps: ``InvalidNonce`` and ``RateLimitExceeded`` are subclasses of
``NetworkError``, and a duplicate client id is a plain ``InvalidOrder``; so specific checks come
first and the venue's own error code is read from the message body where it decides the meaning.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import ccxt

from titan.core.errors import (
    AuthError,
    InsufficientFunds,
    InvalidOrder,
    OrderNotFound,
    RateLimited,
    TemporaryError,
    VenueError,
)
from titan.core.events import ErrorKind
from titan.core.logs import redact

_CODE = re.compile(r'"(?:retCode|code)"\s*:\s*"?(-?\d+)')
_MSG = re.compile(r'"(?:retMsg|msg)"\s*:\s*"([^"]*)"')

# Venue codes meaning "this client order id is already in use".
DUPLICATE_CODES = {"110072", "170141", "-4116"}
DUPLICATE_MESSAGES = ("Duplicate order sent.", "Duplicate clientOrderId", "ClientOrderId is duplicated")
# Codes that mean "nothing to change" and are success for Titan (leverage, margin mode).
NOT_MODIFIED_CODES = {"110043", "110026", "-4046", "-4059"}
# Codes that are authentication failures whatever class ccxt raised (Binance turns -2015 into
# DDoSProtection once a private call has succeeded).
NOT_FOUND_CODES = {"110001", "170213", "-2011", "-2013"}
AUTH_CODES = {"10003", "10004", "10005", "-2014", "-2015", "-1022", "700001", "700002"}


@dataclass(frozen=True)
class Classified:
    """One venue failure, classified."""

    kind: ErrorKind
    maybe_processed: bool  # True: the venue may have acted; look before acting again
    code: str = ""
    message: str = ""
    duplicate: bool = False
    not_modified: bool = False

    @property
    def retryable(self) -> bool:
        return self.kind in (ErrorKind.TEMPORARY, ErrorKind.RATE_LIMITED)

    def to_error(self) -> VenueError:
        cls = _ERROR_CLASS.get(self.kind, VenueError)
        return cls(self.message, kind=self.kind, code=self.code)


_ERROR_CLASS: dict[ErrorKind, type[VenueError]] = {
    ErrorKind.TEMPORARY: TemporaryError,
    ErrorKind.RATE_LIMITED: RateLimited,
    ErrorKind.INVALID_ORDER: InvalidOrder,
    ErrorKind.INSUFFICIENT_FUNDS: InsufficientFunds,
    ErrorKind.AUTH: AuthError,
    ErrorKind.NOT_FOUND: OrderNotFound,
}


def venue_code(exc: BaseException) -> str:
    """The venue's own error code found in a ccxt message (``retCode``/``code``), or ''."""
    m = _CODE.search(str(exc))
    return m.group(1) if m else ""


def one_line(exc: BaseException, limit: int = 300) -> str:
    """A short message: the venue's ``msg`` when ccxt quoted the body, else the text. Secrets
    are masked: Bybit echoes the API key in its bad-signature message, and these messages end up
    in events and the event log."""
    text = redact(str(exc))
    m = _MSG.search(text)
    base = f"{type(exc).__name__}: {m.group(1) if m else text}"
    code = venue_code(exc)
    if code and m:
        base += f" (code {code})"
    return " ".join(base.split())[:limit]


def classify(exc: BaseException) -> Classified:
    """Map any exception raised by a ccxt call to a :class:`Classified`."""
    code = venue_code(exc)
    msg = one_line(exc)
    text = str(exc)
    if code in NOT_MODIFIED_CODES or isinstance(exc, ccxt.MarginModeAlreadySet):
        return Classified(ErrorKind.INVALID_ORDER, False, code, msg, not_modified=True)
    if code in DUPLICATE_CODES or any(s in text for s in DUPLICATE_MESSAGES):
        return Classified(ErrorKind.INVALID_ORDER, False, code, msg, duplicate=True)
    if code in AUTH_CODES:
        return Classified(ErrorKind.AUTH, False, code, msg)
    if code in NOT_FOUND_CODES:
        return Classified(ErrorKind.NOT_FOUND, False, code, msg)
    if isinstance(exc, (ccxt.RateLimitExceeded, ccxt.DDoSProtection)):
        return Classified(ErrorKind.RATE_LIMITED, False, code, msg)
    if isinstance(exc, ccxt.InvalidNonce):
        return Classified(ErrorKind.TEMPORARY, False, code, msg)
    if isinstance(exc, (ccxt.AuthenticationError, ccxt.PermissionDenied, ccxt.AccountSuspended)):
        return Classified(ErrorKind.AUTH, False, code, msg)
    if isinstance(exc, ccxt.InsufficientFunds):
        return Classified(ErrorKind.INSUFFICIENT_FUNDS, False, code, msg)
    if isinstance(exc, ccxt.OrderNotFound):
        return Classified(ErrorKind.NOT_FOUND, False, code, msg)
    if isinstance(exc, (ccxt.InvalidOrder, ccxt.BadRequest, ccxt.BadSymbol, ccxt.ArgumentsRequired,
                        ccxt.NotSupported, ccxt.OperationRejected)):
        return Classified(ErrorKind.INVALID_ORDER, False, code, msg)
    if isinstance(exc, (ccxt.NetworkError, TimeoutError, ConnectionError, OSError)):
        return Classified(ErrorKind.TEMPORARY, True, code, msg)
    if isinstance(exc, ccxt.BaseError):
        return Classified(ErrorKind.UNKNOWN, True, code, msg)
    return Classified(ErrorKind.UNKNOWN, True, code, msg)
