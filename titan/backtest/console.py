"""Terminal output of backtests and sweeps (rich): the progress bar and the summary tables."""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

if TYPE_CHECKING:
    from titan.backtest.metrics import Metrics
    from titan.backtest.summary import Summary


@contextlib.contextmanager
def progress_bar(label: str, *, disable: bool = False, unit: str = "events",
                 console: Console | None = None) -> Iterator[Callable[[int, int], None]]:
    """A callback ``(done, total)`` drawing a rich bar (nothing when disabled or not a TTY)."""
    console = console or Console(stderr=True)
    if disable or not console.is_terminal:
        yield lambda done, total: None
        return
    columns = (TextColumn(f"[bold]{label}"), BarColumn(), MofNCompleteColumn(),
               TextColumn(unit), TextColumn("{task.fields[rate]}"), TimeRemainingColumn())
    with Progress(*columns, console=console, transient=True) as bar:
        task = bar.add_task(label, total=None, rate="")
        started = [0.0]

        def update(done: int, total: int) -> None:
            now = bar.get_time()
            if not started[0]:
                started[0] = now
            elapsed = now - started[0]
            rate = f"{done / elapsed:,.0f}/s" if elapsed > 0 else ""
            bar.update(task, completed=done, total=total, rate=rate)

        yield update


def when(ns: int) -> str:
    return dt.datetime.fromtimestamp(ns / 1e9, tz=dt.UTC).strftime("%Y-%m-%d %H:%M")


def pct(x: float | None) -> str:
    return "-" if x is None else f"{x * 100:,.2f}%"


def num(x: float | None, digits: int = 2) -> str:
    return "-" if x is None else f"{x:,.{digits}f}"


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    s = int(seconds)
    d, s = divmod(s, 86_400)
    h, s = divmod(s, 3_600)
    m = s // 60
    return f"{d}d {h}h" if d else f"{h}h {m}m" if h else f"{m}m"


def metric_rows(m: Metrics) -> list[tuple[str, str]]:
    return [
        ("period", f"{when(m.start_ns)} .. {when(m.end_ns)} ({m.days:.1f} d)"),
        ("equity", f"{m.initial_equity:,.2f} -> {m.final_equity:,.2f}"),
        ("net PnL", f"{m.net_pnl:,.2f} (fees {m.fees:,.2f}, funding {m.funding:,.2f})"),
        ("total return", pct(m.total_return)),
        ("annual return", pct(m.annual_return)),
        ("Sharpe / Sortino / Calmar", f"{num(m.sharpe)} / {num(m.sortino)} / {num(m.calmar)}  ({m.returns_period} returns)"),
        ("max drawdown", f"{pct(m.max_drawdown)} (longest {duration(m.max_drawdown_duration_s)}, "
                         f"recovery {duration(m.recovery_time_s) if m.recovery_time_s is not None else 'not yet'})"),
        ("trades", f"{m.trades} closed, {m.open_trades} open, win rate {pct(m.win_rate)}"),
        ("profit factor", num(m.profit_factor)),
        ("avg win / loss", f"{num(m.avg_win)} / {num(m.avg_loss)}, expectancy {num(m.expectancy)}"),
        ("exposure / turnover", f"{pct(m.exposure)} / {num(m.turnover, 1)}x"),
    ]


def print_summary(s: Summary, *, title: str = "backtest", console: Console | None = None) -> None:
    console = console or Console()
    table = Table(title=title, title_justify="left", show_header=False, box=None, pad_edge=False)
    table.add_column(style="bold")
    table.add_column()
    for k, v in metric_rows(s.metrics):
        table.add_row(k, v)
    console.print(table)
    if len(s.phases) > 1:
        per = Table(title="per owner", title_justify="left")
        for col in ("owner", "net PnL", "return", "max DD", "trades", "win rate", "Sharpe"):
            per.add_column(col)
        for owner, m in s.phases.items():
            per.add_row(owner, f"{m.net_pnl:,.2f}", pct(m.total_return), pct(m.max_drawdown),
                        str(m.trades), pct(m.win_rate), num(m.sharpe))
        console.print(per)
    b = s.brain
    line = f"brain: {b['denied']} denied, {b['clipped']} clipped, {b['rejected']} rejected by the venue"
    if b["emergencies"]:
        line += f"; EMERGENCY FLATTEN at {when(b['emergencies'][0]['ts'])}: {b['emergencies'][0]['reason']}"
    console.print(line, soft_wrap=True)
    for check, d in list(b["denial_reasons"].items())[:5]:
        console.print(f"  denied x{d['count']} by {check}, e.g. {d['example']}", soft_wrap=True)
    r, rec = s.run, s.reconciliation
    console.print(f"run: {r['events']:,} events in {r['elapsed_s']:.2f} s ({r['events_per_s']:,.0f}/s), "
                  f"fill {r['fill_model']}, money reconciled: {'yes' if rec.ok else 'NO'}")
    console.print(f"event log sha256: {r['digest']}", soft_wrap=True)
