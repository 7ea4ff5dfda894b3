"""The policy a backtest runs under: sized families get the run's cash, advisory ones run too."""

from __future__ import annotations

import pytest

from titan.backtest.policy import PolicyError, fit_policy
from titan.config import TitanConfig
from titan.core import events as ev
from titan.phases.ai_quant import AiQuant
from titan.phases.base import Phase

from .world import Scripted, bars, instrument, run


def test_ai_quant_runs_inside_a_backtest_and_its_regimes_gate_the_sized_phase():
    series = bars()
    iid = series.instrument_id
    aq = AiQuant(AiQuant.Params(regime_timeframe="15m", vol_short=8, vol_long=48, tail_window=40,
                                crash_lookback=8), instruments=[iid])
    buys = list(range(100, 4000, 50))
    trader = Scripted({i: ("buy", "0.001") for i in buys}, instruments=[iid])  # family hunter
    result, summary = run([aq, trader], instrument(), [series])
    log = [e.msg for e in result.log.entries()]
    regimes = [m for m in log if isinstance(m, ev.RegimeChanged)]
    assert regimes == aq.published and len(regimes) >= 3  # published through the kernel
    assert {m.regime for m in regimes} >= {"trending", "ranging", "volatile"}
    assert not [m for m in log if isinstance(m, ev.OrderApproved | ev.OrderDenied)
                and m.phase == aq.owner]  # advisory: never asks for an order

    def regime_at(ts: int) -> str:
        now = ""
        for m in regimes:
            if m.ts_event <= ts:
                now = m.regime
        return now

    # the default regime table: "volatile" allows only sentinel, so exactly those buys are denied
    closes = series.ts_event.tolist()
    blocked = [i for i in buys if regime_at(closes[i]) in ("volatile", "crash")]
    denied = [m for m in log if isinstance(m, ev.OrderDenied)]
    assert blocked and len(denied) == len(blocked)
    assert all(m.reason == f"regime {regime_at(m.ts_event)!r} does not allow hunter" for m in denied)
    assert len(result.fills) == len(buys) - len(blocked)
    assert summary.reconciliation.ok


def test_fit_policy_gives_advisory_phases_no_capital_and_refuses_unknown_families():
    aq = AiQuant(instruments=["BTC/USDT:USDT@sim"])
    fitted, owners = fit_policy(TitanConfig(), [aq], [instrument()])
    assert owners == {"ai_quant": "ai_quant"}
    assert fitted.phases.ai_quant.enabled
    assert not any(fitted.phase(p).enabled for p in ("scavenger", "hunter", "sentinel"))

    class Odd(Phase):
        family = "market_maker"

    with pytest.raises(PolicyError, match="odd: unknown family 'market_maker'"):
        fit_policy(TitanConfig(), [Odd()], [instrument()])
