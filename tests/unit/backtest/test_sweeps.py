import numpy as np
import pytest

from titan.backtest import sweeps
from titan.backtest.metrics import DAY
from titan.backtest.spec import BacktestSpec, SpecError, run_spec

from .world import BINANCE_1M

SPEC = BacktestSpec(strategy="strategies/ema_cross.py", data=str(BINANCE_1M), params={"qty": "0.01"})


def test_parameter_spaces():
    assert sweeps.parse_values("5,10, 20") == ["5", "10", "20"]
    assert sweeps.parse_values("10:30:10") == ["10", "20", "30"]
    assert sweeps.parse_values("0.5:1.5:0.5") == ["0.5", "1.0", "1.5"]
    assert sweeps.combinations(sweeps.parse_space(["a=1,2", "b=x"])) == [{"a": "1", "b": "x"}, {"a": "2", "b": "x"}]
    for bad, match in (("fast", "expected NAME="), ("fast=1:2", "START:STOP:STEP"), ("fast=3:1:1", "STOP >= START"),
                       ("fast=a:b:c", "must be numbers"), ("fast=", "no values")):
        with pytest.raises(ValueError, match=match):
            sweeps.parse_space([bad])


def test_grid_runs_in_worker_processes_and_ranks_by_the_metric():
    results = sweeps.grid(SPEC, {"fast": ["10", "40"], "slow": ["60", "120"]}, metric="total_return", workers=2)
    assert len(results) == 4 and len({r.digest for r in results}) == 4
    returns = [r.metrics["total_return"] for r in results]
    assert returns == sorted(returns, reverse=True)
    best = results[0]
    direct = run_spec(BacktestSpec(strategy=SPEC.strategy, data=SPEC.data, params=best.params))
    assert direct.digest == best.digest  # a worker's run is the same run, byte for byte
    with pytest.raises(SpecError, match="--metric: unknown metric"):
        sweeps.grid(SPEC, {"fast": ["10"]}, metric="luck")


def test_walk_forward_windows_and_stitching():
    assert sweeps.folds_for(0, 10 * DAY, 4 * DAY, 2 * DAY, 2 * DAY) == [
        (0, 4 * DAY, 4 * DAY, 6 * DAY), (2 * DAY, 6 * DAY, 6 * DAY, 8 * DAY), (4 * DAY, 8 * DAY, 8 * DAY, 10 * DAY)]
    wf = sweeps.walk_forward(SPEC, {"fast": ["10", "40"], "slow": ["90"]}, train="1d", test="12h",
                             metric="total_return", workers=2)
    assert len(wf.folds) == 3
    for a, b in zip(wf.folds, wf.folds[1:], strict=False):
        assert a.test_end == b.test_start and a.test_start == a.train_end
    for f in wf.folds:  # the chosen parameters were the best in-sample
        alone = [sweeps.grid(BacktestSpec(strategy=SPEC.strategy, data=SPEC.data, params={**SPEC.params, **f.best_params},
                                          start=f.train_start, end=f.train_end), {"fast": [f.best_params["fast"]]},
                             metric="total_return", workers=1)[0]]
        assert alone[0].metrics["total_return"] == f.in_sample["total_return"]
    chained = np.prod([1 + f.out_of_sample["total_return"] for f in wf.folds]) - 1
    assert wf.stitched["total_return"] == pytest.approx(chained, abs=1e-9)  # float curves vs Decimal
    with pytest.raises(SpecError, match="does not fit"):
        sweeps.walk_forward(SPEC, {"fast": ["10"]}, train="30d", test="5d")


def test_monte_carlo_is_seeded_and_its_bands_are_ordered():
    spec = BacktestSpec(strategy=SPEC.strategy, data=SPEC.data, params={"qty": "0.01", "fast": "20", "slow": "60"})
    a = sweeps.monte_carlo(spec, runs=200, seed=3, workers=2)
    b = sweeps.monte_carlo(spec, runs=200, seed=3, workers=2)
    assert a == b and a.trades >= 20
    for method in (a.shuffle, a.bootstrap):
        for bands in method.values():
            values = [bands[f"p{p}"] for p in sweeps.PERCENTILES]
            assert values == sorted(values)
    # reordering trades cannot change their sum: every shuffled run ends at the same return
    assert a.shuffle["final_return"]["p5"] == pytest.approx(a.shuffle["final_return"]["p95"])
    assert a.shuffle["max_drawdown"]["p5"] >= 0
    assert len(a.bands["p50"]) > 10
    with pytest.raises(SpecError, match="--runs"):
        sweeps.monte_carlo(spec, runs=1)
