"""The matching core's rules, held against both twins (compiled and reference).

Prices are in ticks of 0.5 and sizes in lots of 0.01 (``Matcher(0.5, 0.01)``): price 100.0 is
tick 200. Records are ``(code, handle, lots, price_ticks, maker)``.
"""

from __future__ import annotations

import math

import pytest

import native

IMPLS = native.implementations("matching")
R = IMPLS["reference"]  # constants are the same in both twins
BUY, SELL = R.BUY, R.SELL
FILL, TRIGGER, EXPIRE = R.FILL, R.TRIGGER, R.EXPIRE


@pytest.fixture(params=sorted(IMPLS))
def mod(request):
    return IMPLS[request.param]


def t(price: float) -> int:
    return int(round(price * 2))


def fills(records):
    return [(h, lots, price, maker) for code, h, lots, price, maker in records if code == FILL]


def test_both_twins_exist_unless_native_is_disabled():
    if not native.FORCED_PURE:
        assert "compiled" in IMPLS, "native/_matching.pyx is not built"
    for name in ("BUY", "SELL", "MARKET", "LIMIT", "STOP_MARKET", "STOP_LIMIT", "FILL",
                 "TRIGGER", "EXPIRE", "PATH_CLOSE", "PATH_OPEN_CLOSE", "PATH_OHLC"):
        assert {getattr(m, name) for m in IMPLS.values()} == {getattr(R, name)}


# ---- price paths ----------------------------------------------------------------------------


def test_limit_inside_bar_fills_at_its_price_gap_fills_at_open(mod):
    m = mod.Matcher(0.5, 0.01)
    m.add(1, BUY, R.LIMIT, t(99), 0, 100)
    m.add(2, BUY, R.LIMIT, t(103), 0, 100)  # the bar opens below it: a gap
    assert m.on_bar(101.0, 102.0, 98.0, 100.0, R.PATH_OHLC) == 2
    got = sorted(fills(m.drain()))
    assert got == [(1, 100, t(99), True), (2, 100, t(101), True)]
    assert len(m) == 0


def test_ohlc_visits_the_nearer_extreme_first(mod):
    # open 100, high 100.5 (near), low 95 (far): the buy stop at 100.5 fires before the
    # limit at 96 fills, and the records say so.
    m = mod.Matcher(0.5, 0.01)
    m.add(1, BUY, R.LIMIT, t(96), 0, 5)
    m.add(2, BUY, R.STOP_MARKET, 0, t(100.5), 5)
    m.on_bar(100.0, 100.5, 95.0, 97.0, R.PATH_OHLC)
    assert [(c, h) for c, h, *_ in m.drain()] == [(TRIGGER, 2), (FILL, 2), (FILL, 1)]
    # the mirror bar: low is nearer, so the limit fills first
    m.add(3, BUY, R.LIMIT, t(96), 0, 5)
    m.add(4, BUY, R.STOP_MARKET, 0, t(104), 5)
    m.on_bar(97.0, 105.0, 95.5, 100.0, R.PATH_OHLC)
    assert [(c, h) for c, h, *_ in m.drain()] == [(FILL, 3), (TRIGGER, 4), (FILL, 4)]


def test_within_a_segment_orders_fill_in_the_order_the_price_reaches_them(mod):
    m = mod.Matcher(0.5, 0.01)
    m.add(1, BUY, R.LIMIT, t(97), 0, 1)
    m.add(2, BUY, R.LIMIT, t(99), 0, 1)
    m.add(3, BUY, R.LIMIT, t(99), 0, 1)
    m.on_bar(100.0, 100.0, 96.0, 96.0, R.PATH_OHLC)
    assert [h for h, *_ in fills(m.drain())] == [2, 3, 1]


def test_stop_market_fills_at_trigger_in_bar_and_at_open_on_a_gap(mod):
    m = mod.Matcher(0.5, 0.01)
    m.add(1, SELL, R.STOP_MARKET, 0, t(98), 3)
    m.on_bar(100.0, 100.5, 97.0, 99.0, R.PATH_OHLC)
    assert fills(m.drain()) == [(1, 3, t(98), False)]
    m.add(2, SELL, R.STOP_MARKET, 0, t(98), 3)
    m.on_bar(95.0, 96.0, 94.0, 95.0, R.PATH_OHLC)  # gaps below the trigger
    recs = m.drain()
    assert recs[0][:2] == (TRIGGER, 2)
    assert fills(recs) == [(2, 3, t(95), False)]  # worse than the trigger: the open


