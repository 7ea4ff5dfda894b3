"""The Brain as the kernel drives it: netting, drawdown rules, emergency controls, breaker."""

from __future__ import annotations

import math
import random
from decimal import Decimal as D

import pytest

from titan.brain.brain import Brain
from titan.core import events as ev
from titan.core.events import BreakerState
from titan.core.ids import ClientOrderIds

from .world import BTC, ETH, SEC, SOL, World, config, intent

DAY = 86_400 * SEC
TWO_PHASES = 3_536  # equity where Scavenger and Hunter share the budget about evenly


def kinds(out) -> list[str]:
    return [type(m).__name__ for m in out]


def test_opposing_intents_of_two_phases_cross_inside_and_send_the_residual():
    w = World(equity=TWO_PHASES)
    out = w.decide(intent("hunter", ETH, "buy", "0.5"), intent("scavenger", ETH, "sell", "0.2"))
    assert kinds(out)[:3] == ["OrderApproved", "SubmitOrder", "OrderApproved"]
    cross = w.first(ev.InternalCross, out)
    assert (cross.buyer_phase, cross.seller_phase, cross.quantity) == ("hunter", "scavenger", D("0.2"))
    assert cross.price == w.state.mark(ETH.id)
    orders = w.submits(out)
    assert len(orders) == 1 and orders[0].quantity == D("0.3") and orders[0].phase == "hunter"
    sca = [m for m in out if isinstance(m, ev.OrderApproved) and m.phase == "scavenger"][0]
    assert sca.checks[-1].name == "netting" and "0.200 crossed internally, 0.000 to the venue" in sca.checks[-1].detail
    # the state applied the cross: sub-positions moved, the venue's net did not
    assert w.position(ETH, "scavenger") == D("-0.2") and w.position(ETH, "hunter") == D("0.2")
    assert w.position(ETH) == 0
    w.fill(orders[0])
    assert w.position(ETH, "hunter") == D("0.5") and w.position(ETH) == D("0.3")
    # the Brain's running sums agree with the state
    book = w.brain.book
    assert book.tracked[ETH.id].legs["scavenger"].qty == pytest.approx(-0.2)
    assert book.gross_total == pytest.approx(0.7 * 2_000)


def test_limit_orders_are_not_netted():
    w = World(equity=TWO_PHASES)
    out = w.decide(intent("hunter", ETH, "buy", "0.5", order_type=ev.OrderType.LIMIT, price=D("1990")),
                   intent("scavenger", ETH, "sell", "0.2"))
    assert len(w.submits(out)) == 2 and not [m for m in out if isinstance(m, ev.InternalCross)]


def open_book(w: World) -> None:
    """Hunter long ETH, Scavenger short ETH and long SOL, a resting limit order."""
    for it in (intent("hunter", ETH, "buy", "0.8"), intent("scavenger", SOL, "buy", "5")):
        w.fill(w.submits(w.decide(it))[0])
    w.fill(w.submits(w.decide(intent("scavenger", ETH, "sell", "0.3")))[0])
    w.decide(intent("hunter", SOL, "buy", "1", order_type=ev.OrderType.LIMIT, price=D("99")))


