"""The Brain's running risk sums: exposure, equity and phase PnL, kept current per mark in O(1).

``PortfolioView`` answers ``equity()`` or ``gross_exposure()`` by walking every position, which is
right for a report and far too slow for a check on every order and every mark. ``RiskBook`` reads
the same view, but only per instrument, when an event touches that instrument (a fill, a cross,
an order placed or ended), and keeps the sums the gate needs:

- per (instrument, owner): the position and the leaves of working orders, and the owner's
  *worst-case* size if every working order on one side filled, ``max(|q + buys|, |q - sells|)``
  (reduce-only orders cannot add to it);
- gross exposure (worst-case size x mark x contract size) per owner, per phase and in total;
- equity and each phase's PnL, moved by ``quantity x mark change`` on every mark of a held
  instrument and by ``(mark - price) x quantity - fee`` on every fill.

The sums are floats (limits are compared in float; what leaves the process is Decimal, floored
to the lot). ``resync`` re-anchors everything on the view; the Brain calls it on a timer, so
rounding and the approximations noted on :meth:`on_mark` cannot drift for long. Instruments with
no position and no working order are not tracked at all: their marks cost one dict lookup.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal

from titan.core.events import Side
from titan.core.instruments import InstrumentRegistry
from titan.core.views import PortfolioView

EXTERNAL = "external"  # owner of positions Titan did not originate (ShadowState's name)


class Leg:
    """One owner on one instrument."""

    __slots__ = ("qty", "buy", "sell", "rbuy", "rsell", "worst")

    def __init__(self) -> None:
        self.qty = 0.0  # signed position
        self.buy = 0.0  # leaves of working buy orders that may add risk
        self.sell = 0.0
        self.rbuy = 0.0  # leaves of working reduce-only orders
        self.rsell = 0.0
        self.worst = 0.0

    def settle(self) -> float:
        self.worst = max(abs(self.qty + self.buy), abs(self.qty - self.sell))
        return self.worst

    @property
    def empty(self) -> bool:
        return self.qty == 0.0 and self.buy == 0.0 and self.sell == 0.0 and self.rbuy == 0.0 \
            and self.rsell == 0.0


class Tracked:
    """An instrument that carries risk: a position or a working order."""

    __slots__ = ("iid", "mark", "unit", "net", "legs", "abs_worst")

    def __init__(self, iid: str, mark: float, contract_size: float) -> None:
        self.iid = iid
        self.mark = mark
        self.unit = contract_size
        self.net = 0.0
        self.legs: dict[str, Leg] = {}
        self.abs_worst = 0.0  # sum of the legs' worst-case sizes


class RiskBook:
    def __init__(self, view: PortfolioView, instruments: InstrumentRegistry,
                 owner_phase: Mapping[str, str]) -> None:
        self.view = view
        self.instruments = instruments
        mark_float = getattr(view, "mark_float", None)  # ShadowState's: no Decimal round trip
        self.mark_of: Callable[[str], float | None] = mark_float or _decimal_mark(view)
        # ShadowState's non-flat sub-positions of one instrument (not in PortfolioView)
        self._phase_quantities = getattr(view, "phase_quantities", None)
        self._position_keys = getattr(view, "position_keys", None)
        self._phases = getattr(view, "phases", None)
        self.owner_phase = dict(owner_phase)
        self.owners: set[str] = set(owner_phase) | {EXTERNAL}
        self._sorted_owners: list[tuple[str, str]] = []  # (owner, phase) by owner
        self.tracked: dict[str, Tracked] = {}
        self.equity = 0.0
        self.gross_total = 0.0
        self.gross_owner: dict[str, float] = {}
        self.gross_phase: dict[str, float] = {}
        self.pnl_phase: dict[str, float] = {}

    def phase_of(self, owner: str) -> str:
        return self.owner_phase.get(owner, owner)

    # ---- reading the view ---------------------------------------------------------------------

    def _mark(self, iid: str) -> float:
        m = self.mark_of(iid)
        return m if m is not None else 0.0

    def _unit(self, iid: str) -> float:
        inst = self.instruments.get(iid)
        return float(inst.contract_size) if inst is not None else 1.0

    def resync(self) -> None:
        """Rebuild every sum from the view (O(positions + orders)); the cure for drift."""
        view = self.view
        iids: set[str] = set()
        if self._position_keys is not None:
            for iid, phase in self._position_keys():
                self.owners.add(phase)
                iids.add(iid)
        else:
            for pos in view.positions():
                self.owners.add(pos.phase)
                iids.add(pos.instrument_id)
        for order in view.open_orders():
            self.owners.add(order.phase)
            iids.add(order.instrument_id)
        self.tracked.clear()
        self.gross_total = 0.0
        self.gross_owner = {}
        self.gross_phase = {}
        for iid in sorted(iids) if len(iids) > 1 else iids:
            self._load(iid)
        self.equity = float(view.equity())
        if len(self.owners) != len(self._sorted_owners):  # owners only grow
            self._sorted_owners = [(o, self.phase_of(o)) for o in sorted(self.owners)]
        pnl: dict[str, float] = {}
        phase_pnl = view.phase_pnl
        # owners without a book (ShadowState.phases) have a PnL of exactly 0
        booked = set(self._phases()) if self._phases is not None else None
        for owner, ph in self._sorted_owners:
            x = float(phase_pnl(owner)) if booked is None or owner in booked else 0.0
            pnl[ph] = pnl.get(ph, 0.0) + x
        self.pnl_phase = pnl

    def refresh(self, iid: str) -> None:
        """Re-read one instrument's positions and working orders from the view."""
        rec = self.tracked.get(iid)
        if rec is not None:
            self._add_contribution(rec, -1.0)
            del self.tracked[iid]
        self._load(iid)

    def _load(self, iid: str) -> None:
        view = self.view
        rec = Tracked(iid, self._mark(iid), self._unit(iid))
        position_qty = view.position_qty
        rec.net = float(position_qty(iid))
        legs = rec.legs
        owners = self.owners
        if self._phase_quantities is not None:  # only the phases that hold it
            for owner, q in self._phase_quantities(iid).items():
                if owner in owners:
                    leg = legs[owner] = Leg()
                    leg.qty = float(q)
        else:
            for owner in owners:
                q = position_qty(iid, owner)
                if q:
                    leg = legs[owner] = Leg()  # each owner once: a new leg
                    leg.qty = float(q)
        for order in view.open_orders(instrument_id=iid):
            self.owners.add(order.phase)
            leaves = float(order.quantity - order.filled_qty)
            if leaves <= 0:
                continue
            leg = legs.get(order.phase)
            if leg is None:
                leg = legs[order.phase] = Leg()
            if order.reduce_only:
                if order.side is Side.BUY:
                    leg.rbuy += leaves
                else:
                    leg.rsell += leaves
            elif order.side is Side.BUY:
                leg.buy += leaves
            else:
                leg.sell += leaves
        if not rec.legs and rec.net == 0.0:
            return
        for leg in rec.legs.values():
            leg.settle()
        self.tracked[iid] = rec
        self._add_contribution(rec, 1.0)

    def _add_contribution(self, rec: Tracked, sign: float) -> None:
        k = rec.mark * rec.unit * sign
        total = 0.0
        go, gp, op = self.gross_owner, self.gross_phase, self.owner_phase
        for owner, leg in rec.legs.items():
            x = leg.worst * k
            total += leg.worst
            go[owner] = go.get(owner, 0.0) + x
            ph = op.get(owner, owner)  # phase_of, inlined
            gp[ph] = gp.get(ph, 0.0) + x
        if sign > 0:
            rec.abs_worst = total
        self.gross_total += total * k

    # ---- running updates ----------------------------------------------------------------------

    def on_mark(self, rec: Tracked, mark: float) -> float:
        """Move the sums to a new mark; returns the equity change.

        Equity moves by net quantity x mark change x contract size: exact for linear
        perpetuals and futures quoted in the account currency, an approximation for spot
        holdings and other quote currencies until the next ``resync``.
        """
        d = (mark - rec.mark) * rec.unit
        if d == 0.0:
            return 0.0
        rec.mark = mark
        de = rec.net * d
        self.equity += de
        self.gross_total += rec.abs_worst * d
        go, gp, pnl, op = self.gross_owner, self.gross_phase, self.pnl_phase, self.owner_phase
        for owner, leg in rec.legs.items():
            ph = op.get(owner, owner)  # phase_of, inlined: once per leg per mark
            q = leg.qty
            if q:
                pnl[ph] = pnl.get(ph, 0.0) + q * d
            x = leg.worst * d
            go[owner] = go.get(owner, 0.0) + x
            gp[ph] = gp.get(ph, 0.0) + x
        return de

    def on_fill(self, owner: str, iid: str, side: Side, qty: Decimal, price: Decimal,
                fee_acct: float) -> float:
        """Book a fill's effect on equity and on its phase's PnL; returns the equity change."""
        rec = self.tracked.get(iid)
        mark = rec.mark if rec is not None and rec.mark > 0 else self._mark(iid)
        if mark <= 0:
            before = self.equity
            self.equity = float(self.view.equity())
            return self.equity - before
        signed = float(qty) if side is Side.BUY else -float(qty)
        delta = (mark - float(price)) * signed * self._unit(iid) - fee_acct
        self.equity += delta
        ph = self.phase_of(owner)
        self.pnl_phase[ph] = self.pnl_phase.get(ph, 0.0) + delta
        return delta

    def add_pnl(self, owner: str, amount: float) -> None:
        ph = self.phase_of(owner)
        self.pnl_phase[ph] = self.pnl_phase.get(ph, 0.0) + amount
        self.equity += amount

    # ---- the Brain's own orders within one decision batch -------------------------------------

    def leg(self, iid: str, owner: str) -> Leg | None:
        rec = self.tracked.get(iid)
        return None if rec is None else rec.legs.get(owner)

    def _edit(self, iid: str, owner: str) -> tuple[Tracked, Leg]:
        rec = self.tracked.get(iid)
        if rec is None:
            rec = self.tracked[iid] = Tracked(iid, self._mark(iid), self._unit(iid))
            rec.net = float(self.view.position_qty(iid))
        leg = rec.legs.get(owner)
        if leg is None:
            leg = rec.legs[owner] = Leg()
        return rec, leg

    def _rebook(self, rec: Tracked, owner: str, leg: Leg, old_worst: float) -> None:
        """After one leg changed: move the sums by its change in worst-case size (O(1))."""
        new = leg.settle()
        if new != old_worst:
            dq = new - old_worst
            rec.abs_worst += dq
            x = dq * rec.mark * rec.unit
            self.gross_total += x
            self.gross_owner[owner] = self.gross_owner.get(owner, 0.0) + x
            ph = self.phase_of(owner)
            self.gross_phase[ph] = self.gross_phase.get(ph, 0.0) + x
        if leg.empty:
            del rec.legs[owner]
            if not rec.legs and rec.net == 0.0:
                del self.tracked[rec.iid]

    def add_order(self, owner: str, iid: str, side: Side, qty: float, reduce_only: bool) -> None:
        """Count an approved order as working. The kernel applies it to the state before the
        next call, so the book and the state agree without reading the view again."""
        self._change_order(owner, iid, side, qty, reduce_only)

    def remove_order(self, owner: str, iid: str, side: Side, leaves: float, reduce_only: bool
                     ) -> None:
        """An order of ours ended (canceled, rejected, expired) with ``leaves`` unfilled."""
        if iid in self.tracked:
            self._change_order(owner, iid, side, -leaves, reduce_only)

    def _change_order(self, owner: str, iid: str, side: Side, qty: float, reduce_only: bool
                      ) -> None:
        rec, leg = self._edit(iid, owner)
        old = leg.worst
        if reduce_only:
            if side is Side.BUY:
                leg.rbuy = max(0.0, leg.rbuy + qty)
            else:
                leg.rsell = max(0.0, leg.rsell + qty)
        elif side is Side.BUY:
            leg.buy = max(0.0, leg.buy + qty)
        else:
            leg.sell = max(0.0, leg.sell + qty)
        self._rebook(rec, owner, leg, old)

    def move_order_to_position(self, owner: str, iid: str, side: Side, qty: float,
                               reduce_only: bool) -> None:
        """Part of an approved order crossed internally: it is position now, not working."""
        rec, leg = self._edit(iid, owner)
        old = leg.worst
        if reduce_only:
            if side is Side.BUY:
                leg.rbuy = max(0.0, leg.rbuy - qty)
            else:
                leg.rsell = max(0.0, leg.rsell - qty)
        elif side is Side.BUY:
            leg.buy = max(0.0, leg.buy - qty)
        else:
            leg.sell = max(0.0, leg.sell - qty)
        leg.qty += qty if side is Side.BUY else -qty
        self._rebook(rec, owner, leg, old)

    def held(self) -> Iterable[Tracked]:
        return self.tracked.values()


def _decimal_mark(view: PortfolioView) -> Callable[[str], float | None]:
    def mark(iid: str) -> float | None:
        m = view.mark(iid)
        return None if m is None else float(m)

    return mark
