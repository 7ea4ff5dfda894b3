"""The session's own candle history: the 1m bars it has seen, per instrument, kept on disk.

AI Quant's optimiser (``titan.ops.optimiser``) searches parameters on what the daemon actually
traded, so the daemon records it: the venue's 1m bars where a phase subscribed to them, else
1m bars built from the trade stream it always reads (``titan.feeds.bars.BarAggregator``). Each
instrument keeps at most ``max_bars`` of them in ``<data_dir>/history/<instrument>_1m.csv`` -
the candle layout ``titan.feeds.history.load_bars`` reads (``ts`` = open time in epoch ms) - so
the file is a backtest's ``--data`` as it stands, and it survives restarts.

Writes never happen on the event loop's hot path: :meth:`BarHistory.on_market` only collects;
:meth:`take` hands the new rows to :meth:`write`, which the daemon runs in a worker thread
(appending, and rewriting the file to its last ``max_bars`` rows once it has grown a quarter
past that).
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Iterable
from pathlib import Path

from titan.core import events as ev
from titan.feeds.bars import BarAggregator

MS = 1_000_000
HEADER = "ts,open,high,low,close,volume\n"
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")

Row = tuple[int, float, float, float, float, float]  # open ms, o, h, l, c, volume


def file_name(instrument_id: str) -> str:
    """``BTC/USDT:USDT@binanceusdm`` -> ``BTC-USDT-USDT@binanceusdm_1m.csv``."""
    symbol, _, venue = instrument_id.partition("@")
    return f"{_UNSAFE.sub('-', symbol)}@{_UNSAFE.sub('-', venue)}_1m.csv"


class BarHistory:
    """Rolling 1m candles per instrument; ``on_market`` is cheap and never touches the disk."""

    def __init__(self, directory: Path, instrument_ids: Iterable[str], *, max_bars: int) -> None:
        if max_bars < 1:
            raise ValueError(f"max_bars: must be >= 1, got {max_bars}")
        self.directory = directory
        self.instruments = frozenset(instrument_ids)  # recorded; everything else is ignored
        self.max_bars = max_bars
        self._last_ms: dict[str, int] = {}  # open time of the newest bar kept, per instrument
        self._rows: dict[str, int] = {}  # rows in each file
        self._pending: dict[str, list[Row]] = {}
        self._from_bars: set[str] = set()  # instruments with a 1m bar stream: trades not used
        self._aggregators: dict[str, BarAggregator] = {}

    def path(self, instrument_id: str) -> Path:
        return self.directory / file_name(instrument_id)

    def load(self) -> None:
        """Pick up where earlier sessions left: the newest bar on disk of each instrument."""
        for iid in sorted(self.instruments):
            p = self.path(iid)
            if not p.is_file():
                continue
            last, rows = 0, 0
            with p.open(encoding="utf-8") as f:
                for line in f:
                    head = line.split(",", 1)[0]
                    if head.isdigit():
                        last, rows = int(head), rows + 1
            self._last_ms[iid], self._rows[iid] = last, rows

    def bars(self, instrument_id: str) -> int:
        """Bars kept for the instrument (on disk and waiting to be written)."""
        return min(self.max_bars, self._rows.get(instrument_id, 0)
                   + len(self._pending.get(instrument_id, ())))

    # ---- collecting (event loop) ------------------------------------------------------------

    def on_market(self, evt: ev.Data) -> None:
        iid = evt.instrument_id
        if iid not in self.instruments:
            return
        cls = evt.__class__
        if cls is ev.Trade:
            if iid in self._from_bars:
                return
            agg = self._aggregators.get(iid)
            if agg is None:
                agg = self._aggregators[iid] = BarAggregator(iid, ["1m"])
            for bar in agg.on_trade(evt.ts_event, evt.price, evt.size):  # type: ignore[attr-defined]
                self._add(bar)
        elif cls is ev.Bar and evt.timeframe == "1m" and evt.closed:  # type: ignore[attr-defined]
            if iid not in self._from_bars:  # the venue's candles win over our own from trades
                self._from_bars.add(iid)
                self._aggregators.pop(iid, None)
            self._add(evt)  # type: ignore[arg-type]

    def _add(self, bar: ev.Bar) -> None:
        iid, t = bar.instrument_id, bar.ts_open // MS
        if t <= self._last_ms.get(iid, -1):
            return  # already kept (a restart replays the same minutes; bars never reopen)
        self._last_ms[iid] = t
        self._pending.setdefault(iid, []).append(
            (t, bar.open, bar.high, bar.low, bar.close, bar.volume))

    def take(self) -> dict[str, list[Row]]:
        """The rows collected since the last call (hand them to :meth:`write`)."""
        out, self._pending = self._pending, {}
        return out

    # ---- writing (a worker thread) ----------------------------------------------------------

    def write(self, batch: dict[str, list[Row]]) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        for iid, rows in batch.items():
            if not rows:
                continue
            p = self.path(iid)
            fresh = not p.is_file()
            with p.open("a", encoding="utf-8") as f:
                if fresh:
                    f.write(HEADER)
                f.writelines(_line(r) for r in rows)
            n = self._rows[iid] = (0 if fresh else self._rows.get(iid, 0)) + len(rows)
            if n > self.max_bars + self.max_bars // 4:
                self._compact(p)
                self._rows[iid] = self.max_bars

    def _compact(self, p: Path) -> None:
        with p.open(encoding="utf-8") as f:
            tail = deque((line for line in f if line[:1].isdigit()), maxlen=self.max_bars)
        tmp = p.with_suffix(".tmp")
        tmp.write_text(HEADER + "".join(tail), encoding="utf-8")
        tmp.replace(p)


def _line(r: Row) -> str:
    return f"{r[0]},{r[1]!r},{r[2]!r},{r[3]!r},{r[4]!r},{r[5]!r}\n"
