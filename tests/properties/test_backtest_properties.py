"""Invariants of backtest accounting, for any fills and any run.

- Round trips partition the fills: their fees sum to the fills' fees, funding paid while a
  position was open is attributed in full, and their PnL equals each owner's cash flow plus its
  position at the final mark - exactly, in Decimal.
- A run on any price path, with any orders, fill model and fee: the money reconciles to the
  cent between the fills, the SimVenue and the ShadowState; the float equity curve ends at the
  exact final equity; the event log is byte-identical when the run is repeated.
"""

from __future__ import annotations

from decimal import Decimal as D

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from tests.unit.backtest.world import Scripted, instrument, run
from titan.backtest.trades import round_trips
from titan.core import events as ev
from titan.feeds.history import BarSeries
from titan.feeds.validate import ValidationReport

INST = instrument(fee_bps=0)
IID = INST.id
NS = 1_000_000_000

fill_step = st.tuples(
    st.sampled_from(["a", "b"]),
    st.sampled_from([ev.Side.BUY, ev.Side.SELL]),
    st.integers(1, 50),  # lots of 0.001
    st.integers(900_000, 1_100_000),  # ticks of 0.1
    st.integers(0, 500),  # fee in 0.0001
    st.one_of(st.none(), st.integers(-300, 300)),  # a funding payment after the fill, in 0.01
)


@given(st.lists(fill_step, min_size=1, max_size=40), st.integers(900_000, 1_100_000))
def test_round_trips_partition_the_money(steps, mark_ticks):
    money: list = []
    owner_of: dict[str, str] = {}
    pos = {"a": D(0), "b": D(0)}
    flow = {"a": D(0), "b": D(0)}
    funding_while_open = D(0)
    for i, (owner, side, lots, ticks, fee, funding) in enumerate(steps):
        qty, price = D(lots) * D("0.001"), D(ticks) * D("0.1")
        cid = f"{owner}-{i}"
        owner_of[cid] = owner
        money.append(ev.OrderFilled(client_order_id=cid, venue_order_id=cid, trade_id=cid, instrument_id=IID,
                                    side=side, last_qty=qty, last_price=price, fee=D(fee) / 10_000,
                                    fee_currency="USDT", liquidity=ev.Liquidity.TAKER, ts_event=i * NS, ts_init=i * NS))
        signed = qty if side is ev.Side.BUY else -qty
        pos[owner] += signed
        flow[owner] -= signed * price
        if funding is not None:
            amount = D(funding) / 100
            money.append(ev.FundingPaid(instrument_id=IID, phase="", rate=D(0), amount=amount, currency="USDT",
                                        ts_event=i * NS, ts_init=i * NS))
            if any(pos.values()):
                funding_while_open += amount
    mark = D(mark_ticks) * D("0.1")
    trades = round_trips(money, owner_of, {IID: INST}, end_ns=len(steps) * NS, final_marks={IID: mark})
    fills = [m for m in money if isinstance(m, ev.OrderFilled)]
    assert sum((t.fees for t in trades), D(0)) == sum(f.fee for f in fills)
    assert sum((t.funding for t in trades), D(0)) == funding_while_open
    for owner in ("a", "b"):
        own = [t for t in trades if t.owner == owner]
        assert sum((t.pnl for t in own), D(0)) == flow[owner] + pos[owner] * mark
        assert sum(t.open for t in own) == (1 if pos[owner] != 0 else 0)
    for t in trades:
        assert t.net_pnl == t.pnl - t.fees + t.funding and t.quantity > 0


def price_path(returns: list[int]) -> BarSeries:
    c = np.round(30_000.0 * np.cumprod(1 + np.asarray(returns, dtype=float) / 10_000), 1)
    o = np.concatenate([[c[0]], c[:-1]])
    h, lo = np.maximum(o, c) + 5.0, np.minimum(o, c) - 5.0
    ts = 1_700_000_040 * NS + np.arange(len(c), dtype=np.int64) * 60 * NS
    return BarSeries(IID, "1m", ts, o, h, lo, c, np.ones(len(c)), ValidationReport(path="-", kind="candles"))


action = st.one_of(st.tuples(st.sampled_from(["buy", "sell"]), st.integers(1, 30).map(lambda n: str(D(n) / 1000))),
                   st.just(("close", None)))


@given(
    st.lists(st.integers(-40, 40), min_size=30, max_size=150),
    st.dictionaries(st.integers(0, 149), action, max_size=25),
    st.sampled_from(["bar_close", "next_open", "ohlc"]),
    st.sampled_from(["0", "2", "5.5"]),
    st.sampled_from(["BTC/USDT:USDT", "BTC/USDT"]),
)
def test_any_run_reconciles_to_the_cent_and_repeats_byte_for_byte(returns, script, fill, fee, symbol):
    series = price_path(returns)
    inst = instrument(symbol, fee_bps=float(fee))
    series.instrument_id = inst.id
    runs = [run([Scripted(script, instruments=[inst.id])], inst, [series], fill=fill) for _ in range(2)]
    (result, summary), (again, _) = runs
    rec = summary.reconciliation
    assert rec.ok, rec
    assert rec.final_equity == rec.venue_equity == rec.state_equity
    if rec.expected_balances:
        assert rec.expected_balances == {c: v for c, v in rec.venue_balances.items() if v or c in rec.expected_balances}
    assert sum((t.net_pnl for t in summary.trades), D(0)) == summary.metrics.net_pnl
    assert summary.metrics.fees == sum((f.fee for f in result.fills), D(0))
    assert abs(summary.equity["equity"][-1] - float(rec.final_equity)) <= 1e-6 * float(rec.final_equity)
    assert result.digest == again.digest
