"""ShadowState accounting identities for any fill sequence, and replay == live.

Identities checked against cash flows computed here, independently of the state's
average-cost bookkeeping:
- perpetuals: settle balance = start + realized - fees + funding, and realized + unrealized
  at any mark = sum of -qty x price x contract size + net qty x mark x contract size;
- spot: quote and base balances are the cash flows, equity values the base at the mark;
- phases (with internal crosses between them): their PnL sums to the account's.
"""

from __future__ import annotations

import asyncio
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.unit.state import histories
from tests.unit.state.venue_model import INSTRUMENTS
from titan.core import codec
from titan.core import events as ev
from titan.core.eventlog import EventLog, read_log
from titan.core.instruments import InstrumentRegistry
from titan.core.state import ShadowState
from titan.execution.reconcile import ReconcilePolicy, reconcile
from titan.execution.recovery import replay_into

CENT = Decimal("0.01")
START = Decimal(100_000)
BTC, DOGE, ETH = INSTRUMENTS
PHASES = ["hunter", "scavenger", "sentinel"]

prices = st.integers(1, 10_000).map(lambda n: Decimal(n) / 100)
lots = st.integers(1, 500)
fill_spec = st.tuples(st.sampled_from([0, 1]), st.sampled_from(list(ev.Side)), lots, prices,
                      st.integers(0, 2), st.integers(0, 100).map(lambda n: Decimal(n) / 1000))
cross_spec = st.tuples(st.just("cross"), st.integers(0, 1), st.integers(0, 2), st.integers(0, 2),
                       lots, prices)
funding_spec = st.tuples(st.just("funding"), st.integers(0, 1), st.integers(0, 2),
                         st.integers(-500, 500).map(lambda n: Decimal(n) / 100))


def fresh() -> ShadowState:
    s = ShadowState(InstrumentRegistry(list(INSTRUMENTS)))
    s.apply(ev.BalanceSet(venue="bybit", currency="USDT", total=START, ts_event=0, ts_init=0))
    return s


def perp_events(specs):
    """Turn specs into a message stream; also returns the independent cash flows."""
    msgs: list[ev.Message] = []
    flows = {"cash": Decimal(0), "fees": Decimal(0), "funding": Decimal(0)}
    qty = {BTC.id: Decimal(0), DOGE.id: Decimal(0)}
    for n, spec in enumerate(specs):
        if spec[0] == "cross":
            _, i, a, b, lot, price = spec
            inst = (BTC, DOGE)[i]
            msgs.append(ev.InternalCross(cross_id=f"x{n}", instrument_id=inst.id,
                                         buyer_phase=PHASES[a], seller_phase=PHASES[b],
                                         quantity=inst.lot_size * lot, price=price,
                                         ts_event=n, ts_init=n))
            continue
        if spec[0] == "funding":
            _, i, p, amount = spec
            msgs.append(ev.FundingPaid(instrument_id=(BTC, DOGE)[i].id, phase=PHASES[p],
                                       rate=Decimal("0.0001"), amount=amount, currency="USDT",
                                       ts_event=n, ts_init=n))
            flows["funding"] += amount
            continue
        i, side, lot, price, p, fee = spec
        inst = (BTC, DOGE)[i]
        q = inst.lot_size * lot
        cid = f"c{n}"
        msgs.append(ev.SubmitOrder(client_order_id=cid, phase=PHASES[p], instrument_id=inst.id,
                                   side=side, order_type=ev.OrderType.MARKET, quantity=q,
                                   ts_init=n))
        msgs.append(ev.OrderFilled(client_order_id=cid, venue_order_id=f"v{n}", trade_id=f"t{n}",
                                   instrument_id=inst.id, side=side, last_qty=q, last_price=price,
                                   fee=fee, fee_currency="USDT", liquidity=ev.Liquidity.TAKER,
                                   ts_event=n, ts_init=n))
        signed = q if side is ev.Side.BUY else -q
        flows["cash"] -= signed * price * inst.contract_size
        flows["fees"] += fee
        qty[inst.id] += signed
    return msgs, flows, qty


specs = st.lists(st.one_of(fill_spec, fill_spec, fill_spec, cross_spec, funding_spec),
                 min_size=1, max_size=40)
marks = st.tuples(prices, prices)


