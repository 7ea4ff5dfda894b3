"""AI Quant's optimiser job in a running daemon: it searches the bars the session recorded, in
another process, and only advises (a log line, /status, an info AlertRaised in the journal)."""

from __future__ import annotations

import asyncio
import gzip
import os
from pathlib import Path

from tests.integration.live.conftest import Session, entries, make_config
from titan.core import events as ev
from titan.feeds.history import load_bars
from titan.feeds.recording import Recording
from titan.feeds.replay import load_recording
from titan.feeds.replay_server import bundled_sample
from titan.ops.bar_history import file_name
from titan.ops.optimiser import describe
from titan.phases.ai_quant import optimise

DATA = Path(__file__).resolve().parents[2] / "data" / "phases"
CANDLES = DATA / "binance-usdm_BTCUSDT-PERP_1m_20250504-0511.csv.gz"  # a week of real 1m bars
IID = "BTC/USDT:USDT@binanceusdm"


def hunter_config(tmp_path: Path, **ai_quant):
    return make_config(tmp_path, phases={
        "hunter": {"symbols": ["BTC/USDT:USDT"], "equity_min": 0, "equity_max": 0},
        "ai_quant": {"optimize_train": "2d", "optimize_test": "1d",
                     "optimize_metric": "total_return", **ai_quant}})


def test_the_optimiser_job_searches_recorded_bars_in_another_process_and_only_advises(tmp_path):
    history = tmp_path / "history"
    history.mkdir()
    (history / file_name(IID)).write_bytes(gzip.decompress(CANDLES.read_bytes()))
    cfg = hunter_config(tmp_path, optimize_every_h=1 / 3600)  # every second

    async def main():
        async with Session(cfg, tmp_path, duration_s=120) as s:
            r = s.runner
            await s.until(lambda: r.ai_quant["runs"] >= 1, timeout=90)
            return r.status(), r.session.phases

    status, phases = asyncio.run(main())
    aq = status["ai_quant"]
    (got,) = aq["suggestions"]
    assert got["pid"] != os.getpid()  # searched in its own process, off the event loop
    want = optimise("hunter", None, baseline={}, data=str(history / file_name(IID)),
                    symbol="BTC/USDT:USDT", train="2d", test="1d", metric="total_return",
                    fee_bps=5.5, workers=1)
    assert (got["owner"], got["instrument_id"], got["metric"]) == ("hunter", IID, "total_return")
    assert got["params"] == {**got["baseline"], **want.params}
    assert got["oos_score"] == want.oos_score and got["adopt"] == want.adopt
    assert got["folds"] == len(want.folds) >= 2
    assert aq["history"] == {IID: 10_080}  # 7 days of 1m bars
    assert phases[0].params.stop_atr == 0.25  # advice only: the running phase is untouched
    alerts = [m for m in entries(tmp_path)
              if isinstance(m, ev.AlertRaised) and m.title == "ai quant suggestion"]
    assert alerts and alerts[0].severity == "info" and alerts[0].detail == describe(got)


def test_the_session_records_its_1m_bars_and_waits_for_enough_history(tmp_path):
    cfg = hunter_config(tmp_path)

    async def main():
        async with Session(cfg, tmp_path, duration_s=60) as s:
            r = s.runner
            await s.until(lambda: r.server is not None and r.server.finished.is_set())
            await asyncio.sleep(1.0)  # let the feed drain the last frames
            await r.optimise()  # the job, run now: too little history to search
            return dict(r.ai_quant)

    aq = asyncio.run(main())
    assert aq["runs"] == 0 and aq["skipped"][0].startswith(f"hunter on {IID}: ")
    kept = load_bars(tmp_path / "history" / file_name(IID), IID, "1m")
    trades = load_recording(bundled_sample(), IID)["btcusdt@trade"]
    minutes = sorted({t.ts_event // 60_000_000_000 for t in trades})[:-1]  # the last is open
    assert (kept.ts_open // 60_000_000_000).tolist() == minutes
    first = [t.price for t in trades if t.ts_event // 60_000_000_000 == minutes[0]]
    assert (kept.open[0], kept.high[0], kept.low[0], kept.close[0]) == (
        first[0], max(first), min(first), first[-1])
    assert Recording.load(bundled_sample()).frames  # the sample is what the session replayed
