"""AI Quant: regimes on real and hand-built bars, reported to the real Brain through the kernel;
the walk-forward optimiser over the backtest engine's sweeps and over a hand-checkable scorer."""

from __future__ import annotations

import math
from decimal import Decimal
from pathlib import Path

import pytest

from tests.unit.phases.builtin_session import T0, bars, run_session
from titan.config import TitanConfig
from titan.core import events as ev
from titan.core.instruments import Instrument
from titan.feeds.history import load_bars
from titan.phases.ai_quant import AiQuant, RegimeDetector, RegimeSettings, grid, optimise, search
from titan.phases.ai_quant.regime import REGIMES

DATA = Path(__file__).resolve().parents[2] / "data" / "phases"
SPOT = Instrument(symbol="BTC/USDT", venue="sim", base="BTC", quote="USDT",
                  tick_size=Decimal("0.01"), lot_size=Decimal("0.00001"))
IID = SPOT.id
HOUR = 3600 * 10**9


def test_regime_names_are_the_brains():
    assert set(REGIMES) == set(TitanConfig().brain.regimes)


def test_real_crash_of_19_may_2021_reaches_the_brain():
    series = load_bars(DATA / "binance-spot_BTCUSDT_1h_202104-202105.csv.gz", IID, "1h")
    ph = AiQuant(instruments=[IID], timeframe="1h")
    s = run_session([ph], series.events(), [SPOT], cash=10_000)
    published = [m for m in s.messages if isinstance(m, ev.RegimeChanged)]
    assert published == ph.published and published  # through ctx.publish into the journal
    assert {e.regime for e in published} <= set(TitanConfig().brain.regimes)
    assert all(a.regime != b.regime for a, b in zip(published, published[1:], strict=False))
    may19 = 1621382400 * 10**9  # 2021-05-19 00:00 UTC; BTC fell ~30 % by 13:00
    crash = [e for e in published if e.regime == "crash" and may19 <= e.ts_event < may19 + 12 * HOUR]
    assert crash, [(e.ts_event, e.regime) for e in published]
    assert s.brain.allocator.regime == published[-1].regime  # the Brain followed every report
    assert s.submits == [] and s.denials == []


def fast(**kw) -> RegimeSettings:
    base = dict(adx_period=5, vol_short=5, vol_long=20, tail_window=20, crash_lookback=5,
                confirm_bars=2)
    base.update(kw)
    return RegimeSettings(**base)


def feed(det: RegimeDetector, closes, start=T0) -> list[str | None]:
    rows = []
    prev = closes[0]
    for c in closes:
        rows.append((prev, max(prev, c) * 1.001, min(prev, c) * 0.999, c))
        prev = c
    return [det.update(b) for b in bars(IID, rows, start=start, tf="1h")]


def test_steady_rise_is_trending_and_a_fast_fall_is_a_crash_on_the_bar_it_happens():
    det = RegimeDetector(fast())
    rise = [100 * 1.004**i for i in range(40)]
    feed(det, rise)
    assert det.regime == "trending" and det.reading.adx >= 25
    top = max(b for b in rise) * 1.001  # the last bar's high
    fall = [rise[-1] * (1 - 0.03 * i) for i in range(1, 5)]  # -3 %, -6 %, -9 %, -12 %
    out = feed(det, fall, start=T0 + 40 * HOUR)
    assert "crash" not in out[:3]
    assert out[3] == "crash"  # no confirmation wait for a crash
    assert det.reading.drawdown == pytest.approx(1 - fall[3] / top)


def test_real_months_show_every_calm_regime_and_the_crashes():
    series = load_bars(DATA / "binance-spot_BTCUSDT_1h_202104-202105.csv.gz", IID, "1h")
    det = RegimeDetector(RegimeSettings())
    seen = {r for r in (det.update(b) for b in series.events()) if r}
    assert {"trending", "ranging", "crash"} <= seen <= set(REGIMES)


