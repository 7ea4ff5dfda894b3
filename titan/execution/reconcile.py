"""Reconciliation: make the shadow state agree with what one venue says is true. Pure.

``reconcile(state, snapshot, policy, now_ns)`` returns the corrective events (to be logged and
applied like any other event), the commands to send (cancels of unknown orders when the policy
says so), every discrepancy found, and whether the state - with the corrections applied - now
agrees with the venue within tolerance. It never changes ``state``: corrections are tried on a
clone and verified there. Startup recovery and the periodic check run this same function; the
periodic one passes a ``settle_ns`` window: on an instrument with activity newer than that, the
snapshot may already be stale, so its orders, position and the balances are left for a later
pass (fills the venue lists are still booked - trade ids make a late copy harmless).

In order:
1. unknown venue open orders are adopted (phase ``external``) and, by policy, canceled;
2. orders the venue holds that we still see as SUBMITTED get their missing ``OrderAccepted``;
3. venue fills we have not booked become ``OrderFilled`` (a fill of an order we never knew is
   booked to the ``external`` phase);
4. a venue order filled further than we know gets one inferred fill for the difference;
5. orders we think are working but the venue does not list are closed (``OrderCanceled``);
6. net positions of derivatives are set to the venue's (``PositionCorrected``);
7. balances are set to the venue's (``BalanceSet``).

Every corrective id is derived from the discrepancy itself (kind, venue, key, both values), so
the same inputs always produce the same corrections, whatever order the venue listed things in.
"""

from __future__ import annotations

import hashlib
from decimal import Decimal
from typing import Literal

import msgspec

from titan.core import codec
from titan.core import events as ev
from titan.core.orders import OrderStatus
from titan.core.state import EXTERNAL_PHASE, Position, ShadowState
from titan.execution.client import VenueFill, VenueOrder, VenuePosition, VenueSnapshot

ZERO = Decimal(0)


class ReconcilePolicy(msgspec.Struct, frozen=True, kw_only=True):
    unknown_orders: Literal["adopt", "cancel"] = "cancel"
    qty_tolerance: Decimal = Decimal("1e-9")
    balance_tolerance: Decimal = Decimal("0.01")
    settle_ns: int = 0  # 0 at startup; the periodic check leaves newer activity alone
    adopt_phase: str = EXTERNAL_PHASE

    @classmethod
    def from_config(cls, section, *, startup: bool) -> ReconcilePolicy:
        """From ``config.state`` (a ``StateSection``): startup settles everything; the
        periodic check waits ``inflight_timeout_s`` before judging recent activity."""
        return cls(
            unknown_orders=section.unknown_orders,
            qty_tolerance=Decimal(repr(section.qty_tolerance)),
            balance_tolerance=Decimal(repr(section.balance_tolerance)),
            settle_ns=0 if startup else int(section.inflight_timeout_s * 1e9),
        )


class Discrepancy(msgspec.Struct, frozen=True, kw_only=True):
    """One thing the shadow state and the venue disagreed on."""

    kind: str  # see KINDS
    key: str
    shadow: str
    venue: str
    correction_id: str
    detail: str = ""

    @property
    def is_position(self) -> bool:
        return self.kind in POSITION_KINDS

    @property
    def is_order(self) -> bool:
        return self.kind in ORDER_KINDS


ORDER_KINDS = frozenset({
    "unknown_order", "missing_ack", "missing_fill", "fill_qty", "not_at_venue",
    "terminal_open_at_venue",
})
POSITION_KINDS = frozenset({"position", "position_avg", "balance", "unknown_fill"})
AVG_PRICE_TOLERANCE = Decimal("1e-9")  # relative


class Reconciliation(msgspec.Struct, frozen=True, kw_only=True):
    venue: str
    ts: int
    ok: bool
    reason: str
    events: tuple[ev.Message, ...]
    commands: tuple[ev.CancelOrder, ...]
    discrepancies: tuple[Discrepancy, ...]
    deferred: tuple[str, ...] = ()  # instruments left alone (activity in flight)

    @property
    def position_discrepancies(self) -> int:
        return sum(1 for d in self.discrepancies if d.is_position)

    @property
    def order_discrepancies(self) -> int:
        return sum(1 for d in self.discrepancies if d.is_order)


def correction_id(kind: str, venue: str, key: str, shadow: str, theirs: str) -> str:
    blob = "\x1f".join((kind, venue, key, shadow, theirs)).encode()
    return "rc-" + hashlib.sha256(blob).hexdigest()[:20]


def reconcile(
    state: ShadowState, snap: VenueSnapshot, policy: ReconcilePolicy, now_ns: int
) -> Reconciliation:
    return _Run(state, snap, policy, now_ns).run()


