"""The operator's side of a running session: the HTTP API (status, metrics, explain, token-
guarded halt/flatten/resume) and the systemd notifications, against a real LiveRunner."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import tempfile
import threading
import time

import aiohttp
from prometheus_client.parser import text_string_to_metric_families
from typer.testing import CliRunner

from tests.integration.live.conftest import TOKEN, Session, entries, make_config
from tests.unit.ops.test_alerts import Receiver
from titan.cli import app
from titan.core import events as ev


def metric(text: str, name: str, **labels: str) -> float | None:
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
                return s.value
    return None


def test_api_answers_and_only_the_token_controls(tmp_path, caplog):
    cfg = make_config(tmp_path)
    wrong = "not-the-token-1234567"

    async def main():
        async with Receiver() as hook:
            env = {"TITAN_OPERATOR_TOKEN": TOKEN, "TITAN_ALERT_WEBHOOK": hook.url}
            out = await session(env)
            await asyncio.sleep(0)
            out["webhook"] = list(hook.bodies)
            return out

    async def session(env):
        async with Session(cfg, tmp_path, env=env, duration_s=60) as s, aiohttp.ClientSession() as http:
            r = s.runner
            await s.until(lambda: r.server is not None and r.server.finished.is_set()
                          and r.session.kernel.counters["submitted"] >= 4)
            await asyncio.sleep(0.3)
            out = {}
            async with http.get(f"{s.url}/status") as resp:
                out["status"] = (resp.status, await resp.json())
            async with http.get(f"{s.url}/metrics") as resp:
                out["metrics"] = (resp.status, resp.headers["Content-Type"], await resp.text())
            cid = next(m.client_order_id for m in r.session.brain.last_decisions)
            async with http.get(f"{s.url}/explain/{cid}") as resp:
                out["explain"] = (resp.status, await resp.json())
            async with http.get(f"{s.url}/explain/TTN-nope-1") as resp:
                out["explain404"] = resp.status
            async with http.post(f"{s.url}/halt") as resp:
                out["no_token"] = resp.status
            async with http.post(f"{s.url}/halt", headers={"Authorization": f"Bearer {wrong}"}) as resp:
                out["wrong"] = resp.status
            out["after_refused"] = r.session.brain.breaker.value
            auth = {"Authorization": f"Bearer {TOKEN}"}
            async with http.post(f"{s.url}/halt", headers=auth, json={"reason": "lunch"}) as resp:
                out["halt"] = (resp.status, await resp.json())
            async with http.post(f"{s.url}/flatten", headers=auth) as resp:
                out["flatten"] = (resp.status, await resp.json())
            async with http.post(f"{s.url}/resume", headers=auth) as resp:
                out["resume"] = (resp.status, await resp.json())
            out["submitted"] = r.session.kernel.counters["submitted"]
            cli = CliRunner()
            out["cli_status"] = await asyncio.to_thread(cli.invoke, app, ["status", "--url", s.url])
            out["cli_halt_no_token"] = await asyncio.to_thread(
                cli.invoke, app, ["halt", "--url", s.url], env={"TITAN_OPERATOR_TOKEN": ""})
            out["cli_halt"] = await asyncio.to_thread(
                cli.invoke, app, ["halt", "--url", s.url, "--reason", "from the cli"],
                env={"TITAN_OPERATOR_TOKEN": TOKEN})
            await s.until(lambda: r.alerts.sent >= 3 or r.alerts.failed)
            return out

    with caplog.at_level(logging.WARNING):
        out = asyncio.run(main())
    code, st = out["status"]
    assert code == 200 and st["mode"] == "paper" and st["breaker"] == "NORMAL"
    assert st["recovery"]["ready"] and st["counters"]["submitted"] >= 4
    assert st["feeds"]["binanceusdm"]["events"] == st["counters"]["market"]
    code, ctype, text = out["metrics"]
    assert code == 200 and ctype.startswith("text/plain")
    assert metric(text, "titan_equity") == st["equity"]
    n = st["counters"]["submitted"]
    assert metric(text, "titan_decisions_total", phase="tape_momentum", verdict="approved") == n
    assert metric(text, "titan_event_to_order_seconds_count") == n
    assert metric(text, "titan_fills_total", phase="tape_momentum", venue="binanceusdm") == n
    assert metric(text, "titan_breaker_state", state="NORMAL") == 1.0
    assert metric(text, "titan_feed_staleness_seconds", venue="binanceusdm") >= 0
    code, ex = out["explain"]
    assert code == 200 and ex["verdict"] == "approved"
    assert ex["chain"][0]["role"] == "trigger" and ex["chain"][0]["type"] == "Trade"
    assert [c["type"] for c in ex["chain"][1:]][:2] == ["OrderApproved", "SubmitOrder"]
    assert "OrderFilled" in [c["type"] for c in ex["chain"]]
    assert out["explain404"] == 404
    assert out["no_token"] == 401 and out["wrong"] == 401 and out["after_refused"] == "NORMAL"
    assert out["halt"][0] == 200 and out["halt"][1]["breaker"] == "HALTED"
    assert "lunch" in out["halt"][1]["reason"]
    assert out["flatten"][1]["emergency"] is True
    assert out["resume"][1]["breaker"] == "NORMAL"
    refused = [r.getMessage() for r in caplog.records if "refused" in r.getMessage()]
    assert len(refused) == 2 and all("127.0.0.1" in m for m in refused)
    assert not any(wrong in r.getMessage() or TOKEN in r.getMessage() for r in caplog.records)
    log = entries(tmp_path)
    changes = [(m.new.value, m.reason) for m in log if isinstance(m, ev.BreakerChanged)]
    assert changes[0] == ("HALTED", "operator: lunch")
    assert [c[0] for c in changes][-2:] == ["NORMAL", "HALTED"]  # resumed, then the CLI halt
    assert changes[-1][1] == "operator: from the cli"
    assert any(isinstance(m, ev.EmergencyFlatten) for m in log)
    st_out = out["cli_status"]
    assert st_out.exit_code == 0 and "breaker    NORMAL" in st_out.output
    assert "activity   5213 market events" in st_out.output
    assert out["cli_halt_no_token"].exit_code == 2
    assert "TITAN_OPERATOR_TOKEN is not set" in out["cli_halt_no_token"].output
    assert out["cli_halt"].exit_code == 0
    assert "halt: breaker HALTED (operator: from the cli)" in out["cli_halt"].output
    texts = [b["text"] for b in out["webhook"]]
    assert any("breaker NORMAL -> HALTED" in t and "lunch" in t for t in texts)
    assert any("EMERGENCY FLATTEN" in t for t in texts)


def test_control_is_impossible_without_a_configured_token(tmp_path):
    cfg = make_config(tmp_path)

    async def main():
        async with Session(cfg, tmp_path, env={}, duration_s=60) as s, \
                aiohttp.ClientSession() as http, \
                http.post(f"{s.url}/halt", headers={"Authorization": "Bearer anything"}) as resp:
            return resp.status, s.runner.session.brain.breaker.value

    assert asyncio.run(main()) == (403, "NORMAL")


class NotifySocket:
    """A unix datagram socket standing in for systemd's NOTIFY_SOCKET."""

    def __init__(self) -> None:
        self.dir = tempfile.mkdtemp(prefix="sd-")
        self.path = os.path.join(self.dir, "notify")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        self.sock.settimeout(0.1)
        self.messages: list[tuple[float, str]] = []
        self._run = True
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        while self._run:
            try:
                data = self.sock.recv(4096)
            except TimeoutError:
                continue
            except OSError:
                return
            self.messages.append((time.monotonic(), data.decode()))

    def lines(self) -> list[str]:
        return [line for _, m in list(self.messages) for line in m.split("\n")]

    def close(self) -> None:
        self._run = False
        self.thread.join(2)
        self.sock.close()
        os.unlink(self.path)
        os.rmdir(self.dir)


