"""The LiveRunner end to end in one process: the bundled real recording through the replay
server and the real aiohttp feed client into the kernel, fills from the SimVenue, a SQLite
event log. Paper trading is what ``titan run`` does with no arguments."""

from __future__ import annotations

import asyncio
import gzip
import time
from decimal import Decimal

import orjson

from tests.integration.live.conftest import Session, entries, make_config
from titan.core import events as ev
from titan.feeds.recording import Recording
from titan.feeds.replay_server import bundled_sample

STRAT = "tests.integration.live.phases:RestingBid"


def _trade_frames() -> int:
    return sum(1 for f in Recording.load(bundled_sample()).frames if "@trade" in f.key)


def test_paper_default_trades_the_recording_and_stops_clean(tmp_path):
    cfg = make_config(tmp_path)

    async def main():
        async with Session(cfg, tmp_path) as s:
            code = await s.finished()  # a replay ends when the recording is played out
            return s.runner, code

    runner, code = asyncio.run(main())
    assert code == 0
    assert runner.stop_reason.startswith("recording played out")
    k, state = runner.session.kernel, runner.session.state
    # every recorded trade reached the kernel through the websocket, none lost
    assert k.counters["market"] == _trade_frames()
    log = entries(tmp_path)
    subs = [m for m in log if isinstance(m, ev.SubmitOrder)]
    fills = [m for m in log if isinstance(m, ev.OrderFilled)]
    assert len(subs) >= 4, "the demo phase must trade the bundled sample"
    assert {f.client_order_id for f in fills} == {s.client_order_id for s in subs}  # market orders
    assert all(s.policy_hash == runner.session.policy_hash for s in subs)
    assert isinstance(log[-1], ev.SessionStopped) and log[-1].clean and log[-1].open_orders == 0
    # money reconciles to the cent: the shadow state equals the simulated venue's books
    sim = runner.session.sims["binanceusdm"]
    assert {c: a for (_, c), a in state.balances().items()} == dict(sim.account.balances)
    for pos in state.net_positions():
        assert pos.quantity == sim.position(pos.instrument_id)
    # trades.jsonl: one line per fill, tagged with the phase
    lines = [orjson.loads(x) for x in (tmp_path / "trades.jsonl").read_bytes().splitlines()]
    assert [(x["client_order_id"], Decimal(x["qty"]), Decimal(x["price"])) for x in lines] == \
        [(f.client_order_id, f.last_qty, f.last_price) for f in fills]
    assert {x["phase"] for x in lines} == {"tape_momentum"}


def test_restart_recovers_the_log_and_the_paper_account(tmp_path):
    cfg = make_config(tmp_path)

    async def once():
        async with Session(cfg, tmp_path) as s:
            await s.finished()
            st = s.runner.session.state
            return (s.runner.session.eventlog.last_seq,
                    {c: a for (_, c), a in st.balances().items()}, s.runner.recovery)

    seq1, balances1, rec1 = asyncio.run(once())
    seq2, balances2, rec2 = asyncio.run(once())
    assert rec1.replayed == 0
    assert rec2.replayed == seq1  # every entry of the first session folded back in
    # the simulated venue resumed from the log: reconciliation finds nothing to correct
    assert rec2.ready and sum(len(r.discrepancies) for r in rec2.results) == 0
    assert balances2 != balances1  # the second session traded on from there
    log = entries(tmp_path)
    starts = [m for m in log if isinstance(m, ev.SessionStarted)]
    assert [m.recovered for m in starts] == [0, seq1]
    ids = [m.client_order_id for m in log if isinstance(m, ev.SubmitOrder)]
    assert len(ids) == len(set(ids)), "client order ids never repeat across restarts"
    trade_ids = [m.trade_id for m in log if isinstance(m, ev.OrderFilled)]
    assert len(trade_ids) == len(set(trade_ids))


def test_a_crashing_task_or_event_halts_new_risk_and_the_daemon_lives_on(tmp_path):
    cfg = make_config(tmp_path)

    async def boom():
        raise RuntimeError("disk on fire")

    async def main():
        async with Session(cfg, tmp_path, duration_s=60) as s:
            r = s.runner
            await s.until(lambda: r.session.kernel.counters["market"] > 0)
            assert r.session.brain.breaker is ev.BreakerState.NORMAL
            r.spawn(boom(), "boom")
            await s.until(lambda: r.session.brain.breaker is ev.BreakerState.HALTED)
            reason1 = r.session.brain.breaker_reason
            r.control("resume", "understood")
            assert r.session.brain.breaker is ev.BreakerState.NORMAL
            r._on_replay_event(ev.TimeEvent(name="not market data", ts_event=1, ts_init=1))
            reason2 = r.session.brain.breaker_reason
            await r.reconcile_sweep()  # the scheduler's operational job, run now
            status = r.status()
            await r.session.dead_letters.flush()
            letters = r.session.dead_letters.list()
            return reason1, reason2, status, letters

    reason1, reason2, status, letters = asyncio.run(main())
    assert "task boom failed" in reason1 and "disk on fire" in reason1
    assert "kernel.on_market failed" in reason2
    assert status["breaker"] == "HALTED" and len(status["faults"]) == 2
    assert [x.handler for x in letters] == ["kernel.on_market"]
    assert isinstance(letters[0].event, ev.TimeEvent)
    log = entries(tmp_path)
    halts = [m for m in log if isinstance(m, ev.BreakerChanged) and m.new is ev.BreakerState.HALTED]
    assert len(halts) == 2
    assert isinstance(log[-1], ev.SessionStopped) and log[-1].clean
    sweeps = [m for m in log if isinstance(m, ev.ReconciliationCompleted) and not m.startup]
    assert len(sweeps) == 1 and sweeps[0].ok and sweeps[0].discrepancies == 0
    assert status["truth_score"] == 100.0


