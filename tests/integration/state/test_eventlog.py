"""EventLog on a real SQLite file, and the durable hand-off in front of a venue client.

The log's failure path is real too: another connection takes an exclusive lock on the file, so
every write fails with SQLite's own "database is locked" until it lets go.
"""

from __future__ import annotations

import asyncio
import sqlite3
from decimal import Decimal

import pytest

from titan.core import events as ev
from titan.core.eventlog import EventLog, EventLogUnavailable, read_log
from titan.execution.client import VenueSnapshot
from titan.execution.durable import DurableExecutionClient

IID = "BTC/USDT:USDT@bybit"


def submit(n: int, *, reduce_only: bool = False) -> ev.SubmitOrder:
    return ev.SubmitOrder(client_order_id=f"TTN-hun-{n:010d}", phase="hunter", instrument_id=IID,
                          side=ev.Side.BUY, order_type=ev.OrderType.MARKET,
                          quantity=Decimal("0.001"), reduce_only=reduce_only, ts_init=n)


def accepted(n: int) -> ev.OrderAccepted:
    return ev.OrderAccepted(client_order_id=f"TTN-hun-{n:010d}", venue_order_id=f"v{n}",
                            ts_event=n, ts_init=n)


def on_disk(path) -> list[tuple[int, str]]:
    conn = sqlite3.connect(path)
    try:
        return conn.execute("SELECT seq, type FROM events ORDER BY seq").fetchall()
    finally:
        conn.close()


class ProbeVenue:
    """The venue end of the hand-off: at the moment a command arrives it reads the log file
    through its own connection, as a crash right now would find it."""

    venue = "bybit"

    def __init__(self, path) -> None:
        self.path = path
        self.arrivals: list[tuple[str, str, bool]] = []

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    def _arrive(self, cmd) -> None:
        conn = sqlite3.connect(self.path)
        try:
            rows = conn.execute("SELECT payload FROM events WHERE cid = ? AND type = ?",
                                (cmd.client_order_id, type(cmd).__name__)).fetchall()
        finally:
            conn.close()
        self.arrivals.append((type(cmd).__name__, cmd.client_order_id, len(rows) == 1))

    def submit(self, cmd) -> None:
        self._arrive(cmd)

    def cancel(self, cmd) -> None:
        self._arrive(cmd)

    async def snapshot(self) -> VenueSnapshot:
        return VenueSnapshot(venue=self.venue, ts=0)


async def settle(predicate, tries=2000):
    for _ in range(tries):
        if predicate():
            return
        await asyncio.sleep(0.005)
    raise AssertionError("condition not reached")


def test_commands_are_on_disk_before_the_venue_sees_them_and_in_order(tmp_path):
    path = tmp_path / "titan.sqlite"

    async def main():
        log = EventLog(path, flush_interval_ms=10_000, flush_batch=100_000)  # no timed flushes
        await log.open()
        venue = ProbeVenue(path)
        rejected: list[ev.Message] = []
        client = DurableExecutionClient(venue, log, rejected.append)
        await client.start()
        for n in range(1, 31):
            cmd = submit(n)
            log.append(cmd)  # the kernel logs, then hands the command to the client
            client.submit(cmd)
            log.append(accepted(n))  # ordinary events are only buffered
            if n % 3 == 0:
                client.cancel(ev.CancelOrder(client_order_id=cmd.client_order_id,
                                             instrument_id=IID, ts_init=n))  # not logged yet
        await settle(lambda: len(venue.arrivals) == 40)
        await client.stop()
        await log.close()
        return venue.arrivals, rejected

    arrivals, rejected = asyncio.run(main())
    assert not rejected
    assert all(durable for _, _, durable in arrivals)
    expected = []
    for n in range(1, 31):
        expected.append(("SubmitOrder", f"TTN-hun-{n:010d}"))
        if n % 3 == 0:
            expected.append(("CancelOrder", f"TTN-hun-{n:010d}"))
    assert [(t, c) for t, c, _ in arrivals] == expected
    rows = on_disk(path)
    assert [s for s, _ in rows] == list(range(1, 71))  # every entry once, numbered densely
    assert sum(1 for _, t in rows if t == "SubmitOrder") == 30  # logged once, not twice


