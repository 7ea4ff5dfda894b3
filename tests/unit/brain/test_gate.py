"""Every RiskGate check, through Brain.decide on a real ShadowState."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from titan.config import policy_hash
from titan.core import events as ev
from titan.core.events import BreakerState

from .world import BTC, ETH, SEC, SOL, World, config, intent, perp


def denied(out) -> ev.OrderDenied:
    found = [m for m in out if isinstance(m, ev.OrderDenied)]
    assert len(found) == 1, out
    return found[0]


def submitted(out) -> ev.SubmitOrder:
    found = [m for m in out if isinstance(m, ev.SubmitOrder)]
    assert len(found) == 1, out
    return found[0]


def failed_check(d: ev.OrderDenied) -> str:
    assert not d.checks[-1].passed
    return d.checks[-1].name


def test_approved_order_is_rounded_stamped_and_explained():
    w = World()
    out = w.decide(intent("hunter", ETH, "buy", "0.12345", order_type=ev.OrderType.LIMIT,
                          price=D("1999.999")))
    approval, order = out[0], out[1]
    assert isinstance(approval, ev.OrderApproved) and approval.client_order_id == order.client_order_id
    assert order.quantity == D("0.123") and order.price == D("1999.99")  # lot floor, buy rounds down
    assert order.policy_hash == policy_hash(w.cfg) and order.reduce_only is False
    assert order.client_order_id.startswith("TTN-hun-")
    names = [c.name for c in approval.checks]
    assert all(c.passed for c in approval.checks)
    for must in ("owner", "order_rate", "price_band", "breaker", "feed", "truth", "position_cap",
                 "leverage", "instrument_limits"):
        assert must in names
    assert w.brain.last_decisions[-1] == approval


@pytest.mark.parametrize("it, check, words", [
    (intent("ghost", ETH, "buy", "1"), "owner", "unknown owner 'ghost'"),
    (intent("ai_quant", ETH, "buy", "1"), "advisory", "advisory only"),
    (intent("hunter", "DOGE/USDT:USDT@bybit", "buy", "1"), "instrument", "unknown instrument"),
    (intent("hunter", ETH, "buy", "0"), "quantity", "positive"),
    (intent("hunter", ETH, "buy", "NaN"), "quantity", "positive"),
    (intent("hunter", ETH, "buy", "0.0004"), "instrument_limits", "rounds to zero"),
    (intent("hunter", ETH, "buy", "1", order_type=ev.OrderType.LIMIT, price=D("2200")),
     "price_band", "1000 bps from the mark"),
    (intent("hunter", ETH, "sell", "1", reduce_only=True), "reduce_only", "nothing to reduce"),
])
def test_denials_name_their_check_and_carry_an_id(it, check, words):
    w = World()
    d = denied(w.decide(it))
    assert failed_check(d) == check and words in d.reason
    assert d.client_order_id.startswith("TTN-") and d.intent == it
    assert "\n" not in d.reason
    assert not w.submits()


def test_stop_limit_band_is_measured_from_its_trigger():
    w = World()
    ok = intent("hunter", ETH, "buy", "0.1", order_type=ev.OrderType.STOP_LIMIT,
                trigger_price=D("2300"), price=D("2305"))
    assert submitted(w.decide(ok)).trigger_price == D("2300")
    bad = intent("hunter", ETH, "buy", "0.1", order_type=ev.OrderType.STOP_LIMIT,
                 trigger_price=D("2300"), price=D("2600"))
    assert failed_check(denied(w.decide(bad))) == "price_band"


def test_order_rate_per_owner_over_a_sliding_minute():
    w = World(config(brain={"max_orders_per_minute": 2}))
    for _ in range(2):
        submitted(w.decide(intent("hunter", ETH, "buy", "0.01")))
    d = denied(w.decide(intent("hunter", ETH, "buy", "0.01")))
    assert failed_check(d) == "order_rate"
    w.now += 61 * SEC
    w.mark(ETH, 2_000.0)
    submitted(w.decide(intent("hunter", ETH, "buy", "0.01")))


def test_position_cap_clips_then_denies_and_counts_working_orders():
    w = World()  # hunter: budget 10,000 x 25 % x 5x = 12,500 notional; ETH at 2,000 -> 6.25
    o = submitted(w.decide(intent("hunter", ETH, "buy", "10")))
    assert o.quantity == D("6.25")
    approval = w.first(ev.OrderApproved, w.log)
    assert any(c.name == "position_cap" and "clipped" in c.detail for c in approval.checks)
    # the order is still working (not filled): it already uses the room
    d = denied(w.decide(intent("hunter", ETH, "buy", "0.5")))
    assert failed_check(d) == "position_cap" and "no room" in d.reason
    w.fill(o)
    assert w.position(ETH, "hunter") == D("6.25")
    assert failed_check(denied(w.decide(intent("hunter", ETH, "buy", "0.5")))) == "position_cap"
    # selling is reducing: allowed, and may go short down to the cap on the other side
    assert submitted(w.decide(intent("hunter", ETH, "sell", "20"))).quantity == D("12.5")


def test_total_leverage_cap_binds_across_owners():
    w = World(config(brain={"max_total_leverage": 3}))  # 30,000 notional in total
    # a position Titan did not originate (the state books it as "external") counts in the total
    w.event(ev.OrderFilled(client_order_id="venue-123", venue_order_id="v", trade_id="t",
                           instrument_id=BTC.id, side=ev.Side.BUY, last_qty=D("0.4"),
                           last_price=D(50_000), fee=D(0), fee_currency="USDT",
                           liquidity=ev.Liquidity.TAKER, ts_event=w.now, ts_init=w.now))
    assert w.brain.book.gross_total == pytest.approx(20_000)
    a = submitted(w.decide(intent("hunter", ETH, "buy", "10")))
    assert a.quantity == D("3.75")  # hunter at 3x (capped by the brain): 25 % x 10,000 x 3
    w.fill(a)
    b = submitted(w.decide(intent("hunter", BTC, "buy", "1")))
    assert b.quantity == D("0.05")  # 30,000 - 20,000 - 7,500 = 2,500 left
    approval = [m for m in w.log if isinstance(m, ev.OrderApproved)][-1]
    assert any("total leverage" in c.detail for c in approval.checks)
    d = denied(w.decide(intent("hunter", SOL, "buy", "1")))
    assert failed_check(d) == "leverage" and "total leverage" in d.reason


def test_phase_leverage_cap():
    w = World(config(phases={"hunter": {"leverage": 3, "leverage_min": 1, "max_position_pct": 1}}))
    a = submitted(w.decide(intent("hunter", ETH, "buy", "100")))  # 30,000 notional max
    assert a.quantity == D("15")
    d = denied(w.decide(intent("hunter", SOL, "buy", "1")))
    assert failed_check(d) == "leverage" and "phase leverage" in d.reason


def test_strategy_owner_trades_in_its_phase_budget_with_tighter_limits():
    cfg = config(strategies=[{"path": "strategies/ema_cross.py:EmaCross", "phase": "hunter",
                              "max_position_pct": 0.1}])
    w = World(cfg)
    o = submitted(w.decide(intent("emacross", ETH, "buy", "10")))
    assert o.quantity == D("2.5") and o.phase == "emacross"  # 10 % x 10,000 x 5x / 2,000
    assert o.client_order_id.startswith("TTN-ema-")
    w.fill(o)
    # the phase's own room is reduced by the strategy's exposure (phase leverage 5x = 50,000)
    assert w.brain.book.gross_phase["hunter"] == pytest.approx(5_000)
    w2 = World(cfg, owners={"fast": "scavenger"})
    assert failed_check(denied(w2.decide(intent("emacross", ETH, "buy", "1")))) == "owner"


def test_reduce_only_is_clipped_to_what_can_be_reduced():
    w = World()
    w.fill(submitted(w.decide(intent("hunter", ETH, "buy", "2"))))
    o = submitted(w.decide(intent("hunter", ETH, "sell", "5", reduce_only=True)))
    assert o.quantity == D("2") and o.reduce_only
    # that order is working: nothing more to reduce
    assert failed_check(denied(w.decide(intent("hunter", ETH, "sell", "1", reduce_only=True)))) == "reduce_only"


@pytest.mark.parametrize("block", ["halt", "disable", "regime", "feed", "venue_feed", "stale",
                                   "truth"])
def test_new_risk_gates_deny_entries_but_let_reductions_out_reduce_only(block):
    w = World()
    w.fill(submitted(w.decide(intent("hunter", ETH, "buy", "2"))))
    now = w.now
    if block == "halt":
        w.apply(w.brain.halt("test", now))
        name = "breaker"
    elif block == "disable":
        w.apply(w.brain.enable_phase("hunter", False, now))
        name = "enabled"
    elif block == "regime":
        w.event(ev.RegimeChanged(regime="volatile", ts_event=now, ts_init=now))
        name = "regime"
    elif block == "feed":
        w.event(ev.FeedStatusChanged(venue="bybit", instrument_id=ETH.id, status=ev.FeedStatus.GAP,
                                     ts_event=now, ts_init=now))
        name = "feed"
    elif block == "venue_feed":
        w.event(ev.FeedStatusChanged(venue="bybit", instrument_id="", status=ev.FeedStatus.DISCONNECTED,
                                     ts_event=now, ts_init=now))
        name = "feed"
    elif block == "stale":
        w.now += int(w.cfg.brain.feed_stale_after_s * SEC) + SEC
        name = "feed"
    else:
        w.event(ev.TruthScoreChanged(score=40.0, ts_event=now, ts_init=now))
        name = "truth"
    d = denied(w.decide(intent("hunter", ETH, "buy", "0.5")))
    assert failed_check(d) == name
    o = submitted(w.decide(intent("hunter", ETH, "sell", "3")))  # holds 2: only 2 may go
    assert o.quantity == D("2") and o.reduce_only
    approval = [m for m in w.log if isinstance(m, ev.OrderApproved)][-1]
    assert any(c.name == name and not c.passed and "reduce-only" in c.detail for c in approval.checks)


def test_feed_recovery_reopens_entries():
    w = World()
    now = w.now
    w.event(ev.FeedStatusChanged(venue="bybit", instrument_id=ETH.id, status=ev.FeedStatus.STALE,
                                 ts_event=now, ts_init=now))
    assert failed_check(denied(w.decide(intent("hunter", ETH, "buy", "0.1")))) == "feed"
    submitted(w.decide(intent("hunter", SOL, "buy", "0.1")))  # other instruments unaffected
    w.event(ev.FeedStatusChanged(venue="bybit", instrument_id=ETH.id, status=ev.FeedStatus.RESYNCED,
                                 ts_event=now, ts_init=now))
    submitted(w.decide(intent("hunter", ETH, "buy", "0.1")))


def test_unknown_regime_raises_an_alert_and_changes_nothing():
    w = World()
    out = w.event(ev.RegimeChanged(regime="moonshot", ts_event=w.now, ts_init=w.now))
    assert "moonshot" in w.first(ev.AlertRaised, out).title
    submitted(w.decide(intent("hunter", ETH, "buy", "0.1")))


def test_regime_scales_leverage():
    w = World()
    out = w.event(ev.RegimeChanged(regime="ranging", ts_event=w.now, ts_init=w.now))
    assert [m for m in out if isinstance(m, ev.AllocationChanged)][-1].reason == "regime ranging"
    # 0.8 x 12,500 notional on ETH at 2,000
    assert submitted(w.decide(intent("hunter", ETH, "buy", "10"))).quantity == D("5")


def test_defensive_scales_new_risk_and_tightens_caps():
    w = World()
    w.brain.elevated["test"] = "test condition"
    w.apply(w.brain.on_timer(w.now))
    assert w.brain.breaker is BreakerState.DEFENSIVE
    o = submitted(w.decide(intent("hunter", ETH, "buy", "1")))
    assert o.quantity == D("0.5")
    # cap at DEFENSIVE: 12,500 x 0.5 -> 3.125 ETH
    assert submitted(w.decide(intent("hunter", ETH, "buy", "100"))).quantity == D("2.625")


def test_execution_quality_reduces_then_halts_a_venue():
    w = World(config(brain={"exec_quality_min_samples": 2, "max_slippage_bps": 10}))
    for price in (2_003.0, 2_003.0):  # 15 bps worse than the mark at decision
        w.fill(submitted(w.decide(intent("hunter", ETH, "buy", "0.1"))), price=price)
    o = submitted(w.decide(intent("hunter", ETH, "buy", "1")))
    assert o.quantity == D("0.5")  # REDUCE: new risk x 0.5
    w.fill(o, price=2_020.0)  # mean slippage now > 2 x limit -> venue halted for entries
    d = denied(w.decide(intent("hunter", SOL, "buy", "1")))
    assert failed_check(d) == "venue_quality" and "bybit" in d.reason


def test_instrument_minimum_notional():
    w = World(instruments=(perp("XRP", min_notional="5"),), prices={"XRP/USDT:USDT@bybit": 0.5})
    d = denied(w.decide(intent("hunter", "XRP/USDT:USDT@bybit", "buy", "9")))
    assert failed_check(d) == "instrument_limits" and "notional" in d.reason
    submitted(w.decide(intent("hunter", "XRP/USDT:USDT@bybit", "buy", "10")))


def test_intents_of_one_tick_see_each_other():
    w = World()
    out = w.decide(intent("hunter", ETH, "buy", "5"), intent("hunter", ETH, "buy", "5"))
    qs = [m.quantity for m in w.submits(out)]
    assert qs == [D("5"), D("1.25")]  # the second is clipped by the first
