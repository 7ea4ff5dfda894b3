from decimal import Decimal as D

import numpy as np
import pytest

from titan.backtest.equity import Curve
from titan.backtest.metrics import DAY, NS, compute, drawdown_stats, monthly_returns, period_returns
from titan.backtest.trades import RoundTrip, round_trips
from titan.core import events as ev

from .world import instrument

INST = instrument(fee_bps=0)
IID = INST.id
INSTRUMENTS = {IID: INST}


def fill(i: int, side: str, qty: str, price: str, fee: str = "0", owner: str = "a") -> ev.OrderFilled:
    return ev.OrderFilled(client_order_id=f"{owner}-{i}", venue_order_id=str(i), trade_id=f"t{i}",
                          instrument_id=IID, side=ev.Side.BUY if side == "buy" else ev.Side.SELL,
                          last_qty=D(qty), last_price=D(price), fee=D(fee), fee_currency="USDT",
                          liquidity=ev.Liquidity.TAKER, ts_event=i * NS, ts_init=i * NS)


def owners(fills) -> dict[str, str]:
    return {f.client_order_id: f.client_order_id.split("-")[0] for f in fills if hasattr(f, "client_order_id")}


def test_a_long_trade_with_adds_and_partial_exits():
    fills = [fill(1, "buy", "1", "100", "0.1"), fill(2, "buy", "1", "110", "0.1"),
             fill(3, "sell", "0.5", "120", "0.05"), fill(4, "sell", "1.5", "90", "0.15")]
    (t,) = round_trips(fills, owners(fills), INSTRUMENTS)
    assert (t.side, t.quantity, t.entry_ts, t.exit_ts, t.fills, t.open) == ("long", D(2), NS, 4 * NS, 4, False)
    assert t.entry_price == D(105) and t.exit_price == D("97.5")
    assert t.pnl == D(-100 - 110 + 60 + 135)  # the cash flow: -15
    assert t.fees == D("0.4") and t.net_pnl == D("-15.4")


def test_a_flip_closes_one_trade_and_opens_the_next_with_the_fee_split():
    fills = [fill(1, "sell", "1", "100", "0.3"), fill(2, "buy", "3", "90", "0.9"), fill(3, "sell", "2", "95", "0")]
    short, long = round_trips(fills, owners(fills), INSTRUMENTS)
    assert (short.side, short.pnl, short.fees) == ("short", D(10), D("0.3") + D("0.3"))
    assert (long.side, long.quantity, long.entry_price, long.pnl, long.fees) == ("long", D(2), D(90), D(10), D("0.6"))
    assert short.fees + long.fees == sum(f.fee for f in fills)


def test_open_trade_is_valued_at_the_final_mark_and_funding_is_shared_by_position():
    fills = [fill(1, "buy", "3", "100", owner="a"), fill(2, "buy", "1", "100", owner="b")]
    paid = ev.FundingPaid(instrument_id=IID, phase="", rate=D("0.001"), amount=D("-0.4"), currency="USDT",
                          ts_event=3 * NS, ts_init=3 * NS)
    trades = round_trips([*fills, paid], owners(fills), INSTRUMENTS, end_ns=9 * NS, final_marks={IID: D(104)})
    by = {t.owner: t for t in trades}
    assert all(t.open for t in trades) and by["a"].exit_ts == 9 * NS and by["a"].exit_price == D(104)
    assert by["a"].pnl == D(12) and by["b"].pnl == D(4)
    assert by["a"].funding == D("-0.3") and by["b"].funding == D("-0.1")


def test_two_owners_on_one_instrument_keep_separate_trades():
    fills = [fill(1, "buy", "1", "100", owner="a"), fill(2, "sell", "1", "100", owner="b"),
             fill(3, "sell", "1", "101", owner="a"), fill(4, "buy", "1", "99", owner="b")]
    a, b = sorted(round_trips(fills, owners(fills), INSTRUMENTS), key=lambda t: t.owner)
    assert (a.side, a.pnl, b.side, b.pnl) == ("long", D(1), "short", D(1))


