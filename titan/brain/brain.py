"""The Brain: phases propose, the Brain alone decides.

The kernel calls it synchronously and applies everything it returns (commands and events) to
the state before calling it again; the Brain reads the state only through ``PortfolioView``.

- ``decide``: all intents of one tick, gated one by one (``RiskGate``), then netted across
  owners (``netting``): OrderApproved + SubmitOrder pairs, OrderDenied, InternalCross, then
  system events.
- ``on_market``: for every market event; one dict lookup when the instrument carries no
  position or order. Otherwise it moves the running sums (``RiskBook``) and applies the
  drawdown rules: portfolio drawdown -> emergency flatten, daily loss budget -> HALTED, phase
  tiers.
- ``on_event``: fills, acks, rejects (venue errors -> emergency), feed health, truth score,
  regime, balances.
- ``on_timer``: UTC day rollover, re-anchoring the sums on the state, sampling phase returns
  (correlation, performance) and marks (Hill tail index -> DEFENSIVE). Call it at least every
  :attr:`Brain.timer_interval_ns`.
- ``halt`` / ``flatten`` / ``resume``: the operator's controls.
"""

from __future__ import annotations

import logging
import math
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from decimal import Decimal
from typing import Any

from titan.brain.allocator import SIZED, Allocator
from titan.brain.book import EXTERNAL, RiskBook, Tracked
from titan.brain.breaker import Breaker, Trigger
from titan.brain.correlation import PhaseReturns
from titan.brain.drawdown import ESCALATE, NS_PER_DAY, DrawdownWatch, utc_day
from titan.brain.emergency import closing_legs, orders_to_cancel
from titan.brain.exec_quality import VenueQuality
from titan.brain.netting import net
from titan.brain.owners import Owner, owners_from_config
from titan.brain.risk import Conditions, OrderRate, RiskGate, Verdict
from titan.brain.tail import TailWatch
from titan.config import PHASE_NAMES, TitanConfig
from titan.config import policy_hash as compute_policy_hash
from titan.core import events as ev
from titan.core.events import BreakerState, CheckResult, Message, OrderType, Side
from titan.core.ids import ClientOrderIds
from titan.core.instruments import InstrumentRegistry, split_instrument_id
from titan.core.views import PortfolioView

log = logging.getLogger(__name__)

NS = 1_000_000_000
VENUE_ERROR_KINDS = frozenset({
    ev.ErrorKind.TEMPORARY, ev.ErrorKind.RATE_LIMITED, ev.ErrorKind.AUTH, ev.ErrorKind.UNKNOWN,
})
FEED_BAD = frozenset({ev.FeedStatus.STALE, ev.FeedStatus.GAP, ev.FeedStatus.DISCONNECTED})
EMERGENCY_CHECK = "emergency"
_BAR = ev.Bar


class _Sent:
    """An order the Brain approved, until the venue ends it."""

    __slots__ = ("owner", "iid", "venue", "side", "ref", "ts", "leaves", "reduce_only", "acked")

    def __init__(self, owner: str, iid: str, venue: str, side: Side, ref: float, ts: int,
                 leaves: Decimal, reduce_only: bool) -> None:
        self.reduce_only = reduce_only
        self.owner = owner
        self.iid = iid
        self.venue = venue
        self.side = side
        self.ref = ref
        self.ts = ts
        self.leaves = leaves
        self.acked = False