def test_a_log_that_cannot_be_written_halts_new_risk_and_loses_nothing(tmp_path):
    path = tmp_path / "titan.sqlite"

    async def main():
        alerts: list[ev.AlertRaised] = []
        log = EventLog(path, flush_interval_ms=5, busy_timeout_ms=50, on_alert=alerts.append)
        await log.open()
        venue = ProbeVenue(path)
        answers: list[ev.Message] = []
        client = DurableExecutionClient(venue, log, answers.append)
        await client.start()
        client.submit(submit(1))
        await settle(lambda: len(venue.arrivals) == 1)

        blocker = sqlite3.connect(path, isolation_level=None)
        blocker.execute("BEGIN EXCLUSIVE")  # another process holds the file
        log.append(accepted(1))
        for n in (2, 3):
            cmd = submit(n, reduce_only=n == 3)
            log.append(cmd)
            client.submit(cmd)
        await settle(lambda: len(answers) + len(venue.arrivals) == 3)
        assert not log.healthy and "database is locked" in log.error
        with pytest.raises(EventLogUnavailable):
            await log.wait_durable(log.last_seq)
        pending_while_failed = log.pending
        blocker.execute("ROLLBACK")
        blocker.close()
        await settle(lambda: log.healthy)  # the writer retries on its own
        await log.flush()
        healthy_again = log.healthy
        await client.stop()
        await log.close()
        return alerts, answers, venue.arrivals, pending_while_failed, healthy_again

    alerts, answers, arrivals, pending, healthy_again = asyncio.run(main())
    # the new-risk order was refused, the reduce-only one still went out
    assert [(type(a).__name__, a.client_order_id, a.kind) for a in answers] == [
        ("OrderRejected", "TTN-hun-0000000002", ev.ErrorKind.POLICY)]
    assert "not sent" in answers[0].reason and "database is locked" in answers[0].reason
    assert [(t, c) for t, c, _ in arrivals] == [("SubmitOrder", "TTN-hun-0000000001"),
                                                ("SubmitOrder", "TTN-hun-0000000003")]
    assert [a.title for a in alerts] == ["event log write failed", "event log recovered"]
    assert alerts[0].severity == "critical"
    assert pending == 3 and healthy_again
    # nothing was dropped: every entry reached the file once it could be written
    assert [t for _, t in on_disk(path)] == ["SubmitOrder", "OrderAccepted", "SubmitOrder",
                                             "SubmitOrder"]


def test_numbering_continues_across_restarts_and_small_batches_are_grouped(tmp_path):
    path = tmp_path / "titan.sqlite"

    async def session(first: int, count: int, batch: int):
        log = EventLog(path, flush_interval_ms=10_000, flush_batch=batch)
        log.append(accepted(first))  # appended before open: numbered after what the file holds
        await log.open()
        seqs = [log.append(accepted(n)) for n in range(first + 1, first + count)]
        await log.close()
        return seqs, log.writes

    seqs1, _ = asyncio.run(session(1, 10, 4))
    seqs2, writes = asyncio.run(session(100, 1000, 256))
    assert seqs1 == list(range(2, 11)) and seqs2 == list(range(12, 1011))
    assert writes <= 1000 // 256 + 2  # grouped into batches, not one commit per entry
    entries = list(read_log(path))
    assert [e.seq for e in entries] == list(range(1, 1011))
    assert [e.msg.client_order_id for e in entries[9:11]] == ["TTN-hun-0000000010",
                                                               "TTN-hun-0000000100"]
    assert [e.seq for e in read_log(path, since_seq=5, until_seq=8)] == [6, 7, 8]
    assert len(list(read_log(path, until_ts=5))) == 5


def test_close_writes_entries_appended_while_its_last_write_was_running(tmp_path):
    path = tmp_path / "titan.sqlite"

    async def session():
        log = EventLog(path, flush_interval_ms=10_000)
        await log.open()
        log.append(accepted(1))
        closing = asyncio.create_task(log.close())
        while log.pending:  # the writer has taken the buffer: its write is in flight
            await asyncio.sleep(0)
        in_flight = log.durable_seq == 0
        log.append(accepted(2))
        await closing
        return in_flight

    assert asyncio.run(session())
    assert on_disk(path) == [(1, "OrderAccepted"), (2, "OrderAccepted")]


def test_memory_and_off_logs_give_the_same_deterministic_digest():
    msgs = [submit(1), accepted(1), submit(2)]
    mem, off, other = EventLog.memory(), EventLog.off(), EventLog.memory()
    for m in msgs:
        mem.append(m)
        off.append(m)
    for m in reversed(msgs):
        other.append(m)
    assert mem.digest() == off.digest() != other.digest()
    assert [e.msg for e in mem.entries()] == msgs and mem.durable_seq == 3
    assert len(mem.digest()) == 64
