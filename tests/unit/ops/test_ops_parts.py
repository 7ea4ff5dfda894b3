"""The ops pieces on their own: trades journal rotation, metrics exposition, dashboard render
and keys, systemd notify parsing, API token check."""

from __future__ import annotations

import gzip
import os
import socket
import tempfile
from decimal import Decimal

import orjson
from hypothesis import given
from hypothesis import strategies as st
from prometheus_client.parser import text_string_to_metric_families
from rich.console import Console

from titan.core import events as ev
from titan.ops.api import OperatorApi
from titan.ops.dashboard import Dashboard, render
from titan.ops.metrics import Metrics, denial_check
from titan.ops.systemd import SystemdNotifier
from titan.ops.telemetry import TradesJournal, compress

T = 1_723_161_256_322_000_000
IID = "BTC/USDT:USDT@binanceusdm"


def fill(i: int) -> ev.OrderFilled:
    return ev.OrderFilled(client_order_id=f"TTN-hun-{i:010d}", venue_order_id=str(i),
                          trade_id=f"t{i}", instrument_id=IID, side=ev.Side.BUY,
                          last_qty=Decimal("0.002"), last_price=Decimal("61800.1"),
                          fee=Decimal("0.0679"), fee_currency="USDT", liquidity=ev.Liquidity.TAKER,
                          ts_event=T + i, ts_init=T + i)


# ---- trades journal ---------------------------------------------------------------------------


@given(st.integers(1, 60), st.integers(200, 3000))
def test_journal_rotation_keeps_every_line_once(n, rotate_bytes):
    with tempfile.TemporaryDirectory() as d:
        j = TradesJournal(os.path.join(d, "trades.jsonl"), rotate_bytes=rotate_bytes,
                          phase_of=lambda cid: "hunter", now=lambda: 1_700_000_000.0)
        for i in range(n):
            j.on_event(fill(i))
        j.wait()
        j._fh.close()
        names = sorted(os.listdir(d))
        lines = []
        for name in names:
            with open(os.path.join(d, name), "rb") as f:
                raw = f.read()
            lines += (gzip.decompress(raw) if name.endswith(".gz") else raw).splitlines()
        recs = [orjson.loads(x) for x in lines]
        assert sorted(r["client_order_id"] for r in recs) == [fill(i).client_order_id for i in range(n)]
        assert {r["phase"] for r in recs} == {"hunter"}
        assert all(n.endswith((".jsonl.gz",)) or n == "trades.jsonl" for n in names)
        assert j.rotations == len(names) - 1


def test_compress_is_atomic_and_removes_the_source(tmp_path):
    src = tmp_path / "trades.20240101T000000.jsonl"
    src.write_bytes(b'{"a":1}\n' * 1000)
    gz = compress(src)
    assert not src.exists() and gzip.decompress(gz.read_bytes()) == b'{"a":1}\n' * 1000
    assert not list(tmp_path.glob("*.part"))


def test_internal_cross_lines_name_both_phases(tmp_path):
    j = TradesJournal(tmp_path / "t.jsonl")
    j.on_event(ev.InternalCross(cross_id="x1", instrument_id=IID, buyer_phase="hunter",
                                seller_phase="scavenger", quantity=Decimal("0.01"),
                                price=Decimal("61000"), ts_event=T, ts_init=T))
    j._fh.close()
    rec = orjson.loads((tmp_path / "t.jsonl").read_bytes())
    assert (rec["type"], rec["phase"], rec["counterparty"], rec["qty"]) == \
        ("internal_cross", "hunter", "scavenger", "0.01")


# ---- metrics ---------------------------------------------------------------------------------


def _intent(phase="hunter"):
    return ev.OrderIntent(phase=phase, instrument_id=IID, side=ev.Side.BUY, quantity=Decimal(1))


