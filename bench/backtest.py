"""Backtest throughput: ``ema_cross`` through the full event-driven kernel, next to numpy.

Workload (the issue's): the reference strategy ``strategies/ema_cross.py`` (EMA 10/30 cross,
long only, fixed quantity 1) on >= 1,000,000 one-minute bars, ``bar_close`` fills, zero fees.
The bars are the real 1m candles of ``../shared/data`` (``candles/`` and ``perp/``) chained end to
end - each file rescaled so it opens where the previous one closed, prices rounded to 0.1,
re-stamped one minute apart, repeated until there are enough - or, without that directory, a
seeded random walk.

Measured in the same process:

- ``kernel_bars_per_s``: ``BacktestRunner`` with the real Kernel, Brain (shipped defaults but the
  tail gate, see ``bench_config``; fitted to the run as every backtest is), ShadowState, SimVenue and the Python strategy; the event log
  digest is computed as in every backtest.
- ``numpy_bars_per_s`` (the baseline): the same strategy vectorised - EMA lines from the batch
  kernel ``titan.indicators.ema`` (the same recurrence, so the crossings agree to the bit), crosses,
  entries and exits with numpy array operations.
- both must produce the same trades (entry/exit time, price and quantity): asserted.
- a breakdown in ns per bar of CPU time (the machine may be shared): building the ``Bar``s, the
  whole loop with a phase that ignores every bar (kernel, state, Brain marks and timer, venue,
  clock), the strategy's own ``on_bar``, and the rest: orders (decision, venue, fill, state,
  journal) and holding positions (the Brain's per-mark risk sums), also given per order. Two
  more runs (ignore and ema_cross) time ``Brain.on_timer`` and ``Brain.on_market`` around each
  call (wall clock), which splits the rest into the timer's extra work while holding, the marks
  of held positions, and the orders alone.

Prints one JSON line. Goal: >= 1,000,000 bars/s through the kernel (for scale: NautilusTrader
~21,000 bars/s and backtesting.py ~100,000 on this kind of machine, on this workload).
"""

from __future__ import annotations

import gc
import json
import logging
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from titan.backtest.market import sim_instrument  # noqa: E402
from titan.backtest.runner import BacktestRunner  # noqa: E402
from titan.core import events as ev  # noqa: E402
from titan.feeds.history import BarSeries, load_bars  # noqa: E402
from titan.feeds.validate import ValidationReport  # noqa: E402
from titan.indicators import ema  # noqa: E402
from titan.phases.base import Phase  # noqa: E402
from titan.phases.registry import instantiate  # noqa: E402

BARS = 1_000_000
SHARED = ROOT.parent / "shared" / "data"
MINUTE = 60_000_000_000
T0 = 1_600_000_000_000_000_000 // MINUTE * MINUTE
IID = "BTC/USDT:USDT@sim"
CASH = 10**9  # qty 1 never meets a position cap or a drawdown rule: every cross trades
FAST, SLOW = 10, 30


# ---- data -------------------------------------------------------------------------------------


def real_candles(n: int) -> BarSeries | None:
    files = sorted(p for d in ("candles", "perp") for p in (SHARED / d).glob("*_1m_*.csv.gz")
                   if "quote" not in p.name) if SHARED.is_dir() else []
    if not files:
        return None
    parts = [load_bars(p, "x@file", "1m", on_error="drop") for p in files]
    cols: list[list[np.ndarray]] = [[], [], [], [], []]
    last, total = None, 0
    while total < n:
        for s in parts:
            scale = 1.0 if last is None else last / s.open[0]
            for i, c in enumerate((s.open, s.high, s.low, s.close, s.volume)):
                cols[i].append(np.round(c * scale, 1) if i < 4 else c)
            last = float(cols[3][-1][-1])
            total += len(s)
    o, h, lo, c, v = (np.concatenate(x)[:n] for x in cols)
    h, lo = np.maximum(h, np.maximum(o, c)), np.minimum(lo, np.minimum(o, c))
    return _series(o, h, lo, c, v)


def random_walk(n: int, seed: int = 7) -> BarSeries:
    rng = np.random.default_rng(seed)
    c = np.round(30_000.0 * np.exp(np.cumsum(rng.normal(0, 7e-4, n))), 1)
    o = np.concatenate([[c[0]], c[:-1]])
    wick = np.abs(rng.normal(0, 3e-4, n)) * c
    return _series(o, np.round(np.maximum(o, c) + wick, 1), np.round(np.minimum(o, c) - wick, 1), c,
                   np.abs(rng.normal(5, 2, n)))


