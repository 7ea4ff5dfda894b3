"""Book invariants: compiled == reference == a dict model, and a synced book is never wrong.

"Never wrong" is checked against real data: a recorded Binance diff stream is replayed with
arbitrary drops, duplicates and swaps; whenever the sync says the book is valid, it must equal
the book rebuilt from the untouched stream at the same update id - otherwise it must say invalid.
"""

from __future__ import annotations

import gzip
import math
from pathlib import Path

import numpy as np
import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import native
from native.reference.book import L2Book as RefBook
from titan.feeds.book import BinanceBookSync, BybitBookSync, Outcome

IMPLS = native.implementations("book")
DATA = Path(__file__).resolve().parents[1] / "data" / "feeds"

prices = st.integers(1, 60).map(lambda i: 100.0 + i * 0.5)
sizes = st.one_of(st.just(0.0), st.integers(1, 50).map(lambda i: i / 10))
levels = st.lists(st.tuples(prices, sizes), max_size=12).map(tuple)
ops = st.lists(
    st.one_of(
        st.tuples(st.just("apply"), levels, levels),
        st.tuples(st.just("load"), levels, levels),
        st.tuples(st.just("set"), st.sampled_from([0, 1]), st.tuples(prices, sizes)),
        st.tuples(st.just("clear")),
    ),
    max_size=30,
)


def run(book, program):
    for op in program:
        if op[0] == "apply":
            book.apply(op[1], op[2])
        elif op[0] == "load":
            book.load(op[1], op[2])
        elif op[0] == "set":
            book.set(op[1], *op[2])
        else:
            book.clear()


def queries(book):
    out = [book.top(), book.n_bids, book.n_asks, book.crossed()]
    for side in (0, 1):
        out += [book.levels(side).tolist(), book.levels(side, 3).tolist(), book.volume(side, 5)]
        out += [book.price_for_size(side, q) for q in (0.1, 1.0, 7.5)]
    out.append(book.imbalance(3))
    return _nan_safe(out)


def _nan_safe(x):
    if isinstance(x, (list, tuple)):
        return [_nan_safe(v) for v in x]
    return "nan" if isinstance(x, float) and math.isnan(x) else x


@given(ops)
def test_compiled_equals_reference(program):
    results = []
    for impl in IMPLS.values():
        book = impl.L2Book()
        run(book, program)
        results.append(queries(book))
    assert all(r == results[0] for r in results)


@given(ops)
def test_book_equals_a_dict_model(program):
    model = ({}, {})
    for op in program:
        if op[0] == "clear":
            model[0].clear(), model[1].clear()
            continue
        if op[0] == "load":
            model[0].clear(), model[1].clear()
        changes = [(0, op[1]), (1, op[2])] if op[0] != "set" else [(op[1], (op[2],))]
        for side, lv in changes:
            for p, q in lv:
                if q == 0.0:
                    model[side].pop(p, None)
                else:
                    model[side][p] = q
    book = native.book.L2Book()
    run(book, program)
    assert book.levels(0).tolist() == [[p, model[0][p]] for p in sorted(model[0], reverse=True)]
    assert book.levels(1).tolist() == [[p, model[1][p]] for p in sorted(model[1])]


@given(st.lists(st.tuples(st.booleans(), st.integers(0, 3), levels, levels), max_size=40))
def test_any_bybit_sequence_keeps_bid_below_ask_or_says_invalid(messages):
    sync, u = BybitBookSync(), 0
    for is_snapshot, step, bids, asks in messages:
        u += step
        if is_snapshot:
            sync.on_snapshot(u, u, bids, asks)
        else:
            sync.on_delta(u, u, bids, asks)
        if sync.valid:
            bid, _, ask, _ = sync.book.top()
            assert math.isnan(bid) or math.isnan(ask) or bid < ask


# ---- real diff streams under perturbation -----------------------------------------------------


def _session(name: str):
    """(snapshot, diffs received before it, diffs received after it) of a recorded session."""
    pre, post, snapshot = [], [], None
    with gzip.open(DATA / name, "rt") as fh:
        for line in fh:
            text = line.split(" ", 1)[1]
            if text.startswith('{"lastUpdateId"'):
                s = orjson.loads(text)
                snapshot = (s["lastUpdateId"], _lv(s["bids"]), _lv(s["asks"]))
            elif "@depth" in text[:40]:
                d = orjson.loads(text)["data"]
                (pre if snapshot is None else post).append((d["U"], d["u"], d.get("pu", -1), _lv(d["b"]), _lv(d["a"])))
    return snapshot, pre, post


def _lv(rows):
    return tuple((float(p), float(q)) for p, q in rows)


@pytest.fixture(scope="module", params=[("binanceusdm_BTCUSDT_session_head.log.gz", True),
                                        ("binance_BTCUSDT_session_head.log.gz", False)], ids=["usdm", "spot"])
def stream(request):
    name, futures = request.param
    snapshot, pre, post = _session(name)
    lid = snapshot[0]
    # the truth: the reference book, from the snapshot, with every diff beyond it
    truth, states = RefBook(), {}
    truth.load(snapshot[1], snapshot[2])
    states[lid] = (truth.levels(0), truth.levels(1))
    for d in pre + post:
        if d[1] > lid or (futures and d[1] == lid):
            truth.apply(d[3], d[4])
            states[d[1]] = (truth.levels(0), truth.levels(1))
    # the sync agrees with it on the untouched stream and never reports a gap
    sync = BinanceBookSync(futures=futures)
    for d in pre:
        sync.on_diff(*d)
    assert sync.on_snapshot(*snapshot) is Outcome.SYNCED
    for d in post:
        assert sync.on_diff(*d) in (Outcome.APPLIED, Outcome.SKIPPED)
        bids, asks = states[sync.last_update_id]
        assert np.array_equal(sync.book.levels(0), bids) and np.array_equal(sync.book.levels(1), asks)
    return futures, snapshot, pre, post[:150], states


@settings(max_examples=40)
@given(data=st.data())
def test_perturbed_real_stream_is_right_or_invalid(stream, data):
    futures, snapshot, pre, diffs, states = stream
    actions = data.draw(st.lists(st.sampled_from(["keep"] * 6 + ["drop", "dup", "swap"]),
                                 min_size=len(diffs), max_size=len(diffs)))
    fed = []
    i = 0
    while i < len(diffs):
        a = actions[i]
        if a == "drop":
            pass
        elif a == "dup":
            fed += [diffs[i], diffs[i]]
        elif a == "swap" and i + 1 < len(diffs):
            fed += [diffs[i + 1], diffs[i]]
            i += 1
        else:
            fed.append(diffs[i])
        i += 1
    sync = BinanceBookSync(futures=futures)
    for d in pre:
        sync.on_diff(*d)
    sync.on_snapshot(*snapshot)
    for d in fed:
        outcome = sync.on_diff(*d)
        if outcome in (Outcome.GAP, Outcome.CROSSED):
            # resync from the venue's truth at the newest update id we have seen
            last = d[1]
            bids, asks = states[last]
            sync.on_snapshot(last, tuple(map(tuple, bids.tolist())), tuple(map(tuple, asks.tolist())))
        if sync.valid:
            bids, asks = states[sync.last_update_id]
            assert np.array_equal(sync.book.levels(0), bids) and np.array_equal(sync.book.levels(1), asks)
