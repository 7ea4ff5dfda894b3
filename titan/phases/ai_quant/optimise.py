"""AI Quant's offline half: walk-forward parameter search that suggests, never imposes.

The daemon runs :func:`optimise` every ``phases.ai_quant.optimize_every_h`` hours, off the
trading path. It never touches a running phase: it returns a :class:`Suggestion`, whose
``adopt`` is True only when the searched parameters beat the current ones *out of sample*.

Walk-forward (Pardo, "The Evaluation and Optimization of Trading Strategies", 2008): on rolling
train/test windows the best grid point of each train window is run on the following test window,
which it has never seen; the test windows, chained, are the honest estimate of what searching
buys. The current parameters are run through the same windows for comparison, and the
suggestion is the best grid point on the most recent ``train`` span.

:func:`optimise` drives the backtest engine's sweeps (``titan.backtest.sweeps``: one candle
file, worker processes). :func:`search` is the same procedure over an injected scorer
(``evaluate(params, start_ns, end_ns) -> float``), for what one file cannot describe - Sentinel's
two legs; :func:`backtest_evaluator` builds that scorer on ``titan.backtest``'s runner.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

Evaluate = Callable[[Mapping[str, Any], int, int], float]

# Small grids around the defaults: a 6-hourly job on a small VPS must finish in minutes.
DEFAULT_SPACES: dict[str, dict[str, list[Any]]] = {
    "scavenger": {"stop_atr": [0.3, 0.5, 0.8], "reward_risk": [1.5, 2.0, 3.0]},
    "hunter": {"stop_atr": [0.1, 0.25, 0.5], "tp2_r": [2.0, 3.0, 4.0]},
    "sentinel": {"enter_funding_apr": [0.05, 0.10, 0.20], "horizon_days": [7.0, 14.0]},
}


@dataclass(frozen=True, slots=True)
class Suggestion:
    phase: str
    metric: str
    params: dict[str, Any]  # the baseline with the winner on the most recent window
    baseline: dict[str, Any]
    oos_score: float  # the winners' out-of-sample score (stitched test windows, or their mean)
    baseline_oos_score: float  # the baseline's score on the same windows
    folds: list[Any] = field(default_factory=list)
    evaluations: int = 0

    @property
    def adopt(self) -> bool:
        """Only when searching beat the current parameters on data it had not seen."""
        return (math.isfinite(self.oos_score) and not math.isnan(self.baseline_oos_score)
                and self.oos_score > self.baseline_oos_score)


def grid(space: Mapping[str, Sequence[Any]]) -> list[dict[str, Any]]:
    """Every combination, in a fixed order (keys sorted, values as given)."""
    keys = sorted(space)
    for k in keys:
        if not space[k]:
            raise ValueError(f"space.{k}: no values to try")
    return [dict(zip(keys, combo, strict=True))
            for combo in itertools.product(*(space[k] for k in keys))]


# ---- with the backtest engine's sweeps -------------------------------------------------------

def optimise(phase: str, space: Mapping[str, Sequence[Any]] | None = None, *,
             baseline: Mapping[str, Any] | None = None, data: str = "", symbol: str = "",
             funding: str = "", train: str = "10d", test: str = "5d", step: str = "",
             metric: str = "sharpe", cash: float | None = None, fee_bps: float | None = None,
             fill: str = "", config: str = "", workers: int = 0) -> Suggestion:
    """Walk-forward search for a built-in phase (``"hunter"``) or a strategy spec on one
    candle file (empty ``data``: the bundled sample). Higher ``metric`` is better, except the
    sweeps' lower-is-better metrics (drawdown, fees, volatility), which they orient."""
    from msgspec import structs

    from titan.backtest.spec import BacktestSpec
    from titan.backtest.sweeps import LOWER_IS_BETTER, walk_forward
    from titan.backtest.sweeps import grid as sweep_grid
    from titan.phases.registry import BUILTINS

    space = dict(DEFAULT_SPACES.get(phase, {}) if space is None else space)
    base = dict(baseline or {})
    spec = BacktestSpec(strategy=BUILTINS.get(phase, phase), params=base, data=data,
                        symbol=symbol, funding=funding, cash=cash, fee_bps=fee_bps, fill=fill,
                        config=config)
    kw = dict(train=train, test=test, step=step, metric=metric, workers=workers)
    searched = walk_forward(spec, space, **kw)
    current = walk_forward(spec, {}, **kw)
    sign = -1.0 if metric in LOWER_IS_BETTER else 1.0
    last = _iso(_last_ns(spec) - _span(train))
    ranked = sweep_grid(structs.replace(spec, start=last), space, metric=metric, workers=workers)
    folds = len(searched.folds)
    return Suggestion(
        phase=phase, metric=metric, params={**base, **ranked[0].params}, baseline=base,
        oos_score=sign * _score(searched.stitched.get(metric)),
        baseline_oos_score=sign * _score(current.stitched.get(metric)),
        folds=list(searched.folds),
        evaluations=folds * (len(grid(space)) + 1) + 2 * folds + len(ranked))


