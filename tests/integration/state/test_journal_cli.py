"""``titan replay | inspect | explain | dlq`` on a log written by a real session: the kernel,
the Brain and the simulated venue, journaling into SQLite, with a phase that fails once."""

from __future__ import annotations

import asyncio
import csv
import json
from decimal import Decimal as D

import pytest
from typer.testing import CliRunner

from titan.brain.brain import Brain
from titan.cli import app
from titan.config import TitanConfig, policy_hash
from titan.core import events as ev
from titan.core.clock import SimClock
from titan.core.deadletters import DeadLetterStore
from titan.core.eventlog import EventLog
from titan.core.ids import ClientOrderIds
from titan.core.instruments import Instrument, InstrumentKind, InstrumentRegistry
from titan.core.state import ShadowState
from titan.execution.sim import SimExecutionClient, SimVenue
from titan.kernel import Kernel
from titan.phases.base import Phase

BTC = Instrument(symbol="BTC/USDT:USDT", venue="sim", base="BTC", quote="USDT", settle="USDT",
                 kind=InstrumentKind.PERPETUAL, tick_size=D("0.1"), lot_size=D("0.001"),
                 min_qty=D("0.001"), taker_fee=D("0.00055"))
MIN = 60_000_000_000
T0 = 1_700_006_400 * 1_000_000_000


class Flipper(Phase):
    """Buys when flat, sells after two bars in the position; trips over the sixth bar."""

    name = "flipper"
    family = "hunter"
    held = 0

    def on_bar(self, bar: ev.Bar):
        if bar.ts_event == T0 + 6 * MIN:
            raise ZeroDivisionError("bad bar arithmetic")
        if self.position(bar.instrument_id) == 0:
            self.held = 0
            return [self.buy(bar.instrument_id, "0.1")]
        self.held += 1
        return [self.close(bar.instrument_id)] if self.held >= 2 else None


def write_session(path) -> SimVenue:
    async def main():
        log = EventLog(path, flush_interval_ms=5)
        await log.open()
        clock = SimClock(T0)
        reg = InstrumentRegistry([BTC])
        state = ShadowState(reg)
        cfg = TitanConfig()
        brain = Brain(cfg, reg, state, ClientOrderIds("TTN"), owners={"flipper": "hunter"},
                      policy_hash=policy_hash(cfg))
        clients: dict = {}
        dead = DeadLetterStore(path)
        kernel = Kernel(clock=clock, state=state, brain=brain, clients=clients,
                        phases=[Flipper(instruments=[BTC.id])], journal=log, dead_letters=dead)
        venue = SimVenue([BTC], clock=clock, balances={"USDT": D(10_000)}, default_leverage=10)
        clients["sim"] = SimExecutionClient(venue, kernel.on_exec)
        kernel.on_system(ev.BalanceSet(venue="sim", currency="USDT", total=D(10_000),
                                       ts_event=T0, ts_init=T0))
        kernel.start()
        for i, close in enumerate([50_000, 50_100, 50_200, 50_300, 50_400, 50_500, 50_600], 1):
            ts = T0 + i * MIN
            b = ev.Bar(instrument_id=BTC.id, timeframe="1m", ts_open=ts - MIN, open=close,
                       high=close, low=close, close=close, volume=1.0, ts_event=ts, ts_init=ts)
            for t in clock.advance_to(ts):
                kernel.on_timer(t)
            venue.on_market(b)
            kernel.on_market(b)
            venue.process(ts)
        await dead.flush()
        await log.close()
        return venue, state

    return asyncio.run(main())


@pytest.fixture(scope="module")
def session(tmp_path_factory):
    path = tmp_path_factory.mktemp("journal") / "titan.sqlite"
    venue, state = write_session(path)
    return path, venue, state


def cli(*args: str):
    return CliRunner().invoke(app, list(args))


def test_replay_prints_the_state_the_session_ended_with(session):
    path, venue, state = session
    r = cli("replay", str(path))
    assert r.exit_code == 0, r.output
    assert r.output.startswith("replayed ")
    usdt = f"sim          USDT     {venue.balance('USDT')}"
    assert usdt in r.output  # the replayed balance is the venue's, to the last digit
    assert "equity: " in r.output
    early = cli("replay", str(path), "--until-seq", "3")
    assert early.output.startswith("replayed 3 entries through seq 3")