def _series(o, h, lo, c, v) -> BarSeries:
    ts = T0 + np.arange(len(c), dtype=np.int64) * MINUTE
    return BarSeries(IID, "1m", ts, o, h, lo, c, v, ValidationReport(path="bench", kind="candles"))


# ---- the two implementations -------------------------------------------------------------------


def bench_config():
    """The shipped defaults, except the Hill-tail gate: on fat-tailed 1m returns it turns the
    Brain DEFENSIVE, which halves new orders - right for trading, but then the two
    implementations could not be compared trade for trade. Every check still runs."""
    from titan.config import config_from_dict

    return config_from_dict({"brain": {"tail_index_defensive": 0.01}})


def kernel_run(series: BarSeries, phase: Phase):
    inst = sim_instrument("BTC/USDT:USDT", prices=series.close, fee_bps=0)
    runner = BacktestRunner([phase], [inst], [series], config=bench_config(), cash=CASH, fill="bar_close")
    return runner.run()


def kernel_trades(result) -> list[tuple]:
    fills = result.fills
    out = []
    for buy, sell in zip(fills[0::2], fills[1::2], strict=False):
        assert buy.side is ev.Side.BUY and sell.side is ev.Side.SELL
        out.append((buy.ts_event, sell.ts_event, float(buy.last_price), float(sell.last_price),
                    float(buy.last_qty)))
    if len(fills) % 2:
        f = fills[-1]
        out.append((f.ts_event, None, float(f.last_price), None, float(f.last_qty)))
    return out


def numpy_trades(ts: np.ndarray, close: np.ndarray, fast: int = FAST, slow: int = SLOW, qty: float = 1.0
                 ) -> list[tuple]:
    f, s = ema(close, fast), ema(close, slow)
    valid = ~np.isnan(s)
    above = f > s
    cross = np.flatnonzero(valid[1:] & valid[:-1] & (above[1:] != above[:-1])) + 1
    ups, downs = cross[above[cross]], cross[~above[cross]]
    if downs.size and ups.size:
        downs = downs[downs > ups[0]]
    exits = np.full(ups.size, -1, dtype=np.int64)
    exits[:downs.size] = downs[:ups.size]
    out = []
    for e, x in zip(ups.tolist(), exits.tolist(), strict=True):
        out.append((int(ts[e]), int(ts[x]) if x >= 0 else None, float(close[e]),
                    float(close[x]) if x >= 0 else None, qty))
    return out


# ---- stages -------------------------------------------------------------------------------------


class Ignore(Phase):
    """Subscribes to the bars and does nothing: the loop's cost without a strategy."""

    name = "ignore"

    def on_bar(self, bar):
        return None


def cpu(fn) -> float:
    gc.collect()
    t0 = time.process_time()
    fn()
    return time.process_time() - t0


def build_bars(series: BarSeries) -> list:
    Bar, iid, tf = ev.Bar, series.instrument_id, series.timeframe
    return [Bar(instrument_id=iid, ts_event=t1, ts_init=t1, timeframe=tf, ts_open=t0, open=o, high=h,
                low=lo, close=c, volume=v)
            for t0, t1, o, h, lo, c, v in zip(series.ts_open.tolist(), series.ts_event.tolist(),
                                              series.open.tolist(), series.high.tolist(), series.low.tolist(),
                                              series.close.tolist(), series.volume.tolist(), strict=True)]


def strategy_alone(bars: list) -> None:
    """``EmaCross.on_bar`` on every bar with a real context (flat throughout, no fills)."""
    from titan.core.clock import SimClock
    from titan.core.state import ShadowState
    from titan.phases.base import PhaseContext

    p = instantiate("strategies/ema_cross.py", {}, instruments=[IID])
    state = ShadowState()
    p.bind(PhaseContext(p.owner, SimClock(), state, state.instruments))
    p.on_start()
    on_bar = p.on_bar
    for b in bars:
        on_bar(b)


