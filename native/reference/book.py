"""Reference L2 order book (pure Python), the oracle for ``native/_book.pyx``.

Numbers in, numbers out: a side is ``BID`` (0) or ``ASK`` (1); levels are ``(price, size)``
pairs; a size of 0 removes the level (removing an absent level is a no-op, as venues send them).
Prices are matched exactly, which is right for prices parsed from the venue's decimal strings.

Bad numbers (non-finite or non-positive price, negative or non-finite size) raise ValueError
naming the argument and index. Levels before the bad one have been applied by then: a caller
that gets the error must treat the book as invalid and resync it.
"""

from __future__ import annotations

import math
from bisect import bisect_left, insort

import numpy as np

BID = 0
ASK = 1


def _check_side(side: int) -> int:
    if side not in (BID, ASK):
        raise ValueError(f"side: expected 0 (bid) or 1 (ask), got {side!r}")
    return side


def _level(name: str, i: int, price: float, size: float) -> tuple[float, float]:
    price, size = float(price), float(size)
    if not (math.isfinite(price) and price > 0.0):
        raise ValueError(f"{name}[{i}]: price must be finite and > 0, got {price!r}")
    if not (math.isfinite(size) and size >= 0.0):
        raise ValueError(f"{name}[{i}]: size must be finite and >= 0, got {size!r}")
    return price, size


class _Side:
    """Keys ascending with the best level last (bids: price, asks: -price)."""

    __slots__ = ("sign", "keys", "sizes")

    def __init__(self, sign: float) -> None:
        self.sign = sign
        self.keys: list[float] = []
        self.sizes: dict[float, float] = {}

    def set(self, price: float, size: float) -> None:
        key = price * self.sign
        if size == 0.0:
            if self.sizes.pop(key, None) is not None:
                del self.keys[bisect_left(self.keys, key)]
        else:
            if key not in self.sizes:
                insort(self.keys, key)
            self.sizes[key] = size

    def clear(self) -> None:
        self.keys.clear()
        self.sizes.clear()

    def best(self, n: int) -> list[tuple[float, float]]:
        keys = self.keys[::-1] if n <= 0 else self.keys[: -n - 1 : -1]
        return [(k * self.sign, self.sizes[k]) for k in keys]


class L2Book:
    """A price-level order book: apply snapshots and deltas, query the top and the depth."""

    def __init__(self) -> None:
        self._sides = (_Side(1.0), _Side(-1.0))

    # ---- updates ------------------------------------------------------------------------

    def clear(self) -> None:
        for s in self._sides:
            s.clear()

    def set(self, side: int, price: float, size: float) -> None:
        """Set one level (size 0 removes it)."""
        price, size = _level("level", 0, price, size)
        self._sides[_check_side(side)].set(price, size)

    def apply(self, bids, asks) -> int:
        """Apply deltas given as sequences of ``(price, size)`` pairs; returns levels applied."""
        return self._apply_pairs(BID, "bids", bids) + self._apply_pairs(ASK, "asks", asks)

    def load(self, bids, asks) -> int:
        """Replace the whole book with a snapshot."""
        self.clear()
        return self.apply(bids, asks)

    def apply_arrays(self, side: int, prices, sizes) -> int:
        """Apply deltas to one side from two equal-length float arrays."""
        s = self._sides[_check_side(side)]
        p = np.ascontiguousarray(prices, dtype=np.float64)
        q = np.ascontiguousarray(sizes, dtype=np.float64)
        if p.ndim != 1 or q.ndim != 1 or p.shape != q.shape:
            raise ValueError(f"prices/sizes: expected two 1-D arrays of one length, got {p.shape} and {q.shape}")
        for i, (price, size) in enumerate(zip(p.tolist(), q.tolist(), strict=False)):
            s.set(*_level("prices", i, price, size))
        return len(p)

    def _apply_pairs(self, side: int, name: str, levels) -> int:
        s = self._sides[side]
        n = 0
        for i, item in enumerate(levels):
            try:
                price, size = item
            except (TypeError, ValueError):
                raise ValueError(f"{name}[{i}]: expected a (price, size) pair, got {item!r}") from None
            s.set(*_level(name, i, price, size))
            n += 1
        return n

    # ---- queries ------------------------------------------------------------------------

    @property
    def n_bids(self) -> int:
        return len(self._sides[BID].keys)

    @property
    def n_asks(self) -> int:
        return len(self._sides[ASK].keys)

    def best_bid(self) -> float:
        s = self._sides[BID]
        return s.keys[-1] if s.keys else math.nan

    def best_ask(self) -> float:
        s = self._sides[ASK]
        return -s.keys[-1] if s.keys else math.nan

    def top(self) -> tuple[float, float, float, float]:
        """``(bid, bid_size, ask, ask_size)``; NaN prices and 0 sizes for an empty side."""
        b, a = self._sides
        bid = (b.keys[-1], b.sizes[b.keys[-1]]) if b.keys else (math.nan, 0.0)
        ask = (-a.keys[-1], a.sizes[a.keys[-1]]) if a.keys else (math.nan, 0.0)
        return bid[0], bid[1], ask[0], ask[1]

    def levels(self, side: int, n: int = 0) -> np.ndarray:
        """The best ``n`` levels of a side (all if ``n`` <= 0), best first, as an (m, 2) array."""
        rows = self._sides[_check_side(side)].best(n)
        return np.array(rows, dtype=np.float64).reshape(len(rows), 2)

    def volume(self, side: int, n: int = 0) -> float:
        """Total size of the best ``n`` levels of a side (all if ``n`` <= 0)."""
        return float(sum(size for _, size in self._sides[_check_side(side)].best(n)))

    def imbalance(self, n: int = 1) -> float:
        """``(bid volume - ask volume) / total`` over the best ``n`` levels; NaN if both empty."""
        bv, av = self.volume(BID, n), self.volume(ASK, n)
        total = bv + av
        return (bv - av) / total if total > 0.0 else math.nan

    def price_for_size(self, side: int, size: float) -> float:
        """Average price to take ``size`` from ``side`` (ASK for a buy); NaN if the book is too thin."""
        size = float(size)
        if not (math.isfinite(size) and size > 0.0):
            raise ValueError(f"size: must be finite and > 0, got {size!r}")
        remaining, notional = size, 0.0
        for price, avail in self._sides[_check_side(side)].best(0):
            take = avail if avail < remaining else remaining
            notional += take * price
            remaining -= take
            if remaining <= 0.0:
                return notional / size
        return math.nan

    def crossed(self) -> bool:
        """True when both sides exist and the best bid is at or above the best ask."""
        b, a = self._sides
        return bool(b.keys and a.keys and b.keys[-1] >= -a.keys[-1])
