"""The equity curve, rebuilt after the run from the fills and the price path.

Valuing the account on every bar inside the loop would cost the hot path a ``Decimal`` sum per
event. The curve needs only what the run already kept: each fill (time, signed quantity,
price, fee), each funding payment and the marks. Equity at time ``t`` is

    cash + (sum of cash flows up to t) + sum over instruments of position(t) x mark(t) x size,

which is the same number for spot (quote balance + holdings at the mark) and for linear
perpetuals (balance + unrealized PnL). It is computed vectorised in float for statistics; the
exact final figures are ``Decimal`` (``titan.backtest.metrics``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np

from titan.backtest.data import Marks
from titan.core import events as ev
from titan.core.instruments import Instrument

MAX_POINTS = 2_000_000


class Curve:
    """Equity (and the gross position value, for exposure) on a time grid."""

    __slots__ = ("ts", "equity", "gross")

    def __init__(self, ts: np.ndarray, equity: np.ndarray, gross: np.ndarray) -> None:
        self.ts = ts
        self.equity = equity
        self.gross = gross

    def __len__(self) -> int:
        return int(self.ts.size)

    def drawdown(self) -> np.ndarray:
        """Fraction below the running peak (<= 0)."""
        peak = np.maximum.accumulate(self.equity)
        with np.errstate(divide="ignore", invalid="ignore"):
            dd = np.where(peak > 0, self.equity / peak - 1.0, 0.0)
        return dd

    def at(self, times: np.ndarray) -> np.ndarray:
        """Equity at (the last grid point at or before) each time."""
        i = np.clip(np.searchsorted(self.ts, times, side="right") - 1, 0, len(self.ts) - 1)
        return self.equity[i]

    def downsample(self, points: int) -> Curve:
        """At most ``points`` points, keeping each bucket's lowest point (drawdowns stay visible)
        and the last point."""
        n = len(self)
        if n <= points:
            return self
        edges = np.linspace(0, n, points // 2 + 1).astype(np.int64)
        keep = {n - 1, 0}
        for a, b in zip(edges[:-1], edges[1:], strict=True):
            if b > a:
                keep.add(int(a + np.argmin(self.equity[a:b])))
                keep.add(int(b - 1))
        idx = np.fromiter(sorted(keep), dtype=np.int64)
        return Curve(self.ts[idx], self.equity[idx], self.gross[idx])


def grid(marks: Mapping[str, Marks], start_ns: int, end_ns: int) -> np.ndarray:
    """The times the curve is valued at: every mark (all instruments), within the run."""
    parts = [m.ts for m in marks.values() if m.ts.size]
    if not parts:
        return np.array([start_ns, end_ns], dtype=np.int64)
    ts = parts[0] if len(parts) == 1 else np.unique(np.concatenate(parts))
    if ts.size > MAX_POINTS:
        ts = np.unique(np.linspace(ts[0], ts[-1], MAX_POINTS).astype(np.int64))
    if ts[0] > start_ns:
        ts = np.concatenate([[start_ns], ts])
    return ts.astype(np.int64, copy=False)


def curve(
    times: np.ndarray,
    money: Iterable[ev.OrderFilled | ev.FundingPaid],
    marks: Mapping[str, Marks],
    instruments: Mapping[str, Instrument],
    cash: float,
    *,
    owner_of: Mapping[str, str] | None = None,
    owner: str | None = None,
) -> Curve:
    """Equity on ``times``; with ``owner``, only that owner's fills and its share of funding,
    on top of ``cash`` (pass 0 for a PnL curve)."""
    fills: dict[str, list[tuple[int, float, float, float]]] = {}
    flows: list[tuple[int, float]] = []
    pos_now: dict[tuple[str, str], float] = {}
    owner_of = owner_of or {}
    for m in money:
        if m.__class__ is ev.FundingPaid:
            share = _funding_share(m, owner, pos_now)
            if share:
                flows.append((m.ts_event, share))
            continue
        who = owner_of.get(m.client_order_id, "external")
        iid = m.instrument_id
        qty = float(m.last_qty) if m.side is ev.Side.BUY else -float(m.last_qty)
        key = (iid, who)
        pos_now[key] = pos_now.get(key, 0.0) + qty
        if owner is not None and who != owner:
            continue
        mult = float(instruments[iid].contract_size) if iid in instruments else 1.0
        price = float(m.last_price)
        fills.setdefault(iid, []).append((m.ts_event, qty, -qty * price * mult - float(m.fee), mult))
    equity = np.full(times.size, float(cash))
    gross = np.zeros(times.size)
    for iid, rows in fills.items():
        arr = np.asarray(rows, dtype=np.float64)
        ts = np.asarray([r[0] for r in rows], dtype=np.int64)
        i = np.searchsorted(ts, times, side="right")
        pos = np.concatenate([[0.0], np.cumsum(arr[:, 1])])[i]
        cf = np.concatenate([[0.0], np.cumsum(arr[:, 2])])[i]
        mark = marks[iid].at(times) if iid in marks else np.full(times.size, np.nan)
        value = np.where(pos != 0.0, pos * np.nan_to_num(mark) * arr[0, 3], 0.0)
        equity += cf + value
        gross += np.abs(value)
    if flows:
        fts = np.asarray([f[0] for f in flows], dtype=np.int64)
        famt = np.concatenate([[0.0], np.cumsum([f[1] for f in flows])])
        equity += famt[np.searchsorted(fts, times, side="right")]
    return Curve(times, equity, gross)


def _funding_share(f: ev.FundingPaid, owner: str | None, pos_now: Mapping[tuple[str, str], float]) -> float:
    amount = float(f.amount)
    if owner is None:
        return amount
    if f.phase:
        return amount if f.phase == owner else 0.0
    held = {who: q for (iid, who), q in pos_now.items() if iid == f.instrument_id and q}
    net = sum(held.values())
    if not held or owner not in held:
        return 0.0
    return amount * held[owner] / net if net else amount / len(held)
