"""Parameter sweeps (seed 004 section 8.5): grid search, walk-forward, Monte Carlo.

Every backtest of a sweep is a :class:`~titan.backtest.spec.BacktestSpec` sent to a worker
process (``concurrent.futures``, one per core); a worker loads the data file once and keeps it
for the specs that follow, and sends back only the figures. Results are deterministic: each
run is, and Monte Carlo draws from ``numpy`` generators seeded per chunk.

- :func:`grid`: every combination of the given values, ranked by an objective metric.
- :func:`walk_forward`: rolling train/test windows; the best parameters of each train window
  are run on the following test window, and the out-of-sample windows are stitched into one
  equity curve whose metrics are the honest estimate.
- :func:`monte_carlo`: from one backtest, the trade order shuffled and the period returns
  bootstrapped, many times: percentile bands of the final return and the max drawdown.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor, as_completed
from decimal import Decimal
from typing import Any

import msgspec
import numpy as np

from titan.backtest.data import parse_time
from titan.backtest.equity import Curve
from titan.backtest.metrics import (
    DAY,
    NS,
    Metrics,
    compute,
    drawdown_stats,
    period_for,
    period_returns,
)
from titan.backtest.spec import BacktestSpec, SpecError, prepare, run_spec
from titan.backtest.summary import summarise
from titan.backtest.trades import RoundTrip

Progress = Callable[[int, int], None]
PERCENTILES = (5, 25, 50, 75, 95)
METRIC_NAMES = frozenset(Metrics.__struct_fields__) - {"start_ns", "end_ns", "returns_period"}
LOWER_IS_BETTER = frozenset({"max_drawdown", "max_drawdown_duration_s", "fees", "volatility"})


class RunFigures(msgspec.Struct, kw_only=True):
    """What a worker sends back for one backtest."""

    params: dict[str, Any]
    start: str
    end: str
    metrics: dict[str, Any]
    digest: str
    trades: list[RoundTrip] = []
    curve_ts: list[int] = []
    curve_equity: list[float] = []


# ---- parameter spaces -------------------------------------------------------------------------


def parse_values(text: str) -> list[str]:
    """``"5,10,20"`` or ``"10:50:10"`` (inclusive range) -> the values, as strings."""
    text = text.strip()
    if ":" in text:
        parts = text.split(":")
        if len(parts) != 3:
            raise ValueError(f"{text!r}: expected START:STOP:STEP")
        try:
            nums = [Decimal(p) for p in parts]
        except ArithmeticError:
            raise ValueError(f"{text!r}: START:STOP:STEP must be numbers") from None
        start, stop, step = nums
        if step <= 0 or stop < start:
            raise ValueError(f"{text!r}: need STEP > 0 and STOP >= START")
        count = int((stop - start) / step) + 1
        if count > 10_000:
            raise ValueError(f"{text!r}: {count} values (max 10000)")
        return [str(start + i * step) for i in range(count)]
    values = [v.strip() for v in text.split(",") if v.strip()]
    if not values:
        raise ValueError(f"{text!r}: no values")
    return values


def parse_space(items: Iterable[str]) -> dict[str, list[str]]:
    """``["fast=5,10", "slow=20:60:20"]`` -> ``{"fast": [...], "slow": [...]}``."""
    space: dict[str, list[str]] = {}
    for item in items:
        name, sep, values = item.partition("=")
        if not sep or not name.strip():
            raise ValueError(f"--grid {item!r}: expected NAME=V1,V2,... or NAME=START:STOP:STEP")
        try:
            space[name.strip()] = parse_values(values)
        except ValueError as e:
            raise ValueError(f"--grid {name.strip()}: {e}") from None
    if not space:
        raise ValueError("--grid: give at least one NAME=VALUES")
    return space


def combinations(space: Mapping[str, Sequence[Any]]) -> list[dict[str, Any]]:
    names = list(space)
    return [dict(zip(names, values, strict=True)) for values in itertools.product(*(space[n] for n in names))]


# ---- workers ----------------------------------------------------------------------------------


def _run_one(spec: BacktestSpec, keep_curve: bool) -> RunFigures:
    import logging

    logging.getLogger("titan").setLevel(logging.CRITICAL)  # Brain events are in the figures
    result = run_spec(spec, journal="off")
    s = summarise(result, curve_points=2000)
    fig = RunFigures(params=dict(spec.params), start=spec.start, end=spec.end,
                     metrics=msgspec.to_builtins(s.metrics), digest=result.digest)
    if keep_curve:
        fig.trades = s.trades
        fig.curve_ts = s.equity["ts"]
        fig.curve_equity = s.equity["equity"]
    return fig


def _executor(workers: int) -> Executor:
    return ProcessPoolExecutor(max_workers=workers)


def default_workers() -> int:
    return max(1, min(os.cpu_count() or 1, 8))


def run_many(specs: Sequence[BacktestSpec], *, workers: int = 0, keep_curve: bool = False,
             progress: Progress | None = None) -> list[RunFigures]:
    """Run specs in parallel; results in the order of ``specs``. Errors are raised, first one."""
    if not specs:
        return []
    prepare(specs[0])  # bad arguments fail here, with one line, before any process starts
    workers = workers or default_workers()
    out: list[RunFigures | None] = [None] * len(specs)
    if workers == 1 or len(specs) == 1:
        for i, spec in enumerate(specs):
            out[i] = _run_one(spec, keep_curve)
            if progress is not None:
                progress(i + 1, len(specs))
        return out  # type: ignore[return-value]
    with _executor(min(workers, len(specs))) as pool:
        futures = {pool.submit(_run_one, spec, keep_curve): i for i, spec in enumerate(specs)}
        for done, fut in enumerate(as_completed(futures), 1):
            out[futures[fut]] = fut.result()
            if progress is not None:
                progress(done, len(specs))
    return out  # type: ignore[return-value]


def objective_value(fig: RunFigures, metric: str) -> float:
    """The figure to rank by, oriented so that larger is better (None ranks last)."""
    v = fig.metrics.get(metric)
    if v is None:
        return -np.inf
    x = float(v)
    return -x if metric in LOWER_IS_BETTER else x


def check_metric(metric: str) -> None:
    if metric not in METRIC_NAMES:
        raise SpecError(f"--metric: unknown metric {metric!r} (e.g. sharpe, sortino, calmar, total_return, "
                        f"profit_factor, max_drawdown)")


# ---- grid -------------------------------------------------------------------------------------


def grid(spec: BacktestSpec, space: Mapping[str, Sequence[Any]], *, metric: str = "sharpe",
         workers: int = 0, progress: Progress | None = None) -> list[RunFigures]:
    """Every parameter combination on ``spec``'s data, best first by ``metric``."""
    check_metric(metric)
    specs = [msgspec.structs.replace(spec, params={**spec.params, **combo}) for combo in combinations(space)]
    figures = run_many(specs, workers=workers, progress=progress)
    return sorted(figures, key=lambda f: objective_value(f, metric), reverse=True)