class Brain:
    def __init__(self, config: TitanConfig, instruments: InstrumentRegistry, view: PortfolioView,
                 ids: ClientOrderIds, *, policy_hash: str | None = None,
                 owners: dict[str, str] | None = None) -> None:
        b = config.brain
        self.config = config
        self.instruments = instruments
        self.view = view
        self.ids = ids
        self.policy_hash = policy_hash if policy_hash is not None else compute_policy_hash(config)
        self.owners: dict[str, Owner] = owners_from_config(config, owners)
        self.allocator = Allocator(config)
        self._breaker = Breaker()
        self.book = RiskBook(view, instruments, {o.name: o.phase for o in self.owners.values()})
        self.drawdown = DrawdownWatch(
            b.portfolio_flatten_drawdown, b.daily_loss_budget,
            {p: config.phase_limits(p).drawdown_tiers for p in SIZED},
        )
        self.quality = VenueQuality(b.exec_quality_window, b.exec_quality_min_samples,
                                    b.max_slippage_bps, b.max_ack_latency_ms,
                                    b.exec_quality_halt_factor)
        self.returns = PhaseReturns(SIZED, b.correlation_window, b.correlation_min_samples,
                                    int(b.returns_sample_s * NS))
        self.tail = TailWatch(b.tail_window, b.tail_fraction, int(b.tail_sample_s * NS))
        self.rate = OrderRate(b.max_orders_per_minute)
        self.conditions = Conditions()
        self.gate = RiskGate(config, instruments, view, self.book, self.allocator, self._breaker,
                             self.owners, self.drawdown, self.quality, self.returns, self.rate,
                             self.conditions)
        self.last_decisions: deque[ev.OrderApproved | ev.OrderDenied] = deque(maxlen=256)
        self.emergency = False
        self.elevated: dict[str, str] = {}  # condition key -> reason; any -> DEFENSIVE
        self.timer_interval_ns = int(min(b.returns_sample_s, b.tail_sample_s,
                                         b.resync_interval_s) * NS)
        self._tail_threshold = b.tail_index_defensive
        self._sent: dict[str, _Sent] = {}
        self._venue_errors: deque[int] = deque()
        self._venue_error_limit = b.venue_error_flatten_count
        self._venue_error_window = int(b.venue_error_window_s * NS)
        self._resync_ns = int(b.resync_interval_s * NS)
        self._next_resync = 0
        self._tail_sample_ns = int(b.tail_sample_s * NS)
        self._next_tail = 0
        self._returns_ns = int(b.returns_sample_s * NS)
        self._next_returns = 0
        self._next_day_ns = -1  # the first call with a time starts the day
        self._alloc_equity = math.nan
        self._account = getattr(view, "account_currency", "USDT")
        # the hot path of on_market: bound methods and containers that are never replaced
        self._tracked_get: Callable[[str], Tracked | None] = self.book.tracked.get
        self._mark_priced: set[str] = set()
        self._n_instruments = -1
        self._iids: list[str] = []
        self._on: dict[type, Callable[[Any, int, list[Message]], None]] = {
            ev.OrderFilled: self._on_fill,
            ev.OrderAccepted: self._on_accepted,
            ev.OrderRejected: self._on_rejected,
            ev.OrderCanceled: self._on_order_end,
            ev.OrderExpired: self._on_order_end,
            ev.OrderAdopted: self._on_adopted,
            ev.InternalCross: self._on_cross,
            ev.PositionCorrected: self._on_corrected,
            ev.FundingPaid: self._on_funding,
            ev.BalanceSet: self._on_balance,
            ev.FeedStatusChanged: self._on_feed,
            ev.TruthScoreChanged: self._on_truth,
            ev.RegimeChanged: self._on_regime,
        }
        self.book.resync()
        self.allocator.shares = self.allocator.compute(self.book.equity)  # published on 1st call
        for order in view.open_orders():
            self.ids.observe(order.client_order_id)

    # ---- state for the dashboard and the operator --------------------------------------------

    @property
    def breaker(self) -> BreakerState:
        return self._breaker.state

    @property
    def breaker_reason(self) -> str:
        return self._breaker.reason

    @property
    def equity(self) -> float:
        return self.book.equity

    @property
    def market_watch(self) -> dict[str, Tracked]:
        """The instruments :meth:`on_market` acts on (a live view: those carrying a position or
        a working order); market data for any other is a no-op, which a caller may skip."""
        return self.book.tracked

    @property
    def allocations(self) -> dict[str, Decimal]:
        """Each phase's budget at the current equity (cents, summing to at most equity)."""
        return self.allocator.budgets(Decimal(repr(max(self.book.equity, 0.0))))

    def restore(self, events: Iterable[Message]) -> None:
        """Take back the Brain's own standing decisions after a restart: call once, before
        trading, with the logged system events in order. A HALTED breaker stays halted (an
        operator halt or an emergency still needs ``resume``), an emergency keeps the phases
        disabled, the last regime and truth score hold. (DEFENSIVE is not restored: its
        conditions are measured again.)"""
        for e in events:
            cls = e.__class__
            if cls is ev.BreakerChanged:
                if e.new is BreakerState.HALTED:  # type: ignore[attr-defined]
                    reason = e.reason  # type: ignore[attr-defined]
                    cause = ("emergency" if reason.startswith("emergency") else
                             "daily_loss" if reason.startswith("daily loss") else "operator")
                    self._breaker.state, self._breaker.reason = BreakerState.HALTED, reason
                    self._breaker.cause = cause
                else:
                    self._breaker.state, self._breaker.reason = BreakerState.NORMAL, ""
                    self._breaker.cause = ""
                    self.emergency = False
            elif cls is ev.EmergencyFlatten:
                self.emergency = True
            elif cls is ev.RegimeChanged:
                self.allocator.set_regime(e.regime)  # type: ignore[attr-defined]
            elif cls is ev.TruthScoreChanged:
                self.conditions.truth_score = e.score  # type: ignore[attr-defined]
        if self.emergency:
            self.allocator.disable_all()
        self.allocator.shares = self.allocator.compute(self.book.equity)

    def enable_phase(self, phase: str, enabled: bool, now_ns: int) -> list[Message]:
        """Switch a built-in phase on or off at run time (its budget moves to the others)."""
        if phase not in PHASE_NAMES:
            raise KeyError(f"unknown phase {phase!r} (known: {', '.join(PHASE_NAMES)})")
        self.allocator.set_enabled(phase, enabled)
        out: list[Message] = []
        self._allocate(now_ns, out, f"{phase} {'enabled' if enabled else 'disabled'}", force=True)
        return out

    # ---- decide -------------------------------------------------------------------------------

    def decide(self, intents: Sequence[ev.OrderIntent], now_ns: int) -> list[Message]:
        events: list[Message] = []
        self._prepare(now_ns, events)
        gate, book = self.gate, self.book
        approved: list[tuple[str, Verdict]] = []
        denied: list[Message] = []
        cancels: list[Message] = []
        for intent in intents:
            if intent.__class__ is ev.CancelIntent:
                cancels.append(self._cancel_intent(intent, now_ns))
                continue
            v = gate.check(intent, now_ns)
            owner = v.owner.name if v.owner is not None else intent.phase
            cid = self.ids.next(owner)
            if v.approved:
                self.rate.record(owner, now_ns)
                book.add_order(owner, intent.instrument_id, intent.side, float(v.quantity),
                               v.reduce_only)
                approved.append((cid, v))
            else:
                d = ev.OrderDenied(client_order_id=cid, phase=intent.phase,
                                   instrument_id=intent.instrument_id, reason=v.reason,
                                   intent=intent, checks=tuple(v.checks),
                                   ts_event=now_ns, ts_init=now_ns)
                denied.append(d)
                self.last_decisions.append(d)
        if approved:
            out, crosses = self._emit(approved, now_ns)
            out.extend(denied)
            out.extend(crosses)
        else:
            out = denied
        if cancels:
            out.extend(cancels)
        out.extend(events)
        return out

    def _cancel_intent(self, intent: ev.CancelIntent, now_ns: int) -> Message:
        """A phase's cancel: allowed for its own open orders, otherwise an AlertRaised note."""
        order = next((o for o in self.view.open_orders(intent.phase)
                      if o.client_order_id == intent.client_order_id), None)
        if order is None:
            return ev.AlertRaised(
                severity="info", title="cancel ignored",
                detail=f"{intent.phase}: {intent.client_order_id} is not an open order of this phase",
                ts_event=now_ns, ts_init=now_ns)
        return ev.CancelOrder(client_order_id=order.client_order_id,
                              instrument_id=order.instrument_id,
                              venue_order_id=order.venue_order_id,
                              reason=intent.reason or f"{intent.phase} canceled", ts_init=now_ns)

    def _emit(self, approved: list[tuple[str, Verdict]], now_ns: int
              ) -> tuple[list[Message], list[Message]]:
        """The approvals and orders, after netting opposing market orders per instrument."""
        residual: dict[str, Decimal] = {}
        notes: dict[str, CheckResult] = {}
        crosses: list[Message] = []
        if len(approved) > 1:
            self._net(approved, now_ns, residual, notes, crosses)
        out: list[Message] = []
        for cid, v in approved:
            intent = v.intent
            owner = v.owner.name  # type: ignore[union-attr]
            checks = tuple(v.checks)
            qty = residual.get(cid, v.quantity)
            note = notes.get(cid)
            if note is not None:
                if qty > 0:
                    inst = self.instruments[intent.instrument_id]
                    problem = inst.check_order(qty, v.price or Decimal(repr(v.mark)))
                    if problem is not None:
                        note = CheckResult(name="netting", passed=False,
                                           detail=f"{note.detail}: residual not sent ({problem})")
                        self.book.remove_order(owner, intent.instrument_id, intent.side,
                                               float(qty), v.reduce_only)
                        qty = Decimal(0)
                checks += (note,)
            approval = ev.OrderApproved(client_order_id=cid, phase=intent.phase, intent=intent,
                                        checks=checks, ts_event=now_ns, ts_init=now_ns)
            out.append(approval)
            self.last_decisions.append(approval)
            if qty > 0:
                out.append(self._submit(cid, owner, intent.instrument_id, intent.side, qty, now_ns,
                                        v.mark, intent=intent, price=v.price,
                                        trigger=v.trigger_price, reduce_only=v.reduce_only,
                                        venue=v.inst.venue))  # type: ignore[union-attr]
        return out, crosses

    def _net(self, approved: list[tuple[str, Verdict]], now_ns: int, residual: dict[str, Decimal],
             notes: dict[str, CheckResult], crosses: list[Message]) -> None:
        """Cross opposing market orders of different owners on one instrument (``netting``)."""
        groups: dict[str, list[tuple[str, Verdict]]] = {}
        for cid, v in approved:
            it = v.intent
            if it.order_type is OrderType.MARKET and it.trigger_price is None:
                groups.setdefault(it.instrument_id, []).append((cid, v))
        for iid, group in groups.items():
            if len(group) < 2 or len({v.intent.side for _, v in group}) < 2:
                continue
            legs = [(v.owner.name, v.intent.side, v.quantity) for _, v in group]  # type: ignore[union-attr]
            pairs, rest = net(legs)
            if not pairs:
                continue
            price = self.view.mark(iid) or Decimal(repr(group[0][1].mark))
            for b, s, q in pairs:
                crosses.append(ev.InternalCross(
                    cross_id=self.ids.next("cross"), instrument_id=iid,
                    buyer_phase=legs[b][0], seller_phase=legs[s][0],
                    quantity=q, price=price, ts_event=now_ns, ts_init=now_ns))
            for (cid, v), r in zip(group, rest, strict=True):
                crossed = v.quantity - r
                if crossed:
                    residual[cid] = r
                    self.book.move_order_to_position(v.owner.name,  # type: ignore[union-attr]
                                                     iid, v.intent.side, float(crossed),
                                                     v.reduce_only)
                    notes[cid] = CheckResult(name="netting", passed=True,
                                             detail=f"{crossed} crossed internally, {r} to the venue")

    def _submit(self, cid: str, owner: str, iid: str, side: Side, qty: Decimal, now_ns: int,
                mark: float, *, intent: ev.OrderIntent | None = None, price: Decimal | None = None,
                trigger: Decimal | None = None, reduce_only: bool = True, venue: str = ""
                ) -> ev.SubmitOrder:
        if not venue:
            inst = self.instruments.get(iid)
            venue = inst.venue if inst is not None else split_instrument_id(iid)[1]
        self._sent[cid] = _Sent(owner, iid, venue, side, mark, now_ns, qty, reduce_only)
        if intent is None:
            return ev.SubmitOrder(client_order_id=cid, phase=owner, instrument_id=iid, side=side,
                                  order_type=OrderType.MARKET, quantity=qty, reduce_only=True,
                                  policy_hash=self.policy_hash, tag=EMERGENCY_CHECK, ts_init=now_ns)
        return ev.SubmitOrder(
            client_order_id=cid, phase=intent.phase, instrument_id=iid, side=side,
            order_type=intent.order_type, quantity=qty, price=price, trigger_price=trigger,
            time_in_force=intent.time_in_force, post_only=intent.post_only,
            reduce_only=reduce_only, policy_hash=self.policy_hash, tag=intent.tag,
            ts_init=now_ns)

    # ---- market data --------------------------------------------------------------------------

    def on_market(self, event: ev.Data, now_ns: int) -> list[Message]:
        iid = event.instrument_id
        rec = self._tracked_get(iid)
        if rec is None:
            return []
        if event.__class__ is _BAR and iid not in self._mark_priced:
            mark = event.close  # type: ignore[attr-defined]  # _price of a bar, inlined
        else:
            mark = self._price(event)
        if mark is None or mark == rec.mark or not mark > 0.0:
            return []
        book = self.book
        book.on_mark(rec, mark)
        dd = self.drawdown
        eq = book.equity
        out: list[Message] = []
        if now_ns >= self._next_day_ns:
            self._roll_day(now_ns, out)
        if eq > dd.peak:
            dd.rebase_peak(eq)  # what _check_equity does at a new high
        elif eq <= dd.flatten_level or eq <= dd.daily_loss_level:
            self._check_equity(now_ns, out)
        pnl, level, op = book.pnl_phase, dd.next_level, book.owner_phase
        for owner in rec.legs:
            ph = op.get(owner, owner)
            if pnl.get(ph, 0.0) <= level.get(ph, -math.inf):
                self._check_phase(ph, now_ns, out)
        if self.emergency and not out:  # a close that did not go through: try again now
            out.extend(self._close_leftovers(now_ns, rec.iid))
        return _ordered(out) if out else out

    def _price(self, event: ev.Data) -> float | None:
        """The mark this event sets, by the state's rules (``ShadowState``): a mark-price stream,
        once seen, is the only source; else trades, bars, quote mids; anything else (book
        deltas) is read back from the view."""
        cls = event.__class__
        if cls is ev.MarkPrice:
            self._mark_priced.add(event.instrument_id)
            return event.mark  # type: ignore[attr-defined]
        if event.instrument_id in self._mark_priced:
            return None
        if cls is ev.Bar:
            return event.close  # type: ignore[attr-defined]
        if cls is ev.Trade:
            return event.price  # type: ignore[attr-defined]
        if cls is ev.Quote:
            bid, ask = event.bid, event.ask  # type: ignore[attr-defined]
            return (bid + ask) * 0.5 if bid > 0 and ask > 0 else None
        if cls is ev.BookDelta and event.is_snapshot:  # type: ignore[attr-defined]
            m = self.view.mark(event.instrument_id)
            return None if m is None else float(m)
        return None  # funding, open interest, liquidations, book deltas: no new mark

    # ---- execution and system events ----------------------------------------------------------

    def on_event(self, event: Message, now_ns: int) -> list[Message]:
        handler = self._on.get(event.__class__)
        if handler is None:
            return []
        out: list[Message] = []
        if now_ns >= self._next_day_ns:  # _prepare, inlined: every execution event comes here
            self._roll_day(now_ns, out)
        last = self._alloc_equity
        if not (abs(self.book.equity - last) <= 0.005 * abs(last)):
            self._allocate(now_ns, out)
        handler(event, now_ns, out)
        return _ordered(out) if len(out) > 1 else out

    def _on_fill(self, e: ev.OrderFilled, now_ns: int, out: list[Message]) -> None:
        sent = self._sent.get(e.client_order_id)
        owner = sent.owner if sent is not None else self._owner_of(e.client_order_id)
        inst = self.instruments.get(e.instrument_id)
        fee = float(e.fee)
        if inst is not None and e.fee_currency == inst.base and inst.base != self._account:
            fee *= float(e.last_price)
        self.book.on_fill(owner, e.instrument_id, e.side, e.last_qty, e.last_price, fee)
        self.book.refresh(e.instrument_id)
        if sent is not None:
            if sent.ref > 0:
                bps = (float(e.last_price) - sent.ref) / sent.ref * 1e4 * e.side.sign
                self.quality.record_slippage(sent.venue, bps)
            sent.leaves -= e.last_qty
            if sent.leaves <= 0:
                del self._sent[e.client_order_id]
        self._check_equity(now_ns, out)
        self._check_phase(self.book.phase_of(owner), now_ns, out)
        self._allocate(now_ns, out)

    def _owner_of(self, cid: str) -> str:
        for order in self.view.open_orders():
            if order.client_order_id == cid:
                return order.phase
        order_of = getattr(self.view, "order", None)  # ShadowState keeps closed orders too
        order = order_of(cid) if order_of is not None else None
        return order.phase if order is not None else EXTERNAL

    def _on_accepted(self, e: ev.OrderAccepted, now_ns: int, out: list[Message]) -> None:
        sent = self._sent.get(e.client_order_id)
        if sent is not None and not sent.acked:
            sent.acked = True
            self.quality.record_latency(sent.venue, (now_ns - sent.ts) / 1e6)

    def _on_rejected(self, e: ev.OrderRejected, now_ns: int, out: list[Message]) -> None:
        self._on_order_end(e, now_ns, out)
        if e.kind not in VENUE_ERROR_KINDS:
            return
        q = self._venue_errors
        q.append(now_ns)
        cutoff = now_ns - self._venue_error_window
        while q and q[0] <= cutoff:
            q.popleft()
        if len(q) >= self._venue_error_limit and not self.emergency:
            n = len(q)
            q.clear()
            out.extend(self._flatten(
                f"{n} venue errors in {self._venue_error_window / NS:g} s (last: {e.reason})",
                "venue_errors", now_ns))

    def _on_order_end(self, e: ev.OrderEvent, now_ns: int, out: list[Message]) -> None:
        sent = self._sent.pop(e.client_order_id, None)
        if sent is not None:
            self.book.remove_order(sent.owner, sent.iid, sent.side, float(sent.leaves),
                                   sent.reduce_only)
            return
        order_of = getattr(self.view, "order", None)  # ShadowState keeps closed orders too
        order = order_of(e.client_order_id) if order_of is not None else None
        if order is not None:
            self.book.refresh(order.instrument_id)

    def _on_adopted(self, e: ev.OrderAdopted, now_ns: int, out: list[Message]) -> None:
        self.book.owners.add(e.phase)
        self.book.refresh(e.instrument_id)

    def _on_cross(self, e: ev.InternalCross, now_ns: int, out: list[Message]) -> None:
        self.book.refresh(e.instrument_id)

    def _on_corrected(self, e: ev.PositionCorrected, now_ns: int, out: list[Message]) -> None:
        self.book.owners.update(e.phase_quantities)
        self.book.resync()
        self._check_equity(now_ns, out)

    def _on_funding(self, e: ev.FundingPaid, now_ns: int, out: list[Message]) -> None:
        if e.currency == self._account:
            self.book.add_pnl(e.phase or EXTERNAL, float(e.amount))
        else:
            self.book.resync()
        self._check_equity(now_ns, out)
        self._check_phase(self.book.phase_of(e.phase or EXTERNAL), now_ns, out)

    def _on_balance(self, e: ev.BalanceSet, now_ns: int, out: list[Message]) -> None:
        before = self.book.equity
        self.book.resync()
        self.drawdown.shift(self.book.equity - before)  # a deposit or withdrawal is not PnL
        self._allocate(now_ns, out, f"balance {e.venue} {e.currency} set to {e.total}")

    def _on_feed(self, e: ev.FeedStatusChanged, now_ns: int, out: list[Message]) -> None:
        table = self.conditions.feed_instruments if e.instrument_id else self.conditions.feed_venues
        key = e.instrument_id or e.venue
        if e.status in FEED_BAD:
            table[key] = e.status.value + (f" ({e.detail})" if e.detail else "")
        else:
            table.pop(key, None)

    def _on_truth(self, e: ev.TruthScoreChanged, now_ns: int, out: list[Message]) -> None:
        self.conditions.truth_score = e.score

    def _on_regime(self, e: ev.RegimeChanged, now_ns: int, out: list[Message]) -> None:
        if self.allocator.set_regime(e.regime):
            self._allocate(now_ns, out, f"regime {e.regime}" + (f" ({e.source})" if e.source else ""),
                           force=True)
        else:
            out.append(ev.AlertRaised(severity="warning", title=f"unknown regime {e.regime!r}",
                                      detail=f"not in brain.regimes; keeping {self.allocator.regime!r}",
                                      ts_event=now_ns, ts_init=now_ns))

    # ---- timer --------------------------------------------------------------------------------

    def on_timer(self, now_ns: int) -> list[Message]:
        out: list[Message] = []
        book = self.book
        # _prepare, inlined (the timer runs every few bars of a backtest)
        if now_ns >= self._next_day_ns:
            self._roll_day(now_ns, out)
        last = self._alloc_equity
        if not (abs(book.equity - last) <= 0.005 * abs(last)):
            self._allocate(now_ns, out)
        if now_ns >= self._next_resync:
            self._next_resync = now_ns + self._resync_ns
            book.resync()
            if self._sent:
                working = {o.client_order_id for o in self.view.open_orders()}
                for cid in [c for c in self._sent if c not in working]:
                    del self._sent[cid]  # ended without an event reaching us (reconciled away)
            self._check_equity(now_ns, out)
        if now_ns >= self._next_returns and book.tracked:  # flat: every return is 0
            self._next_returns = now_ns + self._returns_ns
            if self.returns.sample(book.pnl_phase, self._budgets(), now_ns) and \
                    self.allocator.set_performance(self.returns.scores(), step=0.01):
                self._allocate(now_ns, out)
        if now_ns >= self._next_tail:
            self._next_tail = now_ns + self._tail_sample_ns
            mark, sample = book.mark_of, self.tail.sample
            for iid in self._instrument_ids():
                m = mark(iid)
                if m is not None:
                    sample(iid, m, now_ns)
            if book.tracked or self.elevated:
                self._check_tails(now_ns, out)
            elif self._breaker.state is BreakerState.DEFENSIVE:  # nothing held, nothing elevated
                self._sync_breaker(now_ns, out)
        pnl, level = book.pnl_phase, self.drawdown.next_level
        for p in SIZED:
            if pnl.get(p, 0.0) <= level[p]:
                self._check_phase(p, now_ns, out)
        if self.emergency:
            out.extend(self._close_leftovers(now_ns))
        return _ordered(out) if len(out) > 1 else out

    def _instrument_ids(self) -> list[str]:
        """The registry's ids (a registry only grows: re-read when its size changed)."""
        if len(self.instruments) != self._n_instruments:
            self._n_instruments = len(self.instruments)
            self._iids = [inst.id for inst in self.instruments]
        return self._iids

    def _check_tails(self, now_ns: int, out: list[Message]) -> None:
        tracked, elevated = self.book.tracked, self.elevated
        held = [iid for iid, rec in tracked.items() if _holds(rec)] if tracked else []
        if elevated:
            for key in [k for k in elevated if k.startswith("tail:") and k[5:] not in held]:
                del elevated[key]
        if len(held) > 1:
            held.sort()
        for iid in held:
            alpha = self.tail.index(iid)
            key = "tail:" + iid
            if alpha is not None and alpha < self._tail_threshold:
                elevated[key] = (f"{iid}: Hill tail index {alpha:.2f} below "
                                 f"{self._tail_threshold:g}")
            else:
                elevated.pop(key, None)
        self._sync_breaker(now_ns, out)

    # ---- operator -----------------------------------------------------------------------------

    def halt(self, reason: str, now_ns: int) -> list[Message]:
        """Stop new entries (reducing orders still go) until ``resume``."""
        out: list[Message] = []
        self._prepare(now_ns, out)
        change = self._breaker.fire(Trigger.HALT, f"operator: {reason}", now_ns, cause="operator")
        if change is not None:
            out.append(change)
            log.warning("breaker HALTED by the operator: %s", reason)
        return out

    def flatten(self, reason: str, now_ns: int) -> list[Message]:
        """The panic button: halt, cancel everything, close every position."""
        out: list[Message] = []
        self._prepare(now_ns, out)
        out.extend(self._flatten(f"operator: {reason}", "operator", now_ns))
        return _ordered(out)

    def resume(self, reason: str, now_ns: int) -> list[Message]:
        """Back to NORMAL: phases enabled as configured, drawdown baselines at today's equity
        (the operator has acknowledged the loss), risk conditions re-applied."""
        out: list[Message] = []
        self._prepare(now_ns, out)
        self.book.resync()
        if self.emergency:  # the kernel disabled every phase on EmergencyFlatten: run them again
            for name in sorted(self.owners):
                if self.owners[name].enabled:
                    out.append(ev.PhaseStatusChanged(
                        phase=name, old=ev.PhaseStatus.DISABLED, new=ev.PhaseStatus.RUNNING,
                        reason=f"resume after emergency flatten: {reason}", ts_event=now_ns,
                        ts_init=now_ns))
        self.emergency = False
        self._venue_errors.clear()
        for p in PHASE_NAMES:
            cfg = self.config.phase(p)
            self.allocator.set_enabled(p, cfg.enabled if cfg is not None else True)
        eq = self.book.equity
        self.drawdown.rebase_peak(eq)
        self.drawdown.start_day(utc_day(now_ns), eq, self.book.pnl_phase, self._budgets())
        self.elevated = {k: v for k, v in self.elevated.items() if not k.startswith("phase:")}
        change = self._breaker.fire(Trigger.RESUME, f"operator: {reason}", now_ns)
        if change is not None:
            out.append(change)
            log.warning("breaker resumed by the operator: %s", reason)
        self._allocate(now_ns, out, f"resume: {reason}", force=True)
        self._sync_breaker(now_ns, out)
        return out

    # ---- rules --------------------------------------------------------------------------------

    def _prepare(self, now_ns: int, out: list[Message]) -> None:
        if now_ns >= self._next_day_ns:
            self._roll_day(now_ns, out)
        eq = self.book.equity
        last = self._alloc_equity
        if not (abs(eq - last) <= 0.005 * abs(last)):  # also true for the first call (nan)
            self._allocate(now_ns, out)

    def _budgets(self) -> dict[str, float]:
        eq, shares = self.book.equity, self.allocator.shares
        return {p: shares.get(p, 0.0) * eq for p in SIZED}

    def _allocate(self, now_ns: int, out: list[Message], reason: str = "", *, force: bool = False) -> None:
        self._alloc_equity = self.book.equity
        change = self.allocator.update(self.book.equity, now_ns, reason, force=force)
        if change is not None:
            out.append(change)

    def _roll_day(self, now_ns: int, out: list[Message]) -> None:
        first = self._next_day_ns < 0
        day = utc_day(now_ns)
        self._next_day_ns = (day + 1) * NS_PER_DAY
        if first:
            self._allocate(now_ns, out)
            self.drawdown.rebase_peak(self.book.equity)
        self.drawdown.start_day(day, self.book.equity, self.book.pnl_phase, self._budgets())
        self.elevated = {k: v for k, v in self.elevated.items() if not k.startswith("phase:")}
        if self._breaker.halted and self._breaker.cause == "daily_loss":
            change = self._breaker.fire(Trigger.RESUME, "UTC day rolled over: daily loss budget reset",
                                        now_ns)
            if change is not None:
                out.append(change)
        self._sync_breaker(now_ns, out)

    def _check_equity(self, now_ns: int, out: list[Message]) -> None:
        eq = self.book.equity
        flatten, daily = self.drawdown.observe_equity(eq)
        if flatten and not self.emergency:
            dd = self.drawdown.portfolio_drawdown(eq)
            out.extend(self._flatten(
                f"portfolio drawdown {dd:.1%} >= {self.drawdown.flatten_drawdown:.0%} "
                f"(equity {eq:,.2f}, peak {self.drawdown.peak:,.2f})", "drawdown", now_ns))
        if daily:
            loss = self.drawdown.daily_loss(eq)
            reason = (f"daily loss {loss:.1%} of start-of-day equity reached the budget "
                      f"{self.drawdown.daily_loss_budget:.0%}: no new entries until 00:00 UTC")
            change = self._breaker.fire(Trigger.HALT, reason, now_ns, cause="daily_loss")
            if change is not None:
                out.append(change)
                out.append(ev.AlertRaised(severity="error", title="daily loss budget reached",
                                          detail=reason, ts_event=now_ns, ts_init=now_ns))
                log.warning("breaker HALTED: %s", reason)

    def _check_phase(self, phase: str, now_ns: int, out: list[Message]) -> None:
        tier = self.drawdown.observe_phase(phase, self.book.pnl_phase.get(phase, 0.0))
        if tier is None:
            return
        tiers = self.drawdown.tiers[phase]
        action = {1: "order sizes reduced", 2: "new entries halted",
                  3: "escalated: Brain DEFENSIVE"}.get(tier, "")
        detail = f"{phase} lost {tiers[tier - 1]:.0%}+ of its budget today: {action}"
        out.append(ev.AlertRaised(severity="warning" if tier < ESCALATE else "error",
                                  title=f"{phase} daily drawdown tier {tier}", detail=detail,
                                  ts_event=now_ns, ts_init=now_ns))
        if tier >= ESCALATE:
            self.elevated["phase:" + phase] = detail
            self._sync_breaker(now_ns, out)

    def _sync_breaker(self, now_ns: int, out: list[Message]) -> None:
        br = self._breaker
        if self.elevated and br.state is BreakerState.NORMAL:
            reason = "; ".join(self.elevated[k] for k in sorted(self.elevated))
            change = br.fire(Trigger.ELEVATE, reason, now_ns)
        elif not self.elevated and br.state is BreakerState.DEFENSIVE:
            change = br.fire(Trigger.CALM, "no risk condition left", now_ns)
        else:
            return
        if change is not None:
            out.append(change)
            log.warning("breaker %s: %s", change.new.value, change.reason)

    # ---- emergency ----------------------------------------------------------------------------

    def _flatten(self, reason: str, source: str, now_ns: int) -> list[Message]:
        """Halt, disable the phases, cancel every order, close every position (reduce-only)."""
        self.emergency = True
        log.error("EMERGENCY FLATTEN (%s): %s", source, reason)
        events: list[Message] = []
        change = self._breaker.fire(Trigger.HALT, f"emergency flatten: {reason}", now_ns,
                                    cause="emergency")
        if change is not None:
            events.append(change)
        self.allocator.disable_all()
        self._allocate(now_ns, events, f"emergency flatten: {reason}", force=True)
        cancels: list[Message] = [
            ev.CancelOrder(client_order_id=o.client_order_id, instrument_id=o.instrument_id,
                           venue_order_id=o.venue_order_id, reason=f"emergency: {reason}",
                           ts_init=now_ns)
            for o in orders_to_cancel(self.view.open_orders())
        ]
        orders = self._close(closing_legs(self.view.positions()), reason, now_ns)
        events.append(ev.AlertRaised(severity="critical", title="emergency flatten",
                                     detail=f"{source}: {reason}", ts_event=now_ns, ts_init=now_ns))
        events.append(ev.EmergencyFlatten(reason=reason, source=source, ts_event=now_ns,
                                          ts_init=now_ns))
        return orders + cancels + events

    def _close(self, plan: dict[str, list[tuple[str, Side, Decimal]]], reason: str,
               now_ns: int) -> list[Message]:
        """Reduce-only market orders (and internal crosses) that flatten ``plan``."""
        out: list[Message] = []
        crosses: list[Message] = []
        check = (CheckResult(name=EMERGENCY_CHECK, passed=True, detail=reason),)
        for iid, legs in plan.items():
            pairs, rest = net(legs)
            m = self.view.mark(iid)
            price = m if m is not None else self._avg_price(iid)
            for b, s, q in pairs:
                crosses.append(ev.InternalCross(
                    cross_id=self.ids.next("cross"), instrument_id=iid, buyer_phase=legs[b][0],
                    seller_phase=legs[s][0], quantity=q, price=price,
                    ts_event=now_ns, ts_init=now_ns))
            for (owner, side, _), q in zip(legs, rest, strict=True):
                if q <= 0:
                    continue
                cid = self.ids.next(owner)
                intent = ev.OrderIntent(phase=owner, instrument_id=iid, side=side, quantity=q,
                                        reduce_only=True, tag=EMERGENCY_CHECK, ts_init=now_ns)
                approval = ev.OrderApproved(client_order_id=cid, phase=owner, intent=intent,
                                            checks=check, ts_event=now_ns, ts_init=now_ns)
                self.last_decisions.append(approval)
                out.append(approval)
                out.append(self._submit(cid, owner, iid, side, q, now_ns,
                                        float(m) if m is not None else 0.0))
                self.book.add_order(owner, iid, side, float(q), True)
        return out + crosses

    def _avg_price(self, iid: str) -> Decimal:
        """A price to cross at when the instrument has no mark yet: the largest leg's entry."""
        legs = [p for p in self.view.positions() if p.instrument_id == iid and p.quantity]
        return max(legs, key=lambda p: abs(p.quantity)).avg_price if legs else Decimal(0)

    def _close_leftovers(self, now_ns: int, iid: str | None = None) -> list[Message]:
        """While in emergency: close what is still open (on ``iid``, or anywhere) and has no
        order working on it."""
        busy = {o.instrument_id for o in self.view.open_orders(instrument_id=iid)}
        left = [p for p in self.view.positions() if p.instrument_id not in busy
                and (iid is None or p.instrument_id == iid)]
        if not left:
            return []
        return self._close(closing_legs(left), "emergency: closing what is left", now_ns)


def _holds(rec: Tracked) -> bool:
    for leg in rec.legs.values():  # noqa: SIM110 - a plain loop: no generator on the timer path
        if leg.qty:
            return True
    return False


_RANK = {ev.OrderApproved: 0, ev.SubmitOrder: 0, ev.OrderDenied: 1, ev.InternalCross: 2,
         ev.CancelOrder: 3}


def _ordered(out: list[Message]) -> list[Message]:
    """Commands first, as the kernel expects: orders, denials, crosses, cancels, then events."""
    return sorted(out, key=lambda m: _RANK.get(m.__class__, 4))
