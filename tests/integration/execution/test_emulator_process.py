"""``python -m tests.kit.emulator`` runs as its own process and is driven over HTTP."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def _get(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=5) as r:  # noqa: S310 - 127.0.0.1 only
        return json.loads(r.read())


def _post(url: str, data: dict) -> dict:
    req = urllib.request.Request(url, data=json.dumps(data).encode(), method="POST",
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=5) as r:  # noqa: S310
        return json.loads(r.read())


def test_standalone_process_serves_and_obeys_the_control_api():
    proc = subprocess.Popen([sys.executable, "-m", "tests.kit.emulator", "--venues", "bybit"], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        urls = json.loads(proc.stdout.readline())
        base = urls["bybit"]
        assert base.startswith("http://127.0.0.1:")
        assert _get(base + "/v5/market/time")["retCode"] == 0
        before = _get(base + "/v5/market/orderbook?category=linear&symbol=BTCUSDT&limit=1")["result"]
        assert _post(base + "/_emulator/advance", {"symbol": "BTCUSDT", "steps": 20})["advanced"] == 20
        after = _get(base + "/v5/market/orderbook?category=linear&symbol=BTCUSDT&limit=1")["result"]
        assert after["u"] > before["u"]
        _post(base + "/_emulator/faults", {"kind": "http_5xx", "path": "/v5/market/time", "times": 1})
        try:
            _get(base + "/v5/market/time")
            raise AssertionError("the injected 503 did not happen")
        except urllib.error.HTTPError as e:
            assert e.code == 503
        log = _get(base + "/_emulator/requests")
        assert [r["status"] for r in log if r["path"] == "/v5/market/time"] == [200, 503]
        state = _get(base + "/_emulator/state")
        assert state["balances"]["USDT"] == "100000" and state["open_orders"] == 0
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
