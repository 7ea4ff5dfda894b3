"""RiskGate: one code path that turns every intent, from every phase, into a verdict.

``intent x state (RiskBook) x budget (Allocator) x breaker -> approved quantity | denial``.
Checks run in a fixed order and each one is recorded (``CheckResult``) on the decision, so
``titan explain`` can say which rule let an order through or stopped it:

1. Always: known owner, not advisory (AI Quant never sizes), known instrument, positive
   quantity, the owner's order rate, the price band around the last mark (fat finger).
2. Gates on *new risk* - breaker HALTED, phase or strategy disabled, regime, equity, a mark to
   size with, stale or gapped feed, truth score, venue execution quality, the phase's daily
   drawdown tier, correlation with a phase already exposed. A blocked intent that can still
   reduce the owner's position goes out reduce-only for the reducing part; otherwise it is
   denied.
3. Sizing: DEFENSIVE, drawdown tier 1 and a degraded venue scale the new part down; then the
   caps clip it - the owner's position cap (``max_position_pct`` x budget x leverage), the
   owner's and the phase's leverage on the phase budget (x the regime's leverage scale), and
   the total leverage on equity. Exposure is worst case: every working order assumed filled.
4. Rounding by the instrument (quantity floored to the lot, prices rounded safe side) and the
   venue's minimums.
"""

from __future__ import annotations

from collections import deque
from decimal import Decimal

from titan.brain.allocator import ADVISORY, Allocator
from titan.brain.book import RiskBook
from titan.brain.breaker import Breaker
from titan.brain.correlation import PhaseReturns
from titan.brain.drawdown import HALT_ENTRIES, REDUCE, DrawdownWatch
from titan.brain.exec_quality import HALT, VenueQuality
from titan.brain.owners import Owner
from titan.config import TitanConfig
from titan.core.events import BreakerState, CheckResult, OrderIntent, OrderType, Side
from titan.core.instruments import Instrument, InstrumentRegistry
from titan.core.views import PortfolioView

NS_PER_MINUTE = 60 * 1_000_000_000

CHECKS = (
    "owner", "advisory", "instrument", "quantity", "order_rate", "price_band", "reduce_only",
    "breaker", "enabled", "regime", "equity", "mark", "feed", "truth", "venue_quality",
    "phase_drawdown", "correlation", "size", "position_cap", "leverage", "instrument_limits",
)
PASS = {name: CheckResult(name=name, passed=True) for name in CHECKS}
NEW_RISK = ("breaker", "enabled", "regime", "equity", "mark", "feed", "truth", "venue_quality",
            "phase_drawdown", "correlation")
NEW_RISK_PASSED = tuple(PASS[n] for n in NEW_RISK)
NEW_RISK_AT = {n: i for i, n in enumerate(NEW_RISK)}
CAPS_PASSED = (PASS["position_cap"], PASS["leverage"])


def price_band_bps(price: float, reference: float) -> float:
    """Distance of ``price`` from ``reference`` in basis points."""
    return abs(price - reference) / reference * 1e4


def worst_case(qty: float, buys: float, sells: float) -> float:
    """The size a position reaches if every working order on one side fills."""
    return max(abs(qty + buys), abs(qty - sells))


def max_add(side_extent: float, worst: float, position_cap: float, headroom: float,
            unit: float) -> tuple[float, str]:
    """Largest quantity an order may have along its side, and the cap that binds.

    ``side_extent`` is the owner's signed extent along the order's side (position + working
    orders on that side); ``worst`` its current worst-case size; ``position_cap`` in quantity;
    ``headroom`` the smallest leverage headroom in notional; ``unit`` notional per quantity.
    """
    by_position = position_cap - side_extent
    by_leverage = (worst - side_extent) + max(0.0, headroom) / unit
    if by_position <= by_leverage:
        return by_position, "position_cap"
    return by_leverage, "leverage"


class OrderRate:
    """Orders per owner in the last minute (sliding window)."""

    def __init__(self, max_per_minute: int) -> None:
        self.max = max_per_minute
        self._ts: dict[str, deque[int]] = {}

    def count(self, owner: str, now_ns: int) -> int:
        dq = self._ts.get(owner)
        if dq is None:
            return 0
        cutoff = now_ns - NS_PER_MINUTE
        while dq and dq[0] <= cutoff:
            dq.popleft()
        return len(dq)

    def allow(self, owner: str, now_ns: int) -> bool:
        return self.count(owner, now_ns) < self.max

    def record(self, owner: str, now_ns: int) -> None:
        dq = self._ts.get(owner)
        if dq is None:
            dq = self._ts[owner] = deque()
        dq.append(now_ns)


