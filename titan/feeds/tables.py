"""Reading tabular market data into numpy columns, keeping every row's line number.

CSV (optionally gzip-compressed) with a header line, as in the shared data README; Parquet when
pyarrow is installed. The fast path parses with ``numpy.loadtxt`` (C, no Python per row); if
anything in the file is malformed it re-reads line by line so that *every* bad row is reported
with its ``file:line`` - bad rows are never dropped silently and never guessed at.

Integer-valued columns (millisecond timestamps, update ids) are parsed as float64, which is
exact below 2**53; nanosecond columns are not loaded.
"""

from __future__ import annotations

import gzip
import io
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from titan.core.errors import DataError
from titan.feeds.validate import Problem


class Table:
    """Columns of the rows that parsed, their line numbers, and the rows that did not."""

    __slots__ = ("path", "header", "columns", "lines", "problems")

    def __init__(self, path: str, header: list[str], columns: dict[str, np.ndarray], lines: np.ndarray,
                 problems: list[Problem]) -> None:
        self.path = path
        self.header = header
        self.columns = columns
        self.lines = lines
        self.problems = problems

    def __len__(self) -> int:
        return int(self.lines.size)

    def take(self, keep: np.ndarray) -> Table:
        """The rows where ``keep`` is True."""
        return Table(self.path, self.header, {k: v[keep] for k, v in self.columns.items()},
                     self.lines[keep], self.problems)


def read_header(path: str | Path) -> list[str]:
    """Column names of a CSV(.gz) or Parquet file; raises DataError if unreadable."""
    p = Path(path)
    if p.suffix == ".parquet":
        pq = _pyarrow(p)
        return list(pq.read_schema(p).names)
    text = _read_text(p, head=True)
    return [c.strip() for c in text.split("\n", 1)[0].split(",")]


def read_table(path: str | Path, numeric: Sequence[str], text: Sequence[str] = ()) -> Table:
    """Load ``numeric`` columns as float64 and ``text`` columns as str arrays."""
    p = Path(path)
    if p.suffix == ".parquet":
        return _read_parquet(p, numeric, text)
    raw = _read_text(p)
    head, _, body = raw.partition("\n")
    header = [c.strip() for c in head.split(",")]
    missing = [c for c in (*numeric, *text) if c not in header]
    if missing:
        raise DataError(f"{p}:1", f"missing column(s) {', '.join(missing)}; header is {','.join(header)}")
    fast = _fast(p, header, body, numeric, text)
    return fast if fast is not None else _slow(p, header, body, numeric, text)


def _read_text(p: Path, head: bool = False) -> str:
    try:
        with open(p, "rb") as fh:
            data = fh.read(1 << 16) if head else fh.read()
        if data[:2] == b"\x1f\x8b":
            data = gzip.decompress(data) if not head else gzip.GzipFile(fileobj=io.BytesIO(data)).read1(1 << 16)
        return data.decode("utf-8")
    except FileNotFoundError:
        raise DataError(str(p), "file not found") from None
    except OSError as e:
        raise DataError(str(p), f"cannot read ({e.strerror or e})") from None
    except (EOFError, UnicodeDecodeError) as e:
        raise DataError(str(p), f"unreadable ({e})") from None


def _fast(p: Path, header: list[str], body: str, numeric: Sequence[str], text: Sequence[str]) -> Table | None:
    body = body.rstrip("\n")
    if not body:
        return Table(str(p), header, {c: np.empty(0) for c in (*numeric, *text)}, np.empty(0, np.int64), [])
    if "\n\n" in body or "\r" in body or '"' in body:
        return None
    try:
        cols: dict[str, np.ndarray] = {}
        idx = [header.index(c) for c in numeric]
        if idx:
            arr = np.loadtxt(io.StringIO(body), delimiter=",", usecols=idx, dtype=np.float64,
                             ndmin=2, comments=None)
            for j, name in enumerate(numeric):
                cols[name] = np.ascontiguousarray(arr[:, j])
        for name in text:
            cols[name] = np.loadtxt(io.StringIO(body), delimiter=",", usecols=[header.index(name)],
                                    dtype=str, ndmin=1, comments=None)
    except ValueError:
        return None
    n = next(iter(cols.values())).size
    if n != body.count("\n") + 1:
        return None
    return Table(str(p), header, cols, np.arange(2, n + 2, dtype=np.int64), [])


def _slow(p: Path, header: list[str], body: str, numeric: Sequence[str], text: Sequence[str]) -> Table:
    k = len(header)
    num_idx = [(name, header.index(name)) for name in numeric]
    txt_idx = [(name, header.index(name)) for name in text]
    values: dict[str, list] = {name: [] for name in (*numeric, *text)}
    lines: list[int] = []
    problems: list[Problem] = []
    for n, line in enumerate(body.split("\n"), 2):
        line = line.rstrip("\r")
        if not line.strip():
            continue
        fields = line.split(",")
        if len(fields) != k:
            problems.append(Problem(location=f"{p}:{n}", kind="bad_row",
                                    message=f"expected {k} fields, got {len(fields)}"))
            continue
        row = {}
        for name, j in num_idx:
            try:
                row[name] = float(fields[j])
            except ValueError:
                problems.append(Problem(location=f"{p}:{n}", kind="bad_row",
                                        message=f"column {name!r}: not a number: {fields[j]!r}"))
                break
        else:
            for name, j in txt_idx:
                row[name] = fields[j].strip()
            for name, v in row.items():
                values[name].append(v)
            lines.append(n)
    cols = {name: np.asarray(values[name], dtype=np.float64) for name in numeric}
    cols.update({name: np.asarray(values[name], dtype=str) for name in text})
    return Table(str(p), header, cols, np.asarray(lines, dtype=np.int64), problems)


def _pyarrow(p: Path):
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise DataError(str(p), "reading Parquet needs pyarrow (pip install pyarrow)") from None
    return pq


def _read_parquet(p: Path, numeric: Sequence[str], text: Sequence[str]) -> Table:
    pq = _pyarrow(p)
    try:
        table = pq.read_table(p)
    except (OSError, ValueError) as e:
        raise DataError(str(p), f"unreadable Parquet ({e})") from None
    header = list(table.column_names)
    missing = [c for c in (*numeric, *text) if c not in header]
    if missing:
        raise DataError(str(p), f"missing column(s) {', '.join(missing)}; columns are {','.join(header)}")
    cols: dict[str, np.ndarray] = {}
    for name in numeric:
        col = table.column(name).to_numpy(zero_copy_only=False)
        if np.issubdtype(col.dtype, np.datetime64):
            col = col.astype("datetime64[ms]").astype(np.int64)
        cols[name] = np.asarray(col, dtype=np.float64)
    for name in text:
        cols[name] = np.asarray(table.column(name).to_pylist(), dtype=str)
    # rows are numbered from 1 (a Parquet file has no text lines)
    return Table(str(p), header, cols, np.arange(1, table.num_rows + 1, dtype=np.int64), [])
