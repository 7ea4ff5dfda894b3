"""How ``titan run`` turns flags, config and environment into a session edge - and the one-line
refusals when they do not add up."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from titan.app import PlanError, build_phases, plan_edge, resolve_symbol, sim_leverage
from titan.cli.run import parse_duration
from titan.config import config_from_dict
from titan.feeds.replay_server import bundled_sample
from titan.feeds.venues import Channel
from titan.live import feed_plan
from titan.paper import TapeMomentum, recording_instruments, unified_symbol

KEYS = {"TITAN_BYBIT_API_KEY": "k" * 16, "TITAN_BYBIT_API_SECRET": "s" * 16}


def cfg(**data):
    return config_from_dict(data, source="t")


def test_no_arguments_is_paper_on_the_bundled_recording():
    edge = plan_edge(cfg(), env={})
    assert (edge.mode, edge.market, edge.venues) == ("paper", "replay", ())
    assert edge.recording == (str(bundled_sample()),)


def test_live_refuses_to_start_without_keys_and_names_them():
    c = cfg(venues={"bybit": {"enabled": True, "symbols": ["BTC/USDT:USDT"]},
                    "binance": {"enabled": True}})
    with pytest.raises(PlanError) as e:
        plan_edge(c, live=True, env={"TITAN_BYBIT_API_KEY": "k" * 16})
    msg = str(e.value)
    assert "TITAN_BYBIT_API_SECRET" in msg and "TITAN_BINANCE_API_KEY" in msg
    assert "TITAN_BINANCE_API_SECRET" in msg and "TITAN_BYBIT_API_KEY," not in msg
    assert "\n" not in msg
    env = {**KEYS, "TITAN_BINANCE_API_KEY": "a" * 16, "TITAN_BINANCE_API_SECRET": "b" * 16}
    edge = plan_edge(c, live=True, env=env)
    assert (edge.mode, edge.market, edge.venues) == ("live", "venue", ("bybit", "binance"))


@pytest.mark.parametrize("kwargs,data,needle", [
    ({"live": True, "paper": True}, {}, "--live and --paper"),
    ({"live": True}, {}, "no venue enabled"),
    ({"paper": True, "venue": "mexc"}, {}, "--venue: expected one of"),
    ({"paper": True, "venue": "bybit"}, {}, "symbols is empty"),
    ({"replay": ["/nonexistent.log.gz"]}, {}, "--replay: /nonexistent.log.gz: file not found"),
    ({"speed": -1.0}, {}, "--speed"),
    ({"live": True}, {"venues": {"mexc": {"enabled": True}}}, "TITAN_MEXC_API_KEY"),
    ({}, {"paper": {"data": "/missing.log.gz"}}, "[paper] data: /missing.log.gz"),
])
def test_bad_combinations_are_one_line_errors(kwargs, data, needle):
    with pytest.raises(PlanError) as e:
        plan_edge(cfg(**data), env={}, **kwargs)
    assert needle in str(e.value) and "\n" not in str(e.value)


def test_paper_on_live_venue_data_and_live_on_a_recording():
    c = cfg(venues={"bybit": {"enabled": True, "symbols": ["BTC/USDT:USDT"]}})
    edge = plan_edge(c, paper=True, venue="bybit", env={})
    assert (edge.mode, edge.market, edge.venues) == ("paper", "venue", ("bybit",))
    rehearsal = plan_edge(c, live=True, replay=[str(bundled_sample())], env=KEYS)
    assert (rehearsal.mode, rehearsal.market) == ("live", "replay")


@given(st.floats(0, 1e6, allow_nan=False), st.sampled_from(["", "s", "m", "h", "d"]))
def test_duration_units(x, unit):
    text = f"{x:.3f}{unit}"
    factor = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}[unit]
    assert parse_duration(text) == pytest.approx(float(f"{x:.3f}") * factor)


@pytest.mark.parametrize("bad", ["", "5x", "-1", "1.2.3", "m"])
def test_bad_durations(bad):
    with pytest.raises(ValueError, match="--duration"):
        parse_duration(bad)


def test_symbols_get_the_default_venue():
    assert resolve_symbol("BTC/USDT:USDT", "bybit", "x") == "BTC/USDT:USDT@bybit"
    assert resolve_symbol("ETH/USDT@binance", "bybit", "x") == "ETH/USDT@binance"
    with pytest.raises(PlanError, match="SYMBOL@venue"):
        resolve_symbol("BTC/USDT", "", "[phases.hunter] symbols")
    assert unified_symbol("BTCUSDT", True) == "BTC/USDT:USDT"
    assert unified_symbol("ETHBTC", False) == "ETH/BTC"


def test_recording_instrument_is_read_from_its_prices():
    venue, insts = recording_instruments(bundled_sample(), fee_bps=5.5)
    assert venue == "binanceusdm" and [i.id for i in insts] == ["BTC/USDT:USDT@binanceusdm"]
    assert str(insts[0].tick_size) == "0.1" and not insts[0].is_spot
    assert float(insts[0].taker_fee) == pytest.approx(5.5e-4)


def test_phases_demo_only_when_nothing_is_configured():
    iid = "BTC/USDT:USDT@binanceusdm"
    edge = plan_edge(cfg(), env={})
    phases, owners = build_phases(cfg(), edge, "binanceusdm", [iid])
    assert [type(p) for p in phases] == [TapeMomentum] and owners == {"tape_momentum": "hunter"}
    c = cfg(strategies=[{"path": "strategies/ema_cross.py:EmaCross", "phase": "hunter",
                         "params": {"fast": 5, "slow": 20}}])
    phases, owners = build_phases(c, edge, "binanceusdm", [iid])
    assert [p.owner for p in phases] == ["ema_cross"] and owners == {"ema_cross": "hunter"}
    assert phases[0].instruments == (iid,)
    assert sim_leverage(c) == 20.0  # scavenger's 20x is the largest enabled
    live = plan_edge(cfg(venues={"bybit": {"enabled": True}}), live=True, env=KEYS)
    assert build_phases(cfg(), live, "bybit", ["BTC/USDT:USDT@bybit"]) == ([], {})  # never live


def test_feed_plan_subscribes_what_phases_declare_plus_trades():
    from decimal import Decimal

    from titan.core.instruments import Instrument, InstrumentKind

    iid = "BTC/USDT:USDT@binanceusdm"
    inst = Instrument(symbol="BTC/USDT:USDT", venue="binanceusdm", base="BTC", quote="USDT",
                      settle="USDT", kind=InstrumentKind.PERPETUAL, tick_size=Decimal("0.1"),
                      lot_size=Decimal("0.001"))
    demo = TapeMomentum(instruments=[iid])
    c = cfg(strategies=[{"path": "strategies/ema_cross.py:EmaCross", "phase": "hunter"}])
    ema, _ = build_phases(c, plan_edge(c, env={}), "binanceusdm", [iid])
    plan = feed_plan([demo, *ema], [inst])
    assert plan == {iid: ({Channel.TRADES}, {"1m"})}