@given(specs, marks)
def test_perpetual_money_reconciles_to_the_cent(specs, mark_pair):
    msgs, flows, qty = perp_events(specs)
    s = fresh()
    s.apply_all(msgs)
    for inst, m in zip((BTC, DOGE), mark_pair, strict=True):
        s.apply(ev.MarkPrice(instrument_id=inst.id, mark=float(m), ts_event=10**6, ts_init=10**6))
    realized = sum((s.position(i.id).realized_pnl for i in (BTC, DOGE)), Decimal(0))
    # balances + realized PnL - fees + funding
    assert abs(s.balance("USDT") - (START + realized - flows["fees"] + flows["funding"])) < CENT
    # realized + unrealized is the cash flow plus what the position is worth at the mark
    worth = sum((qty[i.id] * m * i.contract_size for i, m in zip((BTC, DOGE), mark_pair, strict=True)),
                Decimal(0))
    unrealized = sum((s.unrealized_pnl(i.id) for i in (BTC, DOGE)), Decimal(0))
    assert abs(realized + unrealized - (flows["cash"] + worth)) < CENT
    assert abs(s.equity() - (START + flows["cash"] + worth - flows["fees"] + flows["funding"])) < CENT
    # phases (internal crosses included) add up to the account
    assert abs(sum((s.phase_pnl(p) for p in PHASES), Decimal(0)) - (s.equity() - START)) < CENT
    for i in (BTC, DOGE):
        assert s.position_qty(i.id) == qty[i.id]
        assert sum((s.position_qty(i.id, p) for p in PHASES), Decimal(0)) == qty[i.id]


@given(st.lists(st.tuples(st.sampled_from(list(ev.Side)), lots, prices,
                          st.sampled_from(["USDT", "ETH"])), min_size=1, max_size=30), prices)
def test_spot_balances_are_the_cash_flows_and_equity_values_holdings_at_the_mark(fills, mark):
    s = fresh()
    quote, base = START, Decimal(0)
    for n, (side, lot, price, fee_ccy) in enumerate(fills):
        q = ETH.lot_size * lot
        fee = (q * Decimal("0.001")) if fee_ccy == "ETH" else (q * price * Decimal("0.001"))
        s.apply(ev.SubmitOrder(client_order_id=f"c{n}", phase="hunter", instrument_id=ETH.id,
                               side=side, order_type=ev.OrderType.MARKET, quantity=q, ts_init=n))
        s.apply(ev.OrderFilled(client_order_id=f"c{n}", venue_order_id="v", trade_id=f"t{n}",
                               instrument_id=ETH.id, side=side, last_qty=q, last_price=price,
                               fee=fee, fee_currency=fee_ccy, liquidity=ev.Liquidity.MAKER,
                               ts_event=n, ts_init=n))
        signed = q if side is ev.Side.BUY else -q
        quote -= signed * price + (fee if fee_ccy == "USDT" else 0)
        base += signed - (fee if fee_ccy == "ETH" else 0)
    assert s.balance("USDT") == quote and s.balance("ETH") == base
    s.apply(ev.Trade(instrument_id=ETH.id, price=float(mark), size=1.0, aggressor=ev.Side.BUY,
                     ts_event=99, ts_init=99))
    assert abs(s.equity() - (quote + base * mark)) < CENT


@given(specs)
def test_state_replayed_from_the_log_equals_the_live_one(specs):
    msgs, _, _ = perp_events(specs)
    live, log = fresh(), EventLog.memory()
    log.append(ev.BalanceSet(venue="bybit", currency="USDT", total=START, ts_event=0, ts_init=0))
    for m in msgs:
        log.append(m)
        live.apply(m)
        # market data is not logged: marks come back from the feed after a restart
    replayed = ShadowState(InstrumentRegistry(list(INSTRUMENTS)))
    for entry in log.entries():
        replayed.apply(entry.msg)
    assert replayed == live
    assert replayed.equity() == live.equity()
    for m in msgs:  # the log round-trips every message exactly
        assert codec.decode(codec.encode(m)) == m


@settings(max_examples=25)
@given(ops=st.lists(histories.op, min_size=10, max_size=50), seed=st.integers(0, 2**32),
       drop=st.sampled_from([0.0, 0.3]))
def test_state_replayed_from_the_sqlite_log_equals_the_live_one_after_reconciliation(
        tmp_path_factory, ops, seed, drop):
    """Orders, fills, anomalies and reconciliation corrections, through a real SQLite log."""
    path = tmp_path_factory.mktemp("log") / "titan.sqlite"
    venue, commands, reports = histories.play(ops)
    stream = [*venue.opening_balances(), *histories.corrupt(commands, reports, seed, drop, 0.2)]

    async def live_session():
        log = EventLog(path, flush_interval_ms=1, flush_batch=7)
        await log.open()
        live = ShadowState(InstrumentRegistry(list(INSTRUMENTS)))
        for m in stream:
            log.append(m)
            live.apply(m)
        result = reconcile(live, venue.snapshot(fills_from=len(venue.fills) // 2),
                           ReconcilePolicy(), now_ns=10**15)
        for m in (*result.events, *result.commands):
            log.append(m)
            live.apply(m)
        await log.close()
        return live

    live = asyncio.run(live_session())
    replayed = ShadowState(InstrumentRegistry(list(INSTRUMENTS)))
    assert replay_into(path, replayed) == len(list(read_log(path))) >= len(stream)
    assert replayed == live
    assert replayed.anomaly_count == live.anomaly_count
