"""``titan run``: the daemon - paper trading by default, live with keys.

    titan run                          paper trading on the bundled recording (no keys, no network)
    titan run --paper --venue bybit    live Bybit market data, simulated fills
    titan run --live                   the enabled [venues.*] with keys from the environment
    titan run --replay FILE.log.gz     any raw recording through the local replay server
    titan run --headless               systemd: JSON logs on stderr, no dashboard

A replay ends when the recording has been played out; ``--duration`` bounds any run (a replay
that ends sooner leaves the session idle, API up, until then).
"""

from __future__ import annotations

import re
from pathlib import Path

import typer

from titan.cli import app, fail

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$")
_UNIT = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(text: str) -> float:
    """``90``, ``90s``, ``5m``, ``2h``, ``1d`` -> seconds."""
    m = _DURATION.match(text or "")
    if not m:
        raise ValueError(f"--duration: expected seconds or a number with s/m/h/d (e.g. 90, 5m), got {text!r}")
    return float(m.group(1)) * _UNIT[m.group(2)]


@app.command()
def run(
    config: Path = typer.Option(None, "--config", "-c", help="Config file (default: ./config.toml, "  # noqa: B008
                                "else built-in defaults)."),
    paper: bool = typer.Option(False, "--paper", help="Simulated fills (the default mode)."),
    live: bool = typer.Option(False, "--live", help="Real orders on the enabled venues; keys "
                              "from TITAN_<VENUE>_API_KEY / _API_SECRET."),
    venue: str = typer.Option(None, "--venue", help="Paper on this venue's live market data "
                              "(bybit, binance, binanceusdm)."),
    replay: list[Path] = typer.Option(None, "--replay", help="Market data from this raw "  # noqa: B008
                                      "recording (repeatable) instead of the venues."),
    speed: float = typer.Option(None, "--speed", help="Replay speed, x real time (0 = as fast "
                                "as possible; default [paper] speed)."),
    duration: str = typer.Option("", "--duration", help="Stop after this long (90, 90s, 5m, 2h)."),
    headless: bool = typer.Option(False, "--headless", help="No dashboard; JSON log lines on "
                                  "stderr (systemd)."),
    data_dir: Path = typer.Option(None, "--data-dir", help="Override titan.data_dir (event log, "  # noqa: B008
                                  "trades journal)."),
) -> None:
    """Run the trading daemon (paper by default). Stop with Ctrl-C or SIGTERM."""
    import sys

    from titan.cli.check import default_config_path
    from titan.config import load_config
    from titan.core.errors import ConfigError

    try:
        seconds = parse_duration(duration) if duration else 0.0
    except ValueError as e:
        raise fail(str(e)) from None
    source = config if config is not None else default_config_path()
    try:
        cfg = load_config(source)
    except ConfigError as e:
        raise fail(str(e)) from None
    from titan.app import PlanError, plan_edge

    base_dir = str(Path(source).resolve().parent) if source is not None else str(Path.cwd())
    try:
        edge = plan_edge(cfg, live=live, paper=paper, venue=venue,
                         replay=[str(p) for p in replay or ()], speed=speed, duration_s=seconds,
                         base_dir=base_dir)
    except PlanError as e:
        raise fail(str(e)) from None
    root = Path(base_dir) if source is not None else Path.cwd()
    ddir = data_dir if data_dir is not None else (
        Path(cfg.titan.data_dir) if Path(cfg.titan.data_dir).is_absolute() else root / cfg.titan.data_dir)
    dashboard = not headless and sys.stdout.isatty() and sys.stdin.isatty()
    _logging(cfg, headless=headless, dashboard=dashboard, data_dir=ddir)
    from titan.live import run_session

    runner = run_session(cfg, edge, data_dir=ddir, dashboard=dashboard)
    if not headless and runner.session.kernel is not None:
        for line in closing_summary(runner.status(), runner.stop_reason):
            typer.echo(line)
    if runner.exit_code:
        if runner.error:
            raise fail(runner.error, code=runner.exit_code)
        raise typer.Exit(runner.exit_code)


def closing_summary(st: dict, reason: str) -> list[str]:
    """What a finished session did, for the terminal (the JSON logs say it too)."""
    c = st.get("counters", {})
    lines = [f"titan {st['edge']}: stopped ({reason})",
             f"  {c.get('market', 0):,} market events, {c.get('submitted', 0)} orders, "
             f"{c.get('denied', 0)} denied, {st.get('fills', 0)} fills",
             f"  equity {st['equity']:,.2f} {st.get('currency', '')}, drawdown "
             f"{st['drawdown']:.2%}, breaker {st['breaker']}"]
    for p in st.get("net_positions", []):
        lines.append(f"  open position {p['instrument_id']}: {p['quantity']} @ {p['avg_price']}")
    journal = st.get("journal", {}).get("path", "")
    lines.append(f"  journal {journal} (titan inspect {journal}; titan explain ID --log {journal})")
    return lines


def _logging(cfg, *, headless: bool, dashboard: bool, data_dir: Path) -> None:
    """JSON lines under systemd (or without a terminal); a log file while the dashboard owns
    the terminal; rich lines otherwise."""
    import logging

    from titan.core.logs import setup_logging

    level = cfg.titan.log_level
    if dashboard:
        data_dir.mkdir(parents=True, exist_ok=True)
        stream = open(data_dir / "titan.log", "a", buffering=1, encoding="utf-8")  # noqa: SIM115
        setup_logging(level, json=True, stream=stream)
    else:
        setup_logging(level, json=True if headless else cfg.titan.log_json)
    for noisy in ("aiohttp.access", "apscheduler"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
