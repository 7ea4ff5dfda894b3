"""DurableExecutionClient: nothing reaches a venue before the event log has it on disk.

It wraps any :class:`~titan.execution.client.ExecutionClient` (ccxt or simulated). ``submit`` and
``cancel`` stay synchronous for the kernel: they queue the command, and one pump task hands the
queue to the inner client in order, each command only after ``EventLog.wait_durable`` returned
for its sequence number. The kernel normally appends the command itself just before calling
``submit``; a command the log has not seen is appended here, so it is logged exactly once.

If the log cannot be written, an order that adds risk is answered with ``OrderRejected``
(``kind=POLICY``) on the sink instead of being sent; cancels and reduce-only orders still go out
(they only lower risk, and restart reconciliation repairs a state that missed them).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Callable

from titan.core import events as ev
from titan.core.eventlog import EventLog, EventLogUnavailable
from titan.execution.client import EventSink, ExecutionClient, VenueSnapshot

log = logging.getLogger(__name__)


class DurableExecutionClient:
    """An ``ExecutionClient`` that enforces "durable before hand-off" (module docstring)."""

    def __init__(
        self,
        inner: ExecutionClient,
        eventlog: EventLog,
        sink: EventSink,
        *,
        now_ns: Callable[[], int] = time.time_ns,
    ) -> None:
        self.inner = inner
        self.venue = inner.venue
        self.eventlog = eventlog
        self.sink = sink
        self._now_ns = now_ns
        self._queue: deque[tuple[int, ev.SubmitOrder | ev.CancelOrder]] = deque()
        self._ready = asyncio.Event()
        self._pump: asyncio.Task[None] | None = None
        self.sent = 0
        self.refused = 0

    async def start(self) -> None:
        await self.inner.start()
        if self._pump is None:
            self._pump = asyncio.create_task(self._run(), name=f"durable-{self.venue}")

    async def stop(self) -> None:
        """Hand over what is queued (if the log allows), then stop the inner client."""
        if self._pump is not None:
            while self._queue and self.eventlog.healthy:
                await asyncio.sleep(0.005)
            self._pump.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._pump
            self._pump = None
        await self.inner.stop()

    def submit(self, cmd: ev.SubmitOrder) -> None:
        self._enqueue(cmd)

    def cancel(self, cmd: ev.CancelOrder) -> None:
        self._enqueue(cmd)

    async def snapshot(self) -> VenueSnapshot:
        return await self.inner.snapshot()

    @property
    def queued(self) -> int:
        return len(self._queue)

    def _enqueue(self, cmd: ev.SubmitOrder | ev.CancelOrder) -> None:
        seq = self.eventlog.command_seq(cmd)
        if seq is None:
            seq = self.eventlog.append(cmd)
        self._queue.append((seq, cmd))
        self._ready.set()

    async def _run(self) -> None:
        while True:
            if not self._queue:
                self._ready.clear()
                await self._ready.wait()
                continue
            seq, cmd = self._queue[0]
            try:
                await self.eventlog.wait_durable(seq)
            except EventLogUnavailable as e:
                self._queue.popleft()
                self._undurable(cmd, str(e))
                continue
            self._queue.popleft()
            self._hand_off(cmd)

    def _hand_off(self, cmd: ev.SubmitOrder | ev.CancelOrder) -> None:
        self.sent += 1
        if isinstance(cmd, ev.SubmitOrder):
            self.inner.submit(cmd)
        else:
            self.inner.cancel(cmd)

    def _undurable(self, cmd: ev.SubmitOrder | ev.CancelOrder, why: str) -> None:
        if isinstance(cmd, ev.CancelOrder) or cmd.reduce_only:
            log.warning("%s sent although not durable (it only lowers risk): %s",
                        cmd.client_order_id, why)
            self._hand_off(cmd)
            return
        self.refused += 1
        now = self._now_ns()
        self.sink(ev.OrderRejected(
            client_order_id=cmd.client_order_id, reason=f"not sent: {why}",
            kind=ev.ErrorKind.POLICY, ts_event=now, ts_init=now,
        ))
