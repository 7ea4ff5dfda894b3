"""A tiny, independent model of one venue account, the oracle for state and reconciliation tests.

It keeps what an exchange keeps - orders, fills, one net position per derivative (cost basis),
balances - written separately from ``ShadowState`` (cost basis instead of average price, no
phases), and turns each happening into the report Titan would receive.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from titan.core import events as ev
from titan.core.instruments import Instrument, InstrumentKind
from titan.execution.client import VenueFill, VenueOrder, VenuePosition, VenueSnapshot

ZERO = Decimal(0)
VENUE = "bybit"
INSTRUMENTS = (
    Instrument(symbol="BTC/USDT:USDT", venue=VENUE, base="BTC", quote="USDT", settle="USDT",
               kind=InstrumentKind.PERPETUAL, tick_size=Decimal("0.1"), lot_size=Decimal("0.001")),
    Instrument(symbol="DOGE/USDT:USDT", venue=VENUE, base="DOGE", quote="USDT", settle="USDT",
               kind=InstrumentKind.PERPETUAL, tick_size=Decimal("0.0001"), lot_size=Decimal("1"),
               contract_size=Decimal("10")),
    Instrument(symbol="ETH/USDT", venue=VENUE, base="ETH", quote="USDT",
               tick_size=Decimal("0.01"), lot_size=Decimal("0.0001")),
)


@dataclass
class _Order:
    cid: str
    vid: str
    inst: Instrument
    side: ev.Side
    qty: Decimal
    price: Decimal
    filled: Decimal = ZERO
    open: bool = False  # accepted and working
    closed: bool = False
    anonymous: bool = False  # placed without a client order id (by hand, on the venue's site)

    @property
    def public_cid(self) -> str:
        return "" if self.anonymous else self.cid

    @property
    def key(self) -> str:
        return f"venue:{self.vid}" if self.anonymous else self.cid


@dataclass
class VenueModel:
    initial: dict[str, Decimal] = field(default_factory=lambda: {"USDT": Decimal(100_000)})
    orders: dict[str, _Order] = field(default_factory=dict)
    fills: list[VenueFill] = field(default_factory=list)
    qty: dict[str, Decimal] = field(default_factory=dict)  # net per derivative
    cost: dict[str, Decimal] = field(default_factory=dict)  # qty x entry price, signed
    balances: dict[str, Decimal] = field(default_factory=dict)
    ts: int = 1000
    _n: int = 0

    def __post_init__(self) -> None:
        self.balances = dict(self.initial)

    def tick(self) -> int:
        self.ts += 1
        return self.ts

    def opening_balances(self) -> list[ev.BalanceSet]:
        return [ev.BalanceSet(venue=VENUE, currency=c, total=v, ts_event=1, ts_init=1)
                for c, v in sorted(self.initial.items())]

    # ---- happenings; each returns the reports Titan would get -------------------------------

    def submit(self, inst: Instrument, side: ev.Side, qty: Decimal, price: Decimal,
               phase: str = "hunter") -> tuple[ev.SubmitOrder, str]:
        self._n += 1
        cid = f"TTN-{phase[:3]}-{self._n:010d}"
        self.orders[cid] = _Order(cid, f"v{self._n}", inst, side, qty, price)
        cmd = ev.SubmitOrder(client_order_id=cid, phase=phase, instrument_id=inst.id, side=side,
                             order_type=ev.OrderType.LIMIT, quantity=qty, price=price,
                             ts_init=self.tick())
        return cmd, cid

    def external(self, inst: Instrument, side: ev.Side, qty: Decimal, price: Decimal,
                 anonymous: bool = False) -> str:
        """An order placed at the venue by someone else (no report ever reaches Titan)."""
        self._n += 1
        cid = f"EXT-{self._n}"
        self.orders[cid] = _Order(cid, f"v{self._n}", inst, side, qty, price, open=True,
                                  anonymous=anonymous)
        return cid

    def accept(self, cid: str) -> list[ev.Message]:
        o = self.orders[cid]
        if o.open or o.closed:
            return []
        o.open = True
        return [ev.OrderAccepted(client_order_id=cid, venue_order_id=o.vid, ts_event=self.tick(),
                                 ts_init=self.ts)]

    def reject(self, cid: str) -> list[ev.Message]:
        o = self.orders[cid]
        if o.open or o.closed:
            return []
        o.closed = True
        return [ev.OrderRejected(client_order_id=cid, reason="no", ts_event=self.tick(),
                                 ts_init=self.ts)]

    def cancel(self, cid: str) -> list[ev.Message]:
        o = self.orders[cid]
        if not o.open:
            return []
        o.open, o.closed = False, True
        return [ev.OrderCanceled(client_order_id=cid, ts_event=self.tick(), ts_init=self.ts)]

    def fill(self, cid: str, fraction: Decimal, price: Decimal, fee_bps: Decimal) -> list[ev.Message]:
        o = self.orders[cid]
        if o.closed:
            return []
        reports: list[ev.Message] = []
        if not o.open:
            o.open = True  # a fill may come before (or instead of) the ack
        leaves = o.qty - o.filled
        q = o.inst.round_qty(leaves * fraction) or leaves
        q = min(q, leaves)
        o.filled += q
        if o.filled == o.qty:
            o.open, o.closed = False, True
        mult = o.inst.contract_size
        fee = (q * price * mult * fee_bps / 10_000).quantize(Decimal("0.00000001"))
        ccy = o.inst.settle_currency
        self._book(o.inst, o.side.sign * q, price, fee, ccy)
        f = VenueFill(client_order_id=o.public_cid, venue_order_id=o.vid, trade_id=f"T{len(self.fills)+1}",
                      instrument_id=o.inst.id, side=o.side, quantity=q, price=price, fee=fee,
                      fee_currency=ccy, liquidity=ev.Liquidity.TAKER, ts_event=self.tick())
        self.fills.append(f)
        reports.append(ev.OrderFilled(
            client_order_id=cid, venue_order_id=o.vid, trade_id=f.trade_id,
            instrument_id=o.inst.id, side=o.side, last_qty=q, last_price=price, fee=fee,
            fee_currency=ccy, liquidity=f.liquidity, ts_event=f.ts_event, ts_init=f.ts_event))
        return reports

    def _book(self, inst: Instrument, signed: Decimal, price: Decimal, fee: Decimal,
              ccy: str) -> None:
        bal = self.balances
        bal[ccy] = bal.get(ccy, ZERO) - fee
        if inst.kind is InstrumentKind.SPOT:
            bal[inst.base] = bal.get(inst.base, ZERO) + signed
            bal[inst.quote] = bal.get(inst.quote, ZERO) - signed * price
            return
        iid, mult = inst.id, inst.contract_size
        q0, c0 = self.qty.get(iid, ZERO), self.cost.get(iid, ZERO)
        q1 = q0 + signed
        if q0 == 0 or (q0 > 0) == (signed > 0):
            self.qty[iid], self.cost[iid] = q1, c0 + signed * price
            return
        closing = min(abs(signed), abs(q0))
        basis = c0 * closing / abs(q0)  # signed cost of the closed part
        proceeds = (1 if q0 > 0 else -1) * closing * price
        bal[inst.settle_currency] = bal.get(inst.settle_currency, ZERO) + (proceeds - basis) * mult
        rest = c0 - basis
        if abs(signed) > abs(q0):
            rest = q1 * price
        self.qty[iid], self.cost[iid] = q1, rest if q1 else ZERO

    # ---- the venue's truth ------------------------------------------------------------------

    def snapshot(self, *, fills_from: int = 0) -> VenueSnapshot:
        open_orders = tuple(
            VenueOrder(client_order_id=o.public_cid, venue_order_id=o.vid, instrument_id=o.inst.id, side=o.side,
                       order_type=ev.OrderType.LIMIT, quantity=o.qty, filled_qty=o.filled,
                       price=o.price)
            for o in self.orders.values() if o.open
        )
        positions = tuple(
            VenuePosition(instrument_id=iid, quantity=q, avg_price=self.cost[iid] / q)
            for iid, q in sorted(self.qty.items()) if q
        )
        return VenueSnapshot(venue=VENUE, ts=self.tick(), open_orders=open_orders,
                             positions=positions, balances=dict(self.balances),
                             fills=tuple(self.fills[fills_from:]))

    def open_keys(self) -> set[str]:
        return {o.key for o in self.orders.values() if o.open}