def test_metrics_count_decisions_denials_by_check_and_read_gauges():
    gauges = {"equity": 10_000.5, "drawdown": 0.02, "breaker": "DEFENSIVE", "truth_score": 80.0,
              "allocations": {"hunter": 9000.0}, "open_orders_by_venue": {"bybit": 2},
              "positions": [{"instrument_id": IID, "phase": "hunter", "quantity": -0.5}],
              "feed_age_s": {"bybit": 1.5}, "counters": {"market": 42}}
    m = Metrics(lambda: gauges)
    m.bind_phases(lambda cid: "hunter")
    fail = ev.CheckResult(name="leverage", passed=False, detail="over")
    ok = ev.CheckResult(name="breaker", passed=True)
    for _ in range(3):
        m.on_event(ev.OrderDenied(client_order_id="c", phase="hunter", instrument_id=IID,
                                  reason="leverage 60x > 50x", intent=_intent(), checks=(ok, fail),
                                  ts_event=T, ts_init=T))
    m.on_event(ev.OrderApproved(client_order_id="d", phase="hunter", intent=_intent(), checks=(ok,),
                                ts_event=T, ts_init=T))
    m.on_event(fill(1))
    m.latency.observe(30e-6)
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
               for f in text_string_to_metric_families(m.render().decode()) for s in f.samples}
    assert samples[("titan_denials_total", (("reason", "leverage"),))] == 3
    assert samples[("titan_decisions_total", (("phase", "hunter"), ("verdict", "denied")))] == 3
    assert samples[("titan_decisions_total", (("phase", "hunter"), ("verdict", "approved")))] == 1
    assert samples[("titan_fills_total", (("phase", "hunter"), ("venue", "binanceusdm")))] == 1
    assert samples[("titan_event_to_order_seconds_bucket", (("le", "5e-05"),))] == 1
    assert samples[("titan_event_to_order_seconds_bucket", (("le", "2e-05"),))] == 0
    assert samples[("titan_equity", ())] == 10_000.5
    assert samples[("titan_breaker_state", (("state", "DEFENSIVE"),))] == 1
    assert samples[("titan_breaker_state", (("state", "NORMAL"),))] == 0
    assert samples[("titan_position", (("instrument", IID), ("phase", "hunter")))] == -0.5
    assert samples[("titan_open_orders", (("venue", "bybit"),))] == 2
    assert samples[("titan_feed_staleness_seconds", (("venue", "bybit"),))] == 1.5
    assert samples[("titan_kernel_events_total", (("kind", "market"),))] == 42


def test_denial_without_a_failed_check_is_other():
    d = ev.OrderDenied(client_order_id="c", phase="p", instrument_id=IID, reason="?", intent=_intent(),
                       ts_event=T, ts_init=T)
    assert denial_check(d) == "other"


# ---- dashboard -------------------------------------------------------------------------------


STATUS = {
    "version": "0.1.0", "edge": "paper on recording x -> simulated venue", "uptime_s": 12.0,
    "equity": 9998.96, "currency": "USDT", "drawdown": 0.0001, "breaker": "HALTED",
    "breaker_reason": "operator: lunch", "truth_score": 100.0, "regime": "trending",
    "allocations": {"hunter": "9998.95"}, "counters": {"market": 5213, "submitted": 14},
    "fills": 14,
    "positions": [{"instrument_id": IID, "phase": "hunter", "quantity": "0.002",
                   "avg_price": "61800.1", "unrealized_pnl": "0.12"}],
    "open_orders": [{"client_order_id": "TTN-res-0000000001", "phase": "rest", "side": "buy",
                     "quantity": "0.002", "price": "60564.2", "status": "ACCEPTED"}],
    "feeds": {"binanceusdm": {"status": "connected", "events": 5213, "age_s": 0.4, "latency_ms": 3.2}},
    "last_decisions": [{"client_order_id": "TTN-hun-0000000009", "phase": "hunter", "side": "sell",
                        "quantity": "0.002", "verdict": "denied",
                        "reason": "breaker HALTED: entries blocked"}],
    "alerts": [{"severity": "critical", "title": "breaker NORMAL -> HALTED", "detail": "lunch"}],
}


def _text(renderable) -> str:
    console = Console(width=160, record=True, color_system=None)
    console.print(renderable)
    return console.export_text()