def test_systemd_ready_and_watchdog_come_from_the_running_loop(tmp_path):
    sd = NotifySocket()
    cfg = make_config(tmp_path)
    env = {"NOTIFY_SOCKET": sd.path, "WATCHDOG_USEC": "100000"}  # ping every 50 ms

    async def main():
        async with Session(cfg, tmp_path, env=env, duration_s=60) as s:
            notifier = s.runner.notifier
            await s.until(lambda: sd.lines().count("WATCHDOG=1") >= 3)
            before = notifier.pings
            time.sleep(0.3)  # the event loop is stuck: six watchdog periods pass
            stuck = notifier.pings - before
            await s.until(lambda: notifier.pings > before)
            return stuck

    try:
        stuck = asyncio.run(main())
        deadline = time.monotonic() + 2
        while "STOPPING=1" not in sd.lines() and time.monotonic() < deadline:
            time.sleep(0.02)
        lines = sd.lines()
    finally:
        sd.close()
    assert stuck == 0, "a stuck loop must not keep the watchdog happy"
    assert "READY=1" in lines and "STOPPING=1" in lines
    assert lines.index("READY=1") < lines.index("STOPPING=1")
    assert any(x.startswith("STATUS=paper: equity") for x in lines)
    assert lines.index("READY=1") < len(lines) - 1 - lines[::-1].index("WATCHDOG=1")
