"""Recorded raw websocket frames, as captured from the venues.

Two layouts (see the shared data README):

- session logs (``*.log[.gz]``, the hftbacktest collector): one message per line,
  ``<local receive time in ns> <raw JSON exactly as received>``; a line whose JSON starts with
  ``{"lastUpdateId"`` is a REST depth snapshot taken during the capture.
- JSONL (``*.jsonl[.gz]``): one raw message per line; the time is read from the message
  (Bybit ``ts``, Binance ``data.E``).

A recording is the time-ordered merge of one or more such files, all from one protocol family
(Binance combined streams or Bybit v5). Frames keep their exact text: the replay server sends
them byte for byte.
"""

from __future__ import annotations

import gzip
import heapq
from pathlib import Path
from typing import NamedTuple

import msgspec

from titan.core.errors import DataError
from titan.feeds.router import quoted_value

_SNAPSHOT_PREFIX = '{"lastUpdateId"'


class Frame(NamedTuple):
    ts: int  # ns: receive time (session logs) or the message's own time (JSONL)
    key: str  # stream (Binance) or topic (Bybit)
    text: str


class Snapshot(NamedTuple):
    ts: int
    symbol: str  # venue market id, upper case
    text: str


class _Times(msgspec.Struct):
    ts: int = 0
    data: dict | list | None = None


_TIMES = msgspec.json.Decoder(_Times)


def _open_text(path: Path):
    return gzip.open(path, "rt", encoding="utf-8") if path.suffix == ".gz" else open(path, encoding="utf-8")


def _family_of(text: str) -> str | None:
    if text.startswith('{"stream"') or quoted_value(text, '"stream"') is not None:
        return "binance"
    if quoted_value(text, '"topic"') is not None:
        return "bybit"
    return None


def _message_ts(text: str, where: str) -> int:
    try:
        m = _TIMES.decode(text)
    except msgspec.DecodeError as e:
        raise DataError(where, f"invalid JSON ({e})") from None
    if m.ts:
        return m.ts * 1_000_000
    if isinstance(m.data, dict) and isinstance(m.data.get("E"), int):
        return m.data["E"] * 1_000_000
    raise DataError(where, "message carries no time (expected 'ts' or 'data.E')")


class Recording:
    """Frames and REST snapshots of one protocol family, merged in time order."""

    def __init__(self, family: str, frames: list[Frame], snapshots: list[Snapshot], sources: list[str]) -> None:
        self.family = family
        self.frames = frames
        self.snapshots = snapshots
        self.sources = sources

    @property
    def keys(self) -> list[str]:
        """Every stream/topic present, in order of first appearance."""
        return list(dict.fromkeys(f.key for f in self.frames))

    @property
    def symbols(self) -> list[str]:
        """Venue market ids (upper case) present in the streams."""
        return list(dict.fromkeys(symbol_of(self.family, k) for k in self.keys))

    def __len__(self) -> int:
        return len(self.frames)

    @classmethod
    def load(cls, *paths: str | Path) -> Recording:
        if not paths:
            raise ValueError("recording: at least one file is required")
        families: set[str] = set()
        runs: list[list[Frame]] = []
        snapshots: list[Snapshot] = []
        for p in map(Path, paths):
            family, frames, snaps = _read(p)
            families.add(family)
            runs.append(frames)
            snapshots.extend(snaps)
        if len(families) > 1:
            raise DataError(", ".join(map(str, paths)), f"mixes protocol families {sorted(families)}")
        frames = list(heapq.merge(*runs, key=lambda f: f.ts)) if len(runs) > 1 else runs[0]
        snapshots.sort(key=lambda s: s.ts)
        return cls(families.pop(), frames, snapshots, [str(p) for p in paths])


def symbol_of(family: str, key: str) -> str:
    """``btcusdt@depth@100ms`` -> ``BTCUSDT``; ``orderbook.50.BTCUSDT`` -> ``BTCUSDT``."""
    if family == "binance":
        return key.split("@", 1)[0].upper()
    return key.rsplit(".", 1)[-1].upper()


def _read(path: Path) -> tuple[str, list[Frame], list[Snapshot]]:
    frames: list[Frame] = []
    pending: list[tuple[int, str]] = []
    family: str | None = None
    try:
        with _open_text(path) as fh:
            for n, line in enumerate(fh, 1):
                line = line.rstrip("\r\n")
                if not line:
                    continue
                where = f"{path}:{n}"
                head, sep, rest = line.partition(" ")
                if sep and head.isdigit():
                    ts, text = int(head), rest
                else:
                    ts, text = -1, line
                if text.startswith(_SNAPSHOT_PREFIX):
                    pending.append((ts if ts >= 0 else 0, text))
                    continue
                fam = _family_of(text)
                if fam is None:
                    raise DataError(where, "not a Binance combined-stream or Bybit v5 frame")
                if family is None:
                    family = fam
                elif fam != family:
                    raise DataError(where, f"{fam} frame in a {family} recording")
                key = quoted_value(text, '"stream"' if fam == "binance" else '"topic"')
                frames.append(Frame(ts if ts >= 0 else _message_ts(text, where), key or "", text))
    except OSError as e:
        raise DataError(str(path), f"cannot read ({e.strerror or e})") from None
    except (EOFError, UnicodeDecodeError) as e:
        raise DataError(str(path), f"unreadable ({e})") from None
    if family is None:
        raise DataError(str(path), "no stream frames")
    if any(b.ts < a.ts for a, b in zip(frames, frames[1:], strict=False)):
        frames.sort(key=lambda f: f.ts)
    snapshots: list[Snapshot] = []
    if pending:
        symbols = {symbol_of(family, f.key) for f in frames}
        if len(symbols) != 1:
            raise DataError(str(path), f"REST snapshot in a file with several symbols {sorted(symbols)}")
        symbol = symbols.pop()
        snapshots = [Snapshot(ts, symbol, text) for ts, text in pending]
    return family, frames, snapshots
