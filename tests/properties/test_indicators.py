"""Indicator invariants for arbitrary finite inputs and parameters (hypothesis).

For every indicator in the catalogue and every importable twin (compiled, reference):
streaming equals batch bit for bit, ``reset()`` forgets everything, ``ready`` tells when
values exist; and the compiled kernel equals its reference bit for bit.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import native
from titan.indicators import INDICATORS

DAY = 86_400_000_000_000

wild = st.one_of(st.floats(-1e6, 1e6, allow_nan=False), st.sampled_from([0.0, 1.0, 100.0, -3.5]))
positive = st.one_of(st.floats(1e-3, 1e6), st.sampled_from([1.0, 100.0]))
size = st.one_of(st.floats(0.0, 1e3), st.just(0.0))
per = st.integers(1, 30)


def lists(elem, n):
    return st.lists(elem, min_size=n, max_size=n)


@st.composite
def bars(draw, n, with_open=False):
    close = draw(lists(wild, n))
    up = draw(lists(st.floats(0.0, 1e3), n))
    down = draw(lists(st.floats(0.0, 1e3), n))
    high = [c + u for c, u in zip(close, up, strict=True)]
    low = [c - d for c, d in zip(close, down, strict=True)]
    if not with_open:
        return high, low, close
    w = draw(lists(st.floats(0.0, 1.0), n))
    opens = [lo + f * (h - lo) for h, lo, f in zip(high, low, w, strict=True)]
    return opens, high, low, close


@st.composite
def stamps(draw, n):
    t = draw(st.integers(0, 3 * DAY))
    steps = draw(lists(st.integers(0, DAY // 3), n))
    out = []
    for s in steps:
        t += s
        out.append(t)
    return out


def one(elem=wild):
    return lambda n: st.tuples(lists(elem, n))


HLC = lambda n: bars(n)  # noqa: E731
HL = lambda n: bars(n).map(lambda b: b[:2])  # noqa: E731

# name -> (params strategy, minimum length from params, inputs strategy of length n)
SPECS = {
    "sma": (st.fixed_dictionaries({"period": per}), lambda p: p["period"], one()),
    "ema": (st.fixed_dictionaries({"period": per}), lambda p: p["period"], one()),
    "wma": (st.fixed_dictionaries({"period": per}), lambda p: p["period"], one()),
    "rsi": (st.fixed_dictionaries({"period": per}), lambda p: p["period"] + 1, one()),
    "macd": (st.tuples(st.integers(1, 10), st.integers(0, 10), st.integers(1, 10)).map(
        lambda t: {"fast": t[0], "slow": t[0] + t[1], "signal": t[2]}),
        lambda p: p["slow"] + p["signal"] - 1, one()),
    "stoch": (st.fixed_dictionaries({"fastk_period": st.integers(1, 10),
                                     "slowk_period": st.integers(1, 5),
                                     "slowd_period": st.integers(1, 5)}),
              lambda p: p["fastk_period"] + p["slowk_period"] + p["slowd_period"] - 2, HLC),
    "bbands": (st.fixed_dictionaries({"period": per, "nbdev_up": st.floats(0, 3),
                                      "nbdev_dn": st.floats(0, 3)}), lambda p: p["period"], one()),
    "atr": (st.fixed_dictionaries({"period": per}), lambda p: p["period"] + 1, HLC),
    "stddev": (st.fixed_dictionaries({"period": per}), lambda p: p["period"], one()),
    "zscore": (st.fixed_dictionaries({"period": per}), lambda p: p["period"], one()),
    "realized_volatility": (st.fixed_dictionaries({
        "period": per, "periods_per_year": st.sampled_from([0.0, 252.0, 525_600.0])}),
        lambda p: p["period"] + 1, one(positive)),
    "squeeze": (st.fixed_dictionaries({"period": st.integers(1, 10), "nbdev": st.floats(0.5, 3),
                                       "lookback": st.integers(1, 20)}),
                lambda p: p["period"] + p["lookback"] - 1, one()),
    "adx": (st.fixed_dictionaries({"period": st.integers(2, 20)}), lambda p: 2 * p["period"], HLC),
    "donchian": (st.fixed_dictionaries({"period": per}), lambda p: p["period"], HL),
    "vwap": (st.fixed_dictionaries({"session_ns": st.sampled_from([DAY, 3_600_000_000_000, 1]),
                                    "offset_ns": st.sampled_from([0, 1_800_000_000_000])}),
             lambda p: 1, lambda n: st.tuples(lists(wild, n), lists(size, n), stamps(n))),
    "obv": (st.just({}), lambda p: 1, lambda n: st.tuples(lists(wild, n), lists(size, n))),
    "cvd": (st.just({}), lambda p: 1,
            lambda n: st.tuples(lists(size, n), lists(st.sampled_from([1.0, -1.0]), n))),
    "ofi": (st.fixed_dictionaries({"window": per}), lambda p: p["window"] + 1,
            lambda n: st.tuples(lists(st.sampled_from([99.0, 100.0, 101.0]), n), lists(size, n),
                                lists(st.sampled_from([100.0, 101.0, 102.0]), n), lists(size, n))),
    "vpin": (st.fixed_dictionaries({"bucket_volume": st.floats(0.5, 500),
                                    "n_buckets": st.integers(1, 10),
                                    "sigma_window": st.integers(1, 10)}),
             lambda p: p["sigma_window"] + 1, lambda n: st.tuples(lists(wild, n), lists(size, n))),
    "swings": (st.fixed_dictionaries({"left": st.integers(1, 4), "right": st.integers(1, 4)}),
               lambda p: 1, HL),
    "fractals": (st.fixed_dictionaries({"k": st.integers(1, 4)}), lambda p: 1, HL),
    "equal_levels": (st.fixed_dictionaries({"left": st.integers(1, 3), "right": st.integers(1, 3),
                                            "tolerance": st.sampled_from([0.0, 1e-3, 0.05]),
                                            "max_levels": st.integers(1, 8)}), lambda p: 1, HL),
    "premium_discount": (st.fixed_dictionaries({"period": per}), lambda p: p["period"], HLC),
    "fair_value_gaps": (st.fixed_dictionaries({"min_size": st.sampled_from([0.0, 1.0, 50.0]),
                                               "max_open": st.integers(1, 8)}), lambda p: 1, HL),
    "order_blocks": (st.fixed_dictionaries({"left": st.integers(1, 3), "right": st.integers(1, 3),
                                            "max_open": st.integers(1, 8)}), lambda p: 1,
                     lambda n: bars(n, with_open=True)),
    "hill": (st.fixed_dictionaries({"window": st.integers(2, 60),
                                    "tail_fraction": st.floats(0.01, 0.5)}),
             lambda p: p["window"],
             one(st.one_of(st.floats(-1.0, 1.0), st.just(0.0), st.sampled_from([0.01, -0.01])))),
}

# indicators whose first output is a plain value series: ready <=> not NaN
VALUE_SERIES = {"sma", "ema", "wma", "rsi", "macd", "stoch", "bbands", "atr", "stddev", "zscore",
                "realized_volatility", "squeeze", "adx", "donchian", "vwap", "obv", "cvd", "ofi",
                "vpin", "premium_discount"}


def test_every_indicator_has_a_spec():
    assert set(SPECS) == {i.name for i in INDICATORS}


@st.composite
def cases(draw, name):
    params_st, need, inputs_st = SPECS[name]
    params = draw(params_st)
    n = draw(st.integers(need(params), need(params) + 60))
    return params, draw(inputs_st(n))


def as_arrays(out):
    return [np.asarray(o, dtype=np.float64) for o in (out if isinstance(out, tuple) else (out,))]


def stream(mod, ind, params, inputs):
    """Feed ``inputs`` one step at a time; the stream's outputs after each step."""
    obj = getattr(mod, ind.stream)(**params)
    rows = []
    for step in zip(*inputs, strict=True):
        obj.update(*step)
        rows.append([getattr(obj, a) for a in ind.stream_outputs] + [obj.ready])
    return obj, np.array(rows, dtype=np.float64).reshape(len(rows), -1)


