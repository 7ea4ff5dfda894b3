"""Reconciliation converges to the venue's truth whatever Titan missed, and is deterministic.

A venue model (tests/unit/state/venue_model.py) plays a random history: Titan's orders are
accepted, rejected, filled in parts, canceled; other people's orders appear. Titan's view of the
reports is corrupted - dropped, duplicated, shuffled - and the venue lists only recent fills.
Reconciling against the venue's snapshot must make the state agree with it, every time.
"""

from __future__ import annotations

import random
from decimal import Decimal

import msgspec
from hypothesis import given
from hypothesis import strategies as st

from tests.unit.state.histories import corrupt, op, play, titan_op
from tests.unit.state.venue_model import INSTRUMENTS, VENUE, VenueModel
from titan.core import codec
from titan.core import events as ev
from titan.core.instruments import InstrumentRegistry
from titan.core.state import ShadowState
from titan.execution.reconcile import ReconcilePolicy, allocate, reconcile


def build_state(venue, stream):
    state = ShadowState(InstrumentRegistry(list(INSTRUMENTS)))
    state.apply_all(venue.opening_balances())
    state.apply_all(stream)
    return state


def apply(state, result):
    state.apply_all(result.events)
    state.apply_all(result.commands)  # the runner logs and applies them before sending


def agrees(state: ShadowState, venue: VenueModel, tol=Decimal("0.01")):
    for inst in INSTRUMENTS:
        if inst.is_spot:
            continue
        q = venue.qty.get(inst.id, Decimal(0))
        assert state.position_qty(inst.id) == q, inst.id
        assert sum(state.phase_quantities(inst.id).values(), Decimal(0)) == q
        if q:
            theirs = venue.cost[inst.id] / q
            assert abs(state.position(inst.id).avg_price - theirs) <= theirs * Decimal("1e-9")
    ours = {c: v for (_, c), v in state.balances(VENUE).items()}
    for ccy in set(ours) | set(venue.balances):
        assert abs(ours.get(ccy, 0) - venue.balances.get(ccy, 0)) <= tol, ccy
    open_here = {o.client_order_id for o in state.open_orders()}
    assert open_here == venue.open_keys()


def jumble(snap, seed):
    """The same truth, listed in another order with duplicated reports."""
    rng = random.Random(seed)
    orders = list(snap.open_orders) + rng.sample(snap.open_orders, k=len(snap.open_orders) // 2)
    fills = list(snap.fills) + rng.sample(snap.fills, k=len(snap.fills) // 2)
    rng.shuffle(orders)
    rng.shuffle(fills)
    positions = list(snap.positions)
    rng.shuffle(positions)
    return msgspec.structs.replace(snap, open_orders=tuple(orders), fills=tuple(fills),
                                   positions=tuple(positions))


def encoded(result):
    return codec.to_json(result)


@given(
    ops=st.lists(op, min_size=15, max_size=60),
    seed=st.integers(0, 2**32),
    drop=st.sampled_from([0.0, 0.2, 0.6, 1.0]),
    dup=st.sampled_from([0.0, 0.3]),
    recent=st.integers(0, 20),
    policy=st.sampled_from(["adopt", "cancel"]),
)
def test_corrupted_reports_converge_to_the_venue_truth(ops, seed, drop, dup, recent, policy):
    venue, commands, reports = play(ops)
    state = build_state(venue, corrupt(commands, reports, seed, drop, dup))
    snap = venue.snapshot(fills_from=max(0, len(venue.fills) - recent))
    pol = ReconcilePolicy(unknown_orders=policy)
    result = reconcile(state, snap, pol, now_ns=10**12)
    assert result.ok, result.reason
    before = state.to_dict()
    apply(state, result)
    agrees(state, venue)
    # unknown venue orders were adopted, and canceled only if the policy says so
    unknown = [d.key for d in result.discrepancies if d.kind == "unknown_order"]
    assert sorted(c.client_order_id for c in result.commands) == (sorted(unknown) if policy == "cancel" else [])
    # converged: a second pass finds nothing left to correct
    again = reconcile(state, snap, pol, now_ns=10**12 + 1)
    assert again.ok and not again.discrepancies and not again.commands
    assert [type(e) for e in again.events] == [ev.ReconciliationCompleted]
    # and the original state was not touched by the first pass
    assert build_state(venue, corrupt(commands, reports, seed, drop, dup)).to_dict() == before


@given(ops=st.lists(op, min_size=15, max_size=60), seed=st.integers(0, 2**32), drop=st.sampled_from([0.0, 0.5]))
def test_corrections_are_deterministic_whatever_the_listing_order(ops, seed, drop):
    venue, commands, reports = play(ops)
    state = build_state(venue, corrupt(commands, reports, seed, drop, 0.2))
    snap = venue.snapshot()
    pol = ReconcilePolicy()
    first = reconcile(state, snap, pol, now_ns=5)
    assert encoded(reconcile(state, snap, pol, now_ns=5)) == encoded(first)
    assert encoded(reconcile(state, jumble(snap, seed), pol, now_ns=5)) == encoded(first)
    ids = [d.correction_id for d in first.discrepancies]
    assert len(ids) == len(set(ids))  # one id per discrepancy, derived from it


@given(ops=st.lists(titan_op, min_size=15, max_size=60))
def test_when_titan_saw_everything_there_is_nothing_to_correct(ops):
    """Every report delivered in order: the state's accounting equals the venue's exactly."""
    venue, commands, reports = play(ops)
    for cmd in commands:  # every order reached the venue (nothing in flight)
        reports += venue.accept(cmd.client_order_id)
    stream = corrupt(commands, reports, seed=0, drop=0.0, dup=0.0)
    stream.sort(key=lambda m: getattr(m, "ts_event", 0) or m.ts_init)  # venue order
    state = build_state(venue, stream)
    result = reconcile(state, venue.snapshot(), ReconcilePolicy(), now_ns=7)
    assert result.ok and not result.discrepancies, result.discrepancies
    agrees(state, venue, tol=Decimal("1e-12"))


@given(
    phases=st.dictionaries(st.sampled_from(["a", "b", "c", "external"]),
                           st.integers(-50, 50).map(Decimal), max_size=4),
    target=st.integers(-80, 80).map(Decimal),
)
def test_allocation_always_sums_to_the_venue_position(phases, target):
    changes = allocate(phases, target, "external")
    new = {**phases, **changes}
    current = sum(phases.values(), Decimal(0))
    assert sum(new.values(), Decimal(0)) == target
    if target == current:
        assert changes == {}  # offsetting phases are netting, not a discrepancy
    elif target == 0:
        assert all(q == 0 for q in new.values())
    if all(q >= 0 for q in phases.values()) and 0 <= target < current:
        # shrinking a long book never creates shorts or grows anyone
        assert all(0 <= new[p] <= phases[p] for p in phases) and set(new) == set(phases)
