"""``titan backtest``: a strategy through the live kernel on recorded data, with metrics."""

from __future__ import annotations

from pathlib import Path

import typer

from titan.cli import app, fail


def parse_params(items: list[str] | None) -> dict[str, str]:
    """``["fast=12", "slow=40"]`` -> ``{"fast": "12", "slow": "40"}`` (typed later by Params)."""
    out: dict[str, str] = {}
    for item in items or ():
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"--param {item!r}: expected NAME=VALUE")
        out[key.strip()] = value.strip()
    return out


def default_config() -> str:
    return "config.toml" if Path("config.toml").is_file() else ""


@app.command()
def backtest(
    strategy: str = typer.Option("strategies/ema_cross.py", "--strategy", "-s",
                                 help="Strategy FILE.py[:Class] (or package.module:Class)."),
    data: str = typer.Option("", "--data", "-d", help="Candles/trades/quotes CSV(.gz) or a raw ws "
                             "recording (.log.gz); default: the bundled BTCUSDT perpetual 1m sample."),
    symbol: str = typer.Option("", "--symbol", help="BASE/QUOTE (spot) or BASE/QUOTE:SETTLE (perpetual); "
                               "default: from the file name."),
    start: str = typer.Option("", "--from", help="Start (UTC), e.g. 2025-05-10 or 2025-05-10T12:00."),
    end: str = typer.Option("", "--to", help="End (UTC, exclusive)."),
    cash: float = typer.Option(None, "--cash", help="Starting cash in the quote currency (default: [backtest] cash)."),
    fee_bps: float = typer.Option(None, "--fee-bps", help="Fee per fill in basis points (default: [backtest] fee_bps)."),
    slippage_bps: float = typer.Option(None, "--slippage-bps", help="Taker slippage in bps."),
    fill: str = typer.Option("", "--fill", help="bar_close | next_open | ohlc | book (default: [backtest] fill)."),
    param: list[str] = typer.Option(None, "--param", "-p", help="Strategy parameter NAME=VALUE (repeatable)."),
    funding: str = typer.Option("", "--funding", help="Funding-rate CSV (ts,funding_rate) for a perpetual."),
    timeframe: str = typer.Option("", "--timeframe", help="Candle timeframe if it cannot be inferred."),
    tick: str = typer.Option("", "--tick", help="Price tick (default: from the data's decimals)."),
    lot: str = typer.Option("", "--lot", help="Quantity lot (default: a power of ten worth 1-10 quote units)."),
    venue: str = typer.Option("", "--venue", help="Venue name of the instrument (default: sim; a "
                              "recording's own venue for raw captures)."),
    latency_ms: float = typer.Option(0.0, "--latency-ms", help="Order latency in simulated time."),
    config: str = typer.Option(None, "--config", "-c", help="Config file (default: ./config.toml if present)."),
    json_out: Path = typer.Option(None, "--json", help="Write metrics, trades and the equity curve as JSON."),
    report: Path = typer.Option(None, "--report", help="Write a self-contained HTML report."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
) -> None:
    """Backtest a strategy: the same Kernel, Brain and state as live, on recorded data."""
    import logging

    import msgspec

    from titan.backtest.console import print_summary, progress_bar
    from titan.backtest.spec import BacktestSpec, SpecError, build
    from titan.backtest.summary import summarise
    from titan.core.errors import TitanError

    try:
        spec = BacktestSpec(
            strategy=strategy, params=parse_params(param), data=data, symbol=symbol,
            timeframe=timeframe, start=start, end=end, cash=cash, fee_bps=fee_bps,
            slippage_bps=slippage_bps, fill=fill, funding=funding, tick=tick, lot=lot,
            venue=venue, latency_ms=latency_ms, config=default_config() if config is None else config,
        )
        with progress_bar("backtest", disable=quiet) as on_progress:
            runner = build(spec, progress=on_progress)
            logging.getLogger("titan").setLevel(logging.CRITICAL)  # Brain events are in the summary
            result = runner.run()
    except (TitanError, SpecError, ValueError, OSError) as e:
        raise fail(_one_line(e)) from None
    summary = summarise(result)
    print_summary(summary, title=f"{strategy} on {data or 'the bundled sample'}")
    if json_out is not None:
        _write(json_out, msgspec.json.format(msgspec.json.encode(summary), indent=1), "--json")
        typer.echo(f"json:   {json_out}")
    if report is not None:
        from titan.backtest.report import render

        _write(report, render(summary, title=Path(strategy).stem).encode(), "--report")
        typer.echo(f"report: {report}")


def _write(path: Path, blob: bytes, flag: str) -> None:
    try:
        path.write_bytes(blob)
    except OSError as e:
        raise fail(f"{flag} {path}: cannot write ({e.strerror})") from None


def _one_line(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return text[0] if text else type(e).__name__