def test_dashboard_shows_every_panel():
    text = _text(render(STATUS))
    for needle in ("9,998.96", "HALTED", "operator: lunch", "truth 100.0", "hunter", "9,998.95",
                   "61800.1", "TTN-res-0000000001", "binanceusdm", "connected",
                   "DENIED: breaker HALTED: entries blocked", "breaker NORMAL -> HALTED",
                   "[f] flatten"):
        assert needle in text, needle
    assert "starting" in _text(render({"version": "0.1.0", "edge": "x"}))


def test_panic_button_needs_confirmation():
    calls = []
    quits = []
    d = Dashboard(lambda: STATUS, on_panic=lambda: calls.append(1) or "ok",
                  on_quit=lambda: quits.append(1))
    d.key("f")
    assert d.armed and "press [y] to confirm" in _text(render(STATUS, armed=True))
    d.key("n")
    assert not d.armed and calls == []
    d.key("f")
    d.key("y")
    assert calls == [1] and not d.armed
    d.key("y")  # not armed: nothing
    assert calls == [1]
    d.key("q")
    assert quits == [1]


# ---- systemd -----------------------------------------------------------------------------------


def test_notifier_speaks_the_notify_socket_protocol():
    with tempfile.TemporaryDirectory(prefix="sd") as d:
        path = os.path.join(d, "n")
        rx = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        rx.bind(path)
        rx.settimeout(2)
        n = SystemdNotifier({"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "30000000"})
        assert n.enabled and n.watchdog_s == 30 and n.interval_s == 15
        assert n.ready("up\nand running")
        assert rx.recv(1024) == b"READY=1\nSTATUS=up and running"
        assert n.watchdog() and rx.recv(1024) == b"WATCHDOG=1"
        assert n.stopping() and rx.recv(1024) == b"STOPPING=1"
        n.close()
        rx.close()


def test_notifier_is_a_no_op_outside_systemd_and_ignores_a_watchdog_for_another_pid():
    n = SystemdNotifier({})
    assert not n.enabled and not n.ready() and n.interval_s == 0
    other = SystemdNotifier({"NOTIFY_SOCKET": "/x", "WATCHDOG_USEC": "1000000",
                             "WATCHDOG_PID": str(os.getpid() + 1)})
    assert other.watchdog_s == 0
    abstract = SystemdNotifier({"NOTIFY_SOCKET": "@titan/notify"})
    assert abstract.address == "\0titan/notify"


# ---- API token -------------------------------------------------------------------------------


@given(st.text(min_size=1, max_size=40), st.text(max_size=40), st.sampled_from(["Bearer", "bearer", "Basic", ""]))
def test_only_the_exact_bearer_token_authorizes(token, given_token, scheme):
    token = token.strip() or "x"
    api = OperatorApi(status=dict, metrics=bytes, control=lambda a, r: {}, explain=None,
                      token=token)
    header = f"{scheme} {given_token}"
    expected = scheme.lower() == "bearer" and given_token.strip() == token
    assert api.authorized(header) is expected
    assert api.authorized(f"Bearer {token}")
    none = OperatorApi(status=dict, metrics=bytes, control=lambda a, r: {}, explain=None, token=None)
    assert not none.authorized(f"Bearer {token}")


# ---- scheduler -------------------------------------------------------------------------------


def test_scheduler_runs_jobs_and_survives_a_failing_one():
    import asyncio

    from titan.ops.scheduler import OpsScheduler

    runs = []

    async def ok():
        runs.append(1)

    async def bad():
        raise RuntimeError("boom")

    async def main():
        s = OpsScheduler()
        s.every("ok", 0.05, ok)
        s.every("bad", 0.05, bad)
        s.daily("report", 0, 0, ok)
        s.start()
        for _ in range(100):
            if s.runs["ok"] >= 2 and s.failures["bad"] >= 2:
                break
            await asyncio.sleep(0.02)
        jobs = s.jobs()
        s.shutdown()
        return s, jobs

    s, jobs = asyncio.run(main())
    assert s.runs["ok"] >= 2 and s.failures["bad"] >= 2 and s.runs["bad"] == 0
    assert set(jobs) == {"ok", "bad", "report"} and jobs["report"].endswith("00:00:00+00:00")