# ---- walk-forward -----------------------------------------------------------------------------


class Fold(msgspec.Struct, kw_only=True):
    train_start: str
    train_end: str
    test_start: str
    test_end: str
    best_params: dict[str, Any]
    in_sample: dict[str, Any]
    out_of_sample: dict[str, Any]


class WalkForward(msgspec.Struct, kw_only=True):
    metric: str
    folds: list[Fold]
    stitched: dict[str, Any]  # metrics of the out-of-sample windows chained together
    equity: dict[str, list]


def parse_span(text: str, name: str) -> int:
    """``"10d"``, ``"12h"``, ``"90m"`` -> ns."""
    units = {"d": DAY, "h": 3600 * NS, "m": 60 * NS}
    t = text.strip().lower()
    if len(t) < 2 or t[-1] not in units or not t[:-1].isdigit() or int(t[:-1]) <= 0:
        raise SpecError(f"{name}: expected a span like 10d, 12h or 90m, got {text!r}")
    return int(t[:-1]) * units[t[-1]]


def folds_for(start_ns: int, end_ns: int, train_ns: int, test_ns: int, step_ns: int
              ) -> list[tuple[int, int, int, int]]:
    """Rolling (train_start, train_end, test_start, test_end) windows inside [start, end)."""
    out = []
    t = start_ns
    while t + train_ns + test_ns <= end_ns:
        out.append((t, t + train_ns, t + train_ns, t + train_ns + test_ns))
        t += step_ns
    return out


def _iso(ns: int) -> str:
    return str(np.datetime64(ns, "ns").astype("datetime64[m]"))


