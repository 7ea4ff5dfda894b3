"""``trades.jsonl``: one JSON line per fill and internal cross, tagged with the phase, rotated
and compressed.

It is the file an operator greps, tails or loads into a notebook - the event log stays the
authority. A line is written (and flushed) when the fill reaches the kernel's bus. When the
file passes ``rotate_bytes`` it is renamed ``trades.<UTC time>.jsonl`` and gzipped in a worker
thread (the loop never waits for compression); the ``.jsonl`` is removed only once its
``.jsonl.gz`` is complete, so a crash mid-compression loses nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import logging
import os
import shutil
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

from titan.core import events as ev

log = logging.getLogger(__name__)


class TradesJournal:
    def __init__(self, path: str | Path, *, rotate_bytes: int = 64 << 20,
                 phase_of: Callable[[str], str] | None = None,
                 now: Callable[[], float] = time.time) -> None:
        if rotate_bytes < 1:
            raise ValueError(f"rotate_bytes: must be >= 1, got {rotate_bytes}")
        self.path = Path(path)
        self.rotate_bytes = rotate_bytes
        self.phase_of = phase_of or (lambda cid: "")
        self._now = now
        self._fh: Any = None
        self._size = 0
        self._workers: list[threading.Thread] = []
        self.lines = 0
        self.rotations = 0

    def open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fh = open(self.path, "ab")  # noqa: SIM115 - kept open for the session
        self._size = self._fh.tell()

    # ---- bus listeners ----------------------------------------------------------------------

    def on_fill(self, e: ev.OrderFilled) -> None:
        self.write({
            "ts": e.ts_event, "type": "fill", "phase": self.phase_of(e.client_order_id),
            "client_order_id": e.client_order_id, "instrument_id": e.instrument_id,
            "side": e.side.value, "qty": str(e.last_qty), "price": str(e.last_price),
            "fee": str(e.fee), "fee_currency": e.fee_currency, "liquidity": e.liquidity.value,
            "venue_order_id": e.venue_order_id, "trade_id": e.trade_id,
        })

    def on_cross(self, e: ev.InternalCross) -> None:
        self.write({
            "ts": e.ts_event, "type": "internal_cross", "phase": e.buyer_phase,
            "counterparty": e.seller_phase, "cross_id": e.cross_id,
            "instrument_id": e.instrument_id, "qty": str(e.quantity), "price": str(e.price),
        })

    def on_event(self, e: ev.Message) -> None:
        if e.__class__ is ev.OrderFilled:
            self.on_fill(e)  # type: ignore[arg-type]
        elif e.__class__ is ev.InternalCross:
            self.on_cross(e)  # type: ignore[arg-type]

    # ---- file ---------------------------------------------------------------------------------

    def write(self, record: dict[str, Any]) -> None:
        if self._fh is None:
            self.open()
        line = orjson.dumps(record) + b"\n"
        self._fh.write(line)
        self._fh.flush()
        self._size += len(line)
        self.lines += 1
        if self._size >= self.rotate_bytes:
            self.rotate()

    def rotate(self) -> Path | None:
        """Close the current file, rename it with a UTC stamp, gzip it in a thread."""
        if self._fh is None or self._size == 0:
            return None
        self._fh.close()
        stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime(self._now()))
        target = self.path.with_name(f"{self.path.stem}.{stamp}{self.path.suffix}")
        n = 1
        while target.exists() or target.with_name(target.name + ".gz").exists():
            target = self.path.with_name(f"{self.path.stem}.{stamp}-{n}{self.path.suffix}")
            n += 1
        os.replace(self.path, target)
        self.rotations += 1
        worker = threading.Thread(target=compress, args=(target,), name="trades-gzip", daemon=True)
        worker.start()
        self._workers.append(worker)
        self._fh = open(self.path, "ab")  # noqa: SIM115
        self._size = 0
        return target

    def wait(self, timeout_s: float = 10.0) -> None:
        """Let running compressions finish (bounded)."""
        deadline = time.monotonic() + timeout_s
        for w in self._workers:
            w.join(max(0.0, deadline - time.monotonic()))
        self._workers = [w for w in self._workers if w.is_alive()]

    async def close(self, timeout_s: float = 10.0) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None
        await asyncio.to_thread(self.wait, timeout_s)


def compress(path: Path) -> Path:
    """``path`` -> ``path.gz`` (written to a temporary name first), then remove ``path``."""
    gz = path.with_name(path.name + ".gz")
    tmp = gz.with_name(gz.name + ".part")
    try:
        with open(path, "rb") as src, gzip.open(tmp, "wb", compresslevel=6) as dst:
            shutil.copyfileobj(src, dst, 1 << 20)
        os.replace(tmp, gz)
        path.unlink()
    except OSError as e:
        log.error("trades journal: compressing %s failed: %s", path, e)
        with contextlib.suppress(OSError):
            tmp.unlink()
    return gz
