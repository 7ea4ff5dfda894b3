"""The backtest's clock: a ``SimClock`` the runner can move cheaply between timers.

``SimClock.advance_to`` pops due timers and builds their events - work a candle loop would
repeat on every bar although a timer is due only now and then. ``BacktestClock`` keeps
``due`` (when the next timer fires; never earlier than the truth) current whenever a timer is
set, so the loop calls ``advance_to`` only once ``due`` is reached and otherwise just moves time
with :meth:`set_time`.
"""

from __future__ import annotations

from heapq import heappop, heappush

from titan.core.clock import SimClock
from titan.core.events import TimeEvent

NEVER = 1 << 62


class BacktestClock(SimClock):
    def __init__(self, start_ns: int = 0) -> None:
        super().__init__(start_ns)
        self.due = NEVER

    def set_timer(self, name: str, interval_ns: int, *, start_ns: int | None = None,
                  stop_ns: int | None = None) -> None:
        super().set_timer(name, interval_ns, start_ns=start_ns, stop_ns=stop_ns)
        self._refresh()

    def set_alert(self, name: str, at_ns: int) -> None:
        super().set_alert(name, at_ns)
        self._refresh()

    def advance_to(self, ts_ns: int) -> list[TimeEvent]:
        """``SimClock.advance_to`` and the refresh of ``due`` in one pass (it runs for every
        timer of a run): the same events, in the same order."""
        if ts_ns < self._now:
            self._refresh()
            return []
        heap, timers = self._heap, self._timers
        due: list[TimeEvent] = []
        while heap and heap[0][0] <= ts_ns:
            at, seq, name = heappop(heap)
            timer = timers.get(name)
            if timer is None or timer.seq != seq:
                continue  # cancelled or replaced
            if timer.stop_ns is not None and at > timer.stop_ns:
                del timers[name]
                continue
            self._now = at
            due.append(TimeEvent(name=name, ts_event=at, ts_init=at))
            if timer.interval_ns > 0:
                timer.next_ns = at + timer.interval_ns
                self._seq = timer.seq = self._seq + 1
                heappush(heap, (timer.next_ns, timer.seq, name))
            else:
                del timers[name]
        self._now = ts_ns
        while heap:  # the next live timer; stale entries go
            at, seq, name = heap[0]
            timer = timers.get(name)
            if timer is not None and timer.seq == seq:
                self.due = at
                return due
            heappop(heap)
        self.due = NEVER
        return due

    def set_time(self, ts_ns: int) -> None:
        """Move to ``ts_ns``, which must come before the next timer (``advance_to`` fires
        timers; this must not skip one). Time never goes backwards."""
        if ts_ns >= self.due:
            raise ValueError(f"set_time({ts_ns}): a timer is due at {self.due}; use advance_to")
        if ts_ns > self._now:
            self._now = ts_ns

    def _refresh(self) -> None:
        nxt = self.next_due_ns()
        self.due = NEVER if nxt is None else nxt
