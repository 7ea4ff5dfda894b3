"""Truth score: each doubt costs points; a failed reconciliation or log costs everything."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from titan.brain.truth import TruthInputs, TruthTracker, truth_score
from titan.core import events as ev
from titan.core.state import ShadowState

S = 1_000_000_000


def test_a_clean_world_scores_100_and_each_doubt_costs_points():
    assert truth_score(TruthInputs()) == (100.0, {})
    assert truth_score(TruthInputs(position_discrepancies=1)) == (80.0, {"positions": 20.0})
    assert truth_score(TruthInputs(order_discrepancies=2, stuck_orders=1)) == (
        80.0, {"orders": 10.0, "in_flight": 10.0})
    assert truth_score(TruthInputs(feeds=4, feeds_down=1)) == (70.0, {"feeds": 30.0})
    assert truth_score(TruthInputs(ack_latency_ms=4500, max_ack_latency_ms=3000)) == (
        85.0, {"ack_latency": 15.0})
    assert truth_score(TruthInputs(reconcile_failed=True))[0] == 0.0
    assert truth_score(TruthInputs(journal_ok=False))[0] == 0.0


@given(st.builds(TruthInputs, reconcile_failed=st.booleans(),
                 position_discrepancies=st.integers(0, 50), order_discrepancies=st.integers(0, 50),
                 stuck_orders=st.integers(0, 50), feeds=st.integers(0, 20),
                 feeds_down=st.integers(0, 20), feed_gaps=st.integers(0, 20),
                 ack_latency_ms=st.none() | st.floats(0, 1e6), journal_ok=st.booleans(),
                 anomalies=st.integers(0, 100)),
       st.sampled_from(["position_discrepancies", "order_discrepancies", "stuck_orders",
                        "feeds_down", "feed_gaps", "anomalies"]))
def test_score_is_bounded_and_never_rises_with_more_doubt(t, field):
    score, parts = truth_score(t)
    assert 0 <= score <= 100
    assert score == max(0.0, round(100 - sum(parts.values()), 1))
    import msgspec
    worse = msgspec.structs.replace(t, **{field: getattr(t, field) + 1})
    assert truth_score(worse)[0] <= score


def submit(cid: str, ts: int) -> ev.SubmitOrder:
    return ev.SubmitOrder(client_order_id=cid, phase="hunter", instrument_id="BTC/USDT:USDT@x",
                          side=ev.Side.BUY, order_type=ev.OrderType.MARKET,
                          quantity=Decimal(1), ts_init=ts)


def test_tracker_follows_feeds_reconciliations_acks_stuck_orders_and_the_log():
    state = ShadowState()
    t = TruthTracker(inflight_timeout_s=30, max_ack_latency_ms=1000)
    first = t.evaluate(state.open_orders(), 0)
    assert first is not None and first.score == 100.0
    assert t.evaluate(state.open_orders(), 1) is None  # unchanged: nothing to publish

    feed = dict(venue="bybit", instrument_id="BTC/USDT:USDT@bybit", ts_event=1, ts_init=1)
    t.on_event(ev.FeedStatusChanged(status=ev.FeedStatus.GAP, **feed))
    assert t.evaluate(state.open_orders(), 2).components == {"gaps": 10.0}
    t.on_event(ev.FeedStatusChanged(status=ev.FeedStatus.RESYNCED, **feed))
    assert t.evaluate(state.open_orders(), 3).score == 100.0

    # an order nobody answers becomes "stuck" after the in-flight timeout
    cmd = submit("a", 10 * S)
    state.apply(cmd)
    t.on_event(cmd)
    assert t.evaluate(state.open_orders(), 39 * S) is None
    assert t.evaluate(state.open_orders(), 41 * S).components == {"in_flight": 10.0}
    # ... and slow acks are penalised through the smoothed latency
    ack = ev.OrderAccepted(client_order_id="a", venue_order_id="v", ts_event=0, ts_init=13 * S)
    state.apply(ack)
    t.on_event(ack)
    assert t.evaluate(state.open_orders(), 42 * S).components == {"ack_latency": 30.0}

    t.on_event(ev.ReconciliationCompleted(venue="bybit", ok=True, discrepancies=2,
                                          position_discrepancies=1, order_discrepancies=1,
                                          ts_event=50, ts_init=50))
    assert t.evaluate(state.open_orders(), 43 * S).components == {
        "ack_latency": 30.0, "positions": 20.0, "orders": 5.0}
    t.on_event(ev.AlertRaised(severity="critical", title="event log write failed",
                              ts_event=60, ts_init=60))
    assert t.evaluate(state.open_orders(), 44 * S).score == 0.0
    t.on_event(ev.AlertRaised(severity="info", title="event log recovered", ts_event=61, ts_init=61))
    t.on_event(ev.ReconciliationCompleted(venue="bybit", ok=True, ts_event=70, ts_init=70))
    assert t.evaluate(state.open_orders(), 45 * S).components == {"ack_latency": 30.0}


def test_state_anomalies_count_until_the_next_reconciliation():
    state = ShadowState()
    state.apply(ev.OrderAccepted(client_order_id="ghost", venue_order_id="v", ts_event=1,
                                 ts_init=1))
    t = TruthTracker()
    assert t.evaluate([], 1, anomaly_count=state.anomaly_count).components == {"anomalies": 2.0}
    t.reconciled(state.anomaly_count)
    assert t.evaluate([], 2, anomaly_count=state.anomaly_count).score == 100.0


def _reconcile_into(t: TruthTracker, state: ShadowState, balance: str, ts: int) -> None:
    """One reconciliation with a venue holding ``balance`` USDT, applied and shown to ``t``."""
    from titan.execution.client import VenueSnapshot
    from titan.execution.reconcile import ReconcilePolicy, reconcile

    snap = VenueSnapshot(venue="sim", ts=ts, balances={"USDT": Decimal(balance)})
    result = reconcile(state, snap, ReconcilePolicy(), ts)
    for e in result.events:
        state.apply(e)
        t.on_event(e)


def test_first_sight_of_an_account_is_no_doubt_but_a_known_balance_that_moved_is():
    state, t = ShadowState(), TruthTracker()
    _reconcile_into(t, state, "10000", 1)  # a fresh start: the balance set from nothing
    assert t.evaluate([], 1).score == 100.0
    _reconcile_into(t, state, "9000", 2)  # Titan knew 10000: the venue says otherwise
    assert t.evaluate([], 2).components == {"positions": 20.0}
    _reconcile_into(t, state, "9000", 3)  # agreed again
    assert t.evaluate([], 3).score == 100.0


def test_an_account_known_from_the_log_or_from_initial_cash_is_not_first_sight():
    restarted = TruthTracker()
    restarted.know_accounts({"sim"})  # a daemon restarting on a log that held this account
    _reconcile_into(restarted, ShadowState(), "10000", 1)
    assert restarted.evaluate([], 1).components == {"positions": 20.0}
    funded, state = TruthTracker(), ShadowState()
    cash = ev.BalanceSet(venue="sim", currency="USDT", total=Decimal(500), reason="initial cash",
                         ts_event=0, ts_init=0)
    state.apply(cash)
    funded.on_event(cash)
    _reconcile_into(funded, state, "10000", 1)
    assert funded.evaluate([], 1).components == {"positions": 20.0}


def test_accounts_seen_in_a_log():
    from titan.brain.truth import accounts_seen

    msgs = [ev.BalanceSet(venue="a", currency="USDT", total=Decimal(1), ts_event=0, ts_init=0),
            ev.ReconciliationCompleted(venue="b", ok=True, ts_event=0, ts_init=0),
            ev.ReconciliationCompleted(venue="c", ok=False, reason="snapshot failed (x)",
                                       ts_event=0, ts_init=0)]
    assert accounts_seen(msgs) == {"a", "b"}
