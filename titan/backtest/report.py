"""The HTML report: one self-contained file (inline CSS and SVG; no script, no CDN, no fonts).

Charts are drawn here as SVG from the summary: the equity curve, the drawdown underneath, the
price path of each instrument with a marker at every trade entry and exit (up to
``MAX_MARKERS``), then monthly returns, per-owner figures, what the Brain did, the trade table
and the money reconciliation. Every chart element carries a ``data-role`` attribute, so a test
can count what was drawn against the data without a browser.
"""

from __future__ import annotations

import datetime as dt
import html
import importlib.resources
from collections.abc import Sequence
from string import Template

from titan.backtest.console import duration, metric_rows, num, pct
from titan.backtest.summary import Summary

W, H, PAD = 1000.0, 240.0, 36.0
LEFT, RIGHT = 76.0, 16.0  # room for the value labels
MAX_MARKERS = 2000
MAX_TRADE_ROWS = 2000


def render(s: Summary, *, title: str = "backtest") -> str:
    template = Template((importlib.resources.files("titan.backtest") / "report.html").read_text())
    r = s.run
    ts, eq, dd = s.equity["ts"], s.equity["equity"], s.equity["drawdown"]
    return template.substitute(
        title=_e(f"Titan backtest: {title}"),
        subtitle=_e(f"{', '.join(r['instruments'])} | fill {r['fill_model']} | {r['events']:,} events | "
                    f"event log sha256 {r['digest']} | policy {r['policy_hash'][:16]}"),
        cards=_cards(s),
        equity_svg=line_chart(ts, eq, role="equity", color="#2f6fde", fmt="{:,.0f}"),
        drawdown_svg=line_chart(ts, [100 * x for x in dd], role="drawdown", color="#d64545",
                                fmt="{:.1f}%", area=True, height=140.0),
        price_panels="".join(_price_panel(s, iid) for iid in s.prices),
        monthly=_monthly(s.monthly_returns),
        owners=_owners(s),
        brain=_brain(s.brain),
        trades=_trades(s),
        reconciliation=_reconciliation(s),
    )


def _e(x: object) -> str:
    return html.escape(str(x), quote=True)


def _day(ns: int) -> str:
    return dt.datetime.fromtimestamp(ns / 1e9, tz=dt.UTC).strftime("%Y-%m-%d")


def _minute(ns: int) -> str:
    return dt.datetime.fromtimestamp(ns / 1e9, tz=dt.UTC).strftime("%Y-%m-%d %H:%M")


# ---- charts -------------------------------------------------------------------------------------


class _Scale:
    def __init__(self, ts: Sequence[int], values: Sequence[float], height: float) -> None:
        self.t0, self.t1 = (ts[0], ts[-1]) if ts else (0, 1)
        finite = [v for v in values if v == v]
        self.lo, self.hi = (min(finite), max(finite)) if finite else (0.0, 1.0)
        if self.hi == self.lo:
            self.lo, self.hi = self.lo - 1.0, self.hi + 1.0
        self.h = height

    def x(self, t: int) -> float:
        span = (self.t1 - self.t0) or 1
        return LEFT + (t - self.t0) / span * (W - LEFT - RIGHT)

    def y(self, v: float) -> float:
        return self.h - PAD / 2 - (v - self.lo) / (self.hi - self.lo) * (self.h - PAD)


def _axes(sc: _Scale, fmt: str) -> str:
    out = []
    for i in range(5):
        v = sc.lo + (sc.hi - sc.lo) * i / 4
        y = sc.y(v)
        out.append(f'<line x1="{LEFT}" x2="{W - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" stroke="#eef0f3"/>'
                   f'<text x="{LEFT - 4}" y="{y + 4:.1f}" text-anchor="end">{_e(fmt.format(v))}</text>')
    for i in range(5):
        t = int(sc.t0 + (sc.t1 - sc.t0) * i / 4)
        anchor = "start" if i == 0 else "end" if i == 4 else "middle"
        out.append(f'<text x="{sc.x(t):.1f}" y="{sc.h - 2:.1f}" text-anchor="{anchor}">{_day(t)}</text>')
    return "".join(out)


def _points(sc: _Scale, ts: Sequence[int], values: Sequence[float]) -> str:
    return " ".join(f"{sc.x(t):.1f},{sc.y(v):.1f}" for t, v in zip(ts, values, strict=True))