@pytest.mark.parametrize("confirm", [1, 2, 4])
def test_a_change_is_reported_only_after_confirm_bars_readings_agree(confirm):
    series = load_bars(DATA / "binance-spot_BTCUSDT_1h_202104-202105.csv.gz", IID, "1h")
    det = RegimeDetector(RegimeSettings(confirm_bars=confirm))
    readings, reported = [], []
    for b in series.events():
        before = det.regime
        changed = det.update(b)
        if det.reading is None:
            continue
        readings.append(det.reading.regime)
        reported.append((before, changed))
    assert any(c for _, c in reported)
    for i, (before, changed) in enumerate(reported):
        if changed is None or not before:
            continue
        run = readings[max(0, i - confirm + 1): i + 1]
        if changed == "crash":
            assert readings[i] == "crash"
        else:
            assert run == [changed] * confirm, (i, before, changed, run)


def test_market_regime_takes_the_worst_of_any_instrument():
    other = "ETH/USDT@sim"
    ph = AiQuant(AiQuant.Params(regime_timeframe="1h", adx_period=5, vol_short=5, vol_long=20,
                                tail_window=20, crash_lookback=5),
                 instruments=[IID, other], timeframe="1h")
    ph.on_start()
    rise = [100 * 1.004**i for i in range(40)]
    crash = rise[:36] + [rise[35] * 0.88] * 4
    for b in bars(IID, [(c, c * 1.001, c * 0.999, c) for c in rise], tf="1h"):
        ph.on_bar(b)
    assert ph.market_regime() == ("trending", IID)
    for b in bars(other, [(c, c * 1.001, c * 0.999, c) for c in crash], tf="1h"):
        assert ph.on_bar(b) is None
    assert ph.market_regime() == ("crash", other)
    assert ph.published[-1].regime == "crash" and ph.published[-1].source.startswith(f"ai_quant:{other}")


# ---- optimiser --------------------------------------------------------------------------------

def test_grid_order_is_fixed():
    assert grid({"b": [1, 2], "a": ["x"]}) == [{"a": "x", "b": 1}, {"a": "x", "b": 2}]
    with pytest.raises(ValueError, match="space.a"):
        grid({"a": []})


def test_walk_forward_search_by_hand():
    # the best x moves from window to window (0: x=1, 1: x=2, 2: x=2, 3: x=3); the score is
    # -(x - best)^2, so each fold's winner and its out-of-sample score follow by hand
    best = [1, 2, 2, 3]
    edges = [0, 100, 200, 300, 400]

    def evaluate(params, start, end):
        return -float((params["x"] - best[edges.index(start)]) ** 2)

    s = search(evaluate, {"x": [1, 2, 3]}, start_ns=0, end_ns=400, folds=3, baseline={"x": 1})
    assert [f.best["x"] for f in s.folds] == [1, 2, 2]
    assert [f.test_score for f in s.folds] == [-1.0, 0.0, -1.0]
    assert [f.baseline_test_score for f in s.folds] == [-1.0, -1.0, -4.0]
    assert s.oos_score == pytest.approx(-2 / 3) and s.baseline_oos_score == -2.0
    assert s.adopt and s.params == {"x": 3} and s.evaluations == 3 * 4 + 3
    worse = search(lambda p, a, b: -abs(p["x"] - 1) if a < 300 else -abs(p["x"] - 3),
                   {"x": [1, 3]}, start_ns=0, end_ns=400, folds=3, baseline={"x": 1})
    assert not worse.adopt  # the fold winners did no better than the baseline out of sample


def test_optimise_runs_the_backtest_engines_walk_forward():
    from titan.backtest.spec import BacktestSpec
    from titan.backtest.sweeps import walk_forward

    data = str(DATA / "binance-usdm_BTCUSDT-PERP_1m_20250504-0511.csv.gz")
    kw = dict(data=data, train="2d", test="1d", step="2d", cash=1_000.0, fill="next_open",
              workers=1, metric="total_return")
    space = {"reward_risk": [1.5, 3.0]}
    s = optimise("scavenger", space, **kw)
    assert s.phase == "scavenger" and s.params in grid(space) and len(s.folds) == 2
    spec = BacktestSpec(strategy="titan.phases.scavenger:Scavenger", data=data, cash=1_000.0,
                        fill="next_open")
    same = walk_forward(spec, space, train="2d", test="1d", step="2d", metric="total_return",
                        workers=1)
    assert s.oos_score == pytest.approx(same.stitched["total_return"])
    assert [f.best_params for f in s.folds] == [f.best_params for f in same.folds]
    assert s.adopt == (s.oos_score > s.baseline_oos_score)
    assert math.isfinite(s.baseline_oos_score)
