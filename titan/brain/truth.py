"""Truth score 0-100: how far Titan may trust its own picture of the world.

100 means the last reconciliation found the state equal to every venue, nothing is stuck in
flight, every feed is live and the venue acknowledges orders promptly. Each kind of doubt costs
points (:func:`truth_score`, pure); below ``brain.truth_score_min`` the Brain refuses new risk
while reducing orders still pass. A failed reconciliation or an event log that cannot be
written costs everything: Titan must not add risk it could not account for after a crash.

:class:`TruthTracker` gathers the inputs from events (``ReconciliationCompleted``,
``FeedStatusChanged``, submits and acks, ``AlertRaised`` from the event log) and from the state
(in-flight orders past ``state.inflight_timeout_s``), and returns a ``TruthScoreChanged`` only
when the score moves, for the kernel to publish.

First sight is not doubt: the first reconciliation with a venue whose account Titan has never
seen (a fresh event log, a venue newly enabled) sets every balance from nothing. Those
corrective ``BalanceSet``s say nothing about how well Titan tracked the venue, so they are not
counted as discrepancies; a later reconciliation that has to correct a balance Titan did know
is. The tracker learns which accounts are known from the events it sees (a balance set outside
a reconciliation, a completed reconciliation); a daemon restarting on an existing log tells it
which venues that log knew (:meth:`TruthTracker.know_accounts`).
"""

from __future__ import annotations

from collections.abc import Iterable

import msgspec

from titan.core import events as ev
from titan.core.orders import Order, OrderStatus

IN_FLIGHT = frozenset({OrderStatus.SUBMITTED, OrderStatus.PENDING_CANCEL})
FEED_DOWN = frozenset({ev.FeedStatus.STALE, ev.FeedStatus.DISCONNECTED})
FEED_UP = frozenset({ev.FeedStatus.CONNECTED, ev.FeedStatus.RESYNCED})


class TruthInputs(msgspec.Struct, frozen=True, kw_only=True):
    reconcile_failed: bool = False
    position_discrepancies: int = 0  # found by the latest reconciliation of each venue
    order_discrepancies: int = 0
    stuck_orders: int = 0  # submitted / cancel pending for longer than the in-flight timeout
    feeds: int = 0  # streams seen
    feeds_down: int = 0  # stale or disconnected
    feed_gaps: int = 0  # gap reported, not yet resynced
    ack_latency_ms: float | None = None  # smoothed submit -> ack
    max_ack_latency_ms: float = 3000.0
    journal_ok: bool = True  # the event log can be written
    anomalies: int = 0  # events the state could not fold cleanly since the last reconciliation


def truth_score(t: TruthInputs) -> tuple[float, dict[str, float]]:
    """The score and the points each component took off (only the non-zero ones)."""
    off: dict[str, float] = {
        "reconcile": 100.0 if t.reconcile_failed else 0.0,
        "journal": 0.0 if t.journal_ok else 100.0,
        "positions": min(60.0, 20.0 * t.position_discrepancies),
        "orders": min(30.0, 5.0 * t.order_discrepancies),
        "in_flight": min(40.0, 10.0 * t.stuck_orders),
        "feeds": (min(60.0, 20.0 + 40.0 * t.feeds_down / max(t.feeds, 1))
                  if t.feeds_down else 0.0),
        "gaps": min(30.0, 10.0 * t.feed_gaps),
        "ack_latency": (min(30.0, 30.0 * (t.ack_latency_ms / t.max_ack_latency_ms - 1.0))
                        if t.ack_latency_ms is not None
                        and t.ack_latency_ms > t.max_ack_latency_ms else 0.0),
        "anomalies": min(20.0, 2.0 * t.anomalies),
    }
    off = {k: round(v, 1) for k, v in off.items() if v > 0}
    return round(max(0.0, 100.0 - sum(off.values())), 1), off


