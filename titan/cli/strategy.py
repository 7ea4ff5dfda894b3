"""``titan validate STRATEGY``: load a strategy and report its problems before it trades.

Checks, in order: the file loads and holds the ``Phase`` class; the parameters are valid for
its ``Params``; it can trade under the risk policy (its family sizes orders); its declared
streams make sense; then a dry run through the real kernel on the bundled sample (or --data)
catches exceptions in its hooks (with file and line), intents it builds wrongly and what the
Brain thought of its orders.
"""

from __future__ import annotations

import traceback

import typer

from titan.cli import app, fail


@app.command()
def validate(
    strategy: str = typer.Argument(..., help="Strategy FILE.py[:Class] (or package.module:Class)."),
    param: list[str] = typer.Option(None, "--param", "-p", help="Parameter NAME=VALUE (repeatable)."),
    data: str = typer.Option("", "--data", "-d", help="Data for the dry run (default: the bundled sample)."),
    bars: int = typer.Option(5000, "--bars", help="Events in the dry run (0: skip it)."),
) -> None:
    """Load a strategy, check its parameters and streams, dry-run it through the kernel."""
    from rich.console import Console

    from titan.backtest.policy import PolicyError, fit_policy
    from titan.backtest.spec import BacktestSpec, SpecError, build
    from titan.cli.backtest import parse_params
    from titan.config import TitanConfig
    from titan.core.errors import TitanError
    from titan.phases.registry import StrategyError, instantiate, load_class

    console = Console()
    try:
        params = parse_params(param)
        cls = load_class(strategy)
        phase = instantiate(strategy, params, instruments=["BTC/USDT:USDT@sim"])
    except (StrategyError, ValueError) as e:
        raise fail(str(e)) from None
    console.print(f"[green]ok[/] loads: {strategy} -> class {cls.__name__} "
                  f"(owner {phase.owner!r}, family {phase.family!r})")
    console.print(f"[green]ok[/] params: {phase.params}")
    problems: list[str] = []
    if cls.__doc__ is None or not cls.__doc__.strip():
        module_doc = (__import__("sys").modules[cls.__module__].__doc__ or "").strip()
        if not module_doc:
            problems.append("no docstring: say what the strategy does and why (module or class)")
    try:  # advisory families (ai_quant) are valid: they publish regimes and never size
        fit_policy(TitanConfig(), [phase], [])
    except PolicyError as e:
        problems.append(str(e))
    subs = phase.subscriptions()
    if not subs:
        problems.append("no streams: declare `streams` or pass instruments (the phase would receive nothing)")
    else:
        console.print(f"[green]ok[/] streams: {', '.join(f'{s.kind} {s.instrument_id} {s.timeframe}'.strip() for s in subs)}")
    if bars > 0 and not problems:
        problems.extend(_dry_run(console, strategy, params, data, bars, build, BacktestSpec,
                                 (TitanError, SpecError, ValueError, OSError)))
    for p in problems:
        console.print(f"[red]problem[/] {p}", soft_wrap=True)
    if problems:
        raise typer.Exit(1)
    console.print(f"[green]{strategy}: no problems found[/]")


class _Faults:
    """Dead-letter port for the dry run: keeps each fault with the strategy's line."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.items: list[str] = []

    def record(self, event, handler: str, error: BaseException) -> None:
        where = ""
        for frame in traceback.extract_tb(error.__traceback__):
            if frame.filename.endswith(self.source.split(":")[0].split("/")[-1]):
                where = f"{frame.filename}:{frame.lineno}: "
        self.items.append(f"{where}{handler} raised {type(error).__name__}: {error}")


def _dry_run(console, strategy, params, data, bars, build, spec_cls, errors) -> list[str]:
    import logging

    logging.getLogger("titan").setLevel(logging.CRITICAL)
    faults = _Faults(strategy)
    try:
        spec = spec_cls(strategy=strategy, params=params, data=data, fee_bps=0.0)
        runner = build(spec, journal="off")
    except errors as e:
        raise fail(str(e).splitlines()[0]) from None
    runner.dead_letters = faults
    runner.streams = [_head(s, bars) for s in runner.streams]
    result = runner.run()
    out = list(dict.fromkeys(faults.items))
    status = result.phase_status
    console.print(f"[green]ok[/] dry run: {result.events:,} events, {result.counters['intents']} intents, "
                  f"{result.counters['submitted']} orders, {len(result.fills)} fills, "
                  f"{len(result.denials)} denied by the Brain, phase {', '.join(status.values())}")
    for name, n, example in result.denial_reasons()[:3]:
        console.print(f"   note: {n} intent(s) denied by {name}, e.g. {example}", soft_wrap=True)
    if result.rejects:
        console.print(f"   note: {len(result.rejects)} order(s) rejected by the venue, e.g. {result.rejects[0].reason}")
    return out


def _head(stream, n: int):
    from titan.backtest.data import window
    from titan.feeds.history import BarSeries

    if isinstance(stream, BarSeries) and len(stream) > n:
        return window(stream, None, int(stream.ts_open[n]))
    if isinstance(stream, list):
        return stream[:n]
    return stream
