"""The terminal dashboard (rich ``Live``): the session at a glance, and the panic button.

Panels: account (equity, drawdown, breaker, truth score, regime), allocation per phase,
positions, open orders, feeds (health, age and latency per venue), the last Brain decisions
with deny reasons, alerts. It renders the same snapshot ``GET /status`` serves
(``titan.ops.status``) four times a second; rendering is a pure function of that snapshot
(:func:`render`), so it is tested without a terminal.

Keys (stdin in cbreak mode while the dashboard runs): ``f`` arms the panic button - flatten
everything - and ``y`` confirms it (any other key disarms); ``q`` stops the session cleanly.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
import time
from collections.abc import Callable
from typing import Any

from rich.console import Console, Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

log = logging.getLogger(__name__)

BREAKER_STYLE = {"NORMAL": "bold green", "DEFENSIVE": "bold yellow", "HALTED": "bold red"}
SEVERITY_STYLE = {"critical": "bold red", "error": "red", "warning": "yellow", "info": "cyan"}


def _money(x: Any) -> str:
    try:
        return f"{float(x):,.2f}"
    except (TypeError, ValueError):
        return str(x)


def _table(title: str, *columns: str) -> Table:
    t = Table(title=title, title_justify="left", expand=True, show_edge=False, pad_edge=False)
    for c in columns:
        t.add_column(c, overflow="fold")
    return t


def render(st: dict[str, Any], *, armed: bool = False, note: str = "") -> Group:
    """The dashboard for one status snapshot."""
    if "equity" not in st:
        return Group(Panel(Text(f"titan {st.get('version', '')}: starting ({st.get('edge', '')})")))
    breaker = st.get("breaker", "")
    head = Text()
    head.append(f"titan {st['version']}  ", style="bold")
    head.append(f"{st['edge']}   ")
    head.append(f"equity {_money(st['equity'])} {st.get('currency', '')}  ", style="bold")
    head.append(f"drawdown {st['drawdown']:.2%}  ")
    head.append(f"breaker {breaker}", style=BREAKER_STYLE.get(breaker, ""))
    if st.get("breaker_reason"):
        head.append(f" ({st['breaker_reason']})", style="dim")
    truth = st.get("truth_score")
    head.append(f"  truth {truth if truth is not None else '-'}")
    if st.get("regime"):
        head.append(f"  regime {st['regime']}")
    c = st.get("counters", {})
    head.append(f"\nmarket {c.get('market', 0):,}  intents {c.get('intents', 0)}  orders "
                f"{c.get('submitted', 0)}  denied {c.get('denied', 0)}  fills {st.get('fills', 0)}"
                f"  uptime {st['uptime_s']:.0f}s", style="dim")
    alloc = _table("allocation", "phase", "budget")
    for phase, amount in st.get("allocations", {}).items():
        alloc.add_row(phase, _money(amount))
    pos = _table("positions", "instrument", "phase", "qty", "avg", "uPnL")
    for p in st.get("positions", []):
        pos.add_row(p["instrument_id"], p["phase"], p["quantity"], p["avg_price"],
                    _money(p["unrealized_pnl"]))
    orders = _table("open orders", "id", "phase", "side", "qty", "price", "status")
    for o in st.get("open_orders", [])[:10]:
        orders.add_row(o["client_order_id"], o["phase"], o["side"], o["quantity"],
                       o["price"] or "mkt", o["status"])
    feeds = _table("feeds", "venue", "status", "events", "age s", "latency ms")
    for venue, f in st.get("feeds", {}).items():
        style = "green" if f["status"] in ("live", "connected", "resynced") else "red"
        feeds.add_row(venue, Text(f["status"], style=style), f"{f['events']:,}",
                      "-" if f["age_s"] is None else f"{f['age_s']:.1f}",
                      "-" if f["latency_ms"] is None else f"{f['latency_ms']:.1f}")
    decisions = _table("last decisions", "id", "phase", "side", "qty", "verdict")
    for d in st.get("last_decisions", [])[:8]:
        verdict = Text("approved", style="green") if d["verdict"] == "approved" else \
            Text(f"DENIED: {d.get('reason', '')}", style="red")
        decisions.add_row(d["client_order_id"], d["phase"], d["side"], d["quantity"], verdict)
    alerts = _table("alerts", "severity", "title", "detail")
    for a in st.get("alerts", [])[:6]:
        alerts.add_row(Text(a["severity"], style=SEVERITY_STYLE.get(a["severity"], "")),
                       a["title"], a["detail"][:120])
    keys = Text("keys: [f] flatten everything (asks to confirm)   [q] stop", style="dim")
    if armed:
        keys = Text("PANIC: flatten every position and cancel every order? press [y] to "
                    "confirm, any other key to cancel", style="bold white on red")
    parts: list[Any] = [Panel(head), alloc, pos, orders, feeds, decisions, alerts, keys]
    if note:
        parts.append(Text(note, style="bold"))
    return Group(*parts)


class Dashboard:
    def __init__(self, status: Callable[[], dict[str, Any]], *, on_panic: Callable[[], Any],
                 on_quit: Callable[[], Any], console: Console | None = None,
                 refresh_s: float = 0.25) -> None:
        self.status = status
        self.on_panic = on_panic
        self.on_quit = on_quit
        self.console = console or Console(stderr=False)
        self.refresh_s = refresh_s
        self.armed = False
        self.note = ""
        self._restore: Callable[[], None] | None = None
        self._live: Any = None

    def key(self, ch: str) -> None:
        """One key press (also the test entry point)."""
        if self.armed:
            self.armed = False
            if ch.lower() == "y":
                result = self.on_panic()
                self.note = f"flatten sent: {result}"
            else:
                self.note = "panic button disarmed"
            return
        if ch.lower() == "f":
            self.armed = True
        elif ch.lower() == "q":
            self.on_quit()

    def _keyboard(self) -> None:
        if not sys.stdin.isatty():
            return
        import termios
        import tty

        fd = sys.stdin.fileno()
        saved = termios.tcgetattr(fd)
        tty.setcbreak(fd)

        def restore() -> None:
            termios.tcsetattr(fd, termios.TCSADRAIN, saved)

        self._restore = restore
        loop = asyncio.get_running_loop()

        def readable() -> None:
            with contextlib.suppress(OSError):
                import os

                data = os.read(fd, 32).decode(errors="ignore")
                for ch in data:
                    self.key(ch)

        loop.add_reader(fd, readable)

    async def run(self) -> None:
        from rich.live import Live

        self._keyboard()
        try:
            with Live(render(self.status()), console=self.console, auto_refresh=False,
                      screen=False, redirect_stderr=False) as live:
                self._live = live
                while True:
                    live.update(render(self.status(), armed=self.armed, note=self.note),
                                refresh=True)
                    await asyncio.sleep(self.refresh_s)
        finally:
            self.close()

    def close(self) -> None:
        if self._restore is not None:
            with contextlib.suppress(Exception):
                asyncio.get_running_loop().remove_reader(sys.stdin.fileno())
            self._restore()
            self._restore = None


def _now() -> float:
    return time.time()
