from __future__ import annotations

import textwrap

import pytest

from titan.phases.registry import StrategyError, instantiate, load_class
from titan.phases.setups import IllegalSetupTransition, SetupBook, SetupState


def test_setup_machine_table_timeouts_and_history():
    book = SetupBook({SetupState.WATCH: 100, SetupState.CLOSE_WATCH: 50})
    m = book["BTC"]
    m.to(SetupState.WATCH, 0, "level near")
    m.to(SetupState.CLOSE_WATCH, 10, "within 0.1%")
    assert not m.expire(59)
    assert m.expire(60) and m.state is SetupState.IDLE
    assert [(t.old, t.new, t.reason) for t in m.history][-1] == (
        SetupState.CLOSE_WATCH, SetupState.IDLE, "timeout")
    with pytest.raises(IllegalSetupTransition):
        m.to(SetupState.IN_TRADE, 70)
    m.to(SetupState.WATCH, 70)
    m.to(SetupState.IN_TRADE, 80, "filled")
    assert not m.expire(10**12)  # a trade never times out by itself
    assert book.in_state(SetupState.IN_TRADE) == ["BTC"]


def write(tmp_path, body: str, name: str = "strat.py"):
    p = tmp_path / name
    p.write_text(textwrap.dedent(body))
    return p


GOOD = """
from titan.phases.base import Params, Phase

class Good(Phase):
    class Params(Params, frozen=True, kw_only=True, forbid_unknown_fields=True):
        n: int = 3
"""


def test_load_and_params(tmp_path):
    p = write(tmp_path, GOOD)
    phase = instantiate(f"{p}:Good", {"n": 5}, instruments=["X@sim"], timeframe="5m")
    assert phase.params.n == 5 and phase.owner == "good"
    assert phase.subscriptions()[0].timeframe == "5m"


@pytest.mark.parametrize(
    "body, spec_cls, params, needle",
    [
        (GOOD, "Good", {"n": "x"}, "params.n: expected `int`, got `str`"),
        (GOOD, "Good", {"m": 1}, "params.m: unknown parameter (known: n)"),
        (GOOD, "Nope", {}, "no class 'Nope' (found: Good)"),
        ("y = 1\nx = (\n", "X", {}, ":2: syntax error"),
        ("raise ValueError('boom')\n", "X", {}, ":1: error while loading: ValueError: boom"),
        ("class X: pass\n", "X", {}, "X is not a titan.phases.base.Phase subclass"),
    ],
)
def test_load_errors_are_one_line(tmp_path, body, spec_cls, params, needle):
    p = write(tmp_path, body)
    with pytest.raises(StrategyError) as info:
        instantiate(f"{p}:{spec_cls}", params)
    assert needle in str(info.value) and "\n" not in str(info.value)


def test_missing_file_and_bad_spec(tmp_path):
    with pytest.raises(StrategyError, match="file not found"):
        load_class(f"{tmp_path}/none.py:X")
    with pytest.raises(StrategyError, match=r"expected FILE.py\[:Class\]"):
        load_class("ema_cross")


def test_bare_file_means_its_one_phase_class(tmp_path):
    assert load_class("strategies/ema_cross.py").__name__ == "EmaCross"
    two = tmp_path / "two.py"
    two.write_text("from titan.phases.base import Phase\nclass A(Phase): pass\nclass B(Phase): pass\n")
    with pytest.raises(StrategyError, match="exactly one Phase class.*found A, B"):
        load_class(str(two))
    assert load_class(f"{two}:B").__name__ == "B"