def test_inspect_filters_exports_and_shows_the_state_at_a_point(session, tmp_path):
    path, _, _ = session
    out_json, out_csv = tmp_path / "x.json", tmp_path / "x.csv"
    r = cli("inspect", str(path), "--type", "OrderFilled", "--json", str(out_json),
            "--csv", str(out_csv))
    assert r.exit_code == 0, r.output
    doc = json.loads(out_json.read_text())
    fills = doc["events"]
    assert fills and all(e["message"]["type"] == "OrderFilled" for e in fills)
    rows = list(csv.DictReader(out_csv.open()))
    assert [int(x["seq"]) for x in rows] == [e["seq"] for e in fills]
    assert {x["phase"] for x in rows} == {"flipper"}  # resolved through the order
    first_cid = fills[0]["message"]["client_order_id"]
    one = cli("inspect", str(path), "--client-order-id", first_cid)
    types = [line.split()[2] for line in one.output.splitlines() if line[:8].strip().isdigit()]
    assert types == ["OrderApproved", "SubmitOrder", "OrderAccepted", "OrderFilled"] or \
        types == ["OrderApproved", "SubmitOrder", "OrderFilled"], types
    assert cli("inspect", str(path), "--phase", "nobody").output.startswith("-- 0 of ")
    at_start = cli("inspect", str(path), "--seq", "1")
    assert "-- 1 of 1 entries; state at seq 1" in at_start.output


def test_explain_walks_from_the_market_event_to_the_fills(session):
    path, _, _ = session
    doc_cid = None
    r = cli("inspect", str(path), "--type", "SubmitOrder")
    for line in r.output.splitlines():
        if "SubmitOrder" in line:
            doc_cid = line.split()[3]
            break
    assert doc_cid
    out = cli("explain", doc_cid, "--log", str(path))
    assert out.exit_code == 0, out.output
    lines = out.output.splitlines()
    assert lines[0].startswith("market ") and "Bar" in lines[0]
    assert lines[1].startswith("intent   flipper: buy 0.1 BTC/USDT:USDT@sim market")
    assert any(line.startswith("  check  pass") for line in lines)
    assert any(line.startswith("brain") and "approved" in line for line in lines)
    assert any(line.startswith("order") and "SubmitOrder" in line for line in lines)
    assert lines[-1].startswith("venue") and "OrderFilled" in lines[-1]


def test_dlq_lists_requeues_and_purges_the_failed_handler(session):
    path, _, _ = session
    listed = cli("dlq", "list", "--log", str(path))
    assert listed.exit_code == 0
    (line,) = listed.output.splitlines()
    assert "dead" in line and "flipper.on_bar" in line and "ZeroDivisionError: bad bar" in line
    assert cli("dlq", "replay", "--log", str(path)).output == "requeued 1 dead letter(s)\n"
    assert "requeued" in cli("dlq", "list", "--log", str(path), "--status", "requeued").output
    assert cli("dlq", "purge", "--log", str(path)).output == "purged 1 dead letter(s)\n"
    assert cli("dlq", "list", "--log", str(path)).output == ""


@pytest.mark.parametrize("args, message", [
    (["replay", "nope.sqlite"], "titan: nope.sqlite: no such event log"),
    (["inspect", "{log}", "--seq", "1", "--time", "2025-01-01"], "titan: --seq and --time: give one, not both"),
    (["inspect", "{log}", "--time", "yesterday"], "titan: --time: expected a UTC time"),
    (["inspect", "{log}", "--type", "Nonsense"], "titan: --type: unknown message type 'Nonsense'"),
    (["explain", "TTN-xxx-0000000999", "--log", "{log}"], "titan: TTN-xxx-0000000999: no such client order id"),
    (["dlq", "list", "--log", "{log}", "--status", "zombie"], "titan: --status: expected dead"),
    (["replay", "{text}"], "titan: {text}: not an event log"),
])
def test_bad_input_is_one_line_and_exit_2(session, tmp_path, args, message):
    path, _, _ = session
    text = tmp_path / "notes.txt"
    text.write_text("not a database" * 200)
    args = [a.format(log=path, text=text) for a in args]
    r = CliRunner().invoke(app, args)
    assert r.exit_code == 2
    err = r.stderr if hasattr(r, "stderr") and r.stderr else r.output
    assert err.count("\n") == 1 and err.startswith(message.format(text=text)), err
