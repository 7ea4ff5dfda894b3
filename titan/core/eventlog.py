"""EventLog: every command and execution event, numbered, in SQLite (WAL) - the authority
that ``ShadowState`` is folded from on restart.

The kernel is synchronous, so :meth:`EventLog.append` only encodes the message, gives it the next
sequence number and buffers it; an async writer task commits the buffer. Commands (submit and
cancel) wake the writer at once - nothing may reach a venue before it is durable, which
``titan.execution.durable`` enforces by awaiting :meth:`EventLog.wait_durable` - while the rest
is committed in small batches (``flush_interval_ms`` / ``flush_batch``).

If the database cannot be written, nothing is dropped: entries stay buffered and the writer
retries with backoff, :attr:`EventLog.healthy` turns False, ``on_alert`` receives one
``AlertRaised`` (and another when writing works again), and ``wait_durable`` raises
:class:`EventLogUnavailable` so new risk is refused rather than sent unrecorded.

Backtests use ``EventLog.memory()`` (entries kept in a list) or ``EventLog.off()`` (nothing
kept); either way :meth:`digest` is a SHA-256 over every encoded entry, identical for identical
inputs. :func:`read_log` reads a log file back (replay, ``titan inspect``), synchronously.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import sqlite3
import struct
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Literal

import aiosqlite
import msgspec

from titan.core import codec
from titan.core import events as ev
from titan.core.errors import DataError, TitanError

log = logging.getLogger(__name__)

SCHEMA_VERSION = "1"
COMMANDS = (ev.SubmitOrder, ev.CancelOrder, ev.CancelAllOrders)
_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS events (seq INTEGER PRIMARY KEY, ts INTEGER NOT NULL,"
    " type TEXT NOT NULL, cid TEXT, phase TEXT, payload BLOB NOT NULL)",
    "CREATE INDEX IF NOT EXISTS events_cid ON events(cid) WHERE cid IS NOT NULL",
    "CREATE INDEX IF NOT EXISTS events_ts ON events(ts)",
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
)
_INSERT = "INSERT INTO events (seq, ts, type, cid, phase, payload) VALUES (?, ?, ?, ?, ?, ?)"
_HEAD = struct.Struct(">QI").pack  # what the digest hashes before each payload: seq, length
_ENCODE = codec.encode

Row = tuple[int, int, str, "str | None", "str | None", bytes]
AlertSink = Callable[[ev.AlertRaised], None]


class EventLogUnavailable(TitanError):
    """The log cannot be written; nothing that adds risk may be sent."""


class LogEntry(msgspec.Struct, frozen=True):
    seq: int
    ts: int
    msg: ev.Message


def timestamp(msg: ev.Message) -> int:
    return getattr(msg, "ts_event", 0) or getattr(msg, "ts_init", 0)


def _row(seq: int, msg: ev.Message, payload: bytes) -> Row:
    return (seq, timestamp(msg), type(msg).__name__, getattr(msg, "client_order_id", None),
            getattr(msg, "phase", None), payload)


class EventLog:
    """Append-only, numbered log of commands and execution events. See the module docstring."""

    def __init__(
        self,
        path: str | Path | None,
        *,
        mode: Literal["sqlite", "memory", "off"] = "sqlite",
        flush_interval_ms: int = 50,
        flush_batch: int = 256,
        synchronous: Literal["NORMAL", "FULL"] = "FULL",
        busy_timeout_ms: int = 1000,
        on_alert: AlertSink | None = None,
        now_ns: Callable[[], int] = time.time_ns,
    ) -> None:
        if mode == "sqlite" and path is None:
            raise ValueError("path: required for an sqlite event log")
        self.path = Path(path) if path is not None else None
        self.mode = mode
        self.flush_interval_s = flush_interval_ms / 1000
        self.flush_batch = flush_batch
        self.synchronous = synchronous
        self.busy_timeout_ms = busy_timeout_ms
        self.on_alert = on_alert
        self._now_ns = now_ns
        self._seq = 0
        self._durable = 0
        self._buffer: list[Row] = []
        self._entries: list[tuple[int, bytes]] = []
        self._hash = hashlib.sha256()
        self._commands: OrderedDict[tuple[str, str, int], int] = OrderedDict()
        self._waiters: list[tuple[int, asyncio.Future[None]]] = []
        self._db: aiosqlite.Connection | None = None
        self._writer: asyncio.Task[None] | None = None
        self._wake: asyncio.Event | None = None
        self._urgent = False
        self._closing = False
        self.error: str = ""  # why the log cannot be written; "" when healthy
        self.writes = 0
        self.write_failures = 0

    @classmethod
    def from_config(cls, path: str | Path, section, *, on_alert: AlertSink | None = None,
                    now_ns: Callable[[], int] = time.time_ns) -> EventLog:
        """From ``config.state`` (a ``StateSection``; duck-typed, core imports no config)."""
        return cls(path, flush_interval_ms=section.flush_interval_ms,
                   flush_batch=section.flush_batch, synchronous=section.log_synchronous,
                   on_alert=on_alert, now_ns=now_ns)

    @classmethod
    def memory(cls) -> EventLog:
        """Entries kept in memory (backtests, tests); durable as soon as appended."""
        return cls(None, mode="memory")

    @classmethod
    def off(cls) -> EventLog:
        """Nothing kept; sequence numbers and the digest still advance."""
        return cls(None, mode="off")

    # ---- the synchronous side (the kernel) -------------------------------------------------

    @property
    def last_seq(self) -> int:
        return self._seq

    @property
    def durable_seq(self) -> int:
        return self._durable

    @property
    def healthy(self) -> bool:
        """False while the log cannot be written: the Brain must refuse new risk."""
        return not self.error

    @property
    def pending(self) -> int:
        return len(self._buffer)

    def append(self, msg: ev.Message) -> int:
        """Number and buffer one message; returns its sequence number. Never blocks."""
        payload = _ENCODE(msg)
        self._seq = seq = self._seq + 1
        self._hash.update(_HEAD(seq, len(payload)) + payload)  # = seq, length, payload
        command = isinstance(msg, COMMANDS)
        if command:
            self._remember_command(msg, seq)
        mode = self.mode
        if mode == "memory":
            self._entries.append((seq, payload))
            self._durable = seq
        elif mode == "sqlite":
            self._buffer.append(_row(seq, msg, payload))
            wake = self._wake
            if wake is not None:
                if command:
                    self._urgent = True
                    wake.set()
                elif len(self._buffer) >= self.flush_batch:
                    wake.set()
        else:
            self._durable = seq
        return seq

    def _remember_command(self, cmd: ev.Command, seq: int) -> None:
        self._commands[_command_key(cmd)] = seq
        if len(self._commands) > 10_000:
            self._commands.popitem(last=False)

    def command_seq(self, cmd: ev.Command) -> int | None:
        """The sequence number ``cmd`` was logged under (recent commands), or None."""
        return self._commands.get(_command_key(cmd))

    def digest(self) -> str:
        """SHA-256 over (seq, length, encoded message) of every entry appended so far."""
        return self._hash.hexdigest()

    def entries(self) -> Iterator[LogEntry]:
        """The entries of a memory log, decoded."""
        for seq, payload in self._entries:
            msg = codec.decode(payload)
            yield LogEntry(seq, timestamp(msg), msg)

    # ---- the async side (the writer) --------------------------------------------------------

    async def open(self) -> None:
        """Open (or create) the database, continue its numbering, start the writer."""
        if self.mode != "sqlite":
            return
        assert self.path is not None
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = await aiosqlite.connect(self.path, isolation_level=None)
        await self._db.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout_ms)}")
        await self._db.execute("PRAGMA journal_mode = WAL")
        await self._db.execute(f"PRAGMA synchronous = {self.synchronous}")
        for stmt in _SCHEMA:
            await self._db.execute(stmt)
        await self._db.execute(
            "INSERT OR IGNORE INTO meta (key, value) VALUES ('schema', ?)", (SCHEMA_VERSION,)
        )
        async with self._db.execute("SELECT COALESCE(MAX(seq), 0) FROM events") as cur:
            row = await cur.fetchone()
        last = int(row[0]) if row else 0
        if self._seq:  # appended before open: renumber after what the file holds
            self._buffer = [(last + i + 1, *r[1:]) for i, r in enumerate(self._buffer)]
            self._commands = OrderedDict((k, last + v) for k, v in self._commands.items())
        self._seq = last + len(self._buffer)
        self._durable = last
        self._wake = asyncio.Event()
        if self._buffer:
            self._wake.set()
        self._writer = asyncio.create_task(self._write_loop(), name="eventlog-writer")

    async def wait_durable(self, seq: int) -> None:
        """Return once every entry up to ``seq`` is committed; raise ``EventLogUnavailable``
        if the log cannot currently be written."""
        if seq <= self._durable:
            return
        if self.error:
            raise EventLogUnavailable(self.error)
        if self._writer is None:
            raise EventLogUnavailable("event log is not open")
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append((seq, fut))
        self._urgent = True
        assert self._wake is not None
        self._wake.set()
        await fut

    async def flush(self) -> None:
        """Commit everything appended so far (raises ``EventLogUnavailable`` on failure)."""
        await self.wait_durable(self._seq)

    async def close(self) -> None:
        """Commit what is buffered (best effort) and close the database."""
        if self._writer is not None:
            self._closing = True
            assert self._wake is not None
            self._wake.set()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(asyncio.shield(self._writer), timeout=5)
            self._writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._writer
            self._writer = None
        if self._db is not None:
            await self._db.close()
            self._db = None
        self._fail_waiters("event log closed")

    async def _write_loop(self) -> None:
        assert self._wake is not None
        backoff = 0.05
        while True:
            if not self._closing and not self._urgent and len(self._buffer) < self.flush_batch:
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self.flush_interval_s)
            self._wake.clear()
            self._urgent = False
            if self._buffer:
                if await self._write(self._buffer):
                    backoff = 0.05
                else:
                    if self._closing:
                        return
                    await asyncio.sleep(backoff)
                    backoff = min(backoff * 2, 2.0)
                    self._urgent = True
                    continue
            # entries appended while that write ran are written before a close ends the loop
            if self._closing and not self._buffer:
                return

    async def _write(self, rows: list[Row]) -> bool:
        assert self._db is not None
        self._buffer = []
        try:
            await self._db.execute("BEGIN IMMEDIATE")
            try:
                await self._db.executemany(_INSERT, rows)
                await self._db.execute("COMMIT")
            except BaseException:
                with contextlib.suppress(Exception):
                    await self._db.execute("ROLLBACK")
                raise
        except (sqlite3.Error, OSError, ValueError) as e:
            self._buffer = rows + self._buffer  # keep every entry; retry later
            self.write_failures += 1
            self._failed(f"event log {self.path}: write failed ({e})")
            return False
        self.writes += 1
        self._durable = rows[-1][0]
        if self.error:
            self._recovered()
        self._resolve_waiters()
        return True

    def _resolve_waiters(self) -> None:
        done = self._durable
        keep = []
        for seq, fut in self._waiters:
            if seq <= done:
                if not fut.done():
                    fut.set_result(None)
            else:
                keep.append((seq, fut))
        self._waiters = keep

    def _fail_waiters(self, reason: str) -> None:
        for _, fut in self._waiters:
            if not fut.done():
                fut.set_exception(EventLogUnavailable(reason))
        self._waiters = []

    def _failed(self, reason: str) -> None:
        first = not self.error
        self.error = reason
        self._fail_waiters(reason)
        if first:
            log.error("%s; new risk halted, %d entries held in memory", reason, len(self._buffer))
            self._alert("critical", "event log write failed", f"{reason}; new risk halted")

    def _recovered(self) -> None:
        log.warning("event log writable again (%s)", self.path)
        self.error = ""
        self._alert("info", "event log recovered", f"{self.path}: writing again")

    def _alert(self, severity: str, title: str, detail: str) -> None:
        if self.on_alert is not None:
            now = self._now_ns()
            self.on_alert(ev.AlertRaised(severity=severity, title=title, detail=detail,
                                         ts_event=now, ts_init=now))


def _command_key(cmd: ev.Command) -> tuple[str, str, int]:
    return (type(cmd).__name__, getattr(cmd, "client_order_id", ""), cmd.ts_init)


# ---- reading a log file back --------------------------------------------------------------


def connect_readonly(path: str | Path) -> sqlite3.Connection:
    """A read-only connection; a one-line ``DataError`` if the file is missing or not a log."""
    p = Path(path)
    if not p.is_file():
        raise DataError(str(path), "no such event log")
    try:
        conn = sqlite3.connect(f"file:{p}?mode=ro", uri=True)
        conn.execute("SELECT seq FROM events LIMIT 1")
    except sqlite3.Error as e:
        raise DataError(str(path), f"not an event log ({e})") from None
    return conn


def read_log(
    path: str | Path,
    *,
    since_seq: int = 0,
    until_seq: int | None = None,
    until_ts: int | None = None,
) -> Iterator[LogEntry]:
    """Entries with ``since_seq < seq <= until_seq`` and ``ts <= until_ts``, in order."""
    conn = connect_readonly(path)
    sql = "SELECT seq, ts, payload FROM events WHERE seq > ?"
    args: list[int] = [since_seq]
    if until_seq is not None:
        sql += " AND seq <= ?"
        args.append(until_seq)
    if until_ts is not None:
        sql += " AND ts <= ?"
        args.append(until_ts)
    sql += " ORDER BY seq"
    try:
        for seq, ts, payload in conn.execute(sql, args):
            try:
                msg = codec.decode(payload)
            except (msgspec.ValidationError, msgspec.DecodeError) as e:
                raise DataError(f"{path}: seq {seq}", f"undecodable entry ({e})") from None
            yield LogEntry(seq, ts, msg)
    finally:
        conn.close()


def last_seq_of(path: str | Path) -> int:
    conn = connect_readonly(path)
    try:
        return int(conn.execute("SELECT COALESCE(MAX(seq), 0) FROM events").fetchone()[0])
    finally:
        conn.close()
