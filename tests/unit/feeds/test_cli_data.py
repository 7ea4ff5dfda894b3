"""``titan data validate`` / ``download`` argument handling and exit codes; the replay server CLI."""

from __future__ import annotations

import gzip
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from titan.cli import app
from titan.cli.data import parse_time_ms

DATA = Path(__file__).resolve().parents[2] / "data" / "feeds"
runner = CliRunner()


def test_validate_clean_file_exits_0():
    res = runner.invoke(app, ["data", "validate", str(DATA / "bybit-linear_BTCUSDT-PERP_1m_20221213.csv.gz")])
    assert res.exit_code == 0, res.output
    assert "721 candles rows, timeframe 1m, 0 error(s), 0 gap(s)" in res.output


def test_validate_problems_exit_1_with_locations(tmp_path):
    with gzip.open(DATA / "bybit-linear_BTCUSDT-PERP_1m_20221213.csv.gz", "rt") as fh:
        lines = fh.read().splitlines()[:10]
    lines[4] = lines[3]  # line 5 repeats line 4
    del lines[7]  # a missing minute
    p = tmp_path / "c.csv"
    p.write_text("\n".join(lines) + "\n")
    res = runner.invoke(app, ["data", "validate", str(p)])
    assert res.exit_code == 1
    assert f"error {p}:5: duplicate timestamp" in res.output
    assert f"gap   {p}:7: 1 missing" in res.output


def test_gaps_alone_can_be_allowed(tmp_path):
    with gzip.open(DATA / "bybit-linear_BTCUSDT-PERP_1m_20221213.csv.gz", "rt") as fh:
        lines = fh.read().splitlines()[:10]
    del lines[5]
    p = tmp_path / "g.csv"
    p.write_text("\n".join(lines) + "\n")
    assert runner.invoke(app, ["data", "validate", str(p)]).exit_code == 1
    assert runner.invoke(app, ["data", "validate", str(p), "--allow-gaps"]).exit_code == 0


def test_unreadable_input_exits_2(tmp_path):
    res = runner.invoke(app, ["data", "validate", str(tmp_path / "missing.csv.gz")])
    assert res.exit_code == 2 and "missing.csv.gz: file not found" in res.output


@pytest.mark.parametrize("args, needle", [
    (["--venue", "kraken"], "--venue: expected one of bybit, binance, binanceusdm"),
    (["--since", "yesterday"], "--since: expected a UTC date"),
    (["--timeframe", "7x"], "--timeframe: timeframe '7x'"),
    (["--until", "2024-12-31"], "--until: must be after --since"),
])
def test_download_rejects_bad_arguments(args, needle, tmp_path):
    base = {"--venue": "bybit", "--symbol": "BTC/USDT:USDT", "--since": "2025-01-01", "--out": str(tmp_path)}
    for k, v in zip(args[::2], args[1::2], strict=False):
        base[k] = v
    res = runner.invoke(app, ["data", "download", *[x for kv in base.items() for x in kv]])
    assert res.exit_code == 2 and needle in res.output
    assert list(tmp_path.iterdir()) == []


def test_time_parsing():
    assert parse_time_ms("2025-01-01", "--since") == 1735689600000
    assert parse_time_ms("2025-01-01T00:01", "--since") == 1735689660000
    assert parse_time_ms("1735689600000", "--since") == 1735689600000


def test_replay_server_runs_as_a_module():
    out = subprocess.run([sys.executable, "-m", "titan.feeds.replay_server", "--help"], capture_output=True,
                         text=True, check=True).stdout
    for flag in ("--speed", "--drop-every", "--corrupt-every", "--disconnect-every", "--silence-every", "--ignore-pings"):
        assert flag in out
    bad = subprocess.run([sys.executable, "-m", "titan.feeds.replay_server", str(DATA / "nope.log.gz")],
                         capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "nope.log.gz: cannot read" in bad.stderr
