"""Operational jobs on apscheduler: reconciliation sweeps, the daily report, AI Quant's optimiser.

Trading logic never runs here - market data, timers and orders go through the kernel on the
event loop. These jobs only look (reconcile with the venues, report, suggest parameters) and
hand whatever they find to the kernel as system events. Each job runs at most once at a time
(``max_instances=1``), missed runs coalesce into one, and a job that raises is logged and runs
again at its next time.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Awaitable, Callable

from apscheduler.schedulers.asyncio import AsyncIOScheduler

log = logging.getLogger(__name__)

Job = Callable[[], Awaitable[None]]


class OpsScheduler:
    def __init__(self) -> None:
        self.scheduler = AsyncIOScheduler(timezone=dt.UTC)
        self.runs: dict[str, int] = {}
        self.failures: dict[str, int] = {}

    def every(self, name: str, seconds: float, job: Job) -> None:
        self.scheduler.add_job(self._wrap(name, job), "interval", seconds=seconds, id=name,
                               name=name, max_instances=1, coalesce=True,
                               misfire_grace_time=max(1, int(seconds)))

    def daily(self, name: str, hour: int, minute: int, job: Job) -> None:
        """At ``hour:minute`` UTC every day."""
        self.scheduler.add_job(self._wrap(name, job), "cron", hour=hour, minute=minute, id=name,
                               name=name, max_instances=1, coalesce=True, misfire_grace_time=3600)

    def _wrap(self, name: str, job: Job) -> Job:
        self.runs[name] = 0
        self.failures[name] = 0

        async def run() -> None:
            try:
                await job()
                self.runs[name] += 1
            except Exception:
                self.failures[name] += 1
                log.exception("scheduled job %s failed", name)

        run.__name__ = f"job_{name}"
        return run

    def start(self) -> None:
        self.scheduler.start()

    def shutdown(self) -> None:
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)

    def jobs(self) -> dict[str, str]:
        """Job name -> next run time (ISO, UTC)."""
        return {j.id: j.next_run_time.isoformat() if j.next_run_time else ""
                for j in self.scheduler.get_jobs()}
