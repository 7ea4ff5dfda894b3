"""A finished backtest, summarised: what ``--json`` writes and the HTML report shows.

:func:`summarise` turns a :class:`~titan.backtest.result.BacktestResult` into trades, the
equity curve, metrics for the account and for each owner (phase or strategy), monthly returns,
what the Brain did (denials by reason, clipped sizes, breaker changes, emergencies), and a
reconciliation of the money against the SimVenue's final balances and the ShadowState.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import msgspec
import numpy as np

from titan.backtest.equity import curve, grid
from titan.backtest.metrics import Metrics, compute, monthly_returns
from titan.backtest.result import BacktestResult
from titan.backtest.trades import RoundTrip, round_trips
from titan.core import events as ev

CENT = Decimal("0.01")
CURVE_POINTS = 4000


class Reconciliation(msgspec.Struct, kw_only=True):
    """The run's money three ways: the fills, the SimVenue's account, the ShadowState."""

    currency: str
    venue_balances: dict[str, Decimal]
    venue_positions: dict[str, Decimal]
    expected_balances: dict[str, Decimal]  # from the fills and funding ({} while a perp is open)
    final_equity: Decimal  # from the fills, positions at the final mark
    venue_equity: Decimal  # the SimVenue's balances + its positions at the final mark
    state_equity: Decimal  # ShadowState.equity() after the run
    ok: bool  # all of them agree to the cent


class Summary(msgspec.Struct, kw_only=True):
    run: dict[str, Any]
    metrics: Metrics
    phases: dict[str, Metrics]
    trades: list[RoundTrip]
    equity: dict[str, list]
    prices: dict[str, dict[str, list]]  # per instrument, downsampled: {"ts": [...], "price": [...]}
    monthly_returns: dict[str, float]
    brain: dict[str, Any]
    reconciliation: Reconciliation


def summarise(result: BacktestResult, *, curve_points: int = CURVE_POINTS) -> Summary:
    trades = round_trips(result.money, result.orders, result.instruments, end_ns=result.end_ns,
                         final_marks=result.final_marks)
    times = grid(result.marks, result.start_ns, result.end_ns)
    cash = float(result.cash)
    account = curve(times, result.money, result.marks, result.instruments, cash,
                    owner_of=result.orders)
    fees = sum((f.fee for f in result.fills), Decimal(0))
    funding = sum((f.amount for f in result.funding), Decimal(0))
    notional = sum(float(f.last_qty * f.last_price * result.instruments[f.instrument_id].contract_size)
                   for f in result.fills)
    metrics = compute(account, trades, initial=result.cash, fees=fees, funding=funding,
                      traded_notional=notional, fills=len(result.fills), start_ns=result.start_ns,
                      end_ns=result.end_ns)
    phases: dict[str, Metrics] = {}
    for owner in result.owners:
        own = [t for t in trades if t.owner == owner]
        own_fills = [f for f in result.fills if result.orders.get(f.client_order_id) == owner]
        pnl_curve = curve(times, result.money, result.marks, result.instruments, 0.0,
                          owner_of=result.orders, owner=owner)
        phases[owner] = compute(
            pnl_curve, own, initial=result.cash, fees=sum((t.fees for t in own), Decimal(0)),
            funding=sum((t.funding for t in own), Decimal(0)),
            traded_notional=sum(float(f.last_qty * f.last_price) for f in own_fills),
            fills=len(own_fills), start_ns=result.start_ns, end_ns=result.end_ns, base_equity=cash)
    shown = account.downsample(curve_points)
    return Summary(
        run=_run_info(result),
        metrics=metrics,
        phases=phases,
        trades=trades,
        equity={"ts": shown.ts.tolist(), "equity": np.round(shown.equity, 6).tolist(),
                "drawdown": np.round(shown.drawdown(), 8).tolist()},
        prices={iid: _price_path(m, curve_points) for iid, m in result.marks.items()},
        monthly_returns=monthly_returns(account, result.start_ns, result.end_ns),
        brain=_brain(result),
        reconciliation=reconcile(result, metrics),
    )


def reconcile(result: BacktestResult, metrics: Metrics) -> Reconciliation:
    """Balances expected from the fills vs the venue's; equity from the fills vs the venue's and
    the ShadowState's. Perpetual balances are comparable per currency once the position is
    flat (an open one's realized part depends on average-cost bookkeeping); equity always is."""
    expected: dict[str, Decimal] = {result.currency: result.cash}

    def add(ccy: str, x: Decimal) -> None:
        expected[ccy] = expected.get(ccy, Decimal(0)) + x

    for f in result.fills:
        inst = result.instruments[f.instrument_id]
        signed = f.last_qty if f.side is ev.Side.BUY else -f.last_qty
        if inst.is_spot:
            add(inst.base, signed * inst.contract_size)
            add(inst.quote, -signed * f.last_price * inst.contract_size)
        elif result.venue_positions.get(f.instrument_id, 0) == 0:
            add(inst.settle_currency, -signed * f.last_price * inst.contract_size)  # all realized
        add(f.fee_currency, -f.fee)
    for f in result.funding:
        add(f.currency, f.amount)
    venue = dict(result.venue_balances)
    open_perp = any(q != 0 and not result.instruments[i].is_spot for i, q in result.venue_positions.items())
    balances_ok = open_perp or all(
        abs(expected.get(c, Decimal(0)) - venue.get(c, Decimal(0))) < CENT for c in set(expected) | set(venue))
    final = metrics.final_equity
    ok = (balances_ok and abs(final - result.state_equity) < CENT
          and abs(final - result.venue_equity) < CENT)
    return Reconciliation(currency=result.currency, venue_balances=venue,
                          venue_positions=dict(result.venue_positions),
                          expected_balances={} if open_perp else expected,
                          final_equity=final, venue_equity=result.venue_equity,
                          state_equity=result.state_equity, ok=ok)


def _price_path(marks, points: int) -> dict[str, list]:
    """At most ``points`` points of a price path, keeping each bucket's high and low."""
    n = int(marks.ts.size)
    if n <= points:
        idx = np.arange(n)
    else:
        edges = np.linspace(0, n, points // 2 + 1).astype(np.int64)
        keep = {0, n - 1}
        for a, b in zip(edges[:-1], edges[1:], strict=True):
            if b > a:
                keep.add(int(a + np.argmin(marks.price[a:b])))
                keep.add(int(a + np.argmax(marks.price[a:b])))
        idx = np.fromiter(sorted(keep), dtype=np.int64)
    return {"ts": marks.ts[idx].tolist(), "price": marks.price[idx].tolist()}


def _run_info(r: BacktestResult) -> dict[str, Any]:
    return {
        "digest": r.digest, "journal_entries": r.journal_entries, "policy_hash": r.policy_hash,
        "instruments": {iid: {"kind": i.kind.value, "tick": str(i.tick_size), "lot": str(i.lot_size),
                              "taker_fee": str(i.taker_fee), "maker_fee": str(i.maker_fee)}
                        for iid, i in r.instruments.items()},
        "owners": r.owners, "fill_model": r.fill_model, "currency": r.currency, "cash": str(r.cash),
        "start_ns": r.start_ns, "end_ns": r.end_ns, "events": r.events,
        "elapsed_s": round(r.elapsed_s, 4), "events_per_s": round(r.events_per_s),
        "counters": r.counters, "phase_status": r.phase_status, "faults": r.faults,
        "anomalies": r.anomalies,
    }


def _brain(r: BacktestResult) -> dict[str, Any]:
    breaker = [{"ts": m.ts_event, "old": m.old.value, "new": m.new.value, "reason": m.reason}
               for m in r.system if m.__class__ is ev.BreakerChanged]
    emergencies = [{"ts": m.ts_event, "reason": m.reason, "source": m.source}
                   for m in r.system if m.__class__ is ev.EmergencyFlatten]
    return {
        "denied": len(r.denials),
        "denial_reasons": {name: {"count": n, "example": why} for name, n, why in r.denial_reasons()},
        "denials": [{"ts": d.ts_event, "owner": d.phase, "instrument_id": d.instrument_id,
                     "side": d.intent.side.value, "quantity": str(d.intent.quantity), "reason": d.reason}
                    for d in r.denials[:200]],
        "clipped": r.clipped,
        "rejected": len(r.rejects),
        "reject_reasons": sorted({x.reason for x in r.rejects})[:20],
        "breaker_changes": breaker,
        "emergencies": emergencies,
    }
