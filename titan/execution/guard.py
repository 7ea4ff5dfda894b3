"""The policy-hash guard: no order leaves under a risk policy other than the one loaded.

Every ``SubmitOrder`` carries the SHA-256 of the risk policy the Brain decided it under
(``titan.config.policy_hash``). ``PolicyGuard`` wraps any ``ExecutionClient`` and turns a
submit whose hash differs from the loaded policy's into an ``OrderRejected`` (kind ``POLICY``)
on the sink, without reaching the venue - so a command recorded under yesterday's config and
replayed after a restart, or produced by a Brain built from a different file, can never place
an order. Cancels always pass: taking risk off is never blocked.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from titan.core import events as ev
from titan.execution.client import EventSink, ExecutionClient, VenueSnapshot

log = logging.getLogger(__name__)


def short(h: str) -> str:
    return (h[:12] + "...") if len(h) > 12 else (h or "(none)")


class PolicyGuard:
    """An ``ExecutionClient`` that forwards only orders stamped with ``policy_hash``."""

    def __init__(self, inner: ExecutionClient, policy_hash: str, sink: EventSink,
                 now_ns: Callable[[], int]) -> None:
        if not policy_hash:
            raise ValueError("policy_hash: must not be empty")
        self.inner = inner
        self.venue = inner.venue
        self.policy_hash = policy_hash
        self._sink = sink
        self._now = now_ns
        self.rejected = 0

    async def start(self) -> None:
        await self.inner.start()

    async def stop(self) -> None:
        await self.inner.stop()

    def submit(self, cmd: ev.SubmitOrder) -> None:
        if cmd.policy_hash != self.policy_hash:
            self.rejected += 1
            reason = (f"policy hash {short(cmd.policy_hash)} differs from the loaded risk policy "
                      f"{short(self.policy_hash)}: order decided under another config, not sent")
            log.error("%s: %s", cmd.client_order_id, reason)
            now = self._now()
            self._sink(ev.OrderRejected(client_order_id=cmd.client_order_id, reason=reason,
                                        kind=ev.ErrorKind.POLICY, ts_event=now, ts_init=now))
            return
        self.inner.submit(cmd)

    def cancel(self, cmd: ev.CancelOrder) -> None:
        self.inner.cancel(cmd)

    async def snapshot(self) -> VenueSnapshot:
        return await self.inner.snapshot()

    def __getattr__(self, name: str) -> Any:
        # Anything beyond the protocol (instrument loading, stats) is the wrapped client's.
        if name == "inner":
            raise AttributeError(name)
        return getattr(self.inner, name)
