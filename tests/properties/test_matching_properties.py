"""Properties of the matching core under random order flow and market data, for both twins.

- the compiled core and the reference produce the same records and state, call for call;
- quantity is conserved: every lot added ends filled, expired, canceled or still resting;
- a limit never fills at a worse price than its limit; a stop fills only after it triggered;
- on price paths fills lie inside the bar's range;
- the book stays sorted with positive sizes.
"""

from __future__ import annotations

from collections import defaultdict

from hypothesis import given
from hypothesis import strategies as st

import native

IMPLS = native.implementations("matching")
R = IMPLS["reference"]
TICK, LOT = 0.5, 0.01

prices = st.integers(min_value=190, max_value=210).map(lambda k: k * TICK)
sizes = st.floats(min_value=0.0, max_value=4.0, allow_nan=False)
sides = st.sampled_from([R.BUY, R.SELL])


@st.composite
def add_op(draw):
    kind = draw(st.sampled_from([R.MARKET, R.LIMIT, R.LIMIT, R.STOP_MARKET, R.STOP_LIMIT]))
    return ("add", (draw(sides), kind, int(draw(prices) / TICK), int(draw(prices) / TICK),
                    draw(st.integers(1, 400)), draw(st.booleans()), draw(st.booleans())))


@st.composite
def bar_op(draw):
    o, c = draw(prices), draw(prices)
    hi = max(o, c) + draw(st.sampled_from([0.0, 0.5, 2.0]))
    lo = min(o, c) - draw(st.sampled_from([0.0, 0.5, 2.0]))
    return ("on_bar", (o, hi, lo, c, draw(st.integers(0, 2))))


@st.composite
def delta_op(draw):
    mid = draw(prices)
    bids = tuple((mid - TICK * draw(st.integers(1, 8)), draw(sizes)) for _ in range(draw(st.integers(0, 4))))
    asks = tuple((mid + TICK * draw(st.integers(0, 8)), draw(sizes)) for _ in range(draw(st.integers(0, 4))))
    return ("apply_delta", (bids, asks, draw(st.booleans())))


ops = st.lists(st.one_of(
    add_op(),
    add_op(),
    st.tuples(st.just("cancel"), st.tuples(st.integers(1, 30))),
    st.tuples(st.just("take"), st.tuples(sides, st.integers(1, 500),
                                          st.one_of(st.just(0), prices.map(lambda p: int(p / TICK))),
                                          st.booleans())),
    bar_op(),
    st.tuples(st.just("on_trade"), st.tuples(prices, sizes, sides)),
    st.builds(lambda b, bs, w, a_s: ("on_quote", (b, bs, b + w, a_s)), prices, sizes,
              st.sampled_from([0.5, 1.0]), sizes),
    delta_op(),
), max_size=60)


def run(mod, script, book):
    """Play a script; return everything observable plus a ledger for the properties."""
    m = mod.Matcher(TICK, LOT, book)
    trace = []
    orders = {}  # handle -> (side, kind, price, qty)
    canceled = defaultdict(int)
    takes = []  # (handle, side, filled, limit)
    bars = {}  # index of record batch -> (low, high) ticks
    records = []
    handle = 0
    for name, args in script:
        if name == "add":
            handle += 1
            side, kind, price, trigger, qty, taker, ioc = args
            m.add(handle, side, kind, price, trigger, qty, taker, ioc)
            orders[handle] = (side, kind, price, qty)
            out = None
        elif name == "cancel":
            out = m.cancel(args[0])
            if out > 0:
                canceled[args[0]] += out
        elif name == "take":
            side, qty, limit, fok = args
            h = 10_000 + len(takes)
            out = m.take(h, side, qty, limit, fok)
            takes.append((h, side, out, limit))
        else:
            out = getattr(m, name)(*args)
        batch = m.drain()
        if name == "on_bar" and not book:
            bars[len(records)] = (m.to_ticks(args[2]), m.to_ticks(args[1]))
        records.append(batch)
        trace.append((name, out, batch, len(m), m.last_bid, m.last_ask, m.best_bid(), m.best_ask()))
    resting = {h: m.remaining(h) for h in orders if m.remaining(h) > 0}
    trace.append((m.depth(R.BUY), m.depth(R.SELL), resting))
    return trace, orders, canceled, takes, bars, records, resting, m


@given(ops, st.booleans())
def test_twins_agree_call_for_call(script, book):
    traces = {name: run(mod, script, book)[0] for name, mod in IMPLS.items()}
    if "compiled" in traces:
        assert traces["compiled"] == traces["reference"]


@given(ops, st.booleans())
def test_quantity_is_conserved_and_prices_respect_limits(script, book):
    for mod in IMPLS.values():
        _, orders, canceled, takes, bars, records, resting, m = run(mod, script, book)
        done = defaultdict(int)
        triggered = set()
        for i, batch in enumerate(records):
            for code, h, lots, price, _maker in batch:
                if code == R.TRIGGER:
                    triggered.add(h)
                    continue
                done[h] += lots
                if code != R.FILL or h not in orders:
                    continue
                side, kind, limit, _ = orders[h]
                if kind in (R.STOP_MARKET, R.STOP_LIMIT):
                    assert h in triggered, f"stop {h} filled before it triggered"
                if kind in (R.LIMIT, R.STOP_LIMIT):
                    assert price <= limit if side == R.BUY else price >= limit
                if i in bars:
                    low, high = bars[i]
                    assert low <= price <= high
        for h, (_, _, _, qty) in orders.items():
            assert done[h] + canceled[h] + resting.get(h, 0) == qty, f"order {h} leaks lots"
        for h, _side, filled, _limit in takes:
            assert done[h] == filled
        for side in (R.BUY, R.SELL):
            levels = m.depth(side)
            assert all(size > 0 for _, size in levels)
            keys = [p for p, _ in levels]
            assert keys == sorted(keys, reverse=side == R.BUY) and len(set(keys)) == len(keys)
