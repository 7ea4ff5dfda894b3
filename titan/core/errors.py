"""Titan's exceptions. Each says what went wrong and where, in one line.

Venue failures are classified by ``ErrorKind`` (see ``titan.core.events``) and become order
events; the classes here are for the places where raising is right: bad input at the edge,
programming errors, and the venue layer's internal plumbing before it turns errors into events.
"""

from __future__ import annotations

from titan.core.events import ErrorKind


class TitanError(Exception):
    """Base class."""


class ConfigError(TitanError):
    """A configuration file or value is invalid. ``str()`` is the one-line message."""

    def __init__(self, source: str, path: str, message: str) -> None:
        self.source = source
        self.path = path
        self.message = message
        super().__init__(f"{source}: {path}: {message}" if path else f"{source}: {message}")


class DataError(TitanError):
    """A data file or message is malformed; ``location`` is ``file:line`` or a stream name."""

    def __init__(self, location: str, message: str) -> None:
        self.location = location
        self.message = message
        super().__init__(f"{location}: {message}")


class IllegalTransition(TitanError):
    """An order event arrived that the order's current status cannot take."""


class VenueError(TitanError):
    """A venue call failed; ``kind`` decides whether it may be retried."""

    kind: ErrorKind = ErrorKind.UNKNOWN

    def __init__(self, message: str, *, kind: ErrorKind | None = None, code: str = "") -> None:
        super().__init__(message)
        if kind is not None:
            self.kind = kind
        self.code = code

    @property
    def retryable(self) -> bool:
        return self.kind in (ErrorKind.TEMPORARY, ErrorKind.RATE_LIMITED)


class TemporaryError(VenueError):
    kind = ErrorKind.TEMPORARY


class RateLimited(VenueError):
    kind = ErrorKind.RATE_LIMITED


class InvalidOrder(VenueError):
    kind = ErrorKind.INVALID_ORDER


class InsufficientFunds(VenueError):
    kind = ErrorKind.INSUFFICIENT_FUNDS


class AuthError(VenueError):
    kind = ErrorKind.AUTH


class OrderNotFound(VenueError):
    kind = ErrorKind.NOT_FOUND
