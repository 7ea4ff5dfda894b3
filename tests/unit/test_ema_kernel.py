"""EMA, the first native kernel: compiled == reference == TA-Lib, streaming == batch."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import native

IMPLS = native.implementations("average")


@pytest.fixture(params=sorted(IMPLS))
def avg(request):
    return IMPLS[request.param]


def test_ema_seeded_with_sma_hand_computed(avg):
    out = avg.ema([1.0, 2.0, 3.0, 4.0, 5.0], 3)
    assert math.isnan(out[0]) and math.isnan(out[1])
    assert out[2] == pytest.approx(2.0)  # SMA(1,2,3)
    assert out[3] == pytest.approx(2.0 + 0.5 * (4.0 - 2.0))  # alpha = 2/(3+1)
    assert out[4] == pytest.approx(3.0 + 0.5 * (5.0 - 3.0))


def test_ema_matches_talib(avg):
    talib = pytest.importorskip("talib")
    rng = np.random.default_rng(7)
    x = 100 + np.cumsum(rng.normal(size=2000))
    for period in (1, 2, 10, 30, 200):
        ours, ref = avg.ema(x, period), talib.EMA(x, timeperiod=period)
        np.testing.assert_allclose(ours, ref, rtol=1e-12, atol=0, equal_nan=True)


@pytest.mark.parametrize(
    "values, period, needle",
    [
        ([], 3, "values: empty"),
        ([1.0, float("nan"), 2.0], 2, "values: non-finite"),
        ([1.0, float("inf")], 1, "values: non-finite"),
        ([1.0, 2.0], 0, "period: must be >= 1"),
        ([1.0, 2.0], 3, "period: 3 is longer"),
        ([[1.0], [2.0]], 1, "values: expected a 1-D"),
    ],
)
def test_ema_bad_input(avg, values, period, needle):
    with pytest.raises(ValueError, match=needle):
        avg.ema(values, period)


def test_streaming_rejects_nan_and_bad_period(avg):
    with pytest.raises(ValueError, match="period"):
        avg.EMA(0)
    e = avg.EMA(3)
    with pytest.raises(ValueError, match="x: non-finite"):
        e.update(float("nan"))


def test_streaming_ready_and_reset(avg):
    e = avg.EMA(3)
    assert not e.ready and math.isnan(e.value)
    for x in (1.0, 2.0, 3.0):
        e.update(x)
    assert e.ready and e.value == pytest.approx(2.0)
    e.reset()
    assert not e.ready and math.isnan(e.value) and e.count == 0


finite = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False)


@given(st.lists(finite, min_size=1, max_size=300), st.integers(1, 50))
def test_streaming_equals_batch_and_compiled_equals_reference(xs, period):
    period = min(period, len(xs))
    outs = []
    for mod in IMPLS.values():
        batch = mod.ema(xs, period)
        stream = mod.EMA(period)
        streamed = np.array([stream.update(x) for x in xs])
        np.testing.assert_array_equal(batch, streamed)  # bit-identical within one implementation
        outs.append(batch)
    for other in outs[1:]:
        np.testing.assert_allclose(other, outs[0], rtol=1e-9, atol=1e-9, equal_nan=True)
