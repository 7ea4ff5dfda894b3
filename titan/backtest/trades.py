"""Round-trip trades rebuilt from fills: entry, exit, size, PnL, fees and funding, exactly.

A trade is one owner's position in one instrument from flat back to flat. Adding to it keeps
the trade open (the entry price is the quantity-weighted average of the adding fills), reducing
fills make up the exit price, and a fill that flips the position closes the trade and opens the
next one with the remainder (its fee split in proportion). PnL is the trade's cash flow, in
``Decimal`` - no averages are divided - so the trades' PnL, fees and funding sum to the account's
to the last digit. A trade still open at the end is valued at the final mark (``open``).

Funding is paid on the venue's net position (``FundingPaid`` carries no owner); it is given to
the trades open at that moment, in proportion to each owner's share of the net position.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal

import msgspec

from titan.core import events as ev
from titan.core.instruments import Instrument

ZERO = Decimal(0)
_FINE = Decimal("1e-12")  # split fees and average prices are kept to 12 decimals


class RoundTrip(msgspec.Struct, kw_only=True):
    instrument_id: str
    owner: str
    side: str  # "long" | "short"
    quantity: Decimal  # the largest absolute position the trade reached
    entry_ts: int
    exit_ts: int  # last fill, or the end of the run while open
    entry_price: Decimal  # average of the fills that opened or added
    exit_price: Decimal  # average of the fills that reduced or closed (the final mark if open)
    pnl: Decimal  # gross: cash flow of the fills (+ open position at the final mark)
    fees: Decimal
    funding: Decimal
    net_pnl: Decimal  # pnl - fees + funding
    fills: int
    open: bool = False

    @property
    def notional(self) -> Decimal:
        return self.quantity * self.entry_price

    @property
    def return_pct(self) -> float:
        n = self.notional
        return float(self.net_pnl / n) if n else 0.0

    @property
    def duration_ns(self) -> int:
        return self.exit_ts - self.entry_ts


class _Open:
    __slots__ = ("side", "qty", "peak", "entry_ts", "in_qty", "in_cost", "out_qty", "out_cost",
                 "cash", "fees", "funding", "fills", "last_ts")

    def __init__(self, sign: int, ts: int) -> None:
        self.side = sign
        self.qty = ZERO  # signed
        self.peak = ZERO
        self.entry_ts = ts
        self.in_qty = self.in_cost = self.out_qty = self.out_cost = ZERO
        self.cash = self.fees = self.funding = ZERO
        self.fills = 0
        self.last_ts = ts


def round_trips(
    money: Iterable[ev.OrderFilled | ev.FundingPaid],
    owner_of: Mapping[str, str],
    instruments: Mapping[str, Instrument],
    *,
    end_ns: int = 0,
    final_marks: Mapping[str, Decimal] | None = None,
) -> list[RoundTrip]:
    """Trades from fills and funding given in the order they happened (closed first by exit)."""
    open_: dict[tuple[str, str], _Open] = {}
    done: list[RoundTrip] = []
    for m in money:
        if m.__class__ is ev.FundingPaid:
            _fund(open_, m)
            continue
        iid = m.instrument_id
        owner = owner_of.get(m.client_order_id, "external")
        mult = instruments[iid].contract_size if iid in instruments else Decimal(1)
        signed = m.last_qty if m.side is ev.Side.BUY else -m.last_qty
        _apply(open_, done, (iid, owner), signed, m.last_price, m.fee, m.ts_event, mult)
    marks = final_marks or {}
    for (iid, owner), t in open_.items():
        mark = marks.get(iid)
        mult = instruments[iid].contract_size if iid in instruments else Decimal(1)
        value = t.qty * mark * mult if mark is not None else ZERO
        done.append(_close(iid, owner, t, max(end_ns, t.last_ts), value, mark, is_open=True))
    done.sort(key=lambda r: (r.exit_ts, r.entry_ts, r.instrument_id, r.owner))
    return done


def _apply(open_: dict[tuple[str, str], _Open], done: list[RoundTrip], key: tuple[str, str],
           signed: Decimal, price: Decimal, fee: Decimal, ts: int, mult: Decimal) -> None:
    t = open_.get(key)
    if t is None:
        t = open_[key] = _Open(1 if signed > 0 else -1, ts)
    q0 = t.qty
    if q0 != 0 and (q0 > 0) != (signed > 0) and abs(signed) > abs(q0):
        # a flip: the part that closes this trade, then the rest opens the next one
        closing = -q0
        fee_close = (fee * abs(closing) / abs(signed)).quantize(_FINE)
        _apply(open_, done, key, closing, price, fee_close, ts, mult)
        _apply(open_, done, key, signed - closing, price, fee - fee_close, ts, mult)
        return
    size = abs(signed)
    if q0 == 0 or (q0 > 0) == (signed > 0):
        t.in_qty += size
        t.in_cost += size * price
    else:
        t.out_qty += size
        t.out_cost += size * price
    t.qty = q0 + signed
    t.peak = max(t.peak, abs(t.qty))
    t.cash -= signed * price * mult
    t.fees += fee
    t.fills += 1
    t.last_ts = ts
    if t.qty == 0:
        del open_[key]
        done.append(_close(key[0], key[1], t, ts, ZERO, None, is_open=False))


def _fund(open_: dict[tuple[str, str], _Open], f: ev.FundingPaid) -> None:
    trades = [(k, t) for k, t in open_.items() if k[0] == f.instrument_id and t.qty != 0]
    if not trades:
        return
    net = sum((t.qty for _, t in trades), ZERO)
    if f.phase:
        for (_, owner), t in trades:
            if owner == f.phase:
                t.funding += f.amount
                return
    given = ZERO
    for i, (_, t) in enumerate(trades):
        share = f.amount - given if i == len(trades) - 1 else (
            f.amount * t.qty / net if net else f.amount / len(trades)).quantize(_FINE)
        t.funding += share
        given += share


def _close(iid: str, owner: str, t: _Open, ts: int, value: Decimal, mark: Decimal | None,
           *, is_open: bool) -> RoundTrip:
    pnl = t.cash + value
    entry = _average(t.in_cost, t.in_qty)
    exit_price = mark if is_open and mark is not None else _average(t.out_cost, t.out_qty)
    return RoundTrip(
        instrument_id=iid, owner=owner, side="long" if t.side > 0 else "short", quantity=t.peak,
        entry_ts=t.entry_ts, exit_ts=ts, entry_price=entry, exit_price=exit_price, pnl=pnl,
        fees=t.fees, funding=t.funding, net_pnl=pnl - t.fees + t.funding, fills=t.fills,
        open=is_open,
    )


def _average(cost: Decimal, qty: Decimal) -> Decimal:
    if not qty:
        return ZERO
    q = (cost / qty).quantize(_FINE)
    n = q.normalize()
    return n if n.as_tuple().exponent <= 0 else q.quantize(Decimal(1))
