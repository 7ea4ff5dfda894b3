from __future__ import annotations

import asyncio

import pytest

from titan.core.clock import LiveClock, SimClock


def test_sim_clock_returns_due_timers_in_time_order():
    clock = SimClock(start_ns=0)
    clock.set_timer("every10", 10)
    clock.set_alert("once15", 15)
    due = clock.advance_to(30)
    assert [(e.name, e.ts_event) for e in due] == [
        ("every10", 10), ("once15", 15), ("every10", 20), ("every10", 30)
    ]
    assert clock.now_ns() == 30
    assert clock.timer_names() == ["every10"]


def test_sim_clock_never_goes_back_and_cancel_works():
    clock = SimClock(start_ns=100)
    clock.set_timer("t", 5)
    assert clock.advance_to(50) == []
    assert clock.now_ns() == 100
    clock.cancel_timer("t")
    assert clock.advance_to(200) == []


def test_replacing_a_timer_does_not_double_fire():
    clock = SimClock()
    clock.set_timer("t", 10)
    clock.set_timer("t", 10)
    assert [e.ts_event for e in clock.advance_to(10)] == [10]


def test_stop_ns_and_next_due():
    clock = SimClock()
    clock.set_timer("t", 10, stop_ns=25)
    assert clock.next_due_ns() == 10
    assert [e.ts_event for e in clock.advance_to(100)] == [10, 20]
    assert clock.next_due_ns() is None


def test_bad_timer_arguments():
    clock = SimClock()
    with pytest.raises(ValueError, match="interval_ns"):
        clock.set_timer("t", 0)
    with pytest.raises(ValueError, match="name"):
        clock.set_timer("", 10)


def test_live_clock_fires_on_loop():
    fired = []

    async def main():
        clock = LiveClock(handler=fired.append)
        clock.attach(asyncio.get_running_loop())
        clock.set_timer("tick", 5_000_000)  # 5 ms
        clock.set_alert("once", clock.now_ns() + 1_000_000)
        await asyncio.sleep(0.05)
        clock.cancel_timer("tick")
        n = len(fired)
        await asyncio.sleep(0.02)
        assert len(fired) == n

    asyncio.run(main())
    names = [e.name for e in fired]
    assert names.count("once") == 1
    assert names.count("tick") >= 3
