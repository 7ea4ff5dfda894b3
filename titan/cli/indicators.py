"""``titan indicators``: list the indicators with their inputs, parameters and outputs."""

from __future__ import annotations

import typer

from titan.cli import app, fail


def _params(ind) -> str:
    return ", ".join(name if default is None else f"{name}={default}" for name, default in ind.params)


@app.command()
def indicators(
    name: str = typer.Argument(None, help="Show one indicator in full (its docstring)."),
    as_json: bool = typer.Option(False, "--json", help="Print the catalogue as JSON."),
) -> None:
    """List the indicators: streaming class, batch function, parameters, outputs, warm-up."""
    import msgspec

    import titan.indicators as ti

    chosen = ti.INDICATORS
    if name is not None:
        if name not in ti.BY_NAME:
            raise fail(f"unknown indicator {name!r}; known: {', '.join(ti.BY_NAME)}")
        chosen = (ti.BY_NAME[name],)
    if as_json:
        typer.echo(msgspec.json.encode(list(chosen)).decode())
        return
    kind = "compiled (Cython)" if ti.compiled() else "reference (pure Python)"
    if name is not None:
        ind = chosen[0]
        typer.echo(f"{ind.name}: {ind.title}  [{kind}]")
        typer.echo(f"  streaming: {ind.stream}({_params(ind)}).update({', '.join(ind.update_inputs)})")
        if ind.batch:
            args = ", ".join(ind.inputs) + (", " + _params(ind) if ind.params else "")
            typer.echo(f"  batch:     {ind.batch}({args}) -> {', '.join(ind.outputs)}")
        typer.echo(f"  outputs:   {', '.join(ind.outputs)} "
                   f"(streaming attributes: {', '.join(ind.stream_outputs)})")
        typer.echo(f"  warm-up:   {ind.warmup}")
        typer.echo(f"  source:    {ind.source}")
        doc = getattr(ti, ind.stream).__doc__ or ""
        typer.echo("\n" + doc.strip())
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"Titan indicators - {len(chosen)} ({kind})", title_justify="left")
    for col in ("name", "streaming class", "inputs", "parameters", "outputs", "warm-up"):
        table.add_column(col, overflow="fold")
    for ind in chosen:
        table.add_row(ind.name, ind.stream, ", ".join(ind.update_inputs), _params(ind),
                      ", ".join(ind.outputs), ind.warmup)
    Console().print(table)
