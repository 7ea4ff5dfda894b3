"""The ``titan`` command line (typer).

The root app lives here; each command group is a small module in this package that registers
itself on :data:`app` when imported. Heavy imports (ccxt, aiohttp, numpy) happen inside the
commands, so ``titan --help`` stays fast.
"""

from __future__ import annotations

import importlib
import sys

import typer

from titan import __version__

app = typer.Typer(
    name="titan",
    help="Titan: one-process crypto trading daemon (paper, live, backtest).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)

# Command modules, in help order. A module that does not exist (yet) is skipped.
COMMAND_MODULES = (
    "check",
    "run",
    "backtest",
    "sweep",
    "strategy",
    "data",
    "indicators",
    "journal",
    "operator",
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"titan {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", "-V", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """Titan: one-process crypto trading daemon (paper, live, backtest)."""


def _load_commands() -> None:
    for name in COMMAND_MODULES:
        module = f"titan.cli.{name}"
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as e:
            if e.name != module:
                raise


def fail(message: str, code: int = 2) -> typer.Exit:
    """Print a one-line error to stderr and return the Exit to raise."""
    typer.echo(f"titan: {message}", err=True)
    return typer.Exit(code)


_load_commands()


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)
