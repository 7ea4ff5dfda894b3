"""Keeping an L2 book in sync with a venue's diff stream - or knowing that it is not.

The sequence rules are the venues' own:

- Binance (spot and USD-M): buffer diffs, fetch a REST snapshot, drop diffs the snapshot already
  contains, then require the first diff to straddle the snapshot's ``lastUpdateId`` and every
  later diff to follow on: spot ``U == previous u + 1``, futures ``pu == previous u``.
- Bybit v5: a ``snapshot`` message resets the book; each ``delta`` must carry ``u == previous
  u + 1`` (``u == 1`` is a snapshot after a venue restart, sent as type ``snapshot``).

A gap or a crossed book makes the book invalid; the caller then resyncs (REST snapshot for
Binance, resubscribe for Bybit) and nothing is published from an invalid book. These classes
are pure: they never do I/O and report what happened as an :class:`Outcome`.
"""

from __future__ import annotations

from collections import deque
from enum import IntEnum

import native

BID, ASK = 0, 1


class Outcome(IntEnum):
    APPLIED = 0  # a delta was applied to a valid book
    BUFFERED = 1  # waiting for a snapshot; the delta is kept
    SKIPPED = 2  # old news (already in the snapshot) or the book is waiting to resync
    SYNCED = 3  # a snapshot (plus buffered deltas) made the book valid
    GAP = 4  # a sequence break: the book is invalid until resynced
    CROSSED = 5  # bids met asks: the book is invalid until resynced
    STALE_SNAPSHOT = 6  # the snapshot is older than the buffered stream; fetch another


class BookSync:
    """Base: the book, its validity and the reason it was last invalidated."""

    def __init__(self) -> None:
        self.book = native.book.L2Book()
        self.valid = False
        self.last_update_id = -1
        self.reason = "no snapshot yet"
        self.syncs = 0  # times the book became valid

    def invalidate(self, reason: str) -> None:
        self.valid = False
        self.reason = reason

    def reset(self, reason: str) -> None:
        """Invalidate and forget everything buffered (after a disconnect)."""
        self.invalidate(reason)

    def _mark_valid(self) -> None:
        self.valid = True
        self.reason = ""
        self.syncs += 1

    def _check_crossed(self) -> bool:
        if self.book.crossed():
            bid, _, ask, _ = self.book.top()
            self.invalidate(f"crossed book: bid {bid:g} >= ask {ask:g}")
            return True
        return False


class _Diff:
    __slots__ = ("first", "last", "prev", "bids", "asks")

    def __init__(self, first: int, last: int, prev: int, bids, asks) -> None:
        self.first, self.last, self.prev, self.bids, self.asks = first, last, prev, bids, asks