def test_portfolio_drawdown_flattens_everything_reduce_only():
    w = World(equity=TWO_PHASES)
    open_book(w)
    assert w.position(ETH) == D("0.5") and len(list(w.state.open_orders())) == 1
    out = w.mark(ETH, 500.0)  # ETH -75 %: equity -15 % and more
    assert w.brain.emergency and w.brain.breaker is BreakerState.HALTED
    flat = w.first(ev.EmergencyFlatten, out)
    assert flat.source == "drawdown" and "portfolio drawdown" in flat.reason
    assert w.first(ev.AlertRaised, out).severity == "critical"
    assert [m for m in out if isinstance(m, ev.AllocationChanged)][-1].budgets["hunter"] == 0
    cancels = [m for m in out if isinstance(m, ev.CancelOrder)]
    assert len(cancels) == 1 and cancels[0].instrument_id == SOL.id
    cross = w.first(ev.InternalCross, out)  # scavenger's short ETH closes against hunter's long
    assert (cross.buyer_phase, cross.seller_phase, cross.quantity) == ("scavenger", "hunter", D("0.3"))
    orders = w.submits(out)
    assert all(o.reduce_only and o.order_type is ev.OrderType.MARKET for o in orders)
    assert {(o.instrument_id, o.side, o.quantity) for o in orders} == {
        (ETH.id, ev.Side.SELL, D("0.5")), (SOL.id, ev.Side.SELL, D("5"))}
    assert all(o.policy_hash == w.brain.policy_hash for o in orders)
    w.settle()
    assert not list(w.state.positions()) and not list(w.state.open_orders())
    # nothing new until the operator resumes
    d = w.decide(intent("hunter", ETH, "buy", "0.1"))
    assert isinstance(d[0], ev.OrderDenied) and d[0].checks[-1].name == "breaker"
    out = w.apply(w.brain.resume("checked", w.now))
    assert w.brain.breaker is BreakerState.NORMAL and not w.brain.emergency
    running = {m.phase for m in out if isinstance(m, ev.PhaseStatusChanged)
               and m.new is ev.PhaseStatus.RUNNING}
    assert running == {"scavenger", "hunter", "sentinel", "ai_quant"}  # the kernel runs them again
    assert w.first(ev.AllocationChanged, out).budgets["hunter"] > 0
    assert isinstance(w.decide(intent("hunter", ETH, "buy", "0.1"))[1], ev.SubmitOrder)


def test_drawdown_just_below_the_rule_does_not_flatten():
    w = World(equity=10_000)
    w.fill(w.submits(w.decide(intent("hunter", ETH, "buy", "5")))[0])  # 10,000 notional
    w.mark(ETH, 1_702.0)  # -1,490 = 14.9 %
    assert not w.brain.emergency
    out = w.mark(ETH, 1_699.0)  # -1,505
    assert w.brain.emergency and w.submits(out)[0].quantity == D("5")


def test_operator_flatten_halt_and_resume():
    w = World(equity=TWO_PHASES)
    open_book(w)
    out = w.apply(w.brain.halt("going to lunch", w.now))
    assert w.first(ev.BreakerChanged, out).reason == "operator: going to lunch"
    assert not w.submits(out) and w.brain.breaker is BreakerState.HALTED
    out = w.apply(w.brain.flatten("panic", w.now))
    assert w.first(ev.EmergencyFlatten, out).source == "operator"
    assert all(o.reduce_only for o in w.submits(out))
    w.settle()
    assert not list(w.state.positions())
    w.apply(w.brain.resume("ok", w.now))
    assert w.brain.breaker is BreakerState.NORMAL


def test_emergency_closes_what_is_left_on_the_timer():
    w = World(equity=TWO_PHASES)
    open_book(w)
    out = w.apply(w.brain.flatten("panic", w.now))
    for o in w.submits(out):  # the venue rejects every close
        w.event(ev.OrderRejected(client_order_id=o.client_order_id, reason="busy",
                                 kind=ev.ErrorKind.TEMPORARY, ts_event=w.now, ts_init=w.now))
    w.settle()  # confirms the cancel
    assert list(w.state.positions())
    out = w.timer(dt=SEC)
    assert w.submits(out) and all(o.reduce_only for o in w.submits(out))
    w.settle()
    assert not list(w.state.positions())
    assert not w.submits(w.timer(dt=SEC))