class TruthTracker:
    """Collects the inputs of the truth score; ``evaluate`` says when it changed."""

    def __init__(self, *, inflight_timeout_s: float = 30.0, max_ack_latency_ms: float = 3000.0,
                 smoothing: float = 0.2) -> None:
        self.inflight_timeout_ns = int(inflight_timeout_s * 1e9)
        self.max_ack_latency_ms = max_ack_latency_ms
        self.smoothing = smoothing
        self._reconciled: dict[str, ev.ReconciliationCompleted] = {}
        self._feeds: dict[tuple[str, str], ev.FeedStatus] = {}
        self._sent: dict[str, int] = {}
        self._ack_ms: float | None = None
        self._journal_ok = True
        self._anomaly_base = 0
        self._accounts: set[str] = set()  # venues whose balances Titan has seen
        self._first_sight: dict[str, int] = {}  # venue -> reconciliation balances set from nothing
        self.score: float | None = None
        self.components: dict[str, float] = {}

    @classmethod
    def from_config(cls, config) -> TruthTracker:
        return cls(inflight_timeout_s=config.state.inflight_timeout_s,
                   max_ack_latency_ms=config.brain.max_ack_latency_ms)

    def on_event(self, e: ev.Message) -> None:
        """Feed every logged message through here (cheap; ignores what it does not use)."""
        cls = e.__class__
        if cls is ev.SubmitOrder:
            self._sent[e.client_order_id] = e.ts_init
        elif cls in _ANSWERS:
            sent = self._sent.pop(e.client_order_id, None)
            if sent is not None and cls is ev.OrderAccepted and e.ts_init >= sent:
                ms = (e.ts_init - sent) / 1e6
                a = self.smoothing
                self._ack_ms = ms if self._ack_ms is None else (1 - a) * self._ack_ms + a * ms
        elif cls is ev.FeedStatusChanged:
            self._feeds[(e.venue, e.instrument_id)] = e.status
        elif cls is ev.ReconciliationCompleted:
            self._reconciled[e.venue] = self._discount_first_sight(e)
        elif cls is ev.BalanceSet:
            if not e.reason.startswith(RECONCILE_REASON):
                self._accounts.add(e.venue)  # initial cash, a deposit: the account is known
            elif e.venue not in self._accounts:
                self._first_sight[e.venue] = self._first_sight.get(e.venue, 0) + 1
        elif cls is ev.AlertRaised and e.title.startswith("event log "):
            self._journal_ok = e.title != "event log write failed"

    @property
    def accounts(self) -> frozenset[str]:
        """Venues whose account Titan has seen (balance corrections there are doubts)."""
        return frozenset(self._accounts)

    def know_accounts(self, venues: Iterable[str]) -> None:
        """Venues whose account the state already knew (from a replayed event log, see
        :func:`accounts_seen`): their balance corrections count from the first reconciliation."""
        self._accounts.update(venues)

    def _discount_first_sight(self, e: ev.ReconciliationCompleted) -> ev.ReconciliationCompleted:
        first = min(self._first_sight.pop(e.venue, 0), e.position_discrepancies)
        self._accounts.update(accounts_seen((e,)))
        if not first:
            return e
        return msgspec.structs.replace(e, discrepancies=e.discrepancies - first,
                                       position_discrepancies=e.position_discrepancies - first)

    def reconciled(self, anomaly_count: int) -> None:
        """Call after a reconciliation was applied: the state's anomalies so far are settled."""
        self._anomaly_base = anomaly_count

    def inputs(self, open_orders: Iterable[Order], now_ns: int, *, anomaly_count: int = 0,
               journal_ok: bool | None = None) -> TruthInputs:
        horizon = now_ns - self.inflight_timeout_ns
        stuck = sum(1 for o in open_orders if o.status in IN_FLIGHT and o.ts_last < horizon)
        recs = self._reconciled.values()
        feeds = self._feeds.values()
        return TruthInputs(
            reconcile_failed=any(not r.ok for r in recs),
            position_discrepancies=sum(r.position_discrepancies for r in recs),
            order_discrepancies=sum(r.order_discrepancies for r in recs),
            stuck_orders=stuck,
            feeds=len(self._feeds),
            feeds_down=sum(1 for s in feeds if s in FEED_DOWN),
            feed_gaps=sum(1 for s in feeds if s is ev.FeedStatus.GAP),
            ack_latency_ms=self._ack_ms,
            max_ack_latency_ms=self.max_ack_latency_ms,
            journal_ok=self._journal_ok if journal_ok is None else journal_ok,
            anomalies=max(0, anomaly_count - self._anomaly_base),
        )

    def evaluate(self, open_orders: Iterable[Order], now_ns: int, *, anomaly_count: int = 0,
                 journal_ok: bool | None = None) -> ev.TruthScoreChanged | None:
        """The new score as an event if it differs from the last one published, else None."""
        score, components = truth_score(self.inputs(
            open_orders, now_ns, anomaly_count=anomaly_count, journal_ok=journal_ok))
        if score == self.score and components == self.components:
            return None
        self.score, self.components = score, components
        return ev.TruthScoreChanged(score=score, components=components, ts_event=now_ns,
                                    ts_init=now_ns)


def accounts_seen(messages: Iterable[ev.Message]) -> set[str]:
    """Venues whose account these messages show Titan has seen: a balance set, or a
    reconciliation the venue answered (a failed snapshot shows nothing)."""
    out: set[str] = set()
    for m in messages:
        cls = m.__class__
        if cls is ev.BalanceSet or (cls is ev.ReconciliationCompleted and (m.ok or m.discrepancies)):
            out.add(m.venue)  # type: ignore[attr-defined]
    return out


RECONCILE_REASON = "reconcile "  # how titan.execution.reconcile words its corrections
_ANSWERS = frozenset({ev.OrderAccepted, ev.OrderRejected, ev.OrderFilled, ev.OrderCanceled,
                      ev.OrderExpired})
