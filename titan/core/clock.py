"""Clocks: the only source of "now" and of timers, injected everywhere.

``SimClock`` is advanced by the backtest loop: ``advance_to(ts)`` moves time forward and returns
the timer events that fell due, in time order, for the runner to dispatch before the data at
``ts``. ``LiveClock`` reads the wall clock and fires timers on the running event loop, calling
one injected handler - so a phase sees the same ``TimeEvent`` in both modes.
"""

from __future__ import annotations

import heapq
import time
from collections.abc import Callable
from typing import Protocol

from titan.core.events import TimeEvent

NS_PER_SECOND = 1_000_000_000
NS_PER_MS = 1_000_000


class Clock(Protocol):
    def now_ns(self) -> int: ...

    def set_timer(
        self, name: str, interval_ns: int, *, start_ns: int | None = None, stop_ns: int | None = None
    ) -> None: ...

    def set_alert(self, name: str, at_ns: int) -> None: ...

    def cancel_timer(self, name: str) -> None: ...

    def timer_names(self) -> list[str]: ...


class _Timer:
    __slots__ = ("name", "interval_ns", "next_ns", "stop_ns", "seq")

    def __init__(self, name: str, interval_ns: int, next_ns: int, stop_ns: int | None) -> None:
        self.seq = 0
        self.name = name
        self.interval_ns = interval_ns
        self.next_ns = next_ns
        self.stop_ns = stop_ns


def _check_timer(name: str, interval_ns: int) -> None:
    if not name:
        raise ValueError("timer name: must not be empty")
    if interval_ns <= 0:
        raise ValueError(f"timer {name!r}: interval_ns must be > 0, got {interval_ns}")


class SimClock:
    """Simulated time for backtests. Time only moves when ``advance_to`` is called."""

    def __init__(self, start_ns: int = 0) -> None:
        self._now = start_ns
        self._timers: dict[str, _Timer] = {}
        self._heap: list[tuple[int, int, str]] = []
        self._seq = 0

    def now_ns(self) -> int:
        return self._now

    def set_timer(
        self, name: str, interval_ns: int, *, start_ns: int | None = None, stop_ns: int | None = None
    ) -> None:
        """Fire every ``interval_ns`` from ``start_ns`` (default: now) until ``stop_ns``."""
        _check_timer(name, interval_ns)
        first = (self._now if start_ns is None else start_ns) + interval_ns
        self._install(_Timer(name, interval_ns, first, stop_ns))

    def set_alert(self, name: str, at_ns: int) -> None:
        """Fire once at ``at_ns``."""
        if not name:
            raise ValueError("alert name: must not be empty")
        self._install(_Timer(name, 0, max(at_ns, self._now), None))

    def cancel_timer(self, name: str) -> None:
        self._timers.pop(name, None)

    def timer_names(self) -> list[str]:
        return sorted(self._timers)

    def next_due_ns(self) -> int | None:
        self._drop_stale()
        return self._heap[0][0] if self._heap else None

    def _install(self, timer: _Timer) -> None:
        self._timers[timer.name] = timer
        self._seq += 1
        timer.seq = self._seq
        heapq.heappush(self._heap, (timer.next_ns, self._seq, timer.name))

    def _drop_stale(self) -> None:
        heap = self._heap
        while heap:
            _, seq, name = heap[0]
            timer = self._timers.get(name)
            if timer is not None and timer.seq == seq:
                return
            heapq.heappop(heap)

    def advance_to(self, ts_ns: int) -> list[TimeEvent]:
        """Move time to ``ts_ns`` and return the timer events due at or before it, in order.

        Time never goes backwards: an earlier ``ts_ns`` leaves the clock where it is.
        """
        if ts_ns < self._now:
            return []
        due: list[TimeEvent] = []
        heap = self._heap
        while heap and heap[0][0] <= ts_ns:
            at, seq, name = heapq.heappop(heap)
            timer = self._timers.get(name)
            if timer is None or timer.seq != seq:
                continue  # cancelled or replaced
            if timer.stop_ns is not None and at > timer.stop_ns:
                del self._timers[name]
                continue
            self._now = at
            due.append(TimeEvent(name=name, ts_event=at, ts_init=at))
            if timer.interval_ns > 0:
                timer.next_ns = at + timer.interval_ns
                self._seq += 1
                timer.seq = self._seq
                heapq.heappush(heap, (timer.next_ns, self._seq, name))
            else:
                del self._timers[name]
        self._now = ts_ns
        return due


class LiveClock:
    """Wall-clock time; timers run on the asyncio loop and call ``handler(TimeEvent)``.

    ``handler`` is set by the runner (the kernel's timer entry point). Without a loop
    (``attach`` not called) timers are recorded and installed when one is attached.
    """

    def __init__(self, handler: Callable[[TimeEvent], None] | None = None) -> None:
        self.handler = handler
        self._loop = None
        self._timers: dict[str, _Timer] = {}
        self._handles: dict[str, object] = {}

    @staticmethod
    def now_ns() -> int:
        return time.time_ns()

    def attach(self, loop) -> None:
        self._loop = loop
        for timer in list(self._timers.values()):
            self._schedule(timer)

    def set_timer(
        self, name: str, interval_ns: int, *, start_ns: int | None = None, stop_ns: int | None = None
    ) -> None:
        _check_timer(name, interval_ns)
        self.cancel_timer(name)
        first = (self.now_ns() if start_ns is None else start_ns) + interval_ns
        timer = _Timer(name, interval_ns, first, stop_ns)
        self._timers[name] = timer
        self._schedule(timer)

    def set_alert(self, name: str, at_ns: int) -> None:
        if not name:
            raise ValueError("alert name: must not be empty")
        self.cancel_timer(name)
        timer = _Timer(name, 0, at_ns, None)
        self._timers[name] = timer
        self._schedule(timer)

    def cancel_timer(self, name: str) -> None:
        self._timers.pop(name, None)
        handle = self._handles.pop(name, None)
        if handle is not None:
            handle.cancel()  # type: ignore[attr-defined]

    def timer_names(self) -> list[str]:
        return sorted(self._timers)

    def _schedule(self, timer: _Timer) -> None:
        if self._loop is None:
            return
        delay = max(0.0, (timer.next_ns - self.now_ns()) / NS_PER_SECOND)
        self._handles[timer.name] = self._loop.call_later(delay, self._fire, timer)

    def _fire(self, timer: _Timer) -> None:
        if self._timers.get(timer.name) is not timer:
            return
        at = timer.next_ns
        if timer.stop_ns is not None and at > timer.stop_ns:
            self.cancel_timer(timer.name)
            return
        if timer.interval_ns > 0:
            timer.next_ns = at + timer.interval_ns
            self._schedule(timer)
        else:
            self._timers.pop(timer.name, None)
            self._handles.pop(timer.name, None)
        if self.handler is not None:
            self.handler(TimeEvent(name=timer.name, ts_event=at, ts_init=self.now_ns()))