class _Run:
    """One reconciliation; ``work`` is a clone of the state the corrections are applied to."""

    def __init__(self, state: ShadowState, snap: VenueSnapshot, policy: ReconcilePolicy,
                 now_ns: int) -> None:
        self.work = state.clone()
        self.snap = snap
        self.policy = policy
        self.now = now_ns
        self.venue = snap.venue
        self.events: list[ev.Message] = []
        self.commands: list[ev.CancelOrder] = []
        self.found: list[Discrepancy] = []
        self.v_orders = _dedup_orders(snap.open_orders)
        self.fills = _dedup_fills(snap.fills)
        self.busy = self._busy_instruments()

    # ---- bookkeeping ------------------------------------------------------------------------

    def emit(self, e: ev.Message) -> None:
        self.events.append(e)
        self.work.apply(e)

    def note(self, kind: str, key: str, shadow: object, theirs: object, detail: str = "") -> str:
        cid = correction_id(kind, self.venue, key, str(shadow), str(theirs))
        self.found.append(Discrepancy(kind=kind, key=key, shadow=str(shadow), venue=str(theirs),
                                      correction_id=cid, detail=detail))
        return cid

    def mine(self, iid: str) -> bool:
        return self.work.instrument(iid).venue == self.venue

    def _busy_instruments(self) -> set[str]:
        """Instruments with activity newer than the settle window (a reply may be in flight)."""
        if self.policy.settle_ns <= 0:
            return set()
        horizon = self.now - self.policy.settle_ns
        return {o.instrument_id for o in self.work.orders()
                if o.ts_last > horizon and self.mine(o.instrument_id)}

    # ---- the steps --------------------------------------------------------------------------

    def run(self) -> Reconciliation:
        self.adopt_unknown_orders()
        self.ack_known_orders()
        self.book_missing_fills()
        self.infer_fill_differences()
        self.close_vanished_orders()
        self.correct_positions()
        self.correct_balances()
        problems = self.verify()
        self.events.append(ev.ReconciliationCompleted(
            venue=self.venue, ok=not problems, reason="; ".join(problems[:3]),
            discrepancies=len(self.found),
            position_discrepancies=sum(1 for d in self.found if d.is_position),
            order_discrepancies=sum(1 for d in self.found if d.is_order),
            corrections=len(self.events) + len(self.commands),
            startup=self.policy.settle_ns == 0, ts_event=self.snap.ts, ts_init=self.now,
        ))
        return Reconciliation(
            venue=self.venue, ts=self.now, ok=not problems, reason="; ".join(problems[:3]),
            events=tuple(self.events), commands=tuple(self.commands),
            discrepancies=tuple(self.found), deferred=tuple(sorted(self.busy)),
        )

    def adopt_unknown_orders(self) -> None:
        for key, vo in sorted(self.v_orders.items()):
            order = self.work.order(key)
            if order is not None:
                if order.status.is_terminal:
                    cid = self.note("terminal_open_at_venue", key, order.status.value, "open")
                    self.cancel(vo, cid, f"open at venue but {order.status.value} in state")
                continue
            listed = sum((f.quantity for f in self.fills
                          if f.client_order_id == vo.client_order_id
                          and not self.work.has_trade(f.instrument_id, f.trade_id)), ZERO)
            cid = self.note("unknown_order", key, "none", f"{vo.side.value} {vo.quantity}")
            self.emit(ev.OrderAdopted(
                client_order_id=key, venue_order_id=vo.venue_order_id,
                instrument_id=vo.instrument_id, phase=self.policy.adopt_phase, side=vo.side,
                order_type=vo.order_type, quantity=vo.quantity,
                filled_qty=max(vo.filled_qty - listed, ZERO), price=vo.price,
                reduce_only=vo.reduce_only, correction_id=cid,
                ts_event=vo.ts_event or self.snap.ts, ts_init=self.now,
            ))
            if self.policy.unknown_orders == "cancel":
                self.cancel(vo, cid, "unknown order")

    def cancel(self, vo: VenueOrder, cid: str, why: str) -> None:
        self.commands.append(ev.CancelOrder(
            client_order_id=_order_key(vo), instrument_id=vo.instrument_id,
            venue_order_id=vo.venue_order_id, reason=f"reconcile {cid}: {why}", ts_init=self.now,
        ))

    def ack_known_orders(self) -> None:
        for key, vo in sorted(self.v_orders.items()):
            order = self.work.order(key)
            if order is not None and order.status is OrderStatus.SUBMITTED:
                self.note("missing_ack", key, order.status.value, "open")
                self.emit(ev.OrderAccepted(client_order_id=key, venue_order_id=vo.venue_order_id,
                                           ts_event=vo.ts_event or self.snap.ts, ts_init=self.now))

    def book_missing_fills(self) -> None:
        for f in self.fills:
            if self.work.has_trade(f.instrument_id, f.trade_id):
                continue
            if not f.client_order_id or self.work.order(f.client_order_id) is None:
                # booked once, to the external phase, so it is never reported again
                self.note("unknown_fill", f"{f.instrument_id}|{f.trade_id}", "none",
                          f"{f.side.value} {f.quantity}@{f.price}", "fill of an unknown order")
            else:
                self.note("missing_fill", f"{f.client_order_id}|{f.trade_id}", "none",
                          f"{f.side.value} {f.quantity}@{f.price}")
            self.emit(ev.OrderFilled(
                client_order_id=f.client_order_id, venue_order_id=f.venue_order_id,
                trade_id=f.trade_id, instrument_id=f.instrument_id, side=f.side,
                last_qty=f.quantity, last_price=f.price, fee=f.fee, fee_currency=f.fee_currency,
                liquidity=f.liquidity, ts_event=f.ts_event, ts_init=self.now,
            ))

    def infer_fill_differences(self) -> None:
        tol = self.policy.qty_tolerance
        for key, vo in sorted(self.v_orders.items()):
            order = self.work.order(key)
            if order is None or order.status.is_terminal or vo.instrument_id in self.busy:
                continue
            missing = vo.filled_qty - order.filled_qty
            if missing > tol:
                price = vo.price or order.price or self.work.mark(vo.instrument_id)
                cid = self.note("fill_qty", key, order.filled_qty, vo.filled_qty)
                if price is None:
                    continue  # no price to book it at: the position correction covers it
                inst = self.work.instrument(vo.instrument_id)
                self.emit(ev.OrderFilled(
                    client_order_id=key, venue_order_id=vo.venue_order_id, trade_id=cid,
                    instrument_id=vo.instrument_id, side=vo.side, last_qty=missing,
                    last_price=price, fee=ZERO, fee_currency=inst.settle_currency,
                    liquidity=ev.Liquidity.MAKER, ts_event=vo.ts_event or self.snap.ts,
                    ts_init=self.now,
                ))
            elif -missing > tol:
                self.note("fill_qty", key, order.filled_qty, vo.filled_qty,
                          "more filled in state than at the venue; position corrected")

    def close_vanished_orders(self) -> None:
        for order in sorted(self.work.open_orders(), key=lambda o: o.client_order_id):
            key = order.client_order_id
            if key in self.v_orders or not self.mine(order.instrument_id):
                continue
            if order.instrument_id in self.busy:
                continue
            cid = self.note("not_at_venue", key, order.status.value, "absent")
            self.emit(ev.OrderCanceled(client_order_id=key,
                                       reason=f"reconcile {cid}: not open at venue",
                                       ts_event=self.snap.ts, ts_init=self.now))

    def correct_positions(self) -> None:
        tol = self.policy.qty_tolerance
        theirs = {p.instrument_id: p for p in self.snap.positions}
        ours = {p.instrument_id: p for p in self.work.net_positions(self.venue)}
        for iid in sorted(set(theirs) | set(ours)):
            inst = self.work.instrument(iid)
            if inst.is_spot or iid in self.busy:
                continue
            target = theirs[iid].quantity if iid in theirs else ZERO
            current = ours[iid].quantity if iid in ours else ZERO
            if abs(target - current) <= tol:
                self.correct_avg_price(iid, theirs.get(iid), ours.get(iid))
                continue
            cid = self.note("position", iid, current, target)
            avg = theirs[iid].avg_price if iid in theirs else ZERO
            if not avg and target:
                same = iid in ours and (current > 0) == (target > 0)
                avg = ours[iid].avg_price if same else (self.work.mark(iid) or ZERO)
            self.emit(ev.PositionCorrected(
                correction_id=cid, instrument_id=iid, quantity=target, avg_price=avg,
                phase_quantities=allocate(self.work.phase_quantities(iid), target,
                                          self.policy.adopt_phase),
                reason=f"venue holds {target}, state had {current}",
                ts_event=self.snap.ts, ts_init=self.now,
            ))

    def correct_avg_price(self, iid: str, theirs: VenuePosition | None,
                          ours: Position | None) -> None:
        """Same quantity, different entry price (fills folded in another order): unrealized
        PnL would be wrong, so take the venue's average."""
        if theirs is None or ours is None or not theirs.avg_price or not ours.quantity:
            return
        if abs(ours.avg_price - theirs.avg_price) <= theirs.avg_price * AVG_PRICE_TOLERANCE:
            return
        cid = self.note("position_avg", iid, ours.avg_price, theirs.avg_price)
        self.emit(ev.PositionCorrected(
            correction_id=cid, instrument_id=iid, quantity=ours.quantity,
            avg_price=theirs.avg_price, reason="venue entry price differs",
            ts_event=self.snap.ts, ts_init=self.now,
        ))

    def correct_balances(self) -> None:
        if self.busy:
            return  # a fill in flight would be counted twice
        tol = self.policy.balance_tolerance
        ours = {c: v for (_, c), v in self.work.balances(self.venue).items()}
        for ccy in sorted(set(ours) | set(self.snap.balances)):
            target = self.snap.balances.get(ccy, ZERO)
            current = ours.get(ccy, ZERO)
            if abs(target - current) <= tol:
                continue
            cid = self.note("balance", ccy, current, target)
            self.emit(ev.BalanceSet(venue=self.venue, currency=ccy, total=target,
                                    reason=f"reconcile {cid}: venue {target}, state {current}",
                                    ts_event=self.snap.ts, ts_init=self.now))

    def verify(self) -> list[str]:
        """What still disagrees after the corrections (empty = agreement)."""
        problems = []
        tol, btol = self.policy.qty_tolerance, self.policy.balance_tolerance
        theirs = {p.instrument_id: p.quantity for p in self.snap.positions}
        for p in self.work.net_positions(self.venue):
            theirs.setdefault(p.instrument_id, ZERO)
        for iid, target in sorted(theirs.items()):
            if self.work.instrument(iid).is_spot or iid in self.busy:
                continue
            current = self.work.position_qty(iid)
            if abs(current - target) > tol:
                problems.append(f"{iid}: position {current} vs venue {target}")
            phases = sum(self.work.phase_quantities(iid).values(), ZERO)
            if abs(phases - current) > tol:
                problems.append(f"{iid}: phase positions sum to {phases}, net is {current}")
        if not self.busy:
            ours = {c: v for (_, c), v in self.work.balances(self.venue).items()}
            for ccy in sorted(set(ours) | set(self.snap.balances)):
                a, b = ours.get(ccy, ZERO), self.snap.balances.get(ccy, ZERO)
                if abs(a - b) > btol:
                    problems.append(f"balance {ccy}: {a} vs venue {b}")
        cancels = {c.client_order_id for c in self.commands}
        for key in sorted(self.v_orders):
            order = self.work.order(key)
            if (order is None or not order.is_open) and key not in cancels:
                problems.append(f"order {key}: open at venue, not working in state")
        for order in self.work.open_orders():
            if (self.mine(order.instrument_id) and order.client_order_id not in self.v_orders
                    and order.instrument_id not in self.busy):
                problems.append(f"order {order.client_order_id}: working in state, not at venue")
        return problems