def test_repeated_venue_errors_trigger_the_emergency():
    w = World(config(brain={"venue_error_flatten_count": 3}))
    w.fill(w.submits(w.decide(intent("hunter", ETH, "buy", "1")))[0])
    for i in range(3):
        o = w.submits(w.decide(intent("hunter", SOL, "buy", "0.1")))[0]
        out = w.event(ev.OrderRejected(client_order_id=o.client_order_id, reason=f"503 #{i}",
                                       kind=ev.ErrorKind.TEMPORARY, ts_event=w.now, ts_init=w.now))
        assert bool([m for m in out if isinstance(m, ev.EmergencyFlatten)]) == (i == 2)
    assert w.brain.emergency and "503 #2" in w.brain.breaker_reason
    # invalid orders are our mistake, not the venue's: they do not count
    w2 = World(config(brain={"venue_error_flatten_count": 1}))
    o = w2.submits(w2.decide(intent("hunter", SOL, "buy", "0.1")))[0]
    w2.event(ev.OrderRejected(client_order_id=o.client_order_id, reason="bad lot",
                              kind=ev.ErrorKind.INVALID_ORDER, ts_event=w2.now, ts_init=w2.now))
    assert not w2.brain.emergency


def test_daily_loss_budget_halts_until_the_utc_day_rolls():
    w = World(equity=10_000)
    w.fill(w.submits(w.decide(intent("hunter", ETH, "buy", "5")))[0])
    out = w.mark(ETH, 1_870.0, dt=3_600 * SEC)  # -650 = 6.5 % of the day's start
    change = w.first(ev.BreakerChanged, out)
    assert change.new is BreakerState.HALTED and "daily loss" in change.reason
    assert not w.brain.emergency
    assert w.decide(intent("hunter", SOL, "buy", "1"))[0].checks[-1].name == "breaker"
    out = w.timer(dt=DAY)
    change = [m for m in out if isinstance(m, ev.BreakerChanged)][-1]
    assert change.new is BreakerState.NORMAL and "day rolled over" in change.reason
    w.mark(SOL, 100.0)
    assert isinstance(w.decide(intent("hunter", SOL, "buy", "1"))[1], ev.SubmitOrder)


def test_an_operator_halt_survives_the_day_rollover():
    w = World()
    w.apply(w.brain.halt("maintenance", w.now))
    w.timer(dt=DAY)
    assert w.brain.breaker is BreakerState.HALTED


def test_phase_drawdown_tiers_reduce_halt_and_escalate():
    w = World(config(brain={"daily_loss_budget": 0.2}), equity=10_000)  # hunter: tiers 3/5/7 %
    w.fill(w.submits(w.decide(intent("hunter", ETH, "buy", "5")))[0])
    out = w.mark(ETH, 1_936.0)  # -320: tier 1
    assert w.first(ev.AlertRaised, out).title == "hunter daily drawdown tier 1"
    w.mark(SOL, 100.0)
    o = w.submits(w.decide(intent("hunter", SOL, "buy", "2")))[0]
    assert o.quantity == D("1")  # size halved
    out = w.mark(ETH, 1_896.0)  # -520: tier 2
    assert "tier 2" in w.first(ev.AlertRaised, out).title
    d = w.decide(intent("hunter", SOL, "buy", "1"))[0]
    assert d.checks[-1].name == "phase_drawdown" and "no new entries" in d.reason
    out = w.mark(ETH, 1_859.0)  # -705: tier 3 -> Brain DEFENSIVE (but not the daily budget)
    assert w.first(ev.BreakerChanged, out).new is BreakerState.DEFENSIVE
    w.timer(dt=DAY)  # a new day: tiers reset, the escalation clears
    assert w.brain.breaker is BreakerState.NORMAL


def test_fat_tails_turn_the_brain_defensive_and_calm_returns_bring_it_back():
    cfg = config(brain={"tail_window": 40, "tail_sample_s": 60,
                        "returns_sample_s": 60, "resync_interval_s": 60})
    w = World(cfg, equity=20_000)
    w.fill(w.submits(w.decide(intent("hunter", SOL, "buy", "1")))[0])
    rng = random.Random(2)
    price = 100.0
    states = []
    for _ in range(60):  # Cauchy-like returns: tail index near 1
        price *= math.exp(max(-0.05, min(0.05, 0.0005 * math.tan(math.pi * (rng.random() - 0.5)))))
        w.mark(SOL, price, dt=60 * SEC)
        w.timer()
        states.append(w.brain.breaker)
    assert states[-1] is BreakerState.DEFENSIVE
    assert "Hill tail index" in w.brain.breaker_reason
    for _ in range(60):  # gaussian returns: tail index well above 2
        price *= math.exp(rng.gauss(0, 0.001))
        w.mark(SOL, price, dt=60 * SEC)
        w.timer()
    assert w.brain.breaker is BreakerState.NORMAL