def check_one_twin(mod, ind, params, inputs):
    batch = as_arrays(getattr(mod, ind.batch)(*inputs, **params))
    assert len(batch) == len(ind.outputs)
    assert all(b.shape == (len(inputs[0]),) for b in batch)
    obj, rows = stream(mod, ind, params, inputs)
    for k, b in enumerate(batch):
        np.testing.assert_array_equal(rows[:, k], b, err_msg=f"{ind.name}.{ind.outputs[k]}")
    if ind.name in VALUE_SERIES:
        np.testing.assert_array_equal(rows[:, -1].astype(bool), ~np.isnan(batch[0]))
    # reset forgets everything: replaying gives the same outputs as a fresh object
    obj.reset()
    assert obj.count == 0 and not obj.ready
    head = min(len(inputs[0]), 8)
    for i, step in enumerate(zip(*(x[:head] for x in inputs), strict=True)):
        obj.update(*step)
        again = [getattr(obj, a) for a in ind.stream_outputs]
        np.testing.assert_array_equal(np.array(again, dtype=np.float64), rows[i, :-1])
    return batch


@pytest.mark.parametrize("ind", INDICATORS, ids=lambda i: i.name)
def test_streaming_equals_batch_and_compiled_equals_reference(ind):
    impls = native.implementations(ind.kernel)

    @given(cases(ind.name))
    def run(case):
        params, inputs = case
        outs = {name: check_one_twin(mod, ind, params, inputs) for name, mod in impls.items()}
        if "compiled" in outs:
            for c, r, label in zip(outs["compiled"], outs["reference"], ind.outputs, strict=True):
                np.testing.assert_array_equal(c, r, err_msg=f"{ind.name}.{label}")

    run()


