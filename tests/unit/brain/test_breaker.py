from __future__ import annotations

import itertools

import pytest

from titan.brain.breaker import TRANSITIONS, Breaker, Trigger, next_state
from titan.core.events import BreakerState as S

# The whole table, written out: any pair not listed must leave the state unchanged.
EXPECTED = {
    (S.NORMAL, Trigger.ELEVATE): S.DEFENSIVE,
    (S.NORMAL, Trigger.HALT): S.HALTED,
    (S.DEFENSIVE, Trigger.CALM): S.NORMAL,
    (S.DEFENSIVE, Trigger.HALT): S.HALTED,
    (S.DEFENSIVE, Trigger.RESUME): S.NORMAL,
    (S.HALTED, Trigger.RESUME): S.NORMAL,
}


@pytest.mark.parametrize("state, trigger", list(itertools.product(S, Trigger)))
def test_every_pair_of_the_table(state, trigger):
    assert next_state(state, trigger) is EXPECTED.get((state, trigger), state)


def test_the_table_is_exactly_the_expected_one():
    assert TRANSITIONS == EXPECTED


def test_only_resume_leaves_halted():
    for trigger in Trigger:
        if trigger is not Trigger.RESUME:
            assert next_state(S.HALTED, trigger) is S.HALTED


def test_fire_emits_one_event_per_change_with_reason_and_cause():
    b = Breaker()
    assert b.fire(Trigger.CALM, "nothing", 1) is None
    e = b.fire(Trigger.ELEVATE, "tail risk", 2)
    assert (e.old, e.new, e.reason, e.ts_event) == (S.NORMAL, S.DEFENSIVE, "tail risk", 2)
    assert b.fire(Trigger.ELEVATE, "again", 3) is None and b.reason == "tail risk"
    e = b.fire(Trigger.HALT, "daily loss", 4, cause="daily_loss")
    assert e.new is S.HALTED and b.cause == "daily_loss" and b.halted
    assert b.fire(Trigger.HALT, "operator", 5, cause="operator") is None
    assert b.cause == "daily_loss"  # the first cause stays until resumed
    e = b.fire(Trigger.RESUME, "ok", 6)
    assert e.new is S.NORMAL and b.cause == ""
