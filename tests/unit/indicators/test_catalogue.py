"""The catalogue matches the kernels, ``titan.indicators`` exports them, ``titan indicators``
lists them."""

from __future__ import annotations

import inspect
import json

import pytest
from typer.testing import CliRunner

import native
import titan.indicators as ti
from titan.cli import app
from titan.indicators import BY_NAME, INDICATORS


@pytest.mark.parametrize("ind", INDICATORS, ids=lambda i: i.name)
def test_catalogue_matches_signatures(ind):
    ref = native.implementations(ind.kernel)["reference"]
    batch = inspect.signature(getattr(ref, ind.batch)).parameters
    assert list(batch) == [*ind.inputs, *(p for p, _ in ind.params)]
    for name, default in ind.params:
        expect = inspect.Parameter.empty if default is None else default
        assert batch[name].default == expect, name
    stream = inspect.signature(getattr(ref, ind.stream)).parameters
    assert list(stream) == [p for p, _ in ind.params]
    assert list(inspect.signature(getattr(ref, ind.stream).update).parameters)[1:] == list(
        ind.update_inputs)
    for mod in native.implementations(ind.kernel).values():
        kwargs = {p: (d if d is not None else {"period": 5, "window": 10}.get(p, 1.0))
                  for p, d in ind.params}
        obj = getattr(mod, ind.stream)(**kwargs)  # every parameter is accepted by keyword
        for attr in (*ind.stream_outputs, "ready", "count", "reset", "update"):
            assert hasattr(obj, attr), f"{mod.__name__}.{ind.stream}.{attr}"
        if mod.__name__.startswith("native._"):
            sig = inspect.signature(getattr(mod, ind.batch)).parameters
            assert list(sig) == list(batch)


def test_public_api_is_the_loaded_kernel():
    for ind in INDICATORS:
        mod = native.loaded(ind.kernel)
        assert getattr(ti, ind.stream) is getattr(mod, ind.stream)
        assert getattr(ti, ind.batch) is getattr(mod, ind.batch)
        assert ind.stream in ti.__all__ and ind.batch in ti.__all__
    kernels = {i.kernel for i in INDICATORS}
    if native.FORCED_PURE:
        assert not ti.compiled()
    elif not kernels & set(native.MISSING):
        assert ti.compiled()
    assert len(BY_NAME) == len(INDICATORS)


def test_cli_lists_every_indicator():
    runner = CliRunner()
    out = runner.invoke(app, ["indicators", "--json"])
    assert out.exit_code == 0, out.output
    listed = json.loads(out.stdout)
    assert [d["name"] for d in listed] == [i.name for i in INDICATORS]
    assert listed[3]["params"] == [["period", 14]] and listed[3]["outputs"] == ["rsi"]
    table = runner.invoke(app, ["indicators"], env={"COLUMNS": "200"})
    assert table.exit_code == 0
    for ind in INDICATORS:
        assert ind.name in table.stdout and ind.stream in table.stdout
    one = runner.invoke(app, ["indicators", "hill"])
    assert one.exit_code == 0
    assert "HillTailIndex(window, tail_fraction=0.1).update(ret)" in one.stdout
    assert "Hill" in one.stdout and "alpha" in one.stdout


def test_cli_unknown_indicator_exits_2():
    out = CliRunner().invoke(app, ["indicators", "nope"])
    assert out.exit_code == 2
    assert "unknown indicator 'nope'" in out.output
