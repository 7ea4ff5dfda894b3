"""Dead letters: events whose handler raised, kept with the error so nothing vanishes silently.

The kernel calls :meth:`DeadLetterStore.record` synchronously (it only buffers); the runner
persists the buffer with :meth:`flush` (a thread, stdlib ``sqlite3``: dead letters are rare) into
the ``dead_letters`` table of the event log's file. ``titan dlq list | replay | purge`` works on
the file while the daemon runs: ``replay`` marks entries *requeued*, and the daemon hands them to
its dispatcher through :meth:`redeliver` (success -> *replayed*, another error -> *dead* again,
with the new error and one more attempt counted).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
import time
import traceback
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, Literal

import msgspec

from titan.core import codec
from titan.core import events as ev
from titan.core.errors import DataError

log = logging.getLogger(__name__)

Status = Literal["dead", "requeued", "replayed"]
_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS dead_letters (id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " ts INTEGER NOT NULL, handler TEXT NOT NULL, error TEXT NOT NULL, type TEXT NOT NULL,"
    " payload BLOB, status TEXT NOT NULL DEFAULT 'dead', attempts INTEGER NOT NULL DEFAULT 1)"
)
_COLUMNS = "id, ts, handler, error, type, payload, status, attempts"


class DeadLetter(msgspec.Struct, frozen=True, kw_only=True):
    id: int
    ts: int
    handler: str
    error: str
    type: str
    event: ev.Message | None  # None: the object was not a message and cannot be replayed
    status: str = "dead"
    attempts: int = 1


def describe(error: BaseException) -> str:
    """``Type: message`` plus the innermost frame, on one line."""
    frames = traceback.extract_tb(error.__traceback__)
    where = f" (at {Path(frames[-1].filename).name}:{frames[-1].lineno})" if frames else ""
    return f"{type(error).__name__}: {error}{where}"


class DeadLetterStore:
    """Record synchronously, persist asynchronously; list/replay/purge on the file."""

    def __init__(self, path: str | Path | None, *, now_ns: Callable[[], int] = time.time_ns,
                 busy_timeout_s: float = 5.0) -> None:
        self.path = Path(path) if path is not None else None
        self._now_ns = now_ns
        self._busy = busy_timeout_s
        self._pending: list[tuple[int, str, str, str, bytes | None]] = []
        self._memory: list[DeadLetter] = []
        self.recorded = 0

    # ---- the kernel side --------------------------------------------------------------------

    def record(self, event: Any, handler: str, error: BaseException) -> None:
        """Keep ``event`` with the handler that failed on it. Never raises."""
        self.recorded += 1
        payload = codec.encode(event) if isinstance(event, ev.Message) else None
        row = (self._now_ns(), handler, describe(error), type(event).__name__, payload)
        log.error("dead letter: %s failed on %s: %s", handler, row[3], row[2])
        if self.path is None:
            self._memory.append(_letter(len(self._memory) + 1, *row, "dead", 1))
        else:
            self._pending.append(row)

    @property
    def pending(self) -> int:
        return len(self._pending)

    async def flush(self) -> None:
        """Write what was recorded (in a thread); kept for the next try if the write fails."""
        if self._pending and self.path is not None:
            rows, self._pending = self._pending, []
            try:
                await asyncio.to_thread(self._write, rows)
            except (sqlite3.Error, DataError) as e:
                self._pending = rows + self._pending
                log.error("dead letters %s: write failed (%s); %d kept in memory",
                          self.path, e, len(self._pending))

    def flush_sync(self) -> None:
        if self._pending and self.path is not None:
            rows, self._pending = self._pending, []
            self._write(rows)

    def _write(self, rows: list[tuple[int, str, str, str, bytes | None]]) -> None:
        with self._session() as conn:
            conn.executemany(
                "INSERT INTO dead_letters (ts, handler, error, type, payload) VALUES (?,?,?,?,?)",
                rows,
            )

    # ---- operator side (CLI and daemon) -----------------------------------------------------

    def list(self, status: str | None = None) -> list[DeadLetter]:
        if self.path is None:
            return [d for d in self._memory if status in (None, d.status)]
        if not self.path.exists():
            return []
        sql = f"SELECT {_COLUMNS} FROM dead_letters"
        args: tuple[str, ...] = ()
        if status is not None:
            sql, args = sql + " WHERE status = ?", (status,)
        with self._session() as conn:
            return [_letter(*row) for row in conn.execute(sql + " ORDER BY id", args)]

    def requeue(self, ids: Iterable[int] | None = None) -> int:
        """Mark dead letters for redelivery by the running daemon; returns how many."""
        return self._set_status("requeued", "dead", ids)

    def purge(self, ids: Iterable[int] | None = None, status: str | None = None) -> int:
        """Delete entries (all, or the given ids / status); returns how many."""
        if self.path is None:
            before = len(self._memory)
            keep = set(ids) if ids is not None else None
            self._memory = [d for d in self._memory
                            if not ((keep is None or d.id in keep) and status in (None, d.status))]
            return before - len(self._memory)
        sql, args = "DELETE FROM dead_letters WHERE 1=1", []
        if ids is not None:
            id_list = list(ids)
            sql += f" AND id IN ({','.join('?' * len(id_list))})"
            args += id_list
        if status is not None:
            sql += " AND status = ?"
            args.append(status)
        with self._session() as conn:
            return conn.execute(sql, args).rowcount

    def redeliver(self, dispatch: Callable[[str, ev.Message], None],
                  ids: Iterable[int] | None = None) -> tuple[int, int]:
        """Hand requeued entries (or the given ids) back to ``dispatch(handler, event)``.
        Returns (replayed, failed)."""
        wanted = set(ids) if ids is not None else None
        letters = [d for d in self.list()
                   if (d.id in wanted if wanted is not None else d.status == "requeued")]
        ok = failed = 0
        for d in letters:
            if d.event is None:
                self._update(d.id, "dead", d.attempts + 1, "not a message: cannot be replayed")
                failed += 1
                continue
            try:
                dispatch(d.handler, d.event)
            except Exception as e:  # the handler failed again: it stays dead, with the new error
                self._update(d.id, "dead", d.attempts + 1, describe(e))
                failed += 1
            else:
                self._update(d.id, "replayed", d.attempts + 1, d.error)
                ok += 1
        return ok, failed

    # ---- plumbing ---------------------------------------------------------------------------

    @contextlib.contextmanager
    def _session(self) -> Iterator[sqlite3.Connection]:
        """One connection per operation: commit on success, always closed."""
        assert self.path is not None
        try:
            conn = sqlite3.connect(self.path, timeout=self._busy)
        except sqlite3.Error as e:
            raise DataError(str(self.path), f"cannot open dead letters ({e})") from None
        try:
            try:
                conn.execute(_SCHEMA)
            except sqlite3.DatabaseError as e:
                raise DataError(str(self.path), f"not a Titan database ({e})") from None
            with conn:
                yield conn
        finally:
            conn.close()

    def _set_status(self, new: Status, old: Status, ids: Iterable[int] | None) -> int:
        if self.path is None:
            n = 0
            wanted = set(ids) if ids is not None else None
            for i, d in enumerate(self._memory):
                if d.status == old and (wanted is None or d.id in wanted):
                    self._memory[i] = msgspec.structs.replace(d, status=new)
                    n += 1
            return n
        sql, args = "UPDATE dead_letters SET status = ? WHERE status = ?", [new, old]
        if ids is not None:
            id_list = list(ids)
            sql += f" AND id IN ({','.join('?' * len(id_list))})"
            args += id_list
        with self._session() as conn:
            return conn.execute(sql, args).rowcount

    def _update(self, id_: int, status: str, attempts: int, error: str) -> None:
        if self.path is None:
            for i, d in enumerate(self._memory):
                if d.id == id_:
                    self._memory[i] = msgspec.structs.replace(
                        d, status=status, attempts=attempts, error=error)
            return
        with self._session() as conn:
            conn.execute("UPDATE dead_letters SET status = ?, attempts = ?, error = ? WHERE id = ?",
                         (status, attempts, error, id_))


def _letter(id_: int, ts: int, handler: str, error: str, type_: str, payload: bytes | None,
            status: str, attempts: int) -> DeadLetter:
    event = None
    if payload is not None:
        try:
            event = codec.decode(payload)
        except (msgspec.ValidationError, msgspec.DecodeError):
            event = None
    return DeadLetter(id=id_, ts=ts, handler=handler, error=error, type=type_, event=event,
                      status=status, attempts=attempts)