def brain_calls(series: BarSeries, phase: Phase) -> tuple[float, float]:
    """(seconds in Brain.on_timer, seconds in Brain.on_market) over one run of ``phase``."""
    from titan.brain.brain import Brain

    spent = {"on_timer": 0, "on_market": 0}
    originals = {name: getattr(Brain, name) for name in spent}
    clock = time.perf_counter_ns

    def timed(name):
        fn = originals[name]

        def call(self, *args):
            t = clock()
            try:
                return fn(self, *args)
            finally:
                spent[name] += clock() - t
        return call

    try:
        for name in spent:
            setattr(Brain, name, timed(name))
        kernel_run(series, phase)
    finally:
        for name, fn in originals.items():
            setattr(Brain, name, fn)
    return spent["on_timer"] / 1e9, spent["on_market"] / 1e9


def main() -> None:
    logging.disable(logging.CRITICAL)
    count = int(sys.argv[1]) if len(sys.argv) > 1 else BARS  # a smaller run for a quick look
    series = real_candles(count)
    source = "real candles (shared/data, chained)" if series is not None else "seeded random walk"
    series = series if series is not None else random_walk(count)
    n = len(series)

    t0, c0 = time.perf_counter(), time.process_time()
    result = kernel_run(series, instantiate("strategies/ema_cross.py", {}, instruments=[IID]))
    kernel_wall, kernel_cpu = time.perf_counter() - t0, time.process_time() - c0
    k_trades = kernel_trades(result)

    numpy_wall = float("inf")
    for _ in range(3):  # best of three: it is short, and the machine may be busy
        t0 = time.perf_counter()
        n_trades = numpy_trades(series.ts_event, series.close)
        numpy_wall = min(numpy_wall, time.perf_counter() - t0)
    agree = k_trades == n_trades
    if not agree:
        first = next((i for i, (a, b) in enumerate(zip(k_trades, n_trades, strict=False)) if a != b), min(len(k_trades), len(n_trades)))
        raise SystemExit(f"trades differ: kernel {len(k_trades)}, numpy {len(n_trades)}; first difference at "
                         f"trade {first}: {k_trades[first:first + 1]} vs {n_trades[first:first + 1]}")

    built: list = []
    t_bars = cpu(lambda: built.extend(build_bars(series)))
    t_strategy = cpu(lambda: strategy_alone(built))
    built.clear()
    ignore = kernel_run(series, Ignore(instruments=[IID]))
    t_loop = ignore.cpu_s
    orders = len(result.fills)
    per_order = (result.cpu_s - t_loop - t_strategy) / orders if orders else 0.0
    timer_flat, _ = brain_calls(series, Ignore(instruments=[IID]))
    timer, marks = brain_calls(series, instantiate("strategies/ema_cross.py", {}, instruments=[IID]))
    alone = (result.cpu_s - t_loop - t_strategy - marks - max(0.0, timer - timer_flat)) / orders if orders else 0.0
    print(json.dumps({
        "bench": "backtest", "bars": n, "data": source, "strategy": f"ema_cross fast={FAST} slow={SLOW} qty=1",
        "fill": "bar_close", "fees": 0, "trades": len(k_trades), "orders": orders, "agree": agree,
        "kernel_bars_per_s": round(n / kernel_wall), "kernel_bars_per_cpu_s": round(n / kernel_cpu),
        "numpy_bars_per_s": round(n / numpy_wall),
        "ratio_kernel_to_numpy": round((n / kernel_wall) / (n / numpy_wall), 5),
        "goal_bars_per_s": 1_000_000, "goal_met": n / kernel_wall >= 1_000_000,
        "peers_bars_per_s": {"nautilus_trader": 21_000, "backtesting.py": 100_000},
        "breakdown_cpu": {
            "bar_construction_ns_per_bar": round(t_bars / n * 1e9),
            "loop_without_strategy_ns_per_bar": round(t_loop / n * 1e9),
            "strategy_on_bar_ns_per_bar": round(t_strategy / n * 1e9),
            "orders_and_positions_ns_per_bar": round(per_order * orders / n * 1e9),
            "orders_and_positions_us_per_order": round(per_order * 1e6, 1),
            "brain_timer_ns_per_bar": round(timer / n * 1e9),
            "brain_timer_flat_ns_per_bar": round(timer_flat / n * 1e9),
            "held_marks_ns_per_bar": round(marks / n * 1e9),
            "orders_alone_us_per_order": round(alone * 1e6, 1),
            "total_ns_per_bar": round(result.cpu_s / n * 1e9),
        },
        "digest": result.digest, "journal_entries": result.journal_entries,
        "brain": {"denied": len(result.denials), "clipped": result.clipped},
    }))


if __name__ == "__main__":
    main()
