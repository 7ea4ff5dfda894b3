"""AI Quant's offline half: walk-forward grid search over a phase's parameters.

The daemon runs :func:`optimise` every ``phases.ai_quant.optimize_every_h`` hours, off the
trading path. It never changes a running phase: it returns a :class:`Suggestion`, and the
suggestion says ``adopt`` only when the winners beat the current parameters *out of sample*.

Walk-forward (Pardo, "The Evaluation and Optimization of Trading Strategies", 2008): the period
is cut into ``folds + 1`` equal windows; for each fold every grid point is scored on window k
(train) and the best one is then scored on window k+1 (test), which it has never seen. The
mean of those test scores is the honest estimate of what optimising buys; the current
parameters are scored on the same test windows for comparison. The suggested parameters are
the best on the most recent window.

Scoring is injected (``evaluate(params, start_ns, end_ns) -> float``, higher is better):
:func:`backtest_evaluator` builds one from ``titan.backtest``'s runner (the backtest engine's
sweeps module, once it exists, can replace the loop here without changing this API).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

Evaluate = Callable[[Mapping[str, Any], int, int], float]


@dataclass(frozen=True, slots=True)
class Fold:
    train: tuple[int, int]
    test: tuple[int, int]
    best: dict[str, Any]
    train_score: float
    test_score: float
    baseline_test_score: float


@dataclass(frozen=True, slots=True)
class Suggestion:
    phase: str
    params: dict[str, Any]  # the baseline updated with the winner on the latest window
    baseline: dict[str, Any]
    folds: list[Fold] = field(default_factory=list)
    oos_score: float = math.nan  # mean test score of the fold winners
    baseline_oos_score: float = math.nan  # mean test score of the baseline on the same windows
    evaluations: int = 0

    @property
    def adopt(self) -> bool:
        """Only when optimising beat the current parameters on data it had not seen."""
        return (not math.isnan(self.oos_score) and not math.isnan(self.baseline_oos_score)
                and self.oos_score > self.baseline_oos_score)


def grid(space: Mapping[str, Sequence[Any]]) -> list[dict[str, Any]]:
    """Every combination, in a fixed order (keys sorted, values as given)."""
    if not space:
        return [{}]
    keys = sorted(space)
    for k in keys:
        if not space[k]:
            raise ValueError(f"space.{k}: no values to try")
    return [dict(zip(keys, combo, strict=True)) for combo in itertools.product(*(space[k] for k in keys))]


def windows(start_ns: int, end_ns: int, parts: int) -> list[tuple[int, int]]:
    if parts < 1 or end_ns <= start_ns:
        raise ValueError(f"cannot cut [{start_ns}, {end_ns}) into {parts} windows")
    step = (end_ns - start_ns) // parts
    edges = [start_ns + i * step for i in range(parts)] + [end_ns]
    return list(zip(edges[:-1], edges[1:], strict=True))


def optimise(evaluate: Evaluate, space: Mapping[str, Sequence[Any]], *, start_ns: int,
             end_ns: int, folds: int = 3, baseline: Mapping[str, Any] | None = None,
             phase: str = "") -> Suggestion:
    """Walk-forward grid search; see the module docstring."""
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
        phase=phase, params=points[_best(scores[-1])], baseline=base, folds=out,
        oos_score=sum(f.test_score for f in out) / len(out),
        baseline_oos_score=sum(f.baseline_test_score for f in out) / len(out),
        evaluations=len(points) * len(wins) + folds)


def _best(scores: list[float]) -> int:
    """Index of the highest score; ties go to the earlier grid point."""
    return max(range(len(scores)), key=lambda j: (scores[j], -j))


def _finite(x: float) -> float:
    """A score that cannot be compared (NaN) ranks last."""
    x = float(x)
    return -math.inf if math.isnan(x) else x


def total_return(result: Any) -> float:
    """Net return of a backtest on its cash: equity after fees and funding, marked at the end."""
    return float(result.state_equity / result.cash - 1)


def backtest_evaluator(phase: str, instruments: Sequence[Any], streams: Sequence[Any], *,
                       symbols: Sequence[str] | None = None, timeframe: str = "1m",
                       cash: Any = 10_000, config: Any = None, fill: str = "next_open",
                       score: Callable[[Any], float] = total_return) -> Evaluate:
    """An ``evaluate`` that backtests one built-in phase (``"hunter"``, ...) or strategy spec
    (``path.py:Class``) with ``titan.backtest``'s runner on the given data."""
    from titan.backtest.data import window
    from titan.backtest.runner import BacktestRunner
    from titan.phases.registry import BUILTINS, instantiate

    spec = BUILTINS.get(phase, phase)
    ids = list(symbols) if symbols is not None else [i.id for i in instruments]

    def evaluate(params: Mapping[str, Any], start_ns: int, end_ns: int) -> float:
        ph = instantiate(spec, params, instruments=ids, timeframe=timeframe)
        data = [window(s, start_ns, end_ns) for s in streams]
        if not any(_nonempty(d) for d in data):
            return math.nan
        runner = BacktestRunner([ph], instruments, data, config=config, cash=cash, fill=fill)
        return score(runner.run())

    return evaluate


def _nonempty(stream: Any) -> bool:
    return len(stream) > 0
