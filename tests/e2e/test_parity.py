"""Parity: a paper run through the live path and a backtest of the same recording decide the
same orders and get the same fills.

Live path: the bundled real recording served by the websocket replay server on 127.0.0.1,
read by the real aiohttp feed client, dispatched by the LiveRunner into the Kernel, filled by
the SimVenue, journaled to SQLite. Backtest: ``BacktestRunner`` on
``titan.feeds.replay.load_recording`` of the same file. The journals must be equal entry for
entry - decisions, commands, venue events and the market events behind each decision - except
for receipt times (``ts_init`` of market data: the wall clock when a frame arrived).

The strategy reads the trade stream only. A backtest merges a recording's streams by
``ts_event`` while the live feed delivers them in arrival order (the bundled sample has 284
inversions between its trade, quote and depth streams), so a strategy on several streams sees a
different interleaving in the two; on one stream both orders are the same.
"""

from __future__ import annotations

import asyncio
from decimal import Decimal

import msgspec

from tests.integration.live.conftest import Session, make_config
from titan.backtest.runner import BacktestRunner
from titan.core import events as ev
from titan.core.eventlog import read_log
from titan.feeds.replay import load_recording
from titan.feeds.replay_server import bundled_sample
from titan.paper import TapeMomentum, recording_instruments

COMPARED = (ev.OrderApproved, ev.OrderDenied, ev.SubmitOrder, ev.CancelOrder, ev.OrderAccepted,
            ev.OrderRejected, ev.OrderFilled, ev.OrderCanceled, ev.OrderExpired, ev.InternalCross,
            ev.Trade, ev.Quote, ev.BookDelta, ev.Bar)


def comparable(messages) -> list:
    out = []
    for m in messages:
        if not isinstance(m, COMPARED):
            continue
        if isinstance(m, ev.Data):
            m = msgspec.structs.replace(m, ts_init=0)  # receipt time: wall clock vs recorded
        out.append(m)
    return out


def parity_config(tmp_path):
    return make_config(
        tmp_path,
        phases={"scavenger": {"enabled": False}, "sentinel": {"enabled": False},
                "hunter": {"equity_min": 0, "equity_max": 0}},
        strategies=[{"path": "titan.paper:TapeMomentum", "name": "tape_momentum",
                     "phase": "hunter", "params": {"fast": 20, "slow": 80, "band_bps": 0.1}}],
    )


def test_paper_run_through_the_live_path_equals_the_backtest(tmp_path):
    cfg = parity_config(tmp_path)

    async def paper():
        async with Session(cfg, tmp_path) as s:
            assert await s.finished() == 0
            return s.runner

    runner = asyncio.run(paper())
    live = comparable(e.msg for e in read_log(tmp_path / "titan.sqlite"))

    _, instruments = recording_instruments(bundled_sample(), fee_bps=cfg.paper.fee_bps)
    iid = instruments[0].id
    trades = load_recording(bundled_sample(), iid)["btcusdt@trade"]
    phase = TapeMomentum(TapeMomentum.Params(fast=20, slow=80, band_bps=0.1),
                         name="tape_momentum", instruments=[iid])
    result = BacktestRunner([phase], instruments, [trades], config=cfg,
                            cash=Decimal(repr(cfg.paper.cash)), fill=cfg.paper.fill).run()
    backtest = comparable(e.msg for e in result.log.entries())

    fills = [m for m in live if isinstance(m, ev.OrderFilled)]
    assert len(fills) >= 10, "the comparison must cover real trading"
    assert runner.session.policy_hash == result.policy_hash
    assert len(live) == len(backtest)
    for i, (a, b) in enumerate(zip(live, backtest, strict=True)):
        assert a == b, f"entry {i} differs:\n paper    {a}\n backtest {b}"
    # and the money agrees: the paper account ends where the backtest's does
    sim = runner.session.sims["binanceusdm"]
    assert dict(sim.account.balances) == dict(result.venue_balances)