def walk_forward(spec: BacktestSpec, space: Mapping[str, Sequence[Any]], *, train: str, test: str,
                 step: str = "", metric: str = "sharpe", workers: int = 0,
                 progress: Progress | None = None) -> WalkForward:
    check_metric(metric)
    _, _, streams = prepare(spec)
    lo = min(int(s.ts_event[0]) if hasattr(s, "ts_event") else s[0].ts_event for s in streams if len(s))
    hi = max(int(s.ts_event[-1]) if hasattr(s, "ts_event") else s[-1].ts_event for s in streams if len(s))
    if spec.start:
        lo = max(lo, parse_time(spec.start, "--from"))
    train_ns, test_ns = parse_span(train, "--train"), parse_span(test, "--test")
    step_ns = parse_span(step, "--step") if step else test_ns
    windows = folds_for(lo, hi + 1, train_ns, test_ns, step_ns)
    if not windows:
        raise SpecError(f"--train/--test: {train} + {test} does not fit in the data "
                        f"({_iso(lo)} .. {_iso(hi)})")
    combos = combinations(space)
    base = msgspec.structs.replace(spec, start="", end="")
    train_specs = [msgspec.structs.replace(base, params={**spec.params, **c}, start=_iso(a), end=_iso(b))
                   for a, b, _, _ in windows for c in combos]
    total = len(train_specs) + len(windows)
    done = [0]

    def tick(n: int, _total: int) -> None:
        if progress is not None:
            progress(done[0] + n, total)

    train_figs = run_many(train_specs, workers=workers, progress=tick)
    done[0] = len(train_specs)
    best: list[RunFigures] = []
    for i in range(len(windows)):
        chunk = train_figs[i * len(combos):(i + 1) * len(combos)]
        best.append(max(chunk, key=lambda f: objective_value(f, metric)))
    test_specs = [msgspec.structs.replace(base, params={**spec.params, **b.params}, start=_iso(c), end=_iso(d))
                  for b, (_, _, c, d) in zip(best, windows, strict=True)]
    test_figs = run_many(test_specs, workers=workers, keep_curve=True, progress=tick)
    folds = [Fold(train_start=_iso(a), train_end=_iso(b), test_start=_iso(c), test_end=_iso(d),
                  best_params=b_fig.params, in_sample=b_fig.metrics, out_of_sample=t_fig.metrics)
             for (a, b, c, d), b_fig, t_fig in zip(windows, best, test_figs, strict=True)]
    stitched, curve = _stitch(test_figs, windows)
    return WalkForward(metric=metric, folds=folds, stitched=stitched,
                       equity={"ts": curve.ts.tolist(), "equity": curve.equity.tolist()})


def _stitch(figs: Sequence[RunFigures], windows) -> tuple[dict[str, Any], Curve]:
    """Chain the out-of-sample curves: each window starts where the previous one ended."""
    cash = float(figs[0].metrics["initial_equity"])
    ts_parts, eq_parts = [], []
    capital = cash
    trades: list[RoundTrip] = []
    fees = funding = Decimal(0)
    notional = 0.0
    fills = 0
    for f in figs:
        eq = np.asarray(f.curve_equity, dtype=np.float64)
        scale = capital / eq[0] if eq.size and eq[0] > 0 else 1.0
        ts_parts.append(np.asarray(f.curve_ts, dtype=np.int64))
        eq_parts.append(eq * scale)
        capital = float(eq[-1] * scale) if eq.size else capital
        trades.extend(f.trades)
        fees += Decimal(f.metrics["fees"])
        funding += Decimal(f.metrics["funding"])
        notional += f.metrics["traded_notional"]
        fills += f.metrics["fills"]
    curve = Curve(np.concatenate(ts_parts), np.concatenate(eq_parts), np.zeros(sum(p.size for p in ts_parts)))
    m = compute(curve, trades, initial=Decimal(repr(cash)), fees=fees, funding=funding,
                traded_notional=notional, fills=fills, start_ns=windows[0][2], end_ns=windows[-1][3])
    out = msgspec.to_builtins(m)
    # compounded windows: the money figures are the chained curve's, not a sum of fresh starts
    out["final_equity"] = f"{capital:.2f}"
    out["net_pnl"] = f"{capital - cash:.2f}"
    out["total_return"] = capital / cash - 1.0
    return out, curve


# ---- Monte Carlo ------------------------------------------------------------------------------


