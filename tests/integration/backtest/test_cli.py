"""``titan backtest``, ``titan sweep`` and ``titan validate`` end to end (typer's runner, in
process; one real subprocess for the exit code and stderr of bad input)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from tests.unit.backtest.world import BINANCE_1M, BYBIT_1M, BYBIT_FUNDING, ROOT
from titan.cli import app

runner = CliRunner()


def invoke(*args: str):
    return runner.invoke(app, list(args), catch_exceptions=False)


def digest_line(output: str) -> str:
    return next(line.split()[-1] for line in output.splitlines() if line.startswith("event log sha256"))


def test_backtest_writes_json_and_report_and_prints_the_digest(tmp_path):
    out, html = tmp_path / "out.json", tmp_path / "out.html"
    args = ("backtest", "-q", "--data", str(BINANCE_1M), "--param", "fast=20", "-p", "slow=60", "-p", "qty=0.01",
            "--json", str(out), "--report", str(html))
    first = invoke(*args)
    assert first.exit_code == 0, first.output
    doc = json.loads(out.read_text())
    assert digest_line(first.output) == doc["run"]["digest"]
    assert doc["reconciliation"]["ok"] and doc["metrics"]["trades"] == len([t for t in doc["trades"] if not t["open"]]) > 10
    assert set(doc["trades"][0]) >= {"entry_ts", "exit_ts", "side", "quantity", "entry_price", "exit_price",
                                     "pnl", "fees", "net_pnl"}
    assert len(doc["equity"]["ts"]) == len(doc["equity"]["equity"]) > 100 and "ema_cross" in doc["phases"]
    assert html.read_text().startswith("<!doctype html>")
    again = invoke(*args)
    assert digest_line(again.output) == doc["run"]["digest"]  # byte-identical event log


def test_perpetual_with_funding_and_spot_symbol():
    perp = invoke("backtest", "-q", "--data", str(BYBIT_1M), "--funding", str(BYBIT_FUNDING), "-p", "qty=0.01",
                  "--fee-bps", "2", "--fill", "next_open")
    assert perp.exit_code == 0 and "money reconciled: yes" in perp.output
    spot = invoke("backtest", "-q", "--data", str(BYBIT_1M), "--symbol", "BTC/USDT", "-p", "qty=0.01")
    assert spot.exit_code == 0 and "money reconciled: yes" in spot.output
    assert digest_line(perp.output) != digest_line(spot.output)


def test_default_is_the_bundled_sample():
    result = invoke("backtest", "-q", "-p", "fast=50", "-p", "slow=200", "-p", "qty=0.01", "--from", "2025-05-10",
                    "--to", "2025-05-12")
    assert result.exit_code == 0, result.output
    assert "2025-05-10 00:0" in result.output and "2,880 events" in result.output


@pytest.mark.parametrize("args, message", [
    (("--fill", "magic"), "--fill: expected one of bar_close, next_open, ohlc, book"),
    (("--param", "fast"), "--param 'fast': expected NAME=VALUE"),
    (("--param", "fast=quick"), "params.fast"),
    (("--param", "speed=3"), "params.speed: unknown parameter"),
    (("--data", "nowhere.csv"), "nowhere.csv: file not found"),
    (("--from", "yesterday"), "--from: expected a date"),
    (("--symbol", "BTCUSDT"), "--symbol: symbol 'BTCUSDT'"),
    (("--cash", "-5"), "--cash: must be > 0"),
    (("--strategy", "strategies/none.py"), "strategies/none.py: file not found"),
    (("--funding", str(BYBIT_FUNDING), "--symbol", "BTC/USDT"), "--funding: BTC/USDT is spot"),
])
def test_bad_input_is_one_line_and_exit_2(args, message):
    result = invoke("backtest", "-q", "--data", str(BINANCE_1M), *args) if "--data" not in args else invoke(
        "backtest", "-q", *args)
    assert result.exit_code == 2
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("titan: ") and message in lines[0], result.output


def test_bad_input_in_a_real_process():
    proc = subprocess.run([sys.executable, "-m", "titan", "backtest", "-q", "--fill", "magic"],
                          capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.strip().splitlines() == ["titan: --fill: expected one of bar_close, next_open, ohlc, book, got 'magic'"]


def test_sweep_commands(tmp_path):
    out = tmp_path / "grid.json"
    grid = invoke("sweep", "grid", "-q", "--data", str(BINANCE_1M), "-p", "qty=0.01", "-g", "fast=10,30",
                  "-g", "slow=60", "--metric", "sortino", "--workers", "2", "--json", str(out))
    assert grid.exit_code == 0, grid.output
    assert [r["params"]["fast"] for r in json.loads(out.read_text())["results"]] != []
    mc = invoke("sweep", "montecarlo", "-q", "--data", str(BINANCE_1M), "-p", "qty=0.01", "-n", "50")
    assert mc.exit_code == 0 and "bootstrap max_drawdown" in mc.output
    bad = invoke("sweep", "walkforward", "-q", "--data", str(BINANCE_1M), "-g", "fast=10", "--train", "1x")
    assert bad.exit_code == 2 and "--train: expected a span like 10d" in bad.output


def test_validate(tmp_path):
    ok = invoke("validate", "strategies/range_breakout.py", "--bars", "1500")
    assert ok.exit_code == 0 and "no problems found" in ok.output
    broken = tmp_path / "broken.py"
    broken.write_text('"""Divides by zero."""\nfrom titan.phases.base import Phase\n\n\nclass Broken(Phase):\n'
                      "    def on_bar(self, bar):\n        return 1 / 0\n")
    bad = invoke("validate", str(broken), "--bars", "500")
    assert bad.exit_code == 1 and f"{broken}:7: broken.on_bar raised ZeroDivisionError" in bad.output.replace("\n", "")
    missing = invoke("validate", str(tmp_path / "none.py"))
    assert missing.exit_code == 2 and "file not found" in missing.output
