"""Faults the emulator injects on request, and the log of every request it served."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field

KINDS = ("latency", "http_5xx", "timeout_after_accept", "rate_limit", "drop_ws")


@dataclass
class Fault:
    """One injected failure.

    ``kind``: ``latency`` (sleep ``delay_s`` then answer), ``http_5xx`` (HTTP 503, nothing done),
    ``timeout_after_accept`` (do the work - e.g. accept the order - then hold the answer for
    ``delay_s`` so the client times out), ``rate_limit`` (the venue's rate-limit answer, nothing
    done), ``drop_ws`` (close the private websockets now and refuse new ones while active).
    ``path``/``method`` select requests by prefix / exact method (empty = any). ``times`` is how
    many requests it hits; 0 means until cleared.
    """

    kind: str
    path: str = ""
    method: str = ""
    times: int = 1
    delay_s: float = 0.0
    hits: int = 0

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"fault kind {self.kind!r}: expected one of {', '.join(KINDS)}")

    def matches(self, method: str, path: str) -> bool:
        return (not self.method or self.method == method) and path.startswith(self.path)

    @property
    def spent(self) -> bool:
        return self.times > 0 and self.hits >= self.times


class FaultBook:
    def __init__(self) -> None:
        self.active: list[Fault] = []

    def add(self, fault: Fault) -> Fault:
        self.active.append(fault)
        return fault

    def clear(self) -> None:
        self.active.clear()

    def take(self, method: str, path: str, kinds: tuple[str, ...] = KINDS) -> Fault | None:
        """The first live fault for this request (counted as hit), or None."""
        for fault in self.active:
            if fault.kind in kinds and fault.matches(method, path) and not fault.spent:
                fault.hits += 1
                if fault.spent:
                    self.active.remove(fault)
                return fault
        return None

    def blocks_ws(self) -> bool:
        return any(f.kind == "drop_ws" and not f.spent for f in self.active)


@dataclass
class RequestRecord:
    """One request as received: what tests assert on (a ccxt upgrade then fails loudly)."""

    method: str
    path: str
    query: dict[str, str]
    body: str
    signed: bool
    ts: float = field(default_factory=time.time)
    status: int = 0
    code: str = ""
    fault: str = ""

    def to_dict(self) -> dict:
        return asdict(self)
