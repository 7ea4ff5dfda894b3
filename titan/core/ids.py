"""Client order ids: deterministic, unique, short enough for every venue (<= 36 chars).

``TTN-hun-0000001234``: prefix, a 3-letter owner code, and a sequence that only grows. The
sequence is restored from the event log on restart (``ClientOrderIds(start=last_seq + 1)``), so
ids never repeat across restarts, and a backtest given the same inputs emits the same ids. The
venue echoes the id back, which is what lets a create be looked up after a timeout.
"""

from __future__ import annotations

import re
from functools import cache

_VALID = re.compile(r"^[A-Za-z0-9]{1,8}$")
ID_RE = re.compile(r"^(?P<prefix>[A-Za-z0-9]{1,8})-(?P<owner>[a-z0-9]{3})-(?P<seq>\d{10})$")


class ClientOrderIds:
    __slots__ = ("prefix", "_next")

    def __init__(self, prefix: str = "TTN", start: int = 1) -> None:
        if not _VALID.match(prefix):
            raise ValueError(f"client id prefix {prefix!r}: 1-8 letters or digits")
        if start < 1:
            raise ValueError(f"start: must be >= 1, got {start}")
        self.prefix = prefix
        self._next = start

    @property
    def next_seq(self) -> int:
        return self._next

    def next(self, owner: str) -> str:
        seq = self._next
        self._next += 1
        return format_id(self.prefix, owner, seq)

    def observe(self, client_order_id: str) -> None:
        """Advance past an id seen in the log, so a restart never reuses it."""
        seq = parse_seq(client_order_id)
        if seq is not None and seq >= self._next:
            self._next = seq + 1


@cache
def owner_code(owner: str) -> str:
    """Three lowercase letters/digits naming the owner (cached: called for every order)."""
    code = re.sub(r"[^a-z0-9]", "", owner.lower())[:3]
    return code.ljust(3, "x")


def format_id(prefix: str, owner: str, seq: int) -> str:
    return f"{prefix}-{owner_code(owner)}-{seq:010d}"


def parse_seq(client_order_id: str) -> int | None:
    m = ID_RE.match(client_order_id)
    return int(m.group("seq")) if m else None
