"""``titan sweep grid|walkforward|montecarlo``: parameter sweeps over backtests, in parallel."""

from __future__ import annotations

from pathlib import Path

import typer

from titan.cli import app, fail

sweep_app = typer.Typer(help="Parameter sweeps: grid search, walk-forward, Monte Carlo.",
                        no_args_is_help=True)
app.add_typer(sweep_app, name="sweep")

STRATEGY = typer.Option("strategies/ema_cross.py", "--strategy", "-s", help="Strategy FILE.py[:Class].")
DATA = typer.Option("", "--data", "-d", help="Data file (default: the bundled BTCUSDT perpetual 1m sample).")
SYMBOL = typer.Option("", "--symbol", help="BASE/QUOTE or BASE/QUOTE:SETTLE (default: from the file name).")
START = typer.Option("", "--from", help="Start (UTC).")
END = typer.Option("", "--to", help="End (UTC, exclusive).")
CASH = typer.Option(None, "--cash", help="Starting cash (default: [backtest] cash).")
FEE = typer.Option(None, "--fee-bps", help="Fee per fill in bps (default: [backtest] fee_bps).")
FILL = typer.Option("", "--fill", help="bar_close | next_open | ohlc | book.")
PARAM = typer.Option(None, "--param", "-p", help="Fixed strategy parameter NAME=VALUE (repeatable).")
GRID = typer.Option(None, "--grid", "-g", help="Swept parameter NAME=V1,V2,.. or NAME=START:STOP:STEP (repeatable).")
FUNDING = typer.Option("", "--funding", help="Funding-rate CSV for a perpetual.")
METRIC = typer.Option("sharpe", "--metric", "-m", help="Objective: sharpe, sortino, calmar, total_return, ...")
WORKERS = typer.Option(0, "--workers", "-w", help="Processes (default: one per core).")
JSON = typer.Option(None, "--json", help="Write the results as JSON.")
QUIET = typer.Option(False, "--quiet", "-q", help="No progress bar.")
CONFIG = typer.Option(None, "--config", "-c", help="Config file (default: ./config.toml if present).")
TOP = typer.Option(20, "--top", help="Rows shown in the table.")


def _spec(strategy, data, symbol, start, end, cash, fee_bps, fill, param, funding, config):
    from titan.backtest.spec import BacktestSpec
    from titan.cli.backtest import default_config, parse_params

    return BacktestSpec(strategy=strategy, params=parse_params(param), data=data, symbol=symbol,
                        start=start, end=end, cash=cash, fee_bps=fee_bps, fill=fill, funding=funding,
                        config=default_config() if config is None else config)


def _guard(fn):
    """Run ``fn`` and turn every input problem into one line, exit 2."""
    from titan.core.errors import TitanError

    try:
        return fn()
    except (TitanError, ValueError, OSError) as e:
        text = str(e).strip().splitlines()
        raise fail(text[0] if text else type(e).__name__) from None


def _dump(path: Path | None, obj) -> None:
    if path is None:
        return
    import msgspec

    try:
        path.write_bytes(msgspec.json.format(msgspec.json.encode(obj), indent=1))
    except OSError as e:
        raise fail(f"--json {path}: cannot write ({e.strerror})") from None
    typer.echo(f"json: {path}")


def _fmt(v) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:,.4f}"
    return str(v)


SHOWN = ("total_return", "sharpe", "sortino", "max_drawdown", "trades", "win_rate", "profit_factor", "net_pnl")


@sweep_app.command("grid")
def grid_cmd(strategy: str = STRATEGY, data: str = DATA, symbol: str = SYMBOL, start: str = START,
             end: str = END, cash: float = CASH, fee_bps: float = FEE, fill: str = FILL,
             param: list[str] = PARAM, grid: list[str] = GRID, funding: str = FUNDING,
             metric: str = METRIC, workers: int = WORKERS, json_out: Path = JSON, quiet: bool = QUIET,
             config: str = CONFIG, top: int = TOP) -> None:
    """Backtest every combination of the --grid values; rank them by --metric."""
    from rich.console import Console
    from rich.table import Table

    from titan.backtest import sweeps
    from titan.backtest.console import progress_bar

    spec = _guard(lambda: _spec(strategy, data, symbol, start, end, cash, fee_bps, fill, param, funding, config))
    space = _guard(lambda: sweeps.parse_space(grid or []))
    with progress_bar("grid", disable=quiet, unit="runs") as on_progress:
        results = _guard(lambda: sweeps.grid(spec, space, metric=metric, workers=workers, progress=on_progress))
    table = Table(title=f"grid: {len(results)} runs ranked by {metric}", title_justify="left")
    for col in (*space, *SHOWN):
        table.add_column(col)
    for f in results[:top]:
        table.add_row(*(str(f.params.get(k)) for k in space), *(_fmt(f.metrics.get(k)) for k in SHOWN))
    Console().print(table)
    _dump(json_out, {"metric": metric, "space": space, "results": results})