# ---- invariants against independent oracles ---------------------------------------------------

IMPLS = {k: native.implementations(k) for k in {i.kernel for i in INDICATORS}}


def twins(kernel):
    return list(IMPLS[kernel].values())


@given(st.lists(wild, min_size=1, max_size=120), st.integers(1, 30))
def test_sma_and_stddev_match_two_pass_numpy(xs, period):
    period = min(period, len(xs))
    x = np.array(xs)
    windows = np.lib.stride_tricks.sliding_window_view(x, period)
    span = float(np.ptp(x)) + float(np.abs(x).max())
    for avg in twins("average"):
        got = avg.sma(x, period)[period - 1:]
        assert (np.abs(got - windows.mean(axis=1)) <= 1e-12 * span * period).all()
    for vol in twins("volatility"):
        sd = vol.stddev(x, period)[period - 1:]
        # no cancellation: the error scales with the data's spread, not its level (the level
        # term only covers numpy's own rounding, ~eps^2 * x^2; E[x^2] - E[x]^2 as in TA-Lib
        # would need eps * x^2)
        bound = 1e-12 * np.ptp(x) ** 2 + 1e-24 * np.abs(x).max() ** 2
        assert (np.abs(sd ** 2 - windows.var(axis=1)) <= bound).all()


@given(bars(80), st.integers(1, 20))
def test_bounded_oscillators(b, period):
    h, lo, c = (np.array(v) for v in b)
    for mom in twins("momentum"):
        r = mom.rsi(c, min(period, 79))
        assert ((r >= 0) & (r <= 100) | np.isnan(r)).all()
        k, d = mom.stoch(h, lo, c, min(period, 60), 3, 3)
        ok = ~np.isnan(k)
        assert (k[ok] >= -1e-9).all() and (k[ok] <= 100 + 1e-9).all()
        assert (d[ok] >= -1e-9).all() and (d[ok] <= 100 + 1e-9).all()
    for trend in twins("trend"):
        upper, middle, lower = trend.donchian(h, lo, period)
        win = np.lib.stride_tricks.sliding_window_view
        np.testing.assert_array_equal(upper[period - 1:], win(h, period).max(axis=1))
        np.testing.assert_array_equal(lower[period - 1:], win(lo, period).min(axis=1))
        a, pdi, mdi = trend.adx(h, lo, c, min(max(period, 2), 40))
        for arr in (a, pdi, mdi):
            ok = ~np.isnan(arr)
            assert ((arr[ok] >= -1e-9) & (arr[ok] <= 100 + 1e-9)).all()
    for sw in twins("swings"):
        pd = sw.premium_discount(h, lo, c, period)
        ok = ~np.isnan(pd)
        assert ((pd[ok] >= 0) & (pd[ok] <= 1)).all()
    for vol in twins("volatility"):
        up, mid, low, _ = vol.bbands(c, period, 2.0, 2.0)
        ok = ~np.isnan(mid)
        assert (up[ok] >= mid[ok]).all() and (mid[ok] >= low[ok]).all()


@given(st.lists(wild, min_size=12, max_size=120), st.lists(size, min_size=120, max_size=120),
       st.floats(0.5, 200), st.integers(1, 10))
def test_vpin_is_a_probability(prices, volumes, bucket, n_buckets):
    for micro in twins("microstructure"):
        v = micro.vpin(prices, volumes[:len(prices)], bucket, n_buckets, 10)
        ok = ~np.isnan(v)
        assert ((v[ok] >= 0) & (v[ok] <= 1 + 1e-12)).all()


@given(st.lists(st.floats(-1.0, 1.0), min_size=2, max_size=80), st.integers(2, 40),
       st.floats(0.01, 0.5))
def test_hill_matches_sorting_each_window(rets, window, fraction):
    window = min(window, len(rets))
    x = np.array(rets)
    k = max(1, int(fraction * window))
    for tail in twins("tail"):
        got = tail.hill(x, window, fraction)
        for end in range(window - 1, len(x)):
            a = np.sort(np.abs(x[end - window + 1:end + 1]))[::-1]
            if a[k] == 0.0:
                assert math.isnan(got[end])
                continue
            denom = float(np.sum(np.log(a[:k]) - np.log(a[k])))
            want = k / denom if denom > 0 else math.inf
            assert got[end] == pytest.approx(want, rel=1e-9)
