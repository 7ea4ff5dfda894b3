"""Backtest statistics (seed 004 section 8.4), per owner and for the whole account.

Return statistics come from the equity curve sampled on a regular period (a day when the run
spans 30 days or more, an hour when it spans two, else a minute), annualised over 365 days (crypto
never closes): Sharpe and Sortino with a zero risk-free rate, Calmar = annual return / max
drawdown. Drawdown statistics use the full curve. Trade statistics come from the round trips.
Money figures (PnL, fees, funding, final equity) are exact ``Decimal`` sums of the fills, so
they reconcile to the cent with the venue's balances; everything else is float.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from decimal import Decimal

import msgspec
import numpy as np

from titan.backtest.equity import Curve
from titan.backtest.trades import RoundTrip

NS = 1_000_000_000
DAY = 86_400 * NS
YEAR = 365 * DAY
ZERO = Decimal(0)


class Metrics(msgspec.Struct, kw_only=True):
    """One owner's (or the account's) figures. Ratios are fractions (0.05 = 5 %)."""

    start_ns: int
    end_ns: int
    days: float
    initial_equity: Decimal
    final_equity: Decimal
    net_pnl: Decimal  # realized + unrealized - fees + funding
    realized_pnl: Decimal  # gross PnL of closed trades
    unrealized_pnl: Decimal  # open trades at the final mark
    fees: Decimal
    funding: Decimal
    total_return: float
    annual_return: float
    volatility: float  # annualised standard deviation of period returns
    sharpe: float | None
    sortino: float | None
    calmar: float | None
    max_drawdown: float  # deepest fall from a peak, as a positive fraction
    max_drawdown_duration_s: float  # the longest time spent below a previous peak
    recovery_time_s: float | None  # trough of the deepest drawdown back to its peak; None: not yet
    trades: int  # closed round trips
    open_trades: int
    wins: int
    losses: int
    win_rate: float | None
    profit_factor: float | None  # gross wins / gross losses (net of fees and funding)
    avg_win: float | None
    avg_loss: float | None
    expectancy: float | None  # average net PnL per closed trade
    best_trade: float | None
    worst_trade: float | None
    avg_trade_duration_s: float | None
    exposure: float  # fraction of the time any position was open
    turnover: float  # traded notional / initial equity
    traded_notional: float
    fills: int
    returns_period: str


def period_for(span_ns: int) -> tuple[str, int]:
    if span_ns >= 30 * DAY:
        return "1d", DAY
    if span_ns >= 2 * DAY:
        return "1h", 3600 * NS
    return "1m", 60 * NS


def period_returns(curve: Curve, start_ns: int, end_ns: int, step_ns: int) -> np.ndarray:
    """Simple returns of the equity sampled every ``step_ns`` from ``start_ns``."""
    times = np.arange(start_ns, end_ns + 1, step_ns, dtype=np.int64)
    if times.size == 0 or times[-1] != end_ns:
        times = np.append(times, end_ns)
    eq = curve.at(times)
    prev = eq[:-1]
    with np.errstate(divide="ignore", invalid="ignore"):
        r = np.where(prev > 0, eq[1:] / prev - 1.0, 0.0)
    return r


def drawdown_stats(curve: Curve) -> tuple[float, float, float | None]:
    """(max drawdown, longest underwater duration in s, recovery time of the deepest in s)."""
    eq, ts = curve.equity, curve.ts
    if eq.size == 0:
        return 0.0, 0.0, None
    peak = np.maximum.accumulate(eq)
    with np.errstate(divide="ignore", invalid="ignore"):
        dd = np.where(peak > 0, 1.0 - eq / peak, 0.0)
    trough = int(np.argmax(dd))
    max_dd = float(dd[trough])
    under = eq < peak
    longest = 0
    start = None
    for i in np.flatnonzero(np.diff(np.concatenate([[False], under, [False]]).astype(np.int8))):
        if start is None:
            start = i
        else:
            # underwater from the peak before ``start`` until ``i`` (or the end)
            t0 = ts[start - 1] if start > 0 else ts[0]
            t1 = ts[i] if i < ts.size else ts[-1]
            longest = max(longest, int(t1 - t0))
            start = None
    recovery = None
    if max_dd > 0:
        after = np.flatnonzero(eq[trough:] >= peak[trough])
        if after.size:
            recovery = float(ts[trough + after[0]] - ts[trough]) / NS
    return max_dd, longest / NS, recovery


def compute(
    curve: Curve,
    trades: Sequence[RoundTrip],
    *,
    initial: Decimal,
    fees: Decimal,
    funding: Decimal,
    traded_notional: float,
    fills: int,
    start_ns: int,
    end_ns: int,
    base_equity: float | None = None,
) -> Metrics:
    """Figures for one curve. ``base_equity`` (default: the curve's start) is what returns are
    measured against - an owner's PnL curve passes the account's initial cash."""
    span = max(end_ns - start_ns, 1)
    period, step = period_for(span)
    closed = [t for t in trades if not t.open]
    realized = sum((t.pnl for t in closed), ZERO)
    unrealized = sum((t.pnl for t in trades if t.open), ZERO)
    net = realized + unrealized - fees + funding
    base = float(initial) if base_equity is None else base_equity
    shift = 0.0 if base_equity is None else base_equity  # a PnL curve rides on the account's cash
    shifted = Curve(curve.ts, curve.equity + shift, curve.gross)
    final = float(initial + net) if base_equity is None else base + float(net)
    total = float(final / base - 1.0) if base > 0 else 0.0
    years = span / YEAR
    annual = float((final / base) ** (1.0 / years) - 1.0) if base > 0 and final > 0 and years > 0 else -1.0
    r = period_returns(shifted, start_ns, end_ns, step)
    per_year = YEAR / step
    vol = float(np.std(r, ddof=1)) * math.sqrt(per_year) if r.size > 1 else 0.0
    mean = float(np.mean(r)) if r.size else 0.0
    sd = float(np.std(r, ddof=1)) if r.size > 1 else 0.0
    sharpe = mean / sd * math.sqrt(per_year) if sd > 0 else None
    downside = float(np.sqrt(np.mean(np.minimum(r, 0.0) ** 2))) if r.size else 0.0
    sortino = mean / downside * math.sqrt(per_year) if downside > 0 else None
    max_dd, dd_dur, recovery = drawdown_stats(shifted)
    calmar = annual / max_dd if max_dd > 0 else None
    nets = [float(t.net_pnl) for t in closed]
    wins = [x for x in nets if x > 0]
    losses = [x for x in nets if x <= 0]
    gross_loss = -sum(losses)
    dt = np.diff(curve.ts).astype(np.float64)
    in_market = curve.gross[:-1] > 0
    exposure = float(dt[in_market].sum() / dt.sum()) if dt.size and dt.sum() > 0 else 0.0
    return Metrics(
        start_ns=start_ns, end_ns=end_ns, days=span / DAY, initial_equity=initial,
        final_equity=initial + net if base_equity is None else Decimal(repr(base)) + net,
        net_pnl=net, realized_pnl=realized, unrealized_pnl=unrealized, fees=fees, funding=funding,
        total_return=total, annual_return=annual, volatility=vol, sharpe=sharpe, sortino=sortino,
        calmar=calmar, max_drawdown=max_dd, max_drawdown_duration_s=dd_dur, recovery_time_s=recovery,
        trades=len(closed), open_trades=len(trades) - len(closed), wins=len(wins), losses=len(losses),
        win_rate=len(wins) / len(closed) if closed else None,
        profit_factor=(sum(wins) / gross_loss if gross_loss > 0 else None) if closed else None,
        avg_win=sum(wins) / len(wins) if wins else None,
        avg_loss=sum(losses) / len(losses) if losses else None,
        expectancy=sum(nets) / len(nets) if nets else None,
        best_trade=max(nets) if nets else None, worst_trade=min(nets) if nets else None,
        avg_trade_duration_s=(sum(t.duration_ns for t in closed) / len(closed) / NS) if closed else None,
        exposure=exposure, turnover=traded_notional / base if base > 0 else 0.0,
        traded_notional=traded_notional, fills=fills, returns_period=period,
    )


def monthly_returns(curve: Curve, start_ns: int, end_ns: int) -> dict[str, float]:
    """Return of each calendar month (UTC) the run touches, ``{"2025-05": 0.012, ...}``."""
    months = np.arange(np.datetime64(start_ns, "ns").astype("datetime64[M]"),
                       np.datetime64(end_ns, "ns").astype("datetime64[M]") + 1)
    out: dict[str, float] = {}
    for m in months:
        a = max(int(m.astype("datetime64[ns]").astype(np.int64)), start_ns)
        b = min(int((m + 1).astype("datetime64[ns]").astype(np.int64)), end_ns)
        e0, e1 = curve.at(np.array([a, b], dtype=np.int64))
        out[str(m)] = float(e1 / e0 - 1.0) if e0 > 0 else 0.0
    return out