def test_stop_limit_rests_when_it_triggers_beyond_its_limit(mod):
    m = mod.Matcher(0.5, 0.01)
    m.add(1, BUY, R.STOP_LIMIT, t(101), t(102), 4)  # trigger 102, limit 101
    m.on_bar(100.0, 103.0, 100.0, 102.5, R.PATH_OHLC)
    assert [c for c, *_ in m.drain()] == [TRIGGER]
    assert m.remaining(1) == 4
    m.on_bar(102.5, 102.5, 100.5, 101.0, R.PATH_OHLC)  # comes back to the limit
    assert fills(m.drain()) == [(1, 4, t(101), True)]


def test_close_only_path_ignores_the_range(mod):
    m = mod.Matcher(0.5, 0.01)
    m.add(1, BUY, R.LIMIT, t(99), 0, 1)
    m.on_bar(100.0, 100.0, 90.0, 100.0, R.PATH_CLOSE)
    assert m.drain() == [] and m.remaining(1) == 1
    m.on_bar(100.0, 100.0, 90.0, 98.0, R.PATH_CLOSE)  # the close is through: fills there
    assert fills(m.drain()) == [(1, 1, t(98), True)]


def test_waiting_market_order_takes_the_next_open_or_tick(mod):
    m = mod.Matcher(0.5, 0.01)
    m.add(1, BUY, R.MARKET, 0, 0, 7)
    m.on_bar(101.5, 103.0, 100.0, 102.0, R.PATH_OPEN_CLOSE)
    assert fills(m.drain()) == [(1, 7, t(101.5), False)]
    m.add(2, SELL, R.MARKET, 0, 0, 2)
    m.on_quote(100.0, 1.0, 100.5, 1.0)
    assert fills(m.drain()) == [(2, 2, t(100.0), False)]  # a seller gets the bid


def test_tick_fills_resting_limit_at_its_price_marketable_one_at_the_tick(mod):
    m = mod.Matcher(0.5, 0.01)
    m.add(1, SELL, R.LIMIT, t(101), 0, 1)
    m.add(2, SELL, R.LIMIT, t(99), 0, 1, True)  # marketable when it arrived
    m.on_trade(102.0, 0.01, BUY)
    assert sorted(fills(m.drain())) == [(1, 1, t(101), True), (2, 1, t(102), False)]


def test_ioc_expires_after_its_first_point(mod):
    m = mod.Matcher(0.5, 0.01)
    m.add(1, BUY, R.LIMIT, t(95), 0, 3, False, True)
    m.on_bar(100.0, 100.0, 94.0, 96.0, R.PATH_OHLC)  # the open does not reach it
    assert m.drain() == [(EXPIRE, 1, 3, 0, False)]
    assert len(m) == 0


def test_take_without_book_uses_the_last_price_within_the_limit(mod):
    m = mod.Matcher(0.5, 0.01)
    assert m.take(1, BUY, 5) == 0  # no price yet
    m.set_last(100.0, 100.5)
    assert m.take(1, BUY, 5, t(100)) == 0  # the ask is beyond the limit
    assert m.take(1, BUY, 5, t(100.5)) == 5
    assert m.take(2, SELL, 2) == 2
    assert fills(m.drain()) == [(1, 5, t(100.5), False), (2, 2, t(100), False)]


# ---- book mode ------------------------------------------------------------------------------


def book(mod):
    m = mod.Matcher(0.5, 0.01, True)
    m.apply_delta(((99.5, 1.0), (99.0, 2.0)), ((100.0, 0.5), (100.5, 1.0), (101.0, 3.0)), True)
    return m


def test_book_market_order_walks_levels_and_depletes_them(mod):
    m = book(mod)
    assert (m.best_bid(), m.best_ask()) == (t(99.5), t(100))
    assert m.take(1, BUY, 120) == 120
    assert fills(m.drain()) == [(1, 50, t(100), False), (1, 70, t(100.5), False)]
    assert m.depth(SELL) == [(t(100.5), pytest.approx(30.0)), (t(101), pytest.approx(300.0))]
    assert m.take(2, BUY, 10_000, t(100.5)) == 30  # stops at the limit
    assert m.take(3, BUY, 1000, 0, True) == 0  # FOK: only 300 lots left
    assert fills(m.drain()) == [(2, 30, t(100.5), False)]


