"""Validation of recorded market data: what is wrong, and where (``file:line``).

Checks are vectorised over numpy columns, so validating a million candles costs milliseconds.
Errors are rows that must not be used: unparseable rows, duplicated or backwards timestamps,
OHLC violations (high below open/close/low, low above open/close, non-positive prices,
negative volume), candles not aligned to their timeframe. Gaps (missing candles) are real
(exchange outages) and reported separately: a loader keeps going, the report says where.
"""

from __future__ import annotations

import msgspec
import numpy as np

from titan.feeds.bars import timeframe_name

MAX_LISTED = 20


class Problem(msgspec.Struct, frozen=True, kw_only=True):
    """One bad row. ``location`` is ``file:line``."""

    location: str
    kind: str  # bad_row | duplicate | backwards | ohlc | misaligned | value
    message: str

    def __str__(self) -> str:
        return f"{self.location}: {self.message}"


class Gap(msgspec.Struct, frozen=True, kw_only=True):
    """Missing rows between two consecutive rows (``after`` is the earlier row's location)."""

    after: str
    start_ms: int  # first missing bar's open time
    end_ms: int  # the next present bar's open time
    missing: int


class ValidationReport(msgspec.Struct, kw_only=True):
    path: str
    kind: str  # candles | trades | funding | book | quotes | frames
    rows: int = 0
    timeframe: str = ""
    first_ms: int = 0
    last_ms: int = 0
    problems: list[Problem] = []
    gaps: list[Gap] = []

    @property
    def ok(self) -> bool:
        """No errors (gaps are not errors)."""
        return not self.problems

    @property
    def missing(self) -> int:
        return sum(g.missing for g in self.gaps)

    def summary(self) -> str:
        """One line: what was checked and what was found."""
        bits = [f"{self.path}: {self.rows} {self.kind} rows"]
        if self.timeframe:
            bits.append(f"timeframe {self.timeframe}")
        bits.append(f"{len(self.problems)} error(s)")
        bits.append(f"{len(self.gaps)} gap(s), {self.missing} missing")
        return ", ".join(bits)

    def lines(self, limit: int = MAX_LISTED) -> list[str]:
        """The report as text lines: summary, errors by location, gaps."""
        out = [self.summary()]
        out += [f"  error {p}" for p in self.problems[:limit]]
        if len(self.problems) > limit:
            out.append(f"  ... and {len(self.problems) - limit} more error(s)")
        for g in self.gaps[:limit]:
            out.append(f"  gap   {g.after}: {g.missing} missing from {_iso(g.start_ms)} to {_iso(g.end_ms)}")
        if len(self.gaps) > limit:
            out.append(f"  ... and {len(self.gaps) - limit} more gap(s)")
        return out


def _iso(ms: int) -> str:
    return np.datetime64(int(ms), "ms").astype(str) + "Z"


def infer_step_ms(ts_ms: np.ndarray) -> int:
    """The most common spacing between consecutive timestamps (0 if fewer than 2 rows)."""
    if ts_ms.size < 2:
        return 0
    d = np.diff(ts_ms)
    d = d[d > 0]
    if d.size == 0:
        return 0
    values, counts = np.unique(d, return_counts=True)
    return int(values[np.argmax(counts)])


def check_time(report: ValidationReport, ts_ms: np.ndarray, lines: np.ndarray, *, step_ms: int = 0) -> np.ndarray:
    """Duplicates, backwards time, misalignment and gaps; returns a mask of rows to drop."""
    n = ts_ms.size
    bad = np.zeros(n, dtype=bool)
    if n == 0:
        return bad
    report.first_ms, report.last_ms = int(ts_ms[0]), int(ts_ms[-1])
    d = np.diff(ts_ms)
    for i in np.flatnonzero(d == 0):
        _add(report, lines[i + 1], "duplicate", f"duplicate timestamp {int(ts_ms[i + 1])} (also at line {lines[i]})")
        bad[i + 1] = True
    running_max = np.maximum.accumulate(ts_ms)
    back = np.flatnonzero(ts_ms[1:] < running_max[:-1]) + 1
    for i in back:
        _add(report, lines[i], "backwards", f"time goes backwards: {int(ts_ms[i])} after {int(running_max[i - 1])}")
        bad[i] = True
    if step_ms > 0:
        for i in np.flatnonzero(ts_ms % step_ms != 0):
            _add(report, lines[i], "misaligned", f"timestamp {int(ts_ms[i])} is not a multiple of {step_ms} ms")
            bad[i] = True
        good = np.flatnonzero(~bad)
        if good.size > 1:
            gd = np.diff(ts_ms[good])
            for j in np.flatnonzero(gd > step_ms):
                a, b = good[j], good[j + 1]
                report.gaps.append(Gap(
                    after=f"{report.path}:{lines[a]}", start_ms=int(ts_ms[a]) + step_ms,
                    end_ms=int(ts_ms[b]), missing=int(gd[j] // step_ms - 1),
                ))
        report.timeframe = timeframe_name(step_ms * 1_000_000) if step_ms % 60_000 == 0 else f"{step_ms}ms"
    return bad


def check_ohlcv(report: ValidationReport, o, h, lo, c, v, lines: np.ndarray) -> np.ndarray:
    """OHLC consistency; returns a mask of violating rows."""
    bad = np.zeros(o.size, dtype=bool)
    checks = [
        (~np.isfinite(o) | ~np.isfinite(h) | ~np.isfinite(lo) | ~np.isfinite(c) | ~np.isfinite(v), "non-finite value"),
        ((o <= 0) | (h <= 0) | (lo <= 0) | (c <= 0), "non-positive price"),
        (h < np.maximum(np.maximum(o, c), lo), "high below open/close/low"),
        (lo > np.minimum(o, c), "low above open/close"),
        (v < 0, "negative volume"),
    ]
    for mask, what in checks:
        for i in np.flatnonzero(mask & ~bad):
            _add(report, lines[i], "ohlc",
                 f"OHLC violation ({what}): o={float(o[i])!r} h={float(h[i])!r} l={float(lo[i])!r} "
                 f"c={float(c[i])!r} v={float(v[i])!r}")
        bad |= mask
    return bad


def check_values(report: ValidationReport, name: str, values: np.ndarray, lines: np.ndarray, *,
                 positive: bool = False) -> np.ndarray:
    """Non-finite (or, with ``positive``, non-positive) numbers in one column."""
    bad = ~np.isfinite(values)
    if positive:
        bad |= values <= 0
    for i in np.flatnonzero(bad):
        _add(report, lines[i], "value", f"bad {name} {float(values[i])!r}")
    return bad


def _add(report: ValidationReport, line: int, kind: str, message: str) -> None:
    report.problems.append(Problem(location=f"{report.path}:{int(line)}", kind=kind, message=message))


def sort_problems(report: ValidationReport) -> None:
    def line_of(p: Problem) -> int:
        tail = p.location.rsplit(":", 1)[-1]
        return int(tail) if tail.isdigit() else 0

    report.problems.sort(key=line_of)