def test_shutdown_cancels_open_orders_or_leaves_them_as_configured(tmp_path):
    def run(cancel: bool, sub: str):
        d = tmp_path / sub
        cfg = make_config(d, strategies=[{"path": STRAT, "name": "rest", "phase": "hunter"}],
                          execution={"cancel_on_shutdown": cancel})

        async def main():
            async with Session(cfg, d, duration_s=60) as s:
                st = s.runner.session.state
                await s.until(lambda: any(True for _ in st.open_orders()))
                return await s.stop("test shutdown")

        assert asyncio.run(main()) == 0
        return entries(d)

    canceled = run(True, "cancel")
    kept = run(False, "keep")
    assert isinstance(canceled[-1], ev.SessionStopped) and canceled[-1].open_orders == 0
    assert [m.reason for m in canceled if isinstance(m, ev.CancelOrder)] == ["shutdown"]
    assert sum(isinstance(m, ev.OrderCanceled) for m in canceled) == 1
    assert isinstance(kept[-1], ev.SessionStopped) and kept[-1].open_orders == 1
    assert not any(isinstance(m, ev.CancelOrder) for m in kept)


def test_trades_journal_rotates_and_compresses_without_losing_a_line(tmp_path):
    cfg = make_config(tmp_path, telemetry={"rotate_mb": 0.0005})  # ~520 bytes: a few fills

    async def main():
        async with Session(cfg, tmp_path) as s:
            await s.finished()

    asyncio.run(main())
    fills = [m.client_order_id for m in entries(tmp_path) if isinstance(m, ev.OrderFilled)]
    rotated = sorted(tmp_path.glob("trades.*.jsonl.gz"))
    assert rotated and not list(tmp_path.glob("trades.*.jsonl"))  # all compressed
    lines = []
    for p in rotated:
        lines += gzip.decompress(p.read_bytes()).splitlines()
    lines += (tmp_path / "trades.jsonl").read_bytes().splitlines()
    assert sorted(orjson.loads(x)["client_order_id"] for x in lines) == sorted(fills)


def test_book_strategy_trades_on_replayed_data_time(tmp_path):
    """A phase on the L2 book (REST snapshot + diffs through the real feed) trades in paper mode
    on the data's clock. The feed stamps a book rebuilt from a REST snapshot before any diff
    with its arrival time (no venue time yet): on replayed data that must not drag the kernel's
    clock to the wall clock, or every mark would look years stale and every order be denied."""
    cfg = make_config(tmp_path, strategies=[{"path": "tests.integration.live.phases:BookTaker",
                                             "name": "taker", "phase": "hunter"}])

    async def main():
        async with Session(cfg, tmp_path) as s:
            assert await s.finished() == 0
            return s.runner

    runner = asyncio.run(main())
    phase = runner.session.phases[0]
    frames = Recording.load(bundled_sample()).frames
    assert phase.snapshots >= 1 and phase.book_events > 100
    assert runner.session.clock.now_ns() <= frames[-1].ts + 10**9 * 60  # data time, not 2026
    log = entries(tmp_path)
    decisions = [m for m in log if isinstance(m, ev.OrderApproved | ev.OrderDenied)]
    assert [type(m) for m in decisions] == [ev.OrderApproved]
    assert sum(isinstance(m, ev.OrderFilled) for m in log) == 1
    # a snapshot event stamped on arrival (wall clock) takes the data clock's time instead
    clock, state = runner.session.clock, runner.session.state
    before = clock.now_ns()
    wall = time.time_ns()
    iid = phase.instruments[0]
    runner._on_replay_event(ev.BookDelta(instrument_id=iid, ts_event=wall, ts_init=wall,
                                         bids=((61000.0, 1.0),), asks=((61001.0, 1.0),),
                                         is_snapshot=True))
    assert clock.now_ns() == before and state.mark_ts(iid) == before
    assert not runner.faults


def test_a_fresh_start_sees_the_venue_account_without_doubting_it(tmp_path):
    """The startup reconciliation of an empty log sets the paper account from nothing: the truth
    tracker sees it like any reconciliation, and a first sight costs no points."""
    cfg = make_config(tmp_path)

    async def main():
        async with Session(cfg, tmp_path, duration_s=60) as s:
            r = s.runner
            r.evaluate_truth()
            return r.status(), r.truth.accounts

    status, known = asyncio.run(main())
    venue = "binanceusdm"
    assert status["recovery"]["venues"][venue]["discrepancies"] == ["balance"]
    assert known == {venue}  # the tracker saw the startup reconciliation
    assert status["truth_score"] == 100.0 and status["truth_components"] == {}