class MonteCarlo(msgspec.Struct, kw_only=True):
    runs: int
    seed: int
    trades: int
    period: str
    shuffle: dict[str, dict[str, float]]  # {"final_return": {"p5": ..}, "max_drawdown": {..}}
    bootstrap: dict[str, dict[str, float]]
    actual: dict[str, float]
    bands: dict[str, list]  # bootstrap equity percentiles per step: {"p5": [...], ...}


def _shuffle_chunk(pnl: np.ndarray, cash: float, runs: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    finals = np.empty(runs)
    dds = np.empty(runs)
    for i in range(runs):
        path = cash + np.cumsum(rng.permutation(pnl))
        peak = np.maximum.accumulate(np.concatenate([[cash], path]))[1:]
        dds[i] = float(np.max(1.0 - path / peak)) if path.size else 0.0
        finals[i] = path[-1] / cash - 1.0 if path.size else 0.0
    return finals, np.maximum(dds, 0.0)


def _bootstrap_chunk(returns: np.ndarray, runs: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    draws = rng.choice(returns, size=(runs, returns.size), replace=True)
    paths = np.cumprod(1.0 + draws, axis=1)
    peak = np.maximum.accumulate(np.maximum(paths, 1.0), axis=1)
    dds = np.max(1.0 - paths / peak, axis=1)
    return paths[:, -1] - 1.0, dds, paths


def _bands(values: np.ndarray) -> dict[str, float]:
    return {f"p{p}": float(np.percentile(values, p)) for p in PERCENTILES}


def monte_carlo(spec: BacktestSpec, *, runs: int = 1000, seed: int = 7, workers: int = 0,
                progress: Progress | None = None) -> MonteCarlo:
    if runs < 10 or runs > 1_000_000:
        raise SpecError(f"--runs: expected 10..1000000, got {runs}")
    fig = run_many([spec], workers=1, keep_curve=True)[0]
    closed = [t for t in fig.trades if not t.open]
    if len(closed) < 2:
        raise SpecError(f"{spec.strategy}: {len(closed)} closed trade(s); Monte Carlo needs at least 2")
    cash = float(fig.metrics["initial_equity"])
    pnl = np.asarray([float(t.net_pnl) for t in closed])
    curve = Curve(np.asarray(fig.curve_ts, dtype=np.int64), np.asarray(fig.curve_equity), np.zeros(len(fig.curve_ts)))
    start, end = int(curve.ts[0]), int(curve.ts[-1])
    period, step = period_for(end - start)
    returns = period_returns(curve, start, end, step)
    workers = workers or default_workers()
    chunks = [(i, runs // workers + (1 if i < runs % workers else 0)) for i in range(workers)]
    chunks = [(i, n) for i, n in chunks if n]
    finals_s, dds_s, finals_b, dds_b, paths = [], [], [], [], []
    with _executor(len(chunks)) if len(chunks) > 1 else _Inline() as pool:
        futs = [(pool.submit(_shuffle_chunk, pnl, cash, n, seed * 1000 + i),
                 pool.submit(_bootstrap_chunk, returns, n, seed * 1000 + 500 + i)) for i, n in chunks]
        for k, (fs, fb) in enumerate(futs, 1):
            a, b = fs.result()
            c, d, p = fb.result()
            finals_s.append(a)
            dds_s.append(b)
            finals_b.append(c)
            dds_b.append(d)
            paths.append(p)
            if progress is not None:
                progress(k, len(futs))
    all_paths = np.concatenate(paths)
    actual_dd, _, _ = drawdown_stats(curve)
    return MonteCarlo(
        runs=runs, seed=seed, trades=len(closed), period=period,
        shuffle={"final_return": _bands(np.concatenate(finals_s)), "max_drawdown": _bands(np.concatenate(dds_s))},
        bootstrap={"final_return": _bands(np.concatenate(finals_b)), "max_drawdown": _bands(np.concatenate(dds_b))},
        actual={"final_return": float(fig.metrics["total_return"]), "max_drawdown": actual_dd},
        bands={f"p{p}": np.round(cash * np.percentile(all_paths, p, axis=0), 2).tolist() for p in PERCENTILES},
    )


class _Inline:
    """An executor that runs in this process (one chunk: no process worth starting)."""

    def __enter__(self) -> _Inline:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def submit(self, fn, *args):
        from concurrent.futures import Future

        fut: Future = Future()
        fut.set_result(fn(*args))
        return fut
