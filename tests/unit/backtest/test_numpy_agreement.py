"""The bench's claim, tested small: ema_cross through the full kernel and the vectorised numpy
version of the same strategy make the same trades (times, prices, quantities)."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from .world import ROOT, bars

spec = importlib.util.spec_from_file_location("bench_backtest", ROOT / "bench" / "backtest.py")
bench = importlib.util.module_from_spec(spec)
spec.loader.exec_module(bench)


def test_kernel_and_numpy_agree_on_real_candles():
    series = bars()
    series.instrument_id = bench.IID
    result = bench.kernel_run(series, bench.instantiate("strategies/ema_cross.py", {}, instruments=[bench.IID]))
    got = bench.kernel_trades(result)
    assert len(got) > 50
    assert got == bench.numpy_trades(series.ts_event, series.close)


@pytest.mark.parametrize("fast, slow", [(10, 30), (3, 7)])
def test_kernel_and_numpy_agree_on_a_random_walk(fast, slow):
    series = bench.random_walk(12_000, seed=fast)
    phase = bench.instantiate("strategies/ema_cross.py", {"fast": fast, "slow": slow}, instruments=[bench.IID])
    got = bench.kernel_trades(bench.kernel_run(series, phase))
    want = bench.numpy_trades(series.ts_event, series.close, fast, slow)
    assert len(want) > 100 and got == want
    # and the numpy side is no tautology: a shifted signal gives other trades
    assert bench.numpy_trades(series.ts_event, np.roll(series.close, 1), fast, slow) != want