def allocate(phases: dict[str, Decimal], target: Decimal, adopt_phase: str) -> dict[str, Decimal]:
    """New quantities of the phase sub-positions that must change so they sum to ``target``.

    Flat venue: every phase goes flat. Venue smaller on the same side: phases shrink in name
    order. Anything else (bigger, flipped, mixed): the difference goes to ``adopt_phase``.
    """
    current = sum(phases.values(), ZERO)
    if target == current:
        return {}
    if target == 0:
        return {p: ZERO for p, q in sorted(phases.items()) if q != 0}
    same_side = all(q == 0 or (q > 0) == (target > 0) for q in phases.values())
    new = dict(phases)
    if same_side and abs(target) < abs(current):
        excess = abs(current) - abs(target)
        sign = 1 if target > 0 else -1
        for p in sorted(phases):
            take = min(abs(phases[p]), excess)
            new[p] = phases[p] - sign * take
            excess -= take
    else:
        new[adopt_phase] = new.get(adopt_phase, ZERO) + (target - current)
    return {p: q for p, q in sorted(new.items()) if q != phases.get(p, ZERO)}


def _order_key(vo: VenueOrder) -> str:
    return vo.client_order_id or f"venue:{vo.venue_order_id}"


def _dedup_orders(orders: tuple[VenueOrder, ...]) -> dict[str, VenueOrder]:
    """By client id (venue id if none); of duplicates keep the most filled report (ties broken
    by content, so the listing order never matters)."""
    out: dict[str, VenueOrder] = {}
    for o in sorted(orders, key=lambda o: (o.filled_qty, codec.to_json(o))):
        out[_order_key(o)] = o
    return out


def _dedup_fills(fills: tuple[VenueFill, ...]) -> list[VenueFill]:
    """One report per (instrument, trade id), in time order, independent of listing order."""
    seen: dict[tuple[str, str], VenueFill] = {}
    for f in sorted(fills, key=lambda f: (f.ts_event, f.instrument_id, f.trade_id,
                                          codec.to_json(f))):
        seen.setdefault((f.instrument_id, f.trade_id), f)
    return list(seen.values())
