"""History download through ccxt: candles and funding rates, paged, resumable, validated.

Rows land first in ``<file>.part`` (plain CSV, appended and flushed page by page), so an
interrupted download loses at most the page in flight; the next run reads what is on disk and
continues after the last row. When the range is complete the rows are merged into the final
``.csv.gz`` (written to a temporary file and renamed) and the file is validated.

``rest_url`` points the genuine ccxt client at another base URL (the local exchange emulator in
tests); URLs are rewritten host-only, keeping each API path (research note venues.md, section 1).
"""

from __future__ import annotations

import gzip
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import msgspec

from titan.core.errors import DataError
from titan.feeds.bars import timeframe_ns
from titan.feeds.history import validate_file
from titan.feeds.validate import ValidationReport

MS = 1_000_000
VENUES = ("bybit", "binance", "binanceusdm")
_OPTIONS: dict[str, dict[str, Any]] = {
    "bybit": {"fetchMarkets": {"types": ["spot", "linear"]}},
    "binance": {"fetchMarkets": {"types": ["spot"]}, "fetchCurrencies": False, "fetchMargins": False},
    "binanceusdm": {"fetchMarkets": {"types": ["linear"]}, "fetchCurrencies": False, "fetchMargins": False},
}
CANDLE_HEADER = "ts,open,high,low,close,volume"
FUNDING_HEADER = "ts,funding_rate"
Progress = Callable[[int, int], None]  # (done, total) in rows (estimated total)


class DownloadResult(msgspec.Struct, kw_only=True):
    path: str
    rows: int  # rows in the final file
    added: int  # rows downloaded by this run
    resumed_after_ms: int  # last row already on disk before this run (0 = fresh start)
    pages: int
    report: ValidationReport


def make_exchange(venue: str, rest_url: str = "", *, rate_limit: bool = True):
    """A ccxt async exchange for public market data, optionally re-pointed at ``rest_url``."""
    if venue not in VENUES:
        raise ValueError(f"venue {venue!r}: expected one of {', '.join(VENUES)}")
    import ccxt.async_support as ccxt

    ex = getattr(ccxt, venue)({"enableRateLimit": rate_limit, "options": dict(_OPTIONS[venue])})
    if rest_url:
        localize(ex.urls, rest_url)
    return ex


def localize(urls: dict, base: str) -> None:
    """Rewrite every REST URL under ``urls['api']`` to ``base`` (scheme + host), keeping paths."""
    target = urlsplit(base)

    def walk(node):
        if isinstance(node, dict):
            return {k: walk(v) for k, v in node.items()}
        if isinstance(node, str) and node.startswith(("http://", "https://")):
            parts = urlsplit(node)
            return parts._replace(scheme=target.scheme, netloc=target.netloc).geturl()
        return node

    urls["api"] = walk(urls.get("api", {}))


def output_path(out_dir: str | Path, venue: str, symbol: str, what: str) -> Path:
    """``<out>/<venue>_<BTC-USDT-USDT>_<1m|funding>.csv.gz``."""
    safe = symbol.replace("/", "-").replace(":", "-")
    return Path(out_dir) / f"{venue}_{safe}_{what}.csv.gz"