def line_chart(ts: Sequence[int], values: Sequence[float], *, role: str, color: str, fmt: str,
               area: bool = False, height: float = H) -> str:
    """An SVG line (or area) chart; its polyline has exactly one point per value."""
    sc = _Scale(ts, values, height)
    pts = _points(sc, ts, values)
    fill = ""
    if area and ts:
        base = sc.y(min(max(0.0, sc.lo), sc.hi))
        fill = (f'<polygon data-role="{role}-area" fill="{color}" fill-opacity="0.15" '
                f'points="{sc.x(ts[0]):.1f},{base:.1f} {pts} {sc.x(ts[-1]):.1f},{base:.1f}"/>')
    return (f'<svg viewBox="0 0 {W:.0f} {height:.0f}" role="img" aria-label="{_e(role)}">{_axes(sc, fmt)}{fill}'
            f'<polyline data-role="{role}" fill="none" stroke="{color}" stroke-width="1.4" points="{pts}"/></svg>')


def _price_panel(s: Summary, iid: str) -> str:
    path = s.prices[iid]
    ts, px = path["ts"], path["price"]
    trades = [t for t in s.trades if t.instrument_id == iid]
    shown = trades[-MAX_MARKERS:]
    sc = _Scale(ts, px, H + 40)
    marks = []
    for t in shown:
        long = t.side == "long"
        x, y = sc.x(t.entry_ts), sc.y(float(t.entry_price))
        tri = (f"{x:.1f},{y - 7:.1f} {x - 5:.1f},{y + 2:.1f} {x + 5:.1f},{y + 2:.1f}" if long
               else f"{x:.1f},{y + 7:.1f} {x - 5:.1f},{y - 2:.1f} {x + 5:.1f},{y - 2:.1f}")
        marks.append(f'<polygon data-role="entry" fill="{"#1a9c5b" if long else "#d64545"}" points="{tri}">'
                     f"<title>{_e(t.side)} {t.quantity} @ {t.entry_price} ({_minute(t.entry_ts)})</title></polygon>")
        if not t.open:
            ex, ey = sc.x(t.exit_ts), sc.y(float(t.exit_price))
            marks.append(f'<circle data-role="exit" cx="{ex:.1f}" cy="{ey:.1f}" r="3.2" fill="#fff" '
                         f'stroke="#1d2330" stroke-width="1.2"><title>exit {t.exit_price} '
                         f"({_minute(t.exit_ts)}), net {float(t.net_pnl):,.2f}</title></circle>")
    note = (f'<div class="note">showing the last {len(shown):,} of {len(trades):,} trades</div>'
            if len(shown) < len(trades) else "")
    svg = (f'<svg viewBox="0 0 {W:.0f} {H + 40:.0f}" role="img" aria-label="price {_e(iid)}">{_axes(sc, "{:,.2f}")}'
           f'<polyline data-role="price" fill="none" stroke="#6b7385" stroke-width="1" points="{_points(sc, ts, px)}"/>'
           f'{"".join(marks)}</svg>')
    return (f'<div class="panel" data-instrument="{_e(iid)}"><div class="sub">{_e(iid)}: '
            f"&#9650; long entry, &#9660; short entry, &#9675; exit</div>{svg}{note}</div>")


# ---- tables -------------------------------------------------------------------------------------


def _cls(x: float | None) -> str:
    return "" if x is None or x == 0 else ("pos" if x > 0 else "neg")


def _cards(s: Summary) -> str:
    m = s.metrics
    items = [
        ("Net PnL", f"{m.net_pnl:,.2f}", float(m.net_pnl)), ("Total return", pct(m.total_return), m.total_return),
        ("Annual return", pct(m.annual_return), m.annual_return), ("Sharpe", num(m.sharpe), m.sharpe),
        ("Sortino", num(m.sortino), m.sortino), ("Calmar", num(m.calmar), m.calmar),
        ("Max drawdown", pct(m.max_drawdown), -m.max_drawdown), ("Trades", f"{m.trades:,}", None),
        ("Win rate", pct(m.win_rate), None), ("Profit factor", num(m.profit_factor), None),
        ("Exposure", pct(m.exposure), None), ("Fees", f"{m.fees:,.2f}", None),
        ("Funding", f"{m.funding:,.2f}", float(m.funding)),
    ]
    return "".join(f'<div class="card"><div class="k">{_e(k)}</div><div class="v {_cls(c)}">{_e(v)}</div></div>'
                   for k, v, c in items)


