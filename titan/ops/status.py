"""What the operator sees: one snapshot of a running session, as plain JSON-able data.

``GET /status``, the dashboard, ``titan status`` and the systemd STATUS line all read it;
``/metrics`` reads :func:`gauges`, its numeric subset. Built on demand (a scrape, a dashboard
frame), never per tick.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from typing import TYPE_CHECKING, Any

from titan import __version__
from titan.core import events as ev

if TYPE_CHECKING:
    from titan.live import LiveRunner


def _f(x: Any) -> float:
    return float(x) if x is not None else 0.0


def gauges(runner: LiveRunner) -> dict[str, Any]:
    s = runner.session
    if s.brain is None or s.state is None:
        return {}
    eq = float(s.state.equity())
    dd = s.brain.drawdown
    now = time.monotonic()
    by_venue = Counter(o.instrument_id.rpartition("@")[2] for o in s.state.open_orders())
    return {
        "equity": eq,
        "drawdown": dd.portfolio_drawdown(eq),
        "truth_score": runner.truth.score if runner.truth is not None else None,
        "uptime_s": time.time() - runner.started_wall,
        "breaker": s.brain.breaker.value,
        "allocations": {k: float(v) for k, v in s.brain.allocations.items()},
        "positions": [
            {"instrument_id": p.instrument_id, "phase": p.phase, "quantity": float(p.quantity)}
            for p in s.state.positions() if p.quantity
        ],
        "open_orders_by_venue": dict(by_venue),
        "feed_age_s": {v: (now - w.last) if w.last else -1.0 for v, w in runner.feeds.items()},
        "counters": dict(s.kernel.counters),
    }


def snapshot(runner: LiveRunner) -> dict[str, Any]:
    s = runner.session
    out: dict[str, Any] = {
        "version": __version__, "pid": os.getpid(), "mode": runner.edge.mode,
        "market": runner.edge.market, "edge": runner.edge.label,
        "ready": runner.ready.is_set(), "stopping": runner._closing,
        "uptime_s": round(time.time() - runner.started_wall, 3),
        "data_dir": str(s.data_dir),
    }
    if s.brain is None or s.state is None or s.kernel is None:
        return out
    st, brain = s.state, s.brain
    eq = st.equity()
    dd = brain.drawdown
    now_mono = time.monotonic()
    out.update({
        "now_ns": s.clock.now_ns(),
        "currency": s.account_currency(),
        "equity": float(eq),
        "equity_exact": str(eq),
        "peak": dd.peak,
        "drawdown": dd.portfolio_drawdown(float(eq)),
        "daily_loss": dd.daily_loss(float(eq)),
        "breaker": brain.breaker.value,
        "breaker_reason": brain.breaker_reason,
        "emergency": brain.emergency,
        "regime": brain.allocator.regime,
        "allocations": {k: str(v) for k, v in brain.allocations.items()},
        "truth_score": runner.truth.score if runner.truth is not None else None,
        "truth_components": dict(runner.truth.components) if runner.truth is not None else {},
        "balances": {f"{v}:{c}": str(a) for (v, c), a in st.balances().items()},
        "positions": [
            {"instrument_id": p.instrument_id, "phase": p.phase, "quantity": str(p.quantity),
             "avg_price": str(p.avg_price),
             "unrealized_pnl": str(st.unrealized_pnl(p.instrument_id, p.phase))}
            for p in st.positions() if p.quantity
        ],
        "net_positions": [
            {"instrument_id": p.instrument_id, "quantity": str(p.quantity),
             "avg_price": str(p.avg_price)}
            for p in st.net_positions() if p.quantity
        ],
        "open_orders": [
            {"client_order_id": o.client_order_id, "phase": o.phase,
             "instrument_id": o.instrument_id, "side": o.side.value,
             "type": o.order_type.value, "quantity": str(o.quantity),
             "filled": str(o.filled_qty), "price": None if o.price is None else str(o.price),
             "status": o.status.value}
            for o in st.open_orders()
        ],
        "phases": {name: status.value for name, status in s.kernel.runner.status.items()},
        "owners": dict(s.owners),
        "counters": dict(s.kernel.counters),
        "fills": runner.journal.lines if runner.journal is not None else 0,
        "feeds": {
            v: {"status": w.status, "detail": w.detail, "events": w.events,
                "age_s": round(now_mono - w.last, 3) if w.last else None,
                "latency_ms": None if w.latency_ms is None else round(w.latency_ms, 2)}
            for v, w in runner.feeds.items()
        },
        "last_decisions": [_decision(d) for d in list(brain.last_decisions)[-20:]][::-1],
        "alerts": _alerts(runner),
        "faults": [{"ts": t, "where": w, "error": e} for t, w, e in list(runner.faults)[-10:]],
        "journal": {"last_seq": s.eventlog.last_seq, "durable_seq": s.eventlog.durable_seq,
                    "healthy": s.eventlog.healthy, "path": str(s.db_path)},
        "operator_api": runner.api.url if runner.api is not None else None,
    })
    out["ai_quant"] = dict(runner.ai_quant)
    if runner.history is not None:
        out["ai_quant"]["history"] = {iid: runner.history.bars(iid)
                                      for iid in sorted(runner.history.instruments)}
    if runner.recovery is not None:
        r = runner.recovery
        out["recovery"] = {
            "ready": r.ready, "reason": r.reason, "replayed": r.replayed,
            "corrections": r.corrections, "elapsed_ms": round(r.elapsed_s * 1000, 1),
            "discrepancies": sum(len(x.discrepancies) for x in r.results),
            "venues": {x.venue: {"ok": x.ok, "discrepancies": [d.kind for d in x.discrepancies]}
                       for x in r.results},
        }
    if runner.server is not None:
        srv = runner.server
        out["replay"] = {"frames": len(srv.recording), "sent": srv.sent,
                         "position": srv.position, "finished": srv.finished.is_set(),
                         "speed": srv.speed}
    return out


def _decision(d: ev.OrderApproved | ev.OrderDenied) -> dict[str, Any]:
    i = d.intent
    row = {"ts": d.ts_event, "client_order_id": d.client_order_id, "phase": d.phase,
           "instrument_id": i.instrument_id, "side": i.side.value, "quantity": str(i.quantity),
           "type": i.order_type.value, "tag": i.tag}
    if d.__class__ is ev.OrderDenied:
        row["verdict"] = "denied"
        row["reason"] = d.reason  # type: ignore[union-attr]
    else:
        row["verdict"] = "approved"
    return row


def _alerts(runner: LiveRunner) -> list[dict[str, Any]]:
    recent = runner.alerts.recent if runner.alerts is not None else getattr(runner, "_recent_alerts", ())
    return [{"ts": t, "severity": a.severity, "title": a.title, "detail": a.detail}
            for t, a in list(recent)[-10:]][::-1]
