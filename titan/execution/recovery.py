"""Restart = recovery: replay the log, ask every venue, reconcile, record, then trade - or not.

:func:`recover` runs once at startup, before the kernel sees any market data:

1. replay the event log into a fresh ``ShadowState`` and advance the ``ClientOrderIds``
   sequence past every id in it (ids never repeat across restarts);
2. ``snapshot()`` each venue client (already started);
3. :func:`~titan.execution.reconcile.reconcile` with the startup policy (nothing is in flight
   after a restart: every order must be explained now);
4. append every corrective event to the log and apply it; log, apply and send the cancels the
   policy asks for; wait until all of it is durable;
5. report ``ready`` - or not, with the reason (a venue that cannot be asked, a state that cannot
   be made to agree): the runner must then refuse to trade.

:class:`PeriodicReconciler` runs the same reconciliation while trading, with the periodic
policy (recent activity is left for the next pass), handing corrections to the kernel.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from pathlib import Path

import msgspec

from titan.core import events as ev
from titan.core.eventlog import EventLog, read_log
from titan.core.ids import ClientOrderIds
from titan.core.state import ShadowState
from titan.execution.client import ExecutionClient
from titan.execution.reconcile import ReconcilePolicy, Reconciliation, reconcile

log = logging.getLogger(__name__)


class RecoveryReport(msgspec.Struct, frozen=True, kw_only=True):
    ready: bool
    reason: str
    replayed: int  # log entries folded into the state
    last_seq: int  # of the log after recovery
    next_client_seq: int
    results: tuple[Reconciliation, ...]
    corrections: int
    replay_s: float
    snapshot_s: float
    elapsed_s: float  # restart-to-ready, from the call to the report

    def summary(self) -> str:
        state = "ready" if self.ready else f"NOT READY: {self.reason}"
        found = sum(len(r.discrepancies) for r in self.results)
        return (f"recovery {state}; replayed {self.replayed} entries, {found} discrepancies, "
                f"{self.corrections} corrections, {self.elapsed_s * 1000:.0f} ms")


def replay_into(path: str | Path, state: ShadowState, ids: ClientOrderIds | None = None,
                *, until_seq: int | None = None, until_ts: int | None = None) -> int:
    """Fold a log file into ``state`` (and ``ids``); returns the number of entries."""
    n = 0
    apply = state.apply
    for entry in read_log(path, until_seq=until_seq, until_ts=until_ts):
        apply(entry.msg)
        if ids is not None:
            cid = getattr(entry.msg, "client_order_id", None)
            if cid:
                ids.observe(cid)
        n += 1
    return n


async def recover(
    *,
    eventlog: EventLog,
    state: ShadowState,
    ids: ClientOrderIds,
    clients: Mapping[str, ExecutionClient],
    policy: ReconcilePolicy,
    now_ns: Callable[[], int] = time.time_ns,
    snapshot_timeout_s: float = 30.0,
) -> RecoveryReport:
    """See the module docstring. ``eventlog`` must be open; ``state`` fresh; clients started
    (the cancels go through them, so pass the durable wrappers in live mode)."""
    t0 = time.perf_counter()
    replayed = 0
    if eventlog.mode == "sqlite" and eventlog.durable_seq:
        assert eventlog.path is not None
        replayed = replay_into(eventlog.path, state, ids, until_seq=eventlog.durable_seq)
    t1 = time.perf_counter()
    results: list[Reconciliation] = []
    problems: list[str] = []
    corrections = 0
    snapshot_s = 0.0
    for venue, client in sorted(clients.items()):
        ts = time.perf_counter()
        try:
            snap = await asyncio.wait_for(client.snapshot(), snapshot_timeout_s)
        except Exception as e:  # any failure to learn the truth means: do not trade
            problems.append(f"{venue}: snapshot failed ({type(e).__name__}: {e})")
            continue
        finally:
            snapshot_s += time.perf_counter() - ts
        result = reconcile(state, snap, policy, now_ns())
        results.append(result)
        for e in result.events:
            eventlog.append(e)
            state.apply(e)
        for cmd in result.commands:
            eventlog.append(cmd)
            state.apply(cmd)
        corrections += len(result.events) - 1 + len(result.commands)
        if result.commands:
            await eventlog.flush()
            for cmd in result.commands:
                client.cancel(cmd)
        if not result.ok:
            problems.append(f"{venue}: {result.reason}")
        for d in result.discrepancies:
            log.warning("reconcile %s: %s %s: state %s, venue %s %s", venue, d.kind, d.key,
                        d.shadow, d.venue, d.correction_id)
    await eventlog.flush()
    report = RecoveryReport(
        ready=not problems, reason="; ".join(problems), replayed=replayed,
        last_seq=eventlog.last_seq, next_client_seq=ids.next_seq, results=tuple(results),
        corrections=corrections, replay_s=t1 - t0, snapshot_s=snapshot_s,
        elapsed_s=time.perf_counter() - t0,
    )
    (log.info if report.ready else log.error)("%s", report.summary())
    return report


class PeriodicReconciler:
    """The same reconciliation while trading. Corrections go to ``on_event`` (the kernel's
    ``on_system``: logged, applied, seen by the Brain), cancels to ``on_command``."""

    def __init__(
        self,
        state: ShadowState,
        clients: Mapping[str, ExecutionClient],
        policy: ReconcilePolicy,
        *,
        on_event: Callable[[ev.Message], None],
        on_command: Callable[[list[ev.Message]], None],
        now_ns: Callable[[], int] = time.time_ns,
    ) -> None:
        self.state = state
        self.clients = clients
        self.policy = policy
        self.on_event = on_event
        self.on_command = on_command
        self.now_ns = now_ns
        self.last: dict[str, Reconciliation] = {}

    async def run_once(self) -> list[Reconciliation]:
        out = []
        for venue, client in sorted(self.clients.items()):
            try:
                snap = await client.snapshot()
            except Exception as e:
                now = self.now_ns()
                self.on_event(ev.ReconciliationCompleted(
                    venue=venue, ok=False, reason=f"snapshot failed ({type(e).__name__}: {e})",
                    ts_event=now, ts_init=now))
                continue
            # no await from here on: the state cannot move under the comparison
            result = reconcile(self.state, snap, self.policy, self.now_ns())
            for e in result.events:
                self.on_event(e)
            if result.commands:
                self.on_command(list(result.commands))
            self.last[venue] = result
            out.append(result)
        return out

    async def run(self, interval_s: float) -> None:
        while True:
            await asyncio.sleep(interval_s)
            try:
                await self.run_once()
            except Exception:
                log.exception("periodic reconciliation failed")
