"""``titan status | halt | flatten | resume``: talk to a running daemon's operator API.

The address comes from ``[operator]`` in the config (``--url`` overrides); control commands
send the bearer token from the environment variable ``operator.token_env`` names
(``TITAN_OPERATOR_TOKEN`` by default) - the same variable the daemon reads.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import typer

from titan.cli import app, fail

URL_HELP = "Operator API base URL (default: from [operator] in the config)."
CONFIG_HELP = "Config file (default: ./config.toml, else built-in defaults)."


def _target(url: str | None, config: Path | None) -> tuple[str, str]:
    """(base URL, token environment variable name)."""
    from titan.cli.check import default_config_path
    from titan.config import load_config
    from titan.core.errors import ConfigError

    try:
        cfg = load_config(config if config is not None else default_config_path())
    except ConfigError as e:
        raise fail(str(e)) from None
    op = cfg.operator
    host = "127.0.0.1" if op.host in ("0.0.0.0", "::", "") else op.host
    return (url or f"http://{host}:{op.port}").rstrip("/"), op.token_env


def request(method: str, url: str, *, token: str | None = None, body: dict | None = None,
            timeout_s: float = 10.0) -> tuple[int, Any]:
    """One HTTP request to the daemon; (status, decoded JSON or text). Raises OSError if down."""
    import urllib.error
    import urllib.request

    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=timeout_s) as resp:  # noqa: S310 - operator URL
            status, raw = resp.status, resp.read()
    except urllib.error.HTTPError as e:
        status, raw = e.code, e.read()
    try:
        return status, json.loads(raw)
    except ValueError:
        return status, raw.decode(errors="replace")


def _call(method: str, url: str, **kw: Any) -> Any:
    try:
        status, out = request(method, url, **kw)
    except OSError as e:
        reason = getattr(e, "reason", e)
        raise fail(f"{url}: daemon not reachable ({reason})") from None
    if status >= 400:
        msg = out.get("error") if isinstance(out, dict) else out
        raise fail(f"{url}: HTTP {status}: {msg}")
    return out


@app.command()
def status(
    url: str = typer.Option(None, "--url", help=URL_HELP),
    config: Path = typer.Option(None, "--config", "-c", help=CONFIG_HELP),  # noqa: B008
    as_json: bool = typer.Option(False, "--json", help="Print the raw JSON."),
) -> None:
    """Show the running daemon's state (equity, breaker, positions, orders, feeds)."""
    base, _ = _target(url, config)
    st = _call("GET", f"{base}/status")
    if as_json:
        typer.echo(json.dumps(st, indent=2))
        return
    for line in summary(st):
        typer.echo(line)


def summary(st: dict[str, Any]) -> list[str]:
    if "equity" not in st:
        return [f"titan {st.get('version', '')} pid {st.get('pid', '')}: starting ({st.get('edge', '')})"]
    c = st.get("counters", {})
    lines = [
        f"titan {st['version']} pid {st['pid']}: {st['edge']}, up {st['uptime_s']:.0f} s",
        f"equity     {st['equity']:,.2f} {st.get('currency', '')}  drawdown {st['drawdown']:.2%}",
        f"breaker    {st['breaker']}" + (f" ({st['breaker_reason']})" if st.get("breaker_reason") else ""),
        f"truth      {st.get('truth_score')}",
        f"activity   {c.get('market', 0)} market events, {c.get('submitted', 0)} orders, "
        f"{c.get('denied', 0)} denied, {st.get('fills', 0)} fills",
    ]
    for p in st.get("positions", []):
        lines.append(f"position   {p['instrument_id']} {p['phase']}: {p['quantity']} @ {p['avg_price']}")
    for o in st.get("open_orders", []):
        lines.append(f"order      {o['client_order_id']} {o['side']} {o['quantity']} "
                     f"{o['instrument_id']} {o['status']}")
    for venue, f in st.get("feeds", {}).items():
        lines.append(f"feed       {venue}: {f['status']}, {f['events']} events, age {f['age_s']} s")
    return lines


def _control(action: str, url: str | None, config: Path | None, reason: str) -> None:
    base, token_env = _target(url, config)
    token = os.environ.get(token_env, "")
    if not token:
        raise fail(f"{token_env} is not set: the operator token is required for {action}")
    out = _call("POST", f"{base}/{action}", token=token, body={"reason": reason})
    typer.echo(f"{action}: breaker {out.get('breaker')}" + (f" ({out['reason']})" if out.get("reason") else ""))


@app.command()
def halt(
    reason: str = typer.Option("operator CLI", "--reason", help="Why (logged and journaled)."),
    url: str = typer.Option(None, "--url", help=URL_HELP),
    config: Path = typer.Option(None, "--config", "-c", help=CONFIG_HELP),  # noqa: B008
) -> None:
    """Stop new entries (reducing orders still go) until resume."""
    _control("halt", url, config, reason)


@app.command()
def flatten(
    reason: str = typer.Option("operator CLI", "--reason", help="Why (logged and journaled)."),
    url: str = typer.Option(None, "--url", help=URL_HELP),
    config: Path = typer.Option(None, "--config", "-c", help=CONFIG_HELP),  # noqa: B008
) -> None:
    """The panic button: halt, cancel every order, close every position."""
    _control("flatten", url, config, reason)


@app.command()
def resume(
    reason: str = typer.Option("operator CLI", "--reason", help="Why (logged and journaled)."),
    url: str = typer.Option(None, "--url", help=URL_HELP),
    config: Path = typer.Option(None, "--config", "-c", help=CONFIG_HELP),  # noqa: B008
) -> None:
    """Back to NORMAL after a halt or an emergency flatten."""
    _control("resume", url, config, reason)
