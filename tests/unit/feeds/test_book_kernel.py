"""The L2 book kernel: hand-computed queries, bad input, compiled == reference on real depth data."""

from __future__ import annotations

import math

import numpy as np
import pytest

import native

IMPLS = native.implementations("book")


@pytest.fixture(params=sorted(IMPLS))
def bk(request):
    return IMPLS[request.param]


def make(bk):
    book = bk.L2Book()
    book.load(((100.0, 1.0), (99.5, 2.0), (99.0, 3.0)), ((100.5, 0.5), (101.0, 1.5), (102.0, 4.0)))
    return book


def test_top_levels_and_counts(bk):
    book = make(bk)
    assert book.top() == (100.0, 1.0, 100.5, 0.5)
    assert (book.n_bids, book.n_asks) == (3, 3)
    np.testing.assert_array_equal(book.levels(bk.BID, 2), [[100.0, 1.0], [99.5, 2.0]])
    np.testing.assert_array_equal(book.levels(bk.ASK), [[100.5, 0.5], [101.0, 1.5], [102.0, 4.0]])
    assert book.levels(bk.ASK, 10).shape == (3, 2)


def test_deltas_update_insert_and_remove(bk):
    book = make(bk)
    book.apply(((100.0, 0.0), (99.7, 5.0)), ((100.5, 2.5), (100.9, 0.0)))  # 100.9 absent: no-op
    assert book.top() == (99.7, 5.0, 100.5, 2.5)
    assert book.n_bids == 3 and book.n_asks == 3
    book.set(bk.ASK, 100.5, 0.0)
    assert book.best_ask() == 101.0


def test_volume_imbalance_price_for_size(bk):
    book = make(bk)
    assert book.volume(bk.BID, 2) == 3.0
    assert book.volume(bk.ASK) == 6.0
    # (1 + 2 - 0.5 - 1.5) / 5
    assert book.imbalance(2) == pytest.approx(0.2)
    # buy 1.0: 0.5 @ 100.5 + 0.5 @ 101.0
    assert book.price_for_size(bk.ASK, 1.0) == pytest.approx(100.75)
    # sell 2.0: 1 @ 100 + 1 @ 99.5
    assert book.price_for_size(bk.BID, 2.0) == pytest.approx(99.75)
    assert math.isnan(book.price_for_size(bk.BID, 6.5))


def test_crossed_and_empty(bk):
    book = bk.L2Book()
    assert math.isnan(book.best_bid()) and math.isnan(book.best_ask())
    assert book.top()[1] == 0.0 and not book.crossed()
    assert math.isnan(book.imbalance(5))
    book.apply(((101.0, 1.0),), ((101.0, 1.0),))
    assert book.crossed()
    book.clear()
    assert book.n_bids == 0 and not book.crossed()


@pytest.mark.parametrize(
    "bids, asks, needle",
    [
        (((float("nan"), 1.0),), (), r"bids\[0\]: price must be finite"),
        (((100.0, 1.0), (0.0, 1.0)), (), r"bids\[1\]: price must be finite and > 0"),
        ((), ((100.0, -1.0),), r"asks\[0\]: size must be finite and >= 0"),
        ((), ((100.0, float("inf")),), r"asks\[0\]: size"),
        (((100.0,),), (), r"bids\[0\]: expected a \(price, size\) pair"),
        ([[100.0, 1.0], "x"], (), r"bids\[1\]: expected a \(price, size\) pair"),
    ],
)
def test_bad_levels_name_the_argument(bk, bids, asks, needle):
    with pytest.raises(ValueError, match=needle):
        bk.L2Book().apply(bids, asks)


def test_bad_side_and_size(bk):
    book = make(bk)
    with pytest.raises(ValueError, match="side"):
        book.levels(2)
    with pytest.raises(ValueError, match="size: must be finite and > 0"):
        book.price_for_size(bk.ASK, 0.0)
    with pytest.raises(ValueError, match="prices/sizes"):
        book.apply_arrays(bk.BID, [1.0, 2.0], [1.0])


def test_accepts_lists_arrays_and_strings(bk):
    a, b = bk.L2Book(), bk.L2Book()
    a.apply([[100.0, 1.0], ["99.5", "2"]], np.array([[101.0, 3.0]]))
    b.apply_arrays(bk.BID, np.array([100.0, 99.5]), np.array([1.0, 2.0]))
    b.apply_arrays(bk.ASK, [101.0], [3.0])
    for side in (bk.BID, bk.ASK):
        np.testing.assert_array_equal(a.levels(side), b.levels(side))


def test_grows_past_initial_capacity(bk):
    book = bk.L2Book()
    prices = np.arange(1, 5001, dtype=np.float64)
    book.apply_arrays(bk.BID, prices, np.ones_like(prices))
    assert book.n_bids == 5000 and book.best_bid() == 5000.0
    book.apply_arrays(bk.BID, prices[::2], np.zeros(2500))
    assert book.n_bids == 2500 and book.levels(bk.BID)[-1, 0] == 2.0
