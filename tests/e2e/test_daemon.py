"""``titan run`` as users run it: a separate process, its operator API, signals, restarts.

Market data comes from the bundled real recording through the in-process websocket replay
server and the real feed client; orders go to the SimVenue (paper) or, with keys, through the
real ccxt client to the local exchange emulator (Binance USD-M, the same recorded day).
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from tests.e2e.daemon import TOKEN, Daemon, free_port, http, run_once
from tests.kit.emulator import API_KEY, API_SECRET
from tests.kit.emulator.runner import EmulatorThread
from titan.core import events as ev
from titan.core.eventlog import read_log
from titan.feeds.replay_server import bundled_sample

SAMPLE = str(bundled_sample())


def write_config(path: Path, port: int, extra: str = "") -> Path:
    path.write_text(f"""
[titan]
data_dir = "var"
[operator]
port = {port}
{extra}
""")
    return path


def log_of(tmp_path: Path) -> list:
    return [e.msg for e in read_log(tmp_path / "var" / "titan.sqlite")]


def test_paper_daemon_trades_answers_halts_stops_and_recovers(tmp_path):
    port = free_port()
    cfg = write_config(tmp_path / "config.toml", port)
    env = {"TITAN_OPERATOR_TOKEN": TOKEN}
    args = ["--config", str(cfg), "--headless", "--duration", "120"]
    d = Daemon(args, cwd=tmp_path, port=port, env=env, name="first")
    try:
        st = d.wait_status(lambda s: s.get("replay", {}).get("finished")
                           and s["counters"]["submitted"] >= 4 and s["fills"] >= 4)
        assert st["mode"] == "paper" and st["breaker"] == "NORMAL" and st["recovery"]["ready"]
        code, metrics = http("GET", f"{d.url}/metrics")
        assert code == 200 and f'titan_fills_total{{phase="tape_momentum",venue="binanceusdm"}} {float(st["fills"])}' in metrics
        assert "titan_event_to_order_seconds_bucket" in metrics and "titan_truth_score" in metrics
        assert http("POST", f"{d.url}/halt")[0] == 401
        assert http("POST", f"{d.url}/halt", token="guess")[0] == 401
        assert d.status()["breaker"] == "NORMAL"
        code, out = http("POST", f"{d.url}/halt", token=TOKEN, body={"reason": "e2e"})
        assert code == 200 and out["breaker"] == "HALTED"
        before = d.wait_status(lambda s: s["breaker"] == "HALTED")
        assert d.terminate() == 0
    finally:
        d.stop()
    logs = d.log_lines()  # JSON lines only under --headless
    assert any("refused" in x["msg"] for x in logs) and not any(TOKEN in x["msg"] for x in logs)
    log = log_of(tmp_path)
    assert isinstance(log[-1], ev.SessionStopped) and log[-1].clean
    assert log[-1].reason == "signal SIGTERM"
    assert sum(isinstance(m, ev.OrderFilled) for m in log) == before["fills"]
    first_seq = len(log)

    d2 = Daemon(args, cwd=tmp_path, port=port, env=env, name="second")
    try:
        st2 = d2.wait_status(lambda s: s.get("ready") and s.get("recovery") is not None)
        assert st2["recovery"]["replayed"] == first_seq and st2["recovery"]["discrepancies"] == 0
        assert st2["breaker"] == "HALTED" and "e2e" in st2["breaker_reason"]  # still halted
        st2 = d2.wait_status(lambda s: s.get("replay", {}).get("finished"))
        assert st2["balances"] == before["balances"]  # halted: no new risk was taken
        assert st2["counters"]["submitted"] == 0 or all(
            x["verdict"] == "denied" for x in st2["last_decisions"])
        assert d2.terminate() == 0
    finally:
        d2.stop()


def _external_order(rest: str) -> str:
    """A resting order placed at the venue by hand, behind Titan's back."""
    from titan.execution.venues import build_exchange, profile

    async def place() -> str:
        ex = build_exchange(profile("binanceusdm"), api_key=API_KEY, secret=API_SECRET,
                            rest_url=rest, ws_url=rest.replace("http://", "ws://"),
                            enable_rate_limit=False)
        try:
            o = await ex.create_order("BTC/USDT:USDT", "limit", "buy", 0.002, 60000.0,
                                      {"newClientOrderId": "by-hand-1"})
            return o["id"]
        finally:
            await ex.close()

    return asyncio.run(place())


