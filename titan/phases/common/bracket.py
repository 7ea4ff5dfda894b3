"""A position's exit plan - protective stop and take-profit levels - watched by the phase.

Why the phase watches its own exits: the Brain counts working reduce-only orders against what a
phase may still reduce, so a resting stop *and* a resting target for the same position cannot
both be working, and a resting stop would have to be canceled - one venue round trip - before
a target exit may go out. In a bar backtest a resting stop also sees less than the phase does
(``bar_close``: only closes). A :class:`Bracket` therefore turns a touched stop or target into
a reduce-only market intent; the stop is always on the protective side of the entry (below a
long, above a short) and is checked before the targets when one bar reaches both, which is the
pessimistic reading of a bar. (What a watched stop cannot do is protect a position while the
process is down: that needs a venue-side stop, not yet placed.)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal


@dataclass(frozen=True, slots=True)
class Target:
    price: float
    fraction: float  # of the position when the plan started; the last target takes the rest
    tag: str = "target"


@dataclass(slots=True)
class Bracket:
    """``side`` +1 long / -1 short; ``stop`` on the losing side of ``entry``."""

    side: int
    entry: float
    stop: float
    targets: list[Target] = field(default_factory=list)
    size: Decimal = Decimal(0)  # position size the fractions refer to
    breakeven_after_first: bool = False
    hit: int = 0  # targets already taken

    def __post_init__(self) -> None:
        if self.side not in (1, -1):
            raise ValueError(f"side must be +1 or -1, got {self.side}")
        if not (self.stop < self.entry if self.side > 0 else self.stop > self.entry):
            raise ValueError(
                f"stop {self.stop} is not on the protective side of entry {self.entry} "
                f"for a {'long' if self.side > 0 else 'short'}")

    @property
    def risk(self) -> float:
        return abs(self.entry - self.stop)

    def check(self, high: float, low: float) -> tuple[str, float] | None:
        """What a price range [low, high] triggers: ("stop", 1.0), (tag, fraction) or None."""
        if (low <= self.stop) if self.side > 0 else (high >= self.stop):
            return ("stop", 1.0)
        if self.hit < len(self.targets):
            t = self.targets[self.hit]
            if (high >= t.price) if self.side > 0 else (low <= t.price):
                last = self.hit == len(self.targets) - 1
                return (t.tag, 1.0 if last else t.fraction)
        return None

    def took_target(self) -> None:
        """Record the next target as taken; optionally move the stop to the entry."""
        self.hit += 1
        if self.breakeven_after_first and self.hit == 1:
            self.stop = self.entry
