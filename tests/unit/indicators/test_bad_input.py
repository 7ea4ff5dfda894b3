"""Bad input never yields garbage: a ValueError whose message starts with the argument's name.

Driven by the catalogue, so every indicator (both twins) is covered: NaN and inf in any input,
empty and mismatched arrays, 2-D input, periods < 1 or longer than the data, bad streaming
values.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import native
from tests.unit.indicators.conftest import candles, quotes, trades
from titan.indicators import INDICATORS

N = 300
REQUIRED = {"period": 10, "bucket_volume": 100.0, "window": 50}


def real_input(name: str) -> np.ndarray:
    c, t, q = candles("BTC"), trades(), quotes()
    source = {
        "values": c["close"], "x": c["close"], "close": c["close"], "price": c["close"],
        "open": c["open"], "high": c["high"], "low": c["low"], "volume": c["volume"],
        "ts_ns": c["ts_ns"], "size": t["size"], "side": t["side"],
        "bid": q["bid"], "bid_size": q["bid_size"], "ask": q["ask"], "ask_size": q["ask_size"],
        "returns": np.diff(np.log(c["close"])), "ret": np.diff(np.log(c["close"])),
    }[name]
    return source[:N].copy()


def required(ind) -> dict:
    return {name: REQUIRED[name] for name, default in ind.params if default is None}


def cases():
    for ind in INDICATORS:
        for impl, mod in sorted(native.implementations(ind.kernel).items()):
            yield pytest.param(ind, mod, id=f"{ind.name}-{impl}")


CASES = list(cases())


def batch_call(ind, mod, inputs, **params):
    return getattr(mod, ind.batch)(*inputs, **{**required(ind), **params})


@pytest.mark.parametrize("ind, mod", CASES)
def test_good_input_is_accepted(ind, mod):
    out = batch_call(ind, mod, [real_input(n) for n in ind.inputs])
    outs = out if isinstance(out, tuple) else (out,)
    assert len(outs) == len(ind.outputs) and all(len(o) == N for o in outs)


@pytest.mark.parametrize("ind, mod", CASES)
def test_non_finite_values_are_named(ind, mod):
    for k, name in enumerate(ind.inputs):
        if name == "ts_ns":
            continue
        for bad in (math.nan, math.inf, -math.inf):
            inputs = [real_input(n) for n in ind.inputs]
            inputs[k][7] = bad
            with pytest.raises(ValueError, match=rf"^{name}: non-finite value"):
                batch_call(ind, mod, inputs)


@pytest.mark.parametrize("ind, mod", CASES)
def test_empty_mismatched_and_2d_arrays(ind, mod):
    first = ind.inputs[0]
    with pytest.raises(ValueError, match=rf"^{first}: empty"):
        batch_call(ind, mod, [np.array([])] + [real_input(n) for n in ind.inputs[1:]])
    with pytest.raises(ValueError, match=rf"^{first}: expected a 1-D"):
        batch_call(ind, mod, [real_input(first).reshape(2, -1)]
                   + [real_input(n) for n in ind.inputs[1:]])
    with pytest.raises(ValueError, match=rf"^{first}: expected a sequence"):
        batch_call(ind, mod, [["a", "b"]] + [real_input(n) for n in ind.inputs[1:]])
    for k, name in enumerate(ind.inputs[1:], start=1):
        inputs = [real_input(n) for n in ind.inputs]
        inputs[k] = inputs[k][:-1]
        with pytest.raises(ValueError, match=rf"^{name}: .*(length|shape)"):
            batch_call(ind, mod, inputs)


def periods(ind):
    return [name for name, default in ind.params
            if name != "offset_ns" and (default is None and name != "bucket_volume"
                                        or isinstance(default, int))]


@pytest.mark.parametrize("ind, mod", CASES)
def test_periods_below_one_or_longer_than_the_data(ind, mod):
    inputs = [real_input(n) for n in ind.inputs]
    for name in periods(ind):
        for bad in (0, -3):
            with pytest.raises(ValueError, match=rf"^{name}: must be >="):
                batch_call(ind, mod, inputs, **{name: bad})
            with pytest.raises(ValueError, match=rf"^{name}: must be >="):
                getattr(mod, ind.stream)(**{**required(ind), name: bad})
        with pytest.raises(ValueError, match=rf"^{name}: expected an integer"):
            batch_call(ind, mod, inputs, **{name: 2.5})
    short = [x[:3] for x in inputs]
    names = "|".join([ind.inputs[0], *(p for p, _ in ind.params)])
    for name in periods(ind):
        if name in ("period", "window", "slow", "fastk_period", "lookback", "sigma_window"):
            # this period, another one, or the warm-up they add up to is longer than 3 points
            with pytest.raises(ValueError, match=rf"^({names}): .*(longer|fewer)"):
                batch_call(ind, mod, short, **{name: 5})


@pytest.mark.parametrize("ind, mod", CASES)
def test_streaming_rejects_non_finite_input_by_name(ind, mod):
    obj = getattr(mod, ind.stream)(**required(ind))
    good = [float(real_input(n)[0]) if n != "ts_ns" else int(real_input(n)[0])
            for n in ind.update_inputs]
    obj.update(*good)
    for k, name in enumerate(ind.update_inputs):
        if name == "ts_ns":
            continue
        args = list(good)
        args[k] = math.nan
        with pytest.raises(ValueError, match=rf"^{name}: "):
            obj.update(*args)


@pytest.mark.parametrize("kernel, call, needle", [
    ("trend", lambda m: m.adx([2.0] * 10, [1.0] * 10, [1.5] * 10, 1), "period: must be >= 2"),
    ("trend", lambda m: m.donchian([1.0, 2.0], [1.5, 1.0], 1), "low: 1.5 above high 1.0 at index 0"),
    ("momentum", lambda m: m.macd(list(range(60)), 20, 10, 5), "fast: 20 is longer than slow"),
    ("momentum", lambda m: m.rsi([1.0, 2.0, 3.0], 3), "values: 3 points, fewer than the 4"),
    ("volatility", lambda m: m.ATR(3).update(1.0, 2.0, 1.5), "low: 2.0 above high 1.0"),
    ("volatility", lambda m: m.bbands([1.0, 2.0], 2, -1.0), "nbdev_up: -1.0 outside"),
    ("volatility", lambda m: m.RealizedVolatility(3).update(-1.0), "x: price must be"),
    ("volume", lambda m: m.vwap([1.0, 2.0], [1.0, 1.0], [5, 4]), "ts_ns: 4 at index 1 is before 5"),
    ("volume", lambda m: m.vwap([1.0], [-1.0], [5]), "volume: must be >= 0"),
    ("volume", lambda m: m.OBV().update(1.0, -2.0), "volume: must be finite and >= 0"),
    ("microstructure", lambda m: m.cvd([1.0, 2.0], [1.0, 0.5]), "side: must be"),
    ("microstructure", lambda m: m.CumulativeVolumeDelta().update(1.0, 2.0), "side: must be"),
    ("microstructure", lambda m: m.VPIN(0.0), "bucket_volume: 0.0 outside"),
    ("microstructure", lambda m: m.ofi([1.0] * 3, [-1.0] * 3, [2.0] * 3, [1.0] * 3, 1),
     "bid_size: must be >= 0"),
    ("tail", lambda m: m.HillTailIndex(5, 1.0), "tail_fraction: 1.0 leaves no threshold"),
    ("tail", lambda m: m.HillTailIndex(1), "window: must be >= 2"),
    ("swings", lambda m: m.EqualLevels(tolerance=2.0), "tolerance: 2.0 outside"),
])
def test_specific_rules(kernel, call, needle):
    for mod in native.implementations(kernel).values():
        with pytest.raises(ValueError, match="^" + needle.replace("(", r"\(").replace(".", r"\.")):
            call(mod)