@sweep_app.command("walkforward")
def walkforward_cmd(strategy: str = STRATEGY, data: str = DATA, symbol: str = SYMBOL, start: str = START,
                    end: str = END, cash: float = CASH, fee_bps: float = FEE, fill: str = FILL,
                    param: list[str] = PARAM, grid: list[str] = GRID, funding: str = FUNDING,
                    train: str = typer.Option("10d", "--train", help="Train window (e.g. 10d, 12h)."),
                    test: str = typer.Option("5d", "--test", help="Test window."),
                    step: str = typer.Option("", "--step", help="Window step (default: the test window)."),
                    metric: str = METRIC, workers: int = WORKERS, json_out: Path = JSON,
                    quiet: bool = QUIET, config: str = CONFIG) -> None:
    """Rolling train/test windows: optimise on each train window, trade the next test window."""
    from rich.console import Console
    from rich.table import Table

    from titan.backtest import sweeps
    from titan.backtest.console import progress_bar

    spec = _guard(lambda: _spec(strategy, data, symbol, start, end, cash, fee_bps, fill, param, funding, config))
    space = _guard(lambda: sweeps.parse_space(grid or []))
    with progress_bar("walk-forward", disable=quiet, unit="runs") as on_progress:
        wf = _guard(lambda: sweeps.walk_forward(spec, space, train=train, test=test, step=step,
                                                metric=metric, workers=workers, progress=on_progress))
    table = Table(title=f"walk-forward: {len(wf.folds)} folds, best by {metric} in-sample", title_justify="left")
    for col in ("test window", "best params", f"in-sample {metric}", "OOS return", "OOS sharpe", "OOS max DD", "OOS trades"):
        table.add_column(col)
    for f in wf.folds:
        table.add_row(f"{f.test_start} .. {f.test_end}", ", ".join(f"{k}={f.best_params[k]}" for k in space),
                      _fmt(f.in_sample.get(metric)), _fmt(f.out_of_sample["total_return"]),
                      _fmt(f.out_of_sample["sharpe"]), _fmt(f.out_of_sample["max_drawdown"]),
                      str(f.out_of_sample["trades"]))
    console = Console()
    console.print(table)
    st = wf.stitched
    console.print(f"stitched out-of-sample: return {_fmt(st['total_return'])}, sharpe {_fmt(st['sharpe'])}, "
                  f"max DD {_fmt(st['max_drawdown'])}, {st['trades']} trades")
    _dump(json_out, wf)


@sweep_app.command("montecarlo")
def montecarlo_cmd(strategy: str = STRATEGY, data: str = DATA, symbol: str = SYMBOL, start: str = START,
                   end: str = END, cash: float = CASH, fee_bps: float = FEE, fill: str = FILL,
                   param: list[str] = PARAM, funding: str = FUNDING,
                   runs: int = typer.Option(1000, "--runs", "-n", help="Simulations per method."),
                   seed: int = typer.Option(7, "--seed", help="Random seed (results are reproducible)."),
                   workers: int = WORKERS, json_out: Path = JSON, quiet: bool = QUIET,
                   config: str = CONFIG) -> None:
    """One backtest, then its trades shuffled and its returns bootstrapped: percentile bands."""
    from rich.console import Console
    from rich.table import Table

    from titan.backtest import sweeps
    from titan.backtest.console import progress_bar

    spec = _guard(lambda: _spec(strategy, data, symbol, start, end, cash, fee_bps, fill, param, funding, config))
    with progress_bar("monte carlo", disable=quiet, unit="chunks") as on_progress:
        mc = _guard(lambda: sweeps.monte_carlo(spec, runs=runs, seed=seed, workers=workers, progress=on_progress))
    table = Table(title=f"Monte Carlo: {mc.runs} runs x 2 methods, {mc.trades} trades, {mc.period} returns",
                  title_justify="left")
    table.add_column("")
    for p in sweeps.PERCENTILES:
        table.add_column(f"p{p}")
    table.add_column("actual")
    for method, bands in (("shuffle", mc.shuffle), ("bootstrap", mc.bootstrap)):
        for key in ("final_return", "max_drawdown"):
            table.add_row(f"{method} {key}", *(f"{bands[key][f'p{p}'] * 100:.2f}%" for p in sweeps.PERCENTILES),
                          f"{mc.actual[key] * 100:.2f}%")
    Console().print(table)
    _dump(json_out, mc)
