"""``titan data``: download market history through ccxt, validate data files."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import typer

from titan.cli import app, fail

data_app = typer.Typer(help="Market data: download history (ccxt), validate files.", no_args_is_help=True)
app.add_typer(data_app, name="data")


def parse_time_ms(value: str, name: str) -> int:
    """``2025-01-01``, ``2025-01-01T12:00[:00]`` (UTC) or epoch milliseconds."""
    text = value.strip()
    if text.isdigit():
        return int(text)
    try:
        dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise fail(f"{name}: expected a UTC date like 2025-01-01 or 2025-01-01T12:00, got {value!r}") from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return int(dt.timestamp() * 1000)


@data_app.command("download")
def download(
    venue: str = typer.Option(..., "--venue", help="bybit, binance (spot) or binanceusdm"),
    symbol: str = typer.Option(..., "--symbol", help="ccxt unified symbol, e.g. BTC/USDT:USDT"),
    timeframe: str = typer.Option("1m", "--timeframe", help="candle timeframe (1m, 5m, 1h, 1d, ...)"),
    since: str = typer.Option(..., "--since", help="start (UTC date/time or epoch ms)"),
    until: str = typer.Option(None, "--until", help="end, exclusive (default: now)"),
    out: Path = typer.Option(Path("data"), "--out", help="output directory"),
    funding: bool = typer.Option(False, "--funding", help="download the funding-rate history instead"),
    rest_url: str = typer.Option("", "--rest-url", help="venue REST base URL override (e.g. a local emulator)"),
    limit: int = typer.Option(0, "--limit", help="rows per request (default: the venue's maximum)"),
) -> None:
    """Download candles (or funding rates) into OUT, resuming from what is already there."""
    import asyncio

    from titan.feeds.bars import timeframe_ns
    from titan.feeds.download import VENUES

    if venue not in VENUES:
        raise fail(f"--venue: expected one of {', '.join(VENUES)}, got {venue!r}")
    try:
        timeframe_ns(timeframe)
    except ValueError as e:
        raise fail(f"--timeframe: {e}") from None
    since_ms = parse_time_ms(since, "--since")
    until_ms = parse_time_ms(until, "--until") if until else None
    if until_ms is not None and until_ms <= since_ms:
        raise fail("--until: must be after --since")
    if limit < 0:
        raise fail(f"--limit: must be >= 0, got {limit}")
    code = asyncio.run(_download(venue, symbol, timeframe, since_ms, until_ms, out, funding, rest_url, limit))
    raise typer.Exit(code)


async def _download(venue, symbol, timeframe, since_ms, until_ms, out, funding, rest_url, limit) -> int:
    import ccxt
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    from titan.core.errors import DataError
    from titan.feeds.download import download_funding, download_ohlcv, make_exchange, output_path

    err = Console(stderr=True)
    ex = make_exchange(venue, rest_url)
    path = output_path(out, venue, symbol, "funding" if funding else timeframe)
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    try:
        await ex.load_markets()
        if symbol not in ex.markets:
            err.print(f"titan: --symbol: {venue} has no market {symbol!r}")
            return 2
        with Progress(*columns, console=err, transient=True) as bar:
            task = bar.add_task(f"{venue} {symbol} {'funding' if funding else timeframe}", total=None)

            def progress(done: int, total: int) -> None:
                bar.update(task, completed=done, total=max(total, done))

            if funding:
                result = await download_funding(ex, symbol, since_ms, until_ms, path,
                                                limit=limit or 200, progress=progress)
            else:
                result = await download_ohlcv(ex, symbol, timeframe, since_ms, until_ms, path,
                                              limit=limit or 1000, progress=progress)
    except DataError as e:
        err.print(f"titan: {e}")
        return 2
    except ccxt.BaseError as e:
        err.print(f"titan: {venue}: {type(e).__name__}: {str(e)[:200]} (run again to resume)")
        return 1
    finally:
        await ex.close()
    resumed = f", resumed after {result.resumed_after_ms}" if result.resumed_after_ms else ""
    typer.echo(f"{result.path}: {result.rows} rows ({result.added} new in {result.pages} request(s){resumed})")
    for line in result.report.lines()[1:]:
        typer.echo(line)
    typer.echo(result.report.summary())
    return 0 if result.report.ok else 1


@data_app.command("validate")
def validate(
    file: Path = typer.Argument(..., help="CSV(.gz), Parquet, JSONL or session log file"),
    timeframe: str = typer.Option(None, "--timeframe", help="candle timeframe (default: inferred)"),
    allow_gaps: bool = typer.Option(False, "--allow-gaps", help="exit 0 when the only findings are gaps"),
    limit: int = typer.Option(20, "--show", help="list at most this many errors and gaps"),
) -> None:
    """Report gaps, duplicates, backwards time, OHLC violations and bad rows (as file:line).

    Exit status: 0 clean, 1 problems found, 2 unreadable input.
    """
    from titan.core.errors import DataError
    from titan.feeds.history import validate_file

    try:
        report = validate_file(file, timeframe)
    except (DataError, ValueError) as e:
        raise fail(str(e)) from None
    for line in report.lines(limit):
        typer.echo(line)
    problems = bool(report.problems) or (bool(report.gaps) and not allow_gaps)
    raise typer.Exit(1 if problems else 0)