def curve(values, step=DAY, t0=0):
    ts = t0 + np.arange(len(values), dtype=np.int64) * step
    return Curve(ts, np.asarray(values, dtype=float), np.zeros(len(values)))


def test_drawdown_depth_duration_and_recovery():
    c = curve([100, 120, 90, 96, 130, 125])  # peak 120 at day 1, trough 90 at day 2, back at day 4
    dd, longest, recovery = drawdown_stats(c)
    assert dd == pytest.approx(0.25)
    assert longest == 3 * 86_400  # below 120 from day 1 until day 4
    assert recovery == 2 * 86_400  # trough (day 2) to the day equity regains 120 (day 4)
    _, _, never = drawdown_stats(curve([100, 80, 90]))
    assert never is None


def test_period_returns_sharpe_sortino_from_their_definitions():
    r = np.array([0.01, -0.02, 0.015, 0.005, -0.01, 0.02, 0.0, 0.01] * 5)
    values = 1000 * np.cumprod(np.concatenate([[1.0], 1 + r]))
    c = curve(values)
    got = period_returns(c, 0, int(c.ts[-1]), DAY)
    np.testing.assert_allclose(got, r, rtol=1e-12)
    m = compute(c, [], initial=D(1000), fees=D(0), funding=D(0), traded_notional=0.0, fills=0,
                start_ns=0, end_ns=int(c.ts[-1]))
    assert m.returns_period == "1d"
    assert m.sharpe == pytest.approx(r.mean() / r.std(ddof=1) * np.sqrt(365))
    assert m.sortino == pytest.approx(r.mean() / np.sqrt(np.mean(np.minimum(r, 0) ** 2)) * np.sqrt(365))
    assert m.volatility == pytest.approx(r.std(ddof=1) * np.sqrt(365))
    assert m.calmar == pytest.approx(m.annual_return / m.max_drawdown)


def trip(net: float, hours: int = 1) -> RoundTrip:
    n = D(repr(net))
    return RoundTrip(instrument_id=IID, owner="a", side="long", quantity=D(1), entry_ts=0, exit_ts=hours * 3600 * NS,
                     entry_price=D(100), exit_price=D(100) + n, pnl=n, fees=D(0), funding=D(0), net_pnl=n, fills=2)


def test_trade_statistics():
    trades = [trip(30), trip(-10, 3), trip(20), trip(-20, 5), trip(5)]
    m = compute(curve([1000, 1025]), trades, initial=D(1000), fees=D(0), funding=D(0),
                traded_notional=1000.0, fills=10, start_ns=0, end_ns=DAY)
    assert (m.trades, m.wins, m.losses) == (5, 3, 2)
    assert m.win_rate == pytest.approx(0.6) and m.profit_factor == pytest.approx(55 / 30)
    assert m.avg_win == pytest.approx(55 / 3) and m.avg_loss == pytest.approx(-15)
    assert m.expectancy == pytest.approx(5) and (m.best_trade, m.worst_trade) == (30, -20)
    assert m.avg_trade_duration_s == pytest.approx(3 * 3600 * 2.2 / 3)
    assert m.net_pnl == D(25) and m.final_equity == D(1025) and m.turnover == pytest.approx(1.0)


def test_monthly_returns_compound_to_the_total():
    start = int(np.datetime64("2025-01-20", "ns").astype(np.int64))
    values = 1000 * np.cumprod(np.full(80, 1.003))
    c = curve(values, t0=start)
    months = monthly_returns(c, start, int(c.ts[-1]))
    assert list(months) == ["2025-01", "2025-02", "2025-03", "2025-04"]
    assert np.prod([1 + v for v in months.values()]) - 1 == pytest.approx(values[-1] / values[0] - 1)