class BinanceBookSync(BookSync):
    """Binance diff-depth sync; ``futures`` selects the USD-M ``pu`` chaining rule."""

    def __init__(self, *, futures: bool, max_buffer: int = 2000) -> None:
        super().__init__()
        self.futures = futures
        self._buffer: deque[_Diff] = deque(maxlen=max_buffer)
        self._snapshot_id = -1  # lastUpdateId of the snapshot until the first diff follows it

    def invalidate(self, reason: str) -> None:
        super().invalidate(reason)
        self._snapshot_id = -1

    def reset(self, reason: str) -> None:
        super().reset(reason)
        self._buffer.clear()

    def on_diff(self, first: int, last: int, prev: int, bids, asks) -> Outcome:
        """One depth event: ``U``, ``u``, ``pu`` (-1 on spot) and the level changes."""
        if not self.valid:
            self._buffer.append(_Diff(first, last, prev, bids, asks))
            return Outcome.BUFFERED
        if self._snapshot_id >= 0:
            return self._first_after_snapshot(_Diff(first, last, prev, bids, asks))
        if last <= self.last_update_id:
            return Outcome.SKIPPED
        if not self._follows(first, prev):
            expected = f"pu={self.last_update_id}" if self.futures else f"U={self.last_update_id + 1}"
            got = f"pu={prev}" if self.futures else f"U={first}"
            self.invalidate(f"sequence gap: expected {expected}, got {got}")
            self._buffer.clear()
            self._buffer.append(_Diff(first, last, prev, bids, asks))
            return Outcome.GAP
        return self._apply(last, bids, asks)

    def on_snapshot(self, last_update_id: int, bids, asks) -> Outcome:
        """A REST depth snapshot: load it and replay the buffered diffs that follow it."""
        buffered = list(self._buffer)
        self._buffer.clear()
        usable = [d for d in buffered if not self._contained(d, last_update_id)]
        if usable and not self._straddles(usable[0], last_update_id):
            # the snapshot predates the oldest diff we still hold: events in between are lost
            self._buffer.extend(usable)
            return Outcome.STALE_SNAPSHOT
        try:
            self.book.load(bids, asks)
        except ValueError as e:
            self.invalidate(f"bad level in snapshot: {e}")
            return Outcome.GAP
        self._mark_valid()
        self.last_update_id = last_update_id
        self._snapshot_id = last_update_id
        for d in usable:
            outcome = self._first_after_snapshot(d) if self._snapshot_id >= 0 else self._chain(d)
            if outcome in (Outcome.GAP, Outcome.CROSSED):
                return outcome
        if self._check_crossed():
            return Outcome.CROSSED
        return Outcome.SYNCED

    # ---- rules ---------------------------------------------------------------------------

    def _contained(self, d: _Diff, snapshot_id: int) -> bool:
        # futures: "drop any event where u < lastUpdateId"; spot: "u <= lastUpdateId"
        return d.last < snapshot_id if self.futures else d.last <= snapshot_id

    def _straddles(self, d: _Diff, snapshot_id: int) -> bool:
        if self.futures:
            return d.prev == snapshot_id or d.first <= snapshot_id <= d.last
        return d.first <= snapshot_id + 1 <= d.last

    def _follows(self, first: int, prev: int) -> bool:
        return prev == self.last_update_id if self.futures else first == self.last_update_id + 1

    def _first_after_snapshot(self, d: _Diff) -> Outcome:
        if self._contained(d, self._snapshot_id):
            return Outcome.SKIPPED
        if not self._straddles(d, self._snapshot_id):
            self.invalidate(
                f"sequence gap: first diff U={d.first} u={d.last} does not follow snapshot "
                f"lastUpdateId={self._snapshot_id}"
            )
            self._buffer.append(d)
            return Outcome.GAP
        self._snapshot_id = -1
        return self._apply(d.last, d.bids, d.asks)

    def _chain(self, d: _Diff) -> Outcome:
        if d.last <= self.last_update_id:
            return Outcome.SKIPPED
        if not self._follows(d.first, d.prev):
            self.invalidate(f"sequence gap in buffered diffs at U={d.first}")
            self._buffer.append(d)
            return Outcome.GAP
        return self._apply(d.last, d.bids, d.asks)

    def _apply(self, last: int, bids, asks) -> Outcome:
        try:
            self.book.apply(bids, asks)
        except ValueError as e:
            self.invalidate(f"bad level: {e}")
            return Outcome.GAP
        self.last_update_id = last
        if self._check_crossed():
            return Outcome.CROSSED
        return Outcome.APPLIED


class BybitBookSync(BookSync):
    """Bybit v5 ``orderbook.N`` sync: snapshot resets, deltas must follow ``u`` by one."""

    def __init__(self) -> None:
        super().__init__()
        self.sequence = -1

    def on_snapshot(self, update_id: int, sequence: int, bids, asks) -> Outcome:
        try:
            self.book.load(bids, asks)
        except ValueError as e:
            self.invalidate(f"bad level: {e}")
            return Outcome.GAP
        self._mark_valid()
        self.last_update_id = update_id
        self.sequence = sequence
        if self._check_crossed():
            return Outcome.CROSSED
        return Outcome.SYNCED

    def on_delta(self, update_id: int, sequence: int, bids, asks) -> Outcome:
        if not self.valid:
            return Outcome.SKIPPED
        if update_id <= self.last_update_id:
            return Outcome.SKIPPED
        if update_id != self.last_update_id + 1:
            self.invalidate(f"sequence gap: expected u={self.last_update_id + 1}, got u={update_id}")
            return Outcome.GAP
        try:
            self.book.apply(bids, asks)
        except ValueError as e:
            self.invalidate(f"bad level: {e}")
            return Outcome.GAP
        self.last_update_id = update_id
        self.sequence = sequence
        if self._check_crossed():
            return Outcome.CROSSED
        return Outcome.APPLIED
