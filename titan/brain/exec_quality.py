"""Execution quality per venue: rolling slippage and acknowledgement latency.

Slippage is measured against the mark when the Brain approved the order, in basis points,
positive when the fill was worse for us. Latency is from approval to the venue's ack, in Titan's
clock. When either rolling mean exceeds its limit (``max_slippage_bps``, ``max_ack_latency_ms``)
new orders on that venue are scaled down; beyond ``exec_quality_halt_factor`` x the limit the
venue takes no new entries (reducing orders still go) until the means recover.
"""

from __future__ import annotations

from collections import deque

OK, REDUCE, HALT = 0, 1, 2
_QUIET, _REDUCED, _HALTED = (OK, ""), (REDUCE, ""), (HALT, "")


class _Rolling:
    __slots__ = ("values", "total")

    def __init__(self, window: int) -> None:
        self.values: deque[float] = deque(maxlen=window)
        self.total = 0.0

    def add(self, x: float) -> None:
        values = self.values
        if len(values) == values.maxlen:
            self.total -= values[0]
        values.append(x)
        self.total += x

    @property
    def mean(self) -> float:
        return self.total / len(self.values) if self.values else 0.0


def quality_level(mean: float, limit: float, halt_factor: float) -> int:
    if mean > limit * halt_factor:
        return HALT
    if mean > limit:
        return REDUCE
    return OK


class VenueQuality:
    """Per-venue rolling means and the level (OK / REDUCE / HALT) they imply."""

    def __init__(self, window: int, min_samples: int, max_slippage_bps: float,
                 max_ack_latency_ms: float, halt_factor: float) -> None:
        self.window = window
        self.min_samples = min_samples
        self.max_slippage_bps = max_slippage_bps
        self.max_ack_latency_ms = max_ack_latency_ms
        self.halt_factor = halt_factor
        self._slip: dict[str, _Rolling] = {}
        self._lat: dict[str, _Rolling] = {}
        self.levels: dict[str, tuple[int, str]] = {}  # venue -> (level, reason); absent = OK
        self._parts: dict[str, list[tuple[int, str]]] = {}  # venue -> [slippage's, latency's]

    def record_slippage(self, venue: str, bps: float) -> None:
        r = self._slip.get(venue)
        if r is None:
            r = self._series(self._slip, venue)
        r.add(bps)
        part = self._part(r, self.max_slippage_bps)
        if part[0]:
            part = (part[0], f"{venue}: rolling slippage {r.total / len(r.values):.1f} bps > "
                             f"{self.max_slippage_bps:g}")
        self._combine(venue, part, 0)

    def record_latency(self, venue: str, ms: float) -> None:
        r = self._lat.get(venue)
        if r is None:
            r = self._series(self._lat, venue)
        r.add(ms)
        part = self._part(r, self.max_ack_latency_ms)
        if part[0]:
            part = (part[0], f"{venue}: rolling ack latency {r.total / len(r.values):.0f} ms > "
                             f"{self.max_ack_latency_ms:g}")
        self._combine(venue, part, 1)

    def _part(self, r: _Rolling, limit: float) -> tuple[int, str]:
        """The level one series implies (``quality_level`` of its mean, inlined)."""
        n = len(r.values)
        if n < self.min_samples:
            return _QUIET
        mean = r.total / n
        if mean > limit * self.halt_factor:
            return _HALTED
        return _REDUCED if mean > limit else _QUIET

    def _combine(self, venue: str, part: tuple[int, str], which: int) -> None:
        """The venue's level: the worse of its two series' (slippage first on a tie). Only the
        series just recorded can have moved, so the other one's part is kept."""
        parts = self._parts.get(venue)
        if parts is None:
            parts = self._parts[venue] = [_QUIET, _QUIET]
        parts[which] = part
        worst = parts[0]
        if parts[1][0] > worst[0]:
            worst = parts[1]
        if worst[0] == OK:
            if self.levels:
                self.levels.pop(venue, None)
        else:
            self.levels[venue] = worst

    def level(self, venue: str) -> tuple[int, str]:
        return self.levels.get(venue, (OK, ""))

    def means(self, venue: str) -> tuple[float, float]:
        """(slippage bps, ack latency ms) rolling means."""
        s, lat = self._slip.get(venue), self._lat.get(venue)
        return (s.mean if s else 0.0, lat.mean if lat else 0.0)

    def _series(self, table: dict[str, _Rolling], venue: str) -> _Rolling:
        r = table.get(venue)
        if r is None:
            r = table[venue] = _Rolling(self.window)
        return r