def _score(v: Any) -> float:
    return math.nan if v is None else float(v)


def _span(text: str) -> int:
    from titan.backtest.sweeps import parse_span

    return parse_span(text, "train")


def _last_ns(spec: Any) -> int:
    from titan.backtest.spec import prepare

    _, _, streams = prepare(spec)
    return max(int(s.ts_event[-1]) if hasattr(s, "ts_event") else s[-1].ts_event
               for s in streams if len(s))


def _iso(ns: int) -> str:
    import numpy as np

    return str(np.datetime64(ns, "ns").astype("datetime64[m]"))


# ---- over an injected scorer ------------------------------------------------------------------

def windows(start_ns: int, end_ns: int, parts: int) -> list[tuple[int, int]]:
    if parts < 1 or end_ns <= start_ns:
        raise ValueError(f"cannot cut [{start_ns}, {end_ns}) into {parts} windows")
    step = (end_ns - start_ns) // parts
    edges = [start_ns + i * step for i in range(parts)] + [end_ns]
    return list(zip(edges[:-1], edges[1:], strict=True))


@dataclass(frozen=True, slots=True)
class Fold:
    train: tuple[int, int]
    test: tuple[int, int]
    best: dict[str, Any]
    train_score: float
    test_score: float
    baseline_test_score: float


def search(evaluate: Evaluate, space: Mapping[str, Sequence[Any]], *, start_ns: int,
           end_ns: int, folds: int = 3, baseline: Mapping[str, Any] | None = None,
           phase: str = "", metric: str = "score") -> Suggestion:
    """Walk-forward over ``folds + 1`` equal windows of [start_ns, end_ns): fold k trains on
    window k and tests on window k + 1; the suggestion is the best on the last window. The
    out-of-sample score is the mean of the folds' test scores (NaN scores rank last)."""
    if folds < 1:
        raise ValueError(f"folds: must be >= 1, got {folds}")
    base = dict(baseline or {})
    points = [{**base, **g} for g in grid(space)]
    wins = windows(start_ns, end_ns, folds + 1)
    # every point on every window: a window is one fold's test and the next fold's train
    scores = [[_finite(evaluate(pt, *w)) for pt in points] for w in wins]
    out: list[Fold] = []
    for k in range(folds):
        i = _best(scores[k])
        b = _finite(evaluate(base, *wins[k + 1]))
        out.append(Fold(wins[k], wins[k + 1], points[i], scores[k][i], scores[k + 1][i], b))
    return Suggestion(
        phase=phase, metric=metric, params=points[_best(scores[-1])], baseline=base,
        oos_score=sum(f.test_score for f in out) / len(out),
        baseline_oos_score=sum(f.baseline_test_score for f in out) / len(out),
        folds=out, evaluations=len(points) * len(wins) + folds)


def _best(scores: list[float]) -> int:
    """Index of the highest score; ties go to the earlier grid point."""
    return max(range(len(scores)), key=lambda j: (scores[j], -j))


def _finite(x: float) -> float:
    x = float(x)
    return -math.inf if math.isnan(x) else x


def total_return(result: Any) -> float:
    """Net return of a backtest on its cash: equity after fees and funding, at the last marks."""
    return float(result.state_equity / result.cash - 1)


def backtest_evaluator(phase: str, instruments: Sequence[Any], streams: Sequence[Any], *,
                       symbols: Sequence[str] | None = None, timeframe: str = "1m",
                       cash: Any = 10_000, config: Any = None, fill: str = "next_open",
                       score: Callable[[Any], float] = total_return) -> Evaluate:
    """A scorer that backtests a built-in phase (``"sentinel"``) or strategy spec on several
    instruments and streams with ``titan.backtest``'s runner."""
    from titan.backtest.data import window
    from titan.backtest.runner import BacktestRunner
    from titan.phases.registry import BUILTINS, instantiate

    spec = BUILTINS.get(phase, phase)
    ids = list(symbols) if symbols is not None else [i.id for i in instruments]

    def evaluate(params: Mapping[str, Any], start_ns: int, end_ns: int) -> float:
        data = [window(s, start_ns, end_ns) for s in streams]
        if not any(len(d) for d in data):
            return math.nan
        ph = instantiate(spec, params, instruments=ids, timeframe=timeframe)
        runner = BacktestRunner([ph], instruments, data, config=config, cash=cash, fill=fill)
        return score(runner.run())

    return evaluate
