"""``titan run --paper --venue X``: the venue's own instruments (ccxt's public market list, here
from the local exchange emulator), simulated fills at the configured paper fee."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest

from tests.kit.emulator.runner import EmulatorThread
from titan.app import PlanError, Session, plan_edge
from titan.config import config_from_dict


@pytest.fixture(scope="module")
def emu():
    thread = EmulatorThread(venues=("binance",), enforce_limits=False).start()
    yield thread
    thread.stop()


def _session(emu, symbols, tmp_path):
    rest = emu.base_url("binanceusdm")
    cfg = config_from_dict({
        "venues": {"binanceusdm": {"symbols": symbols, "rest_url": rest,
                                   "ws_url": rest.replace("http://", "ws://")}},
        "paper": {"fee_bps": 2.0},
    })
    edge = plan_edge(cfg, paper=True, venue="binanceusdm", env={})
    return Session(cfg, edge, env={}, data_dir=tmp_path)


def test_paper_on_a_venue_trades_its_listed_instruments(emu, tmp_path):
    s = _session(emu, ["BTC/USDT:USDT"], tmp_path)
    s.load_instruments()
    asyncio.run(s.load_venue_instruments())
    assert [i.id for i in s.instruments] == ["BTC/USDT:USDT@binanceusdm"]
    inst = s.instruments[0]
    assert inst.taker_fee == inst.maker_fee == Decimal("0.0002")
    assert inst.tick_size > 0 and inst.lot_size > 0 and not inst.is_spot
    s.make_state()
    s.make_clients()
    assert s.sims["binanceusdm"].balance("USDT") == Decimal("10000.0")


def test_a_symbol_the_venue_does_not_list_is_a_one_line_error(emu, tmp_path):
    s = _session(emu, ["DOGE/USDT:USDT"], tmp_path)
    s.load_instruments()
    with pytest.raises(PlanError, match=r"DOGE/USDT:USDT@binanceusdm not listed by binanceusdm"):
        asyncio.run(s.load_venue_instruments())
