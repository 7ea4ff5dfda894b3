"""A configured strategy has one owner name everywhere: ``Phase.owner``, the Brain's owner table
(with the strategy's own limits), the journal and ``/status`` - in ``titan run`` and in
``titan backtest`` of the same strategy under the same config. The name is the strategy's
``name``, else the default its class gives (``TapeMomentum.name`` is ``tape_momentum``)."""

from __future__ import annotations

import asyncio

import pytest

from tests.integration.live.conftest import Session, entries, make_config
from titan.app import PlanError, build_phases, plan_edge
from titan.backtest.spec import BacktestSpec, build
from titan.core import events as ev
from titan.feeds.replay_server import bundled_sample

STRATEGY = "titan.paper:TapeMomentum"


def _run(tmp_path, strategy: dict):
    cfg = make_config(tmp_path, strategies=[strategy])

    async def main():
        async with Session(cfg, tmp_path) as s:
            assert await s.finished() == 0
            r = s.runner
            return r.status(), [p.owner for p in r.session.phases], r.session.brain.owners

    status, owners, brain_owners = asyncio.run(main())
    journal = {m.phase for m in entries(tmp_path) if isinstance(m, ev.SubmitOrder)}
    return status, owners, brain_owners, journal


def _backtest(tmp_path, toml: str):
    path = tmp_path / "config.toml"
    path.write_text(toml)
    runner = build(BacktestSpec(strategy=STRATEGY, data=str(bundled_sample()), config=str(path)))
    result = runner.run()
    journal = {e.msg.phase for e in result.log.entries() if isinstance(e.msg, ev.SubmitOrder)}
    return [p.owner for p in runner.phases], runner.brain.owners, journal


@pytest.mark.parametrize("name, owner", [("", "tape_momentum"), ("momo", "momo")])
def test_one_owner_name_in_run_and_backtest(tmp_path, name, owner):
    strategy = {"path": STRATEGY, "phase": "hunter", "leverage": 3.0, "name": name}
    status, owners, brain_owners, journal = _run(tmp_path / "run", strategy)
    assert owners == [owner] and journal == {owner}
    assert status["owners"] == {owner: "hunter"} and list(status["phases"]) == [owner]
    assert brain_owners[owner].leverage == 3.0  # the strategy's own limit, found by that name
    toml = (f'[[strategies]]\npath = "{STRATEGY}"\nphase = "hunter"\nleverage = 3.0\n'
            + (f'name = "{name}"\n' if name else ""))
    bt_owners, bt_brain, bt_journal = _backtest(tmp_path, toml)
    assert bt_owners == [owner] and bt_journal == {owner}
    assert bt_brain[owner].leverage == 3.0


def test_two_strategies_with_one_owner_are_refused(tmp_path):
    cfg = make_config(tmp_path, strategies=[{"path": STRATEGY, "phase": "hunter"},
                                            {"path": STRATEGY, "phase": "hunter"}])
    with pytest.raises(PlanError, match=r"strategies\[1\]: owner 'tape_momentum' is already taken"):
        build_phases(cfg, plan_edge(cfg, env={}), "binanceusdm", ["BTC/USDT:USDT@binanceusdm"])