def test_book_limit_joins_queue_and_fills_as_trades_pass_it(mod):
    m = book(mod)
    m.add(1, BUY, R.LIMIT, t(99.5), 0, 50)  # 100 lots displayed ahead of it
    m.add(2, BUY, R.LIMIT, t(99.5), 0, 50)  # behind order 1
    assert m.queue_ahead(1) == pytest.approx(100.0)
    m.on_trade(99.5, 0.6, SELL)  # 60 lots: the queue shrinks
    assert m.drain() == [] and m.queue_ahead(1) == pytest.approx(40.0)
    m.on_trade(99.5, 0.7, SELL)  # 70 lots: 40 ahead, 30 to order 1
    assert fills(m.drain()) == [(1, 30, t(99.5), True)]
    m.on_trade(99.5, 0.5, SELL)  # 20 finish order 1; order 2's queue (100 at its arrival)
    recs = fills(m.drain())     # has seen 130 of market volume pass: the last 30 fill it
    assert recs == [(1, 20, t(99.5), True), (2, 30, t(99.5), True)]
    m.on_trade(99.0, 0.01, SELL)  # trades through: the rest fills
    assert fills(m.drain()) == [(2, 20, t(99.5), True)]


def test_book_depletion_moves_the_queue_up_and_crossing_fills(mod):
    m = book(mod)
    m.add(1, SELL, R.LIMIT, t(101), 0, 40)
    assert m.queue_ahead(1) == pytest.approx(300.0)
    m.apply_delta((), ((101.0, 1.0),))  # the level shrank to 100 lots
    assert m.queue_ahead(1) == pytest.approx(100.0)
    m.apply_delta(((101.0, 0.25),), ())  # a bid at 101 crosses the ask: 25 lots trade with us
    assert fills(m.drain()) == [(1, 25, t(101), True)]
    assert m.remaining(1) == 15


def test_book_stop_triggers_on_trade_and_takes_liquidity(mod):
    m = book(mod)
    m.add(1, BUY, R.STOP_MARKET, 0, t(100), 200)
    m.on_trade(100.0, 0.01, BUY)
    recs = m.drain()
    assert recs[0] == (TRIGGER, 1, 0, t(100), False)
    assert fills(recs) == [(1, 50, t(100), False), (1, 100, t(100.5), False), (1, 50, t(101), False)]


def test_book_quote_replaces_the_top(mod):
    m = book(mod)
    m.on_quote(99.0, 0.3, 100.5, 0.2)
    assert m.depth(BUY) == [(t(99), pytest.approx(30.0))]
    assert m.depth(SELL)[0] == (t(100.5), pytest.approx(20.0))


# ---- bad input ------------------------------------------------------------------------------


@pytest.mark.parametrize("call, message", [
    (lambda m: m.on_bar(math.nan, 1.0, 1.0, 1.0, 2), "open: must be finite"),
    (lambda m: m.on_bar(1.0, 1.0, 1.0, 1.0, 7), "path: expected 0, 1 or 2"),
    (lambda m: m.on_trade(-1.0, 1.0, 1), "price: must be finite and > 0"),
    (lambda m: m.on_trade(1.0, math.inf, 1), "size: must be finite and >= 0"),
    (lambda m: m.on_trade(1.0, 1.0, 0), "aggressor: expected 1 or -1"),
    (lambda m: m.apply_delta(((1.0, 1.0), (math.nan, 1.0)), ()), r"bids\[1\]: price"),
    (lambda m: m.apply_delta((), ((1.0, -2.0),)), r"asks\[0\]: size"),
    (lambda m: m.add(1, 2, 1, 10, 0, 1), "side: expected 1 or -1"),
    (lambda m: m.add(1, 1, 1, 0, 0, 1), "price: must be > 0 ticks"),
    (lambda m: m.add(1, 1, 2, 0, 0, 1), "trigger: must be > 0 ticks"),
    (lambda m: m.add(1, 1, 1, 10, 0, 0), "qty: must be > 0 lots"),
])
def test_bad_numbers_raise_naming_the_argument(mod, call, message):
    with pytest.raises(ValueError, match=message):
        call(mod.Matcher(0.5, 0.01, True))


def test_bad_constructor_and_duplicate_handle(mod):
    with pytest.raises(ValueError, match="tick_size: must be finite and > 0"):
        mod.Matcher(0.0, 1.0)
    with pytest.raises(ValueError, match="lot_size: must be finite and > 0"):
        mod.Matcher(1.0, math.nan)
    m = mod.Matcher(0.5, 0.01)
    m.add(1, BUY, R.LIMIT, 10, 0, 1)
    with pytest.raises(ValueError, match="handle: 1 is already resting"):
        m.add(1, BUY, R.LIMIT, 10, 0, 1)
    assert m.cancel(1) == 1 and m.cancel(1) == -1
