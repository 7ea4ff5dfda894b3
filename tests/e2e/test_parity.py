"""Parity: a paper run through the live path and a backtest of the same recording decide the
same orders and get the same fills.

Live path: the bundled real recording served by the websocket replay server on 127.0.0.1,
read by the real aiohttp feed client, dispatched by the LiveRunner into the Kernel, filled by
the SimVenue, journaled to SQLite. Backtest: ``BacktestRunner`` on
``titan.feeds.replay.load_recording`` of the same file. The journals must be equal entry for
entry - decisions, commands, venue events and the market events behind each decision - except
for receipt times (``ts_init`` of market data: the wall clock when a frame arrived).

The live feed delivers the streams in the order they arrived; a backtest by default merges them
by exchange time (``ts_event``), and the bundled sample has hundreds of inversions between its
trade, quote and depth streams. The backtest therefore replays in arrival order
(``BacktestRunner(arrival=True)``), and parity is shown for a strategy on one stream (trades)
and for one that reads two (trades and the best bid/offer) and so depends on how they
interleave - merged by exchange time instead, that one decides differently (checked below).

The replay path cannot know when a frame was first received (the replay server sends only the
venue's message), so its kernel runs on the data's own clock: the latest exchange time seen.
``arrival=True`` runs the clock on each event's receipt stamp (``ts_init``), so the backtest is
given the recording as the replay path receives it (:func:`as_received`): in receipt order,
each event stamped with that data clock.
"""

from __future__ import annotations

import asyncio
import heapq
from decimal import Decimal

import msgspec
import pytest

from tests.integration.live.conftest import Session, make_config
from titan.backtest.runner import BacktestRunner
from titan.core import events as ev
from titan.core.eventlog import read_log
from titan.feeds.replay import load_recording
from titan.feeds.replay_server import bundled_sample
from titan.paper import recording_instruments
from titan.phases.registry import instantiate

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


STRATEGIES = {
    "trades": ("titan.paper:TapeMomentum", "tape_momentum",
               {"fast": 20, "slow": 80, "band_bps": 0.1}, ("btcusdt@trade",)),
    "trades+quotes": ("tests.integration.live.phases:QuoteTape", "quote_tape",
                      {"fast": 20, "slow": 80}, ("btcusdt@trade", "btcusdt@bookTicker")),
}


def as_received(recorded: dict, keys: tuple[str, ...]) -> list:
    """The recorded streams in the order they were received, each event stamped with the clock
    the live replay path runs on at that moment (the latest exchange time so far)."""
    out, clock = [], 0
    for e in heapq.merge(*(recorded[k] for k in keys), key=lambda e: e.ts_init):
        clock = max(clock, e.ts_event)
        out.append(msgspec.structs.replace(e, ts_init=clock))
    return out


def parity_config(tmp_path, path: str, name: str, params: dict):
    return make_config(
        tmp_path,
        phases={"scavenger": {"enabled": False}, "sentinel": {"enabled": False},
                "hunter": {"equity_min": 0, "equity_max": 0}},
        strategies=[{"path": path, "name": name, "phase": "hunter", "params": params}],
    )


@pytest.mark.parametrize("streams", sorted(STRATEGIES))
def test_paper_run_through_the_live_path_equals_the_backtest(tmp_path, streams):
    path, name, params, keys = STRATEGIES[streams]
    cfg = parity_config(tmp_path, path, name, params)

    async def paper():
        async with Session(cfg, tmp_path) as s:
            assert await s.finished() == 0
            return s.runner

    runner = asyncio.run(paper())
    live = comparable(e.msg for e in read_log(tmp_path / "titan.sqlite"))

    _, instruments = recording_instruments(bundled_sample(), fee_bps=cfg.paper.fee_bps)
    iid = instruments[0].id
    recorded = load_recording(bundled_sample(), iid)
    phase = instantiate(path, params, name=name, instruments=[iid])
    cash = Decimal(repr(cfg.paper.cash))
    result = BacktestRunner([phase], instruments, [as_received(recorded, keys)], config=cfg,
                            cash=cash, fill=cfg.paper.fill, arrival=True).run()
    backtest = comparable(e.msg for e in result.log.entries())

    fills = [m for m in live if isinstance(m, ev.OrderFilled)]
    assert len(fills) >= 10, "the comparison must cover real trading"
    live_phase = runner.session.phases[0]
    assert getattr(live_phase, "quotes", 0) == getattr(phase, "quotes", 0)  # both read every quote
    assert ("quote" in streams) == (getattr(phase, "quotes", 0) > 1000)
    assert runner.session.policy_hash == result.policy_hash
    assert len(live) == len(backtest)
    for i, (a, b) in enumerate(zip(live, backtest, strict=True)):
        assert a == b, f"entry {i} differs:\n paper    {a}\n backtest {b}"
    # and the money agrees: the paper account ends where the backtest's does
    sim = runner.session.sims["binanceusdm"]
    assert dict(sim.account.balances) == dict(result.venue_balances)
    if len(keys) > 1:  # merged by exchange time, the two streams interleave otherwise
        merged = BacktestRunner([instantiate(path, params, name=name, instruments=[iid])],
                                instruments, [recorded[k] for k in keys], config=cfg, cash=cash,
                                fill=cfg.paper.fill).run()
        assert [_decision(m) for m in comparable(e.msg for e in merged.log.entries())
                if isinstance(m, ev.SubmitOrder)] != [_decision(m) for m in backtest
                                                      if isinstance(m, ev.SubmitOrder)]


def _decision(m: ev.SubmitOrder) -> tuple:
    return (m.side, m.quantity, m.tag)
