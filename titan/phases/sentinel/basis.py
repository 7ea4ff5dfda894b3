"""Cash-and-carry arithmetic: funding annualised, basis in basis points, the expected edge.

Long spot + short perpetual in equal base quantity is delta-neutral; it earns the funding that
longs pay shorts while the rate is positive, and the perp's premium over spot (the basis) as
the two prices converge. Costs are the four taker legs of entry and exit. All of it is plain
arithmetic on floats (signals, not money).
"""

from __future__ import annotations

from collections import deque

YEAR_NS = 365 * 86_400 * 1_000_000_000


def annualised(rate: float, interval_ns: int) -> float:
    """A per-interval funding rate as a yearly fraction (0.0001 per 8 h -> 0.1095)."""
    if interval_ns <= 0:
        raise ValueError(f"interval_ns must be > 0, got {interval_ns}")
    return rate * YEAR_NS / interval_ns


def basis_bps(perp: float, spot: float) -> float:
    """The perpetual's premium over spot in basis points (negative: a discount)."""
    return (perp - spot) / spot * 1e4


def expected_edge_bps(*, funding_apr: float, basis: float, horizon_days: float,
                      round_trip_fees_bps: float) -> float:
    """What the carry should earn over ``horizon_days``: funding plus the basis captured at
    convergence, less the round trip's fees."""
    return funding_apr * horizon_days / 365.0 * 1e4 + basis - round_trip_fees_bps


class FundingEstimate:
    """The mean annualised rate of the last ``window`` funding prints (one print is noise)."""

    __slots__ = ("_rates",)

    def __init__(self, window: int) -> None:
        self._rates: deque[float] = deque(maxlen=window)

    def add(self, rate: float, interval_ns: int) -> None:
        self._rates.append(annualised(rate, interval_ns))

    @property
    def ready(self) -> bool:
        return len(self._rates) > 0

    @property
    def apr(self) -> float:
        return sum(self._rates) / len(self._rates) if self._rates else 0.0
