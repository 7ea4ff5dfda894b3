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


class _Rolling:
    __slots__ = ("values", "total")

    def __init__(self, window: int) -> None:
        self.values: deque[float] = deque(maxlen=window)
        self.total = 0.0

    def add(self, x: float) -> None:
        if len(self.values) == self.values.maxlen:
            self.total -= self.values[0]
        self.values.append(x)
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

    def record_slippage(self, venue: str, bps: float) -> None:
        self._series(self._slip, venue).add(bps)
        self._update(venue)

    def record_latency(self, venue: str, ms: float) -> None:
        self._series(self._lat, venue).add(ms)
        self._update(venue)

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

    def _update(self, venue: str) -> None:
        worst, reason = OK, ""
        s = self._slip.get(venue)
        if s is not None and len(s.values) >= self.min_samples:
            lvl = quality_level(s.mean, self.max_slippage_bps, self.halt_factor)
            if lvl > worst:
                worst = lvl
                reason = f"{venue}: rolling slippage {s.mean:.1f} bps > {self.max_slippage_bps:g}"
        lat = self._lat.get(venue)
        if lat is not None and len(lat.values) >= self.min_samples:
            lvl = quality_level(lat.mean, self.max_ack_latency_ms, self.halt_factor)
            if lvl > worst:
                worst = lvl
                reason = f"{venue}: rolling ack latency {lat.mean:.0f} ms > {self.max_ack_latency_ms:g}"
        if worst == OK:
            self.levels.pop(venue, None)
        else:
            self.levels[venue] = (worst, reason)