class Conditions:
    """What the gate knows from system events: feed health and the truth score."""

    __slots__ = ("truth_score", "feed_instruments", "feed_venues")

    def __init__(self) -> None:
        self.truth_score: float | None = None
        self.feed_instruments: dict[str, str] = {}
        self.feed_venues: dict[str, str] = {}


class Verdict:
    """The gate's answer for one intent."""

    __slots__ = ("intent", "owner", "inst", "approved", "quantity", "price", "trigger_price",
                 "reduce_only", "reason", "checks", "mark")

    def __init__(self, intent: OrderIntent, owner: Owner | None, checks: list[CheckResult]) -> None:
        self.intent = intent
        self.owner = owner
        self.inst: Instrument | None = None
        self.approved = False
        self.quantity = Decimal(0)
        self.price: Decimal | None = None
        self.trigger_price: Decimal | None = None
        self.reduce_only = False
        self.reason = ""
        self.checks = checks
        self.mark = 0.0


class RiskGate:
    def __init__(self, config: TitanConfig, instruments: InstrumentRegistry, view: PortfolioView,
                 book: RiskBook, allocator: Allocator, breaker: Breaker, owners: dict[str, Owner],
                 drawdown: DrawdownWatch, quality: VenueQuality, returns: PhaseReturns,
                 rate: OrderRate, conditions: Conditions) -> None:
        b = config.brain
        self.instruments = instruments
        self._instrument = instruments.get
        self.view = view
        self.book = book
        self.allocator = allocator
        self.breaker = breaker
        self.owners = owners
        self.drawdown = drawdown
        self.quality = quality
        self.returns = returns
        self.rate = rate
        self.cond = conditions
        self.band_bps = b.price_band_bps
        self.truth_min = b.truth_score_min
        self.stale_ns = int(b.feed_stale_after_s * 1e9)
        self.dscale = b.defensive_size_scale
        self.total_leverage = b.max_total_leverage
        self.correlation_limit = b.correlation_limit
        self.phase_leverage = {p: config.phase_limits(p).leverage for p in self.allocator.enabled}
        self._rounded: dict[str, tuple[Instrument, dict[Decimal, Decimal]]] = {}

    # ---- the gate -----------------------------------------------------------------------------

    def check(self, intent: OrderIntent, now_ns: int) -> Verdict:
        checks: list[CheckResult] = []
        owner = self.owners.get(intent.phase)
        v = Verdict(intent, owner, checks)
        if owner is None:
            return _deny(v, "owner", f"unknown owner {intent.phase!r}: not a phase or a loaded strategy")
        checks.append(PASS["owner"])
        phase = owner.phase
        if phase in ADVISORY:
            return _deny(v, "advisory", f"{phase} is advisory only: it never sizes orders")
        iid = intent.instrument_id
        inst = self._instrument(iid)
        if inst is None:
            return _deny(v, "instrument", f"unknown instrument {iid!r}")
        v.inst = inst
        qty_in = intent.quantity
        if not qty_in.is_finite() or qty_in <= 0:
            return _deny(v, "quantity", f"quantity {qty_in} must be a positive number")
        if not self.rate.allow(owner.name, now_ns):
            return _deny(v, "order_rate",
                         f"{owner.name}: {self.rate.max} orders in the last minute (max {self.rate.max})")
        checks.append(PASS["order_rate"])

        book = self.book
        rec = book.tracked.get(iid)
        mark = rec.mark if rec is not None and rec.mark > 0 else book._mark(iid)
        v.mark = mark
        price = intent.price
        if price is not None:
            if not price.is_finite() or price <= 0:
                return _deny(v, "price_band", f"price {price} must be a positive number")
            ref = mark
            if intent.trigger_price is not None and intent.order_type is not OrderType.LIMIT:
                ref = float(intent.trigger_price)  # a stop-limit's price sits near its trigger
            if ref > 0:
                dev = price_band_bps(float(price), ref)
                if dev > self.band_bps:
                    return _deny(v, "price_band", f"price {price} is {dev:.0f} bps from "
                                 f"{'the mark' if ref == mark else 'the trigger'} {ref:g} "
                                 f"(max {self.band_bps:g})")
                checks.append(PASS["price_band"])
            else:
                checks.append(CheckResult(name="price_band", passed=True, detail="no mark yet"))
        if intent.trigger_price is not None and (
            not intent.trigger_price.is_finite() or intent.trigger_price <= 0
        ):
            return _deny(v, "price_band", f"trigger price {intent.trigger_price} must be positive")

        side = intent.side
        buy = side is Side.BUY
        leg = rec.legs.get(owner.name) if rec is not None else None
        q = leg.qty if leg is not None else 0.0
        net = rec.net if rec is not None else 0.0
        reducible = 0.0
        if (q < 0.0) if buy else (q > 0.0):
            own = abs(q) - ((leg.rbuy if buy else leg.rsell) if leg is not None else 0.0)
            venue = abs(net) if ((net < 0.0) if buy else (net > 0.0)) else 0.0
            if venue > 0.0 and rec is not None:
                venue -= sum((lg.rbuy if buy else lg.rsell) for lg in rec.legs.values())
            reducible = max(0.0, min(own, venue))
        qty = float(qty_in)

        if intent.reduce_only:
            if reducible <= 0.0:
                return _deny(v, "reduce_only", f"nothing to reduce: {owner.name} holds {q:g} "
                             f"{iid}, the venue {net:g}, reduce-only orders working")
            x = min(qty, reducible)
            checks.append(PASS["reduce_only"] if x == qty else CheckResult(
                name="reduce_only", passed=True, detail=f"clipped to the reducible {reducible:g}"))
            v.reduce_only = True
        else:
            block = self._new_risk_block(owner, phase, inst, iid, mark, now_ns)
            if block is None:
                checks.extend(NEW_RISK_PASSED)
                sized = self._size(v, owner, phase, inst, leg, mark, qty, reducible, buy)
                if sized is None:
                    return v
                x = sized
            else:
                name, reason = block
                checks.extend(NEW_RISK_PASSED[:NEW_RISK_AT[name]])
                if reducible <= 0.0:
                    return _deny(v, name, reason)
                x = min(qty, reducible)
                checks.append(CheckResult(name=name, passed=False,
                                          detail=f"{reason}; only the reducing {x:g} goes, reduce-only"))
                v.reduce_only = True
        return self._finish(v, inst, x, qty, buy)

    def _new_risk_block(self, owner: Owner, phase: str, inst: Instrument, iid: str, mark: float,
                        now_ns: int) -> tuple[str, str] | None:
        """The first new-risk gate that blocks (check name, reason), or None."""
        br = self.breaker
        if br.state is BreakerState.HALTED:
            return "breaker", f"breaker HALTED ({br.reason}): only reducing orders"
        if not owner.enabled or not self.allocator.enabled.get(phase, False):
            return "enabled", f"{owner.name if not owner.enabled else phase} is disabled"
        if not self.allocator.allowed(phase):
            return "regime", f"regime {self.allocator.regime!r} does not allow {phase}"
        if self.book.equity <= 0.0:
            return "equity", f"equity {self.book.equity:.2f} is not positive"
        if mark <= 0.0:
            return "mark", f"no mark for {iid}: cannot size new risk"
        cond = self.cond
        why = cond.feed_instruments.get(iid) or cond.feed_venues.get(inst.venue)
        if why:
            return "feed", f"feed for {iid}: {why}"
        age = now_ns - self.view.mark_ts(iid)
        if age > self.stale_ns:
            return "feed", f"feed for {iid}: last mark {age / 1e9:.0f} s old (stale after {self.stale_ns / 1e9:g} s)"
        if cond.truth_score is not None and cond.truth_score < self.truth_min:
            return "truth", f"truth score {cond.truth_score:.0f} below {self.truth_min:g}: no new risk"
        quality = self.quality.levels.get(inst.venue)
        if quality is not None and quality[0] >= HALT:
            return "venue_quality", f"venue halted for new entries: {quality[1]}"
        tier = self.drawdown.phase_tier.get(phase, 0)
        if tier >= HALT_ENTRIES:
            tiers = self.drawdown.tiers[phase]
            return "phase_drawdown", (f"{phase} reached daily drawdown tier {tier} "
                                      f"({tiers[tier - 1]:.0%} of its budget): no new entries today")
        if self.returns.correlations:
            gp = self.book.gross_phase
            for other, c in self.returns.partners(phase, self.correlation_limit):
                if gp.get(other, 0.0) > 0.0:
                    return "correlation", (f"{phase} returns correlate {c:.2f} with {other}, which "
                                           f"holds exposure (limit {self.correlation_limit:g})")
        return None

    def _size(self, v: Verdict, owner: Owner, phase: str, inst: Instrument, leg, mark: float,
              qty: float, reducible: float, buy: bool) -> float | None:
        checks = v.checks
        dscale = self.dscale
        defensive = self.breaker.state is BreakerState.DEFENSIVE
        tier = self.drawdown.phase_tier.get(phase, 0)
        quality = self.quality.levels.get(inst.venue)
        want = qty
        if (defensive or tier or quality is not None) and qty > reducible:
            scale, notes = 1.0, []
            if defensive:
                scale *= dscale
                notes.append("DEFENSIVE")
            if tier >= REDUCE:
                scale *= dscale
                notes.append(f"{phase} daily drawdown tier {tier}")
            if quality is not None:
                scale *= dscale
                notes.append(quality[1])
            want = reducible + (qty - reducible) * scale
            checks.append(CheckResult(name="size", passed=True,
                                      detail=f"new risk x{scale:g} ({'; '.join(notes)})"))
        book = self.book
        equity = book.equity
        budget = self.allocator.shares.get(phase, 0.0) * equity
        lev_scale = self.allocator.lev_scale * (dscale if defensive else 1.0)
        unit = mark * float(inst.contract_size)
        if leg is not None:
            extent = leg.qty + leg.buy if buy else leg.sell - leg.qty
            worst = leg.worst
        else:
            extent = worst = 0.0
        owner_lev = owner.leverage * lev_scale
        pos_cap = owner.max_position_pct * budget * owner_lev / unit
        h_owner = owner_lev * budget - book.gross_owner.get(owner.name, 0.0)
        h_phase = self.phase_leverage[phase] * lev_scale * budget - book.gross_phase.get(phase, 0.0)
        h_total = self.total_leverage * (dscale if defensive else 1.0) * equity - book.gross_total
        headroom = min(h_owner, h_phase, h_total)
        limit, binding = max_add(extent, worst, pos_cap, headroom, unit)
        if want <= limit:
            checks.extend(CAPS_PASSED)
            return want
        if binding == "leverage":
            which = ("total" if headroom == h_total else "phase" if headroom == h_phase else "owner")
            detail = (f"{which} leverage cap: headroom {max(0.0, headroom):,.2f} "
                      f"(budget {budget:,.2f}, equity {equity:,.2f})")
        else:
            detail = (f"position cap {pos_cap:g} = {owner.max_position_pct:g} x budget "
                      f"{budget:,.2f} x {owner_lev:g}x / {unit:g}")
        if limit <= 0.0:
            _deny(v, binding, f"{owner.name}: no room for new risk on {inst.id}: {detail}")
            return None
        checks.append(CheckResult(name=binding, passed=True,
                                  detail=f"clipped {want:g} -> {limit:g}: {detail}"))
        return limit

    def _round_qty(self, inst: Instrument, qty: Decimal) -> Decimal:
        """``inst.round_qty``, remembered per instrument (strategies repeat their sizes; the
        result depends on the value and the lot only)."""
        cached = self._rounded.get(inst.symbol)
        if cached is None or cached[0] is not inst:
            cached = self._rounded[inst.symbol] = (inst, {})
        table = cached[1]
        q = table.get(qty)
        if q is None:
            q = inst.round_qty(qty)
            if len(table) >= 1024:
                table.clear()
            table[qty] = q
        return q

    def _finish(self, v: Verdict, inst: Instrument, x: float, qty: float, buy: bool) -> Verdict:
        intent = v.intent
        # Unchanged: the intent's own Decimal; clipped: the float's exact value, floored.
        q = self._round_qty(inst, intent.quantity if x == qty else Decimal(repr(x)))
        side = intent.side
        price = inst.round_price(intent.price, side) if intent.price is not None else None
        trigger = (inst.round_price(intent.trigger_price, side)
                   if intent.trigger_price is not None else None)
        ref = price
        if ref is None and inst.min_notional and v.mark > 0:
            ref = Decimal(repr(v.mark))  # only the notional minimum needs a price
        problem = inst.check_order(q, ref)
        if problem is not None:
            return _deny(v, "instrument_limits", f"{inst.id}: {problem}")
        v.checks.append(PASS["instrument_limits"])
        v.approved = True
        v.quantity = q
        v.price = price
        v.trigger_price = trigger
        return v


def _deny(v: Verdict, check: str, reason: str) -> Verdict:
    v.checks.append(CheckResult(name=check, passed=False, detail=reason))
    v.approved = False
    v.reason = reason
    return v