async def download_ohlcv(ex, symbol: str, timeframe: str, since_ms: int, until_ms: int | None, path: Path, *,
                         limit: int = 1000, progress: Progress | None = None) -> DownloadResult:
    """Candles ``[since_ms, until_ms)`` (default until: the last closed candle) into ``path``."""
    step = timeframe_ns(timeframe) // MS
    now = int(time.time() * 1000)
    until = min(until_ms or now, now // step * step)
    since = (since_ms + step - 1) // step * step

    async def page(cursor: int) -> list[list]:
        rows = await ex.fetch_ohlcv(symbol, timeframe, since=cursor, limit=limit)
        return [[int(r[0]), *map(float, r[1:6])] for r in rows if len(r) >= 6 and None not in r[:6]]

    return await _download(path, CANDLE_HEADER, since, until, step, limit, page, _candle_line, progress)


async def download_funding(ex, symbol: str, since_ms: int, until_ms: int | None, path: Path, *,
                           limit: int = 200, progress: Progress | None = None) -> DownloadResult:
    """Funding-rate history ``[since_ms, until_ms)`` into ``path`` (``ts,funding_rate``)."""
    until = until_ms or int(time.time() * 1000)
    step = 8 * 3600 * 1000  # for progress estimates and empty-page skipping only

    async def page(cursor: int) -> list[list]:
        rows = await ex.fetch_funding_rate_history(symbol, since=cursor, limit=limit,
                                                   params={"until": min(cursor + limit * step, until) - 1})
        return [[int(r["timestamp"]), float(r["fundingRate"])] for r in rows
                if r.get("timestamp") is not None and r.get("fundingRate") is not None]

    return await _download(path, FUNDING_HEADER, since_ms, until, step, limit, page, _funding_line, progress,
                           exact_step=False)


def _candle_line(r: list) -> str:
    return f"{r[0]},{r[1]!r},{r[2]!r},{r[3]!r},{r[4]!r},{r[5]!r}"


def _funding_line(r: list) -> str:
    return f"{r[0]},{float(r[1])!r}"


async def _download(path: Path, header: str, since: int, until: int, step: int, limit: int, fetch,
                    line, progress: Progress | None, *, exact_step: bool = True) -> DownloadResult:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    part = path.with_name(path.name + ".part")
    _cut_torn_tail(part)
    rows = _read_rows(path) + _read_rows(part)
    last = rows[-1][0] if rows else None
    resumed = last or 0
    cursor = max(since, last + (step if exact_step else 1)) if last is not None else since
    total = max(0, (until - since) // step)
    done = sum(1 for r in rows if since <= r[0] < until)
    added = pages = 0
    with open(part, "a", encoding="utf-8") as fh:
        if fh.tell() == 0:
            fh.write(header + "\n")
        while cursor < until:
            batch = [r for r in await fetch(cursor) if cursor <= r[0] < until]
            pages += 1
            if last is not None:
                batch = [r for r in batch if r[0] > last]
            if not batch:
                cursor += limit * step  # a hole longer than a page, or the end of the data
                continue
            fh.write("".join(line(r) + "\n" for r in batch))
            fh.flush()
            os.fsync(fh.fileno())
            last = batch[-1][0]
            added += len(batch)
            done += len(batch)
            cursor = last + (step if exact_step else 1)
            if progress is not None:
                progress(done, total)
    merged = _finalize(path, part, header)
    return DownloadResult(path=str(path), rows=merged, added=added, resumed_after_ms=resumed, pages=pages,
                          report=validate_file(path))


def _cut_torn_tail(part: Path) -> None:
    """Drop a half-written last line left by an interrupted run, so appends start on a new line."""
    if not part.exists():
        return
    data = part.read_bytes()
    if data and not data.endswith(b"\n"):
        with open(part, "r+b") as fh:
            fh.truncate(data.rfind(b"\n") + 1)


def _read_rows(path: Path) -> list[tuple[int, str]]:
    """(ts, line) of the complete rows in a CSV(.gz); a torn last line of a ``.part`` is dropped."""
    if not path.exists():
        return []
    try:
        raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    except (OSError, EOFError) as e:
        raise DataError(str(path), f"unreadable ({e}); delete it to download again") from None
    text = raw.decode("utf-8", "replace")
    complete = text if text.endswith("\n") else text[: text.rfind("\n") + 1]
    out = []
    for n, ln in enumerate(complete.splitlines(), 1):
        if n == 1 and ln.startswith("ts,"):
            continue
        head = ln.split(",", 1)[0]
        if head.isdigit():
            out.append((int(head), ln))
        elif ln.strip():
            raise DataError(f"{path}:{n}", f"not a data row: {ln[:60]!r}")
    return out


def _finalize(path: Path, part: Path, header: str) -> int:
    """Merge the final file and the ``.part`` rows (sorted, de-duplicated) into ``path``."""
    rows = dict(_read_rows(path))
    rows.update(_read_rows(part))
    body = header + "\n" + "".join(rows[k] + "\n" for k in sorted(rows))
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(gzip.compress(body.encode(), 6, mtime=0))
    os.replace(tmp, path)
    part.unlink(missing_ok=True)
    return len(rows)