def test_live_daemon_against_the_exchange_emulator_restarts_and_reconciles(tmp_path):
    emu = EmulatorThread(venues=("binance",), enforce_limits=False).start()
    try:
        rest = emu.base_url("binanceusdm")
        port = free_port()
        cfg = write_config(tmp_path / "config.toml", port, f"""
[venues.binanceusdm]
enabled = true
symbols = ["BTC/USDT:USDT"]
rest_url = "{rest}"
ws_url = "{rest.replace('http://', 'ws://')}"
[phases.hunter]
equity_max = 0
[[strategies]]
path = "titan.paper:TapeMomentum"
name = "tape"
phase = "hunter"
""")
        env = {"TITAN_OPERATOR_TOKEN": TOKEN, "TITAN_BINANCEUSDM_API_KEY": API_KEY,
               "TITAN_BINANCEUSDM_API_SECRET": API_SECRET}
        args = ["--live", "--config", str(cfg), "--replay", SAMPLE, "--speed", "10", "--headless",
                "--duration", "120"]
        d = Daemon(args, cwd=tmp_path, port=port, env=env, name="live1")
        try:
            st = d.wait_status(lambda s: s.get("fills", 0) >= 2 and not s["open_orders"])
            assert st["mode"] == "live" and st["feeds"]["binanceusdm"]["events"] > 0
            assert d.terminate() == 0
        finally:
            d.stop()
        log = log_of(tmp_path)
        assert isinstance(log[-1], ev.SessionStopped) and log[-1].clean
        fills = [m for m in log if isinstance(m, ev.OrderFilled)]
        venue = emu.call(lambda e: e.exchange("binanceusdm").account)
        assert len(fills) >= 2 and len(emu.call(lambda e: e.exchange("binanceusdm").fills)) == len(fills)
        held = sum(f.last_qty * f.side.sign for f in fills)
        pos = venue.positions.get("BTCUSDT")
        assert (pos.size if pos is not None else 0) == held

        _external_order(rest)
        assert emu.call(lambda e: len(e.exchange("binanceusdm").open_orders())) == 1
        d2 = Daemon(args, cwd=tmp_path, port=port, env=env, name="live2")
        try:
            st2 = d2.wait_status(lambda s: s.get("ready") and s.get("recovery") is not None)
            rec = st2["recovery"]
            assert rec["ready"] and rec["replayed"] == len(log)
            assert "unknown_order" in " ".join(rec["venues"]["binanceusdm"]["discrepancies"])
            d2.wait_status(lambda s: emu.call(
                lambda e: len(e.exchange("binanceusdm").open_orders())) == 0, timeout=20)
            assert d2.terminate() == 0
        finally:
            d2.stop()
        log2 = log_of(tmp_path)
        adopted = [m for m in log2 if isinstance(m, ev.OrderAdopted)]
        assert [m.phase for m in adopted] == ["external"]
        assert any(isinstance(m, ev.CancelOrder) and m.client_order_id == adopted[0].client_order_id
                   for m in log2)
    finally:
        emu.stop()


def test_malformed_config_is_one_line_and_exit_2(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[brain]\nmax_total_leverage = 500\n")
    r = run_once(["run", "--config", str(bad), "--headless"], cwd=tmp_path)
    assert r.returncode == 2
    assert r.stderr.strip().splitlines() == [
        f"titan: {bad}: $.brain.max_total_leverage: expected <= 125, got 500"]
    r = run_once(["run", "--live", "--config", str(write_config(tmp_path / "c.toml", 1, """
[venues.bybit]
enabled = true
"""))], cwd=tmp_path)
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1
    assert "TITAN_BYBIT_API_KEY, TITAN_BYBIT_API_SECRET missing" in r.stderr


def test_a_second_signal_exits_at_once_while_shutdown_waits(tmp_path):
    """The first SIGTERM starts a clean shutdown, which here waits for the venue to confirm a
    cancel it holds for seconds; the second SIGTERM ends the process at once (exit 143)."""
    from tests.kit.emulator import Fault

    emu = EmulatorThread(venues=("binance",), enforce_limits=False).start()
    try:
        rest = emu.base_url("binanceusdm")
        port = free_port()
        cfg = write_config(tmp_path / "config.toml", port, f"""
[venues.binanceusdm]
enabled = true
symbols = ["BTC/USDT:USDT"]
rest_url = "{rest}"
ws_url = "{rest.replace('http://', 'ws://')}"
[execution]
cancel_timeout_s = 30
[phases.hunter]
equity_max = 0
[[strategies]]
path = "tests.integration.live.phases:RestingBid"
name = "rest"
phase = "hunter"
""")
        env = {"TITAN_BINANCEUSDM_API_KEY": API_KEY, "TITAN_BINANCEUSDM_API_SECRET": API_SECRET}
        d = Daemon(["--live", "--config", str(cfg), "--replay", SAMPLE, "--speed", "5",
                    "--headless", "--duration", "120"], cwd=tmp_path, port=port, env=env)
        try:
            d.wait_status(lambda s: any(o["status"] == "ACCEPTED" for o in s["open_orders"]))
            emu.call(lambda e: e.inject("binance", Fault("latency", path="/fapi/v1/order",
                                                         method="DELETE", delay_s=4, times=0)))
            d.proc.send_signal(15)
            deadline = time.monotonic() + 20
            while not any("stopping: signal SIGTERM" in x["msg"] for x in d.log_lines()):
                assert time.monotonic() < deadline
                time.sleep(0.05)
            time.sleep(0.3)  # the cancel goes out; the venue holds it for 4 s
            assert d.proc.poll() is None  # still waiting for the venue
            d.proc.send_signal(15)
            code = d.proc.wait(5)
        finally:
            d.stop()
        assert code == 143
        assert any("second SIGTERM" in x["msg"] for x in d.log_lines())
    finally:
        emu.stop()
