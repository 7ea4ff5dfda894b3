"""The venues' book sequence rules, case by case (hand-made update ids, real-shaped levels)."""

from __future__ import annotations

import math

import pytest

from titan.feeds.book import BinanceBookSync, BybitBookSync, Outcome

B = ((100.0, 1.0),)
A = ((101.0, 1.0),)


def test_spot_buffers_then_syncs_on_the_straddling_diff():
    s = BinanceBookSync(futures=False)
    assert s.on_diff(5, 8, -1, ((99.0, 5.0),), ()) is Outcome.BUFFERED
    assert s.on_diff(9, 12, -1, ((100.0, 2.0),), ()) is Outcome.BUFFERED
    assert s.on_diff(13, 15, -1, (), ((101.5, 3.0),)) is Outcome.BUFFERED
    assert s.on_snapshot(10, B, A) is Outcome.SYNCED
    assert s.valid and s.last_update_id == 15
    assert s.book.top() == (100.0, 2.0, 101.0, 1.0)  # 5..8 was already in the snapshot: not applied
    assert s.book.n_asks == 2
    assert s.on_diff(16, 18, -1, ((100.0, 0.0),), ()) is Outcome.APPLIED
    assert s.on_diff(14, 16, -1, ((100.0, 9.0),), ()) is Outcome.SKIPPED  # old news
    assert s.on_diff(20, 21, -1, (), ()) is Outcome.GAP
    assert not s.valid and "expected U=19, got U=20" in s.reason


def test_spot_snapshot_older_than_the_buffer_is_refused():
    s = BinanceBookSync(futures=False)
    s.on_diff(20, 25, -1, B, ())
    assert s.on_snapshot(10, B, A) is Outcome.STALE_SNAPSHOT
    assert not s.valid
    assert s.on_snapshot(22, B, A) is Outcome.SYNCED and s.last_update_id == 25


def test_spot_snapshot_with_nothing_buffered_checks_the_next_diff():
    s = BinanceBookSync(futures=False)
    assert s.on_snapshot(10, B, A) is Outcome.SYNCED
    assert s.on_diff(3, 9, -1, B, ()) is Outcome.SKIPPED
    assert s.on_diff(13, 14, -1, B, ()) is Outcome.GAP  # 11 and 12 are missing
    s2 = BinanceBookSync(futures=False)
    s2.on_snapshot(10, B, A)
    assert s2.on_diff(11, 14, -1, B, ()) is Outcome.APPLIED


def test_futures_chain_on_pu():
    s = BinanceBookSync(futures=True)
    s.on_diff(90, 105, 80, ((100.0, 3.0),), ())
    assert s.on_snapshot(100, B, A) is Outcome.SYNCED and s.book.best_bid() == 100.0
    assert s.on_diff(107, 110, 105, (), ((101.0, 2.0),)) is Outcome.APPLIED
    assert s.on_diff(115, 120, 111, (), ()) is Outcome.GAP
    assert "expected pu=110, got pu=111" in s.reason


def test_futures_snapshot_on_an_event_boundary_accepts_pu_equal_to_it():
    s = BinanceBookSync(futures=True)
    assert s.on_snapshot(110, B, A) is Outcome.SYNCED
    assert s.on_diff(113, 118, 110, B, ()) is Outcome.APPLIED  # U > lastUpdateId but pu chains on it
    s2 = BinanceBookSync(futures=True)
    s2.on_snapshot(110, B, A)
    assert s2.on_diff(113, 118, 109, B, ()) is Outcome.GAP


def test_crossed_book_is_invalid():
    s = BinanceBookSync(futures=False)
    s.on_snapshot(10, B, A)
    assert s.on_diff(11, 11, -1, ((101.5, 1.0),), ()) is Outcome.CROSSED
    assert not s.valid and s.reason.startswith("crossed book: bid 101.5 >= ask 101")


def test_bad_numbers_invalidate_instead_of_raising():
    s = BinanceBookSync(futures=False)
    s.on_snapshot(10, B, A)
    assert s.on_diff(11, 11, -1, ((math.nan, 1.0),), ()) is Outcome.GAP
    assert "bad level" in s.reason
    assert BinanceBookSync(futures=True).on_snapshot(1, ((100.0, -1.0),), A) is Outcome.GAP


def test_reset_forgets_the_buffer():
    s = BinanceBookSync(futures=False)
    s.on_diff(9, 12, -1, B, ())
    s.reset("disconnected")
    assert s.on_snapshot(10, B, A) is Outcome.SYNCED and s.last_update_id == 10


def test_bybit_rules():
    s = BybitBookSync()
    assert s.on_delta(5, 1, B, ()) is Outcome.SKIPPED  # nothing to apply it to
    assert s.on_snapshot(10, 100, B, A) is Outcome.SYNCED and s.syncs == 1
    assert s.on_delta(11, 101, ((100.0, 0.0), (99.5, 2.0)), ()) is Outcome.APPLIED
    assert s.book.top() == (99.5, 2.0, 101.0, 1.0) and s.sequence == 101
    assert s.on_delta(11, 101, B, ()) is Outcome.SKIPPED
    assert s.on_delta(13, 103, B, ()) is Outcome.GAP
    assert s.reason == "sequence gap: expected u=12, got u=13"
    assert s.on_delta(14, 104, B, ()) is Outcome.SKIPPED  # waits for the snapshot
    assert s.on_snapshot(1, 200, B, A) is Outcome.SYNCED and s.syncs == 2  # u=1: venue restart
    assert s.on_delta(2, 201, (), ((99.0, 1.0),)) is Outcome.CROSSED


@pytest.mark.parametrize("futures", [False, True])
def test_outcomes_never_leave_a_crossed_book_valid(futures):
    s = BinanceBookSync(futures=futures)
    s.on_snapshot(10, ((100.0, 1.0), (99.0, 1.0)), ((101.0, 1.0), (102.0, 1.0)))
    s.on_diff(11, 11, 10, (), ((101.0, 0.0), (100.0, 0.5)))
    assert not s.valid
