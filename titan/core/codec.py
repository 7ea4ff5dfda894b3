"""One msgpack codec for every ``Message`` (the event log, the dead-letter store, snapshots).

The tagged union is built once from the subclasses of ``Message`` defined in
``titan.core.events``; encoder and decoders are created once and reused (msgspec perf tip).
"""

from __future__ import annotations

from functools import cache
from typing import Any, Union

import msgspec

from titan.core import events as ev


def _concrete(cls: type) -> list[type]:
    found: list[type] = []
    for sub in cls.__subclasses__():
        if sub.__module__ == ev.__name__ and not sub.__name__.startswith("_"):
            found.append(sub)
        found.extend(_concrete(sub))
    return found


ABSTRACT = frozenset({ev.Data, ev.Event, ev.Command, ev.OrderEvent})


@cache
def message_types() -> tuple[type[ev.Message], ...]:
    """Every concrete message class, in a stable order (by name)."""
    seen = {t for t in _concrete(ev.Message) if t not in ABSTRACT}
    return tuple(sorted(seen, key=lambda t: t.__name__))


@cache
def _decoder() -> msgspec.msgpack.Decoder:
    return msgspec.msgpack.Decoder(Union[message_types()])  # type: ignore[misc]


_ENCODER = msgspec.msgpack.Encoder(decimal_format="string")
_JSON_ENCODER = msgspec.json.Encoder(decimal_format="string")


def encode(msg: ev.Message) -> bytes:
    return _ENCODER.encode(msg)


def decode(data: bytes) -> ev.Message:
    """Decode one message; raises ``msgspec.ValidationError`` / ``DecodeError`` on bad input."""
    return _decoder().decode(data)


def to_json(msg: Any) -> bytes:
    return _JSON_ENCODER.encode(msg)


def to_builtins(msg: Any) -> Any:
    """Plain dicts/lists/str for reports (Decimals become exact strings)."""
    return msgspec.to_builtins(msg)