def test_correlated_phases_cannot_both_add_risk():
    cfg = config(brain={"correlation_min_samples": 10, "returns_sample_s": 60})
    w = World(cfg, equity=TWO_PHASES)
    w.fill(w.submits(w.decide(intent("hunter", ETH, "buy", "0.2")))[0])
    w.fill(w.submits(w.decide(intent("scavenger", ETH, "buy", "0.2")))[0])
    rng = random.Random(4)
    price = 2_000.0
    for _ in range(15):
        price *= 1 + rng.gauss(0, 0.002)
        w.mark(ETH, price, dt=60 * SEC)
        w.timer()
    assert w.brain.returns.correlation("hunter", "scavenger") > 0.99
    d = w.decide(intent("hunter", ETH, "buy", "0.1"))[0]
    assert d.checks[-1].name == "correlation" and "scavenger" in d.reason


def test_funding_and_balance_moves_reach_the_books():
    w = World(equity=10_000)
    w.fill(w.submits(w.decide(intent("hunter", ETH, "buy", "1")))[0])
    w.event(ev.FundingPaid(instrument_id=ETH.id, phase="hunter", rate=D("0.0001"), amount=D("-2.5"),
                           currency="USDT", ts_event=w.now, ts_init=w.now))
    assert w.brain.book.equity == pytest.approx(float(w.state.equity()))
    peak = w.brain.drawdown.peak
    w.event(ev.BalanceSet(venue="bybit", currency="USDT", total=D(20_000), reason="deposit",
                          ts_event=w.now, ts_init=w.now))
    assert w.brain.book.equity == pytest.approx(float(w.state.equity()))
    assert w.brain.drawdown.peak == pytest.approx(peak + 10_002.5)  # a deposit is not a new high


def test_running_sums_match_the_state_after_a_busy_session():
    w = World(equity=TWO_PHASES)
    rng = random.Random(9)
    for _ in range(60):
        inst = rng.choice([BTC, ETH, SOL])
        owner = rng.choice(["hunter", "scavenger"])
        out = w.decide(intent(owner, inst, rng.choice(["buy", "sell"]), str(rng.choice([0.01, 0.1, 0.5]))))
        for o in w.submits(out):
            if rng.random() < 0.7:
                w.fill(o, fee="0.01")
        w.mark(inst, float(w.state.mark(inst.id)) * (1 + rng.gauss(0, 0.002)), dt=SEC)
    book = w.brain.book
    fresh = Brain(w.cfg, w.reg, w.state, ClientOrderIds()).book
    assert book.equity == pytest.approx(float(w.state.equity()), rel=1e-9)
    assert book.gross_total == pytest.approx(fresh.gross_total, rel=1e-9)
    for p in ("hunter", "scavenger"):
        assert book.gross_phase.get(p, 0) == pytest.approx(fresh.gross_phase.get(p, 0), rel=1e-9, abs=1e-9)
        assert book.pnl_phase.get(p, 0) == pytest.approx(float(w.state.phase_pnl(p)), rel=1e-9, abs=1e-6)


def test_a_brain_built_on_a_replayed_state_knows_its_positions_and_orders():
    w = World(equity=TWO_PHASES)
    open_book(w)
    again = Brain(w.cfg, w.reg, w.state, ClientOrderIds("TTN"))
    assert again.book.gross_total == pytest.approx(w.brain.book.gross_total)
    out = again.decide([intent("hunter", ETH, "buy", "0.1")], w.now)
    ids = {o.client_order_id for o in w.state.open_orders()}
    assert out[0].client_order_id not in ids  # the id sequence moved past the working orders


