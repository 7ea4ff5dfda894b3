"""Logging setup: rich on a terminal, JSON lines otherwise, secrets redacted on every handler.

Secrets are registered with :func:`register_secret` when they are read from the environment
(``titan.config``); every handler installed here carries a :class:`RedactFilter` that replaces
them - and anything shaped like ``api_key=...``/``secret: ...``/``Bearer ...`` - with ``***``,
in the message, its arguments and any exception text.
"""

from __future__ import annotations

import logging
import re
import sys
import threading
import time
from typing import Any

import orjson

_SECRETS: set[str] = set()
_LOCK = threading.Lock()
_PATTERNS = [
    re.compile(r"(?i)((?:api[_-]?key|api[_-]?secret|secret|password|passphrase|token)[\"']?\s*[:=]\s*[\"']?)([^\s\"',}&]+)"),
    re.compile(r"(?i)(bearer\s+)([A-Za-z0-9._~+/=-]+)"),
    re.compile(r"(?i)(X-(?:BAPI|MBX|MEXC)-(?:API-?KEY|SIGN|APIKEY)[\"']?\s*[:=]\s*[\"']?)([^\s\"',}]+)"),
    re.compile(r"(?i)((?:signature|sign)=)([0-9a-f]{16,})"),
]
MASK = "***"


def register_secret(value: str | None) -> None:
    """Make ``value`` unloggable. Short values (< 4 chars) are ignored to avoid masking noise."""
    if value and len(value) >= 4:
        with _LOCK:
            _SECRETS.add(value)


def redact(text: str) -> str:
    """Replace registered secrets and secret-shaped key/value pairs with ``***``."""
    for secret in _SECRETS:
        if secret in text:
            text = text.replace(secret, MASK)
    for pattern in _PATTERNS:
        text = pattern.sub(lambda m: m.group(1) + MASK, text)
    return text


class RedactFilter(logging.Filter):
    """Rewrites each record so no handler can print a secret."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a bad format string must not kill logging
            message = str(record.msg)
        record.msg = redact(message)
        record.args = None
        if record.exc_info and record.exc_info[1] is not None:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line, for journald / log shippers."""

    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        if record.exc_text:
            payload["exc"] = record.exc_text
        extra = getattr(record, "fields", None)
        if isinstance(extra, dict):
            payload.update(extra)
        return orjson.dumps(payload, default=str).decode()


def setup_logging(level: str | int = "INFO", *, json: bool | None = None, stream=None) -> None:
    """Install one handler on the root logger. ``json=None`` picks rich on a TTY, JSON otherwise."""
    stream = stream or sys.stderr
    if json is None:
        json = not (hasattr(stream, "isatty") and stream.isatty())
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_titan", False):
            root.removeHandler(handler)
    handler: logging.Handler
    if json:
        handler = logging.StreamHandler(stream)
        handler.setFormatter(JsonFormatter())
    else:
        from rich.console import Console
        from rich.logging import RichHandler

        handler = RichHandler(
            console=Console(file=stream), show_path=False, rich_tracebacks=False, markup=False
        )
    handler.addFilter(RedactFilter())
    handler._titan = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level if isinstance(level, int) else level.upper())
    install_redaction()


def install_redaction() -> None:
    """Add the redaction filter to every handler on the root logger (idempotent)."""
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, RedactFilter) for f in handler.filters):
            handler.addFilter(RedactFilter())
