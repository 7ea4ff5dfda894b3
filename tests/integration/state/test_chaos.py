"""Chaos at small scale (bench/chaos.py runs it at full scale): a trading process on the real
ccxt client, talking to the exchange emulator in its own process, is killed with SIGKILL at
each kind of bad moment, restarted and reconciled. Nothing may be lost or sent twice, and after
every restart the state must equal the emulator's books."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]


def load_bench():
    spec = importlib.util.spec_from_file_location("titan_bench_chaos", ROOT / "bench" / "chaos.py")
    module = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_kills_at_every_bad_moment_lose_and_duplicate_nothing(tmp_path):
    chaos = load_bench()
    faults = ["after_accept", "before_send", "during_send", "after_fill", "timer"]
    result = chaos.run(kills=5, seed=11, workdir=tmp_path, faults=faults, fault_at=(1, 2),
                       run_s=(0.4, 0.8))
    assert result["self_kills"] == {"after_accept": 1, "after_fill": 1, "before_send": 1,
                                    "during_send": 1}, result
    assert result["lost"] == 0 and result["duplicated"] == 0, result
    assert result["state_mismatches"] == 0 and result["not_ready"] == 0, result
    # the kill after a logged-but-unsent command is seen and settled at the next restart
    assert result["corrections_by_kind"].get("not_at_venue", 0) >= 1, result
    # the kill after an unlogged accept/fill is repaired from the venue's reports
    assert result["corrections_by_kind"].get("missing_fill", 0) >= 1, result
    assert result["orders_sent"] >= 4 and result["orders_logged"] >= result["orders_sent"]