def _monthly(months: dict[str, float]) -> str:
    years = sorted({k[:4] for k in months})
    head = "".join(f"<th>{m}</th>" for m in ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug",
                                            "Sep", "Oct", "Nov", "Dec"))
    rows = []
    for y in years:
        cells = []
        for i in range(1, 13):
            v = months.get(f"{y}-{i:02d}")
            if v is None:
                cells.append("<td></td>")
            else:
                alpha = min(0.85, abs(v) * 8 + 0.08)
                rgb = "26,156,91" if v >= 0 else "214,69,69"
                cells.append(f'<td data-role="month" style="background:rgba({rgb},{alpha:.2f})">{pct(v)}</td>')
        rows.append(f"<tr><td>{y}</td>{''.join(cells)}</tr>")
    return f'<table class="months"><tr><th>year</th>{head}</tr>{"".join(rows)}</table>'


def _owners(s: Summary) -> str:
    keys = [k for k, _ in metric_rows(s.metrics)]
    cols = list(s.phases)
    head = "".join(f"<th>{_e(c)}</th>" for c in ["figure", "account", *cols])
    rows = []
    per = {c: dict(metric_rows(m)) for c, m in s.phases.items()}
    account = dict(metric_rows(s.metrics))
    for k in keys:
        rows.append(f"<tr><td>{_e(k)}</td><td>{_e(account[k])}</td>"
                    + "".join(f"<td>{_e(per[c][k])}</td>" for c in cols) + "</tr>")
    return f'<div class="scroll"><table><tr>{head}</tr>{"".join(rows)}</table></div>'


def _brain(b: dict) -> str:
    parts = [f"<p>{b['denied']:,} intents denied, {b['clipped']:,} approved with a clipped size, "
             f"{b['rejected']:,} orders rejected by the venue.</p>"]
    if b["denial_reasons"]:
        rows = "".join(f"<tr><td>{_e(k)}</td><td>{d['count']:,}</td><td style='text-align:left'>{_e(d['example'])}</td></tr>"
                       for k, d in b["denial_reasons"].items())
        parts.append(f"<table><tr><th>check</th><th>denied</th><th style='text-align:left'>for example</th></tr>{rows}</table>")
    for e in b["emergencies"]:
        parts.append(f'<p class="bad">Emergency flatten at {_minute(e["ts"])}: {_e(e["reason"])}</p>')
    if b["breaker_changes"]:
        rows = "".join(f"<tr><td>{_minute(c['ts'])}</td><td>{_e(c['old'])} &rarr; {_e(c['new'])}</td>"
                       f"<td style='text-align:left'>{_e(c['reason'])}</td></tr>" for c in b["breaker_changes"][:200])
        parts.append(f'<div class="scroll"><table><tr><th>time</th><th>breaker</th><th style="text-align:left">reason</th>'
                     f"</tr>{rows}</table></div>")
    return "".join(parts)


def _trades(s: Summary) -> str:
    shown = s.trades[:MAX_TRADE_ROWS]
    head = "".join(f"<th>{h}</th>" for h in ("#", "instrument", "owner", "side", "qty", "entry", "entry price",
                                            "exit", "exit price", "PnL", "fees", "funding", "net", "held"))
    rows = []
    for i, t in enumerate(shown, 1):
        net = float(t.net_pnl)
        rows.append(
            f'<tr data-role="trade"><td>{i}</td><td>{_e(t.instrument_id)}</td><td>{_e(t.owner)}</td><td>{t.side}</td>'
            f"<td>{t.quantity}</td><td>{_minute(t.entry_ts)}</td><td>{t.entry_price}</td>"
            f"<td>{'open' if t.open else _minute(t.exit_ts)}</td><td>{t.exit_price}</td>"
            f"<td>{float(t.pnl):,.2f}</td><td>{float(t.fees):,.2f}</td><td>{float(t.funding):,.2f}</td>"
            f'<td class="{_cls(net)}">{net:,.2f}</td><td>{duration(t.duration_ns / 1e9)}</td></tr>')
    note = (f'<div class="note">first {len(shown):,} of {len(s.trades):,} trades (all are in the JSON)</div>'
            if len(shown) < len(s.trades) else "")
    return f'<div class="scroll"><table><tr>{head}</tr>{"".join(rows)}</table></div>{note}'


def _reconciliation(s: Summary) -> str:
    r = s.reconciliation
    verdict = '<span class="ok">reconciled to the cent</span>' if r.ok else '<span class="bad">MISMATCH</span>'
    bal = ", ".join(f"{c} {v}" for c, v in sorted(r.venue_balances.items()))
    return (f"<p>{verdict}: equity from the fills {r.final_equity:,.2f}, SimVenue {r.venue_equity:,.2f}, "
            f"ShadowState {r.state_equity:,.2f}. Venue balances: {_e(bal)}.</p>")