def test_allocation_changes_when_equity_crosses_into_another_range():
    w = World(equity=2_000)
    out = w.decide(intent("scavenger", ETH, "buy", "0.01"))
    assert w.first(ev.AllocationChanged, out).budgets["scavenger"] == D("2000.00")
    out = w.event(ev.BalanceSet(venue="bybit", currency="USDT", total=D(20_000), ts_event=w.now,
                                ts_init=w.now))
    change = w.first(ev.AllocationChanged, out)
    assert change.budgets["hunter"] > 0 and change.budgets["scavenger"] == 0
    assert w.brain.allocations == change.budgets | {"hunter": change.budgets["hunter"]}
    d = w.decide(intent("scavenger", ETH, "buy", "0.01"))[0]
    assert isinstance(d, ev.OrderDenied) and "budget 0.00" in d.reason


def test_on_market_ignores_instruments_without_risk():
    w = World()
    t = ev.Trade(instrument_id=ETH.id, price=1.0, size=1.0, aggressor=ev.Side.SELL, ts_event=w.now,
                 ts_init=w.now)
    w.state.apply(t)
    assert w.brain.on_market(t, w.now) == []
    assert ETH.id not in w.brain.book.tracked


def test_held_marks_follow_the_states_source_rules():
    w = World()
    w.fill(w.submits(w.decide(intent("hunter", ETH, "buy", "1")))[0])
    t = w.now
    quote = ev.Quote(instrument_id=ETH.id, bid=2_009.0, ask=2_011.0, bid_size=1.0, ask_size=1.0,
                     ts_event=t, ts_init=t)
    bar = ev.Bar(instrument_id=ETH.id, timeframe="1m", ts_open=t, open=1.0, high=1.0, low=1.0,
                 close=2_020.0, volume=1.0, ts_event=t, ts_init=t)
    mark = ev.MarkPrice(instrument_id=ETH.id, mark=2_030.0, ts_event=t, ts_init=t)
    trade_after = ev.Trade(instrument_id=ETH.id, price=1_900.0, size=1.0, aggressor=ev.Side.BUY,
                           ts_event=t, ts_init=t)
    delta = ev.BookDelta(instrument_id=ETH.id, bids=((1_000.0, 1.0),), asks=((3_000.0, 1.0),),
                         ts_event=t, ts_init=t)
    funding = ev.FundingRate(instrument_id=ETH.id, rate=0.01, ts_event=t, ts_init=t)
    for e in (quote, bar, mark, trade_after, delta, funding):
        w.market(e)
        assert w.brain.book.tracked[ETH.id].mark == float(w.state.mark(ETH.id)), e
        assert w.brain.book.equity == pytest.approx(float(w.state.equity()), rel=1e-12)
    assert w.state.mark(ETH.id) == D("2030")  # a mark-price stream wins over trades


def test_a_restart_keeps_an_emergency_and_an_operator_halt():
    w = World(equity=TWO_PHASES)
    open_book(w)
    w.apply(w.brain.flatten("panic", w.now))
    w.settle()
    again = Brain(w.cfg, w.reg, w.state, ClientOrderIds("TTN"))
    again.restore(w.log)
    assert again.breaker is BreakerState.HALTED and again.emergency
    out = again.decide([intent("hunter", ETH, "buy", "0.1")], w.now)
    assert isinstance(out[0], ev.OrderDenied) and out[0].checks[-1].name == "breaker"
    w.apply(w.brain.resume("ok", w.now))
    w.apply(w.brain.halt("maintenance", w.now))
    third = Brain(w.cfg, w.reg, w.state, ClientOrderIds("TTN"))
    third.restore(w.log)
    assert third.breaker is BreakerState.HALTED and not third.emergency
    assert third.breaker_reason == "operator: maintenance"
    w.apply(w.brain.resume("ok", w.now))
    fourth = Brain(w.cfg, w.reg, w.state, ClientOrderIds("TTN"))
    fourth.restore(w.log)
    assert fourth.breaker is BreakerState.NORMAL
