"""``titan check``: validate a config file and print its risk-policy hash."""

from __future__ import annotations

from pathlib import Path

import typer

from titan.cli import app, fail


def default_config_path() -> Path | None:
    """``./config.toml`` if present, else None (built-in defaults)."""
    p = Path("config.toml")
    return p if p.is_file() else None


@app.command()
def check(
    path: Path = typer.Argument(None, help="Config file (default: ./config.toml or built-in defaults)."),
    schema: bool = typer.Option(False, "--schema", help="Print the config JSON schema and exit."),
) -> None:
    """Validate a config file; print a summary and the SHA-256 of the canonical risk policy."""
    import orjson

    from titan.config import json_schema, load_config, policy_hash
    from titan.core.errors import ConfigError

    if schema:
        typer.echo(orjson.dumps(json_schema(), option=orjson.OPT_INDENT_2).decode())
        return
    source = path if path is not None else default_config_path()
    try:
        cfg = load_config(source)
    except ConfigError as e:
        raise fail(str(e)) from None
    venues = [n for n in ("bybit", "binance", "binanceusdm", "mexc") if getattr(cfg.venues, n).enabled]
    phases = [n for n in ("scavenger", "hunter", "sentinel", "ai_quant") if getattr(cfg.phases, n).enabled]
    typer.echo(f"config:      {source or '(built-in defaults)'}")
    typer.echo(f"mode:        {cfg.titan.mode}")
    typer.echo(f"venues:      {', '.join(venues) or 'none (paper on the bundled sample)'}")
    typer.echo(f"phases:      {', '.join(phases) or 'none'}")
    typer.echo(f"strategies:  {len(cfg.strategies)}")
    typer.echo(f"max lev:     {cfg.brain.max_total_leverage:g}x total")
    typer.echo(f"policy hash: {policy_hash(cfg)}")
