"""What a backtest leaves behind: the run's record, the venue's final truth, the digest.

:class:`RunRecord` is the kernel's journal during a run: every entry goes to the ``EventLog``
(whose SHA-256 digest identifies the run byte for byte) and the entries the result needs -
fills, funding, orders, denials, rejections, breaker and phase events - are kept as objects,
so nothing is decoded back and the hot loop pays nothing for them (market data is journaled
only when it produced intents).
"""

from __future__ import annotations

from collections import Counter
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from titan.backtest.data import Marks
from titan.core import events as ev
from titan.core.eventlog import EventLog
from titan.core.instruments import Instrument

if TYPE_CHECKING:
    from titan.backtest.runner import BacktestRunner

_SYSTEM = (ev.BreakerChanged, ev.EmergencyFlatten, ev.AlertRaised, ev.PhaseStatusChanged,
           ev.AllocationChanged)


class RunRecord:
    """Journal port for the kernel: forwards to the event log, keeps what the result needs."""

    def __init__(self, log: EventLog) -> None:
        self.log = log
        self.fills: list[ev.OrderFilled] = []
        self.funding: list[ev.FundingPaid] = []
        self.money: list[ev.OrderFilled | ev.FundingPaid] = []  # both, in the order they happened
        self.orders: dict[str, ev.SubmitOrder] = {}
        self.denials: list[ev.OrderDenied] = []
        self.rejects: list[ev.OrderRejected] = []
        self.clipped = 0
        self.system: list[ev.Message] = []
        self._append = log.append

    def append(self, msg: ev.Message) -> int:
        cls = msg.__class__
        if cls is ev.OrderFilled:
            self.fills.append(msg)
            self.money.append(msg)
        elif cls is ev.SubmitOrder:
            self.orders[msg.client_order_id] = msg
        elif cls is ev.FundingPaid:
            self.funding.append(msg)
            self.money.append(msg)
        elif cls is ev.OrderDenied:
            self.denials.append(msg)
        elif cls is ev.OrderRejected:
            self.rejects.append(msg)
        elif cls is ev.OrderApproved:
            if any(c.detail.startswith("clipped") for c in msg.checks):
                self.clipped += 1
        elif isinstance(msg, _SYSTEM):
            self.system.append(msg)
        return self._append(msg)


class BacktestResult:
    """The run's facts; :mod:`titan.backtest.metrics` turns them into statistics."""

    def __init__(self, **fields: Any) -> None:
        self.instruments: dict[str, Instrument] = fields["instruments"]
        self.owners: dict[str, str] = fields["owners"]
        self.currency: str = fields["currency"]
        self.cash: Decimal = fields["cash"]
        self.start_ns: int = fields["start_ns"]
        self.end_ns: int = fields["end_ns"]
        self.events: int = fields["events"]
        self.elapsed_s: float = fields["elapsed_s"]
        self.cpu_s: float = fields["cpu_s"]  # process CPU time of the loop (steadier on a busy machine)
        self.fill_model: str = fields["fill_model"]
        self.fills: list[ev.OrderFilled] = fields["fills"]
        self.orders: dict[str, ev.SubmitOrder] = fields["orders"]
        self.funding: list[ev.FundingPaid] = fields["funding"]
        self.money: list[ev.OrderFilled | ev.FundingPaid] = fields["money"]
        self.denials: list[ev.OrderDenied] = fields["denials"]
        self.rejects: list[ev.OrderRejected] = fields["rejects"]
        self.clipped: int = fields["clipped"]
        self.system: list[ev.Message] = fields["system"]
        self.venue_balances: dict[str, Decimal] = fields["venue_balances"]
        self.venue_positions: dict[str, Decimal] = fields["venue_positions"]
        self.state_equity: Decimal = fields["state_equity"]
        self.venue_equity: Decimal = fields["venue_equity"]
        self.final_marks: dict[str, Decimal] = fields["final_marks"]
        self.marks: dict[str, Marks] = fields["marks"]
        self.digest: str = fields["digest"]
        self.journal_entries: int = fields["journal_entries"]
        self.policy_hash: str = fields["policy_hash"]
        self.counters: dict[str, int] = fields["counters"]
        self.phase_status: dict[str, str] = fields["phase_status"]
        self.faults: dict[str, int] = fields["faults"]
        self.anomalies: int = fields["anomalies"]
        self.log: EventLog = fields["log"]

    @classmethod
    def collect(cls, runner: BacktestRunner, *, start_ns: int, end_ns: int, elapsed_s: float,
                cpu_s: float, marks: dict[str, Marks], policy_hash: str) -> BacktestResult:
        rec, venue, state, kernel = runner.record, runner.venue, runner.state, runner.kernel
        owner_of = {cid: o.phase for cid, o in rec.orders.items()}
        final_marks = {i.id: m for i in runner.instruments if (m := state.mark(i.id)) is not None}
        return cls(
            instruments={i.id: i for i in runner.instruments}, owners=dict(runner.owners),
            currency=runner.currency, cash=runner.cash, start_ns=start_ns, end_ns=end_ns,
            events=runner._done, elapsed_s=elapsed_s, cpu_s=cpu_s, fill_model=runner.fill.value,
            fills=rec.fills, orders=owner_of, funding=rec.funding, money=rec.money, denials=rec.denials,
            rejects=rec.rejects, clipped=rec.clipped, system=rec.system,
            venue_balances=dict(venue.account.balances),
            venue_positions={i.id: venue.position(i.id) for i in runner.instruments},
            state_equity=state.equity(), venue_equity=venue_equity(runner, final_marks),
            final_marks=final_marks,
            marks=marks, digest=rec.log.digest(), journal_entries=rec.log.last_seq,
            policy_hash=policy_hash, counters=kernel.counters,
            phase_status={n: s.value for n, s in kernel.runner.status.items()},
            faults=dict(kernel.runner.faults), anomalies=state.anomaly_count, log=rec.log,
        )

    @property
    def events_per_s(self) -> float:
        return self.events / self.elapsed_s if self.elapsed_s > 0 else 0.0

    def denial_reasons(self) -> list[tuple[str, int, str]]:
        """Denials grouped by the check that failed, most frequent first: (check, count, the
        first such denial's reason)."""
        counts: Counter[str] = Counter()
        example: dict[str, str] = {}
        for d in self.denials:
            failed = next((c.name for c in d.checks if not c.passed), "denied")
            counts[failed] += 1
            example.setdefault(failed, d.reason)
        return [(name, n, example[name]) for name, n in counts.most_common()]


def venue_equity(runner: BacktestRunner, marks: dict[str, Decimal]) -> Decimal:
    """The SimVenue's account valued at the final marks, in the account currency: balances
    (spot holdings at their mark) plus derivatives' unrealized PnL against the venue's own
    average prices."""
    acct = runner.currency
    total = Decimal(0)
    for ccy, amount in runner.venue.account.balances.items():
        if ccy == acct:
            total += amount
            continue
        inst = next((i for i in runner.instruments if i.is_spot and i.base == ccy and i.quote == acct), None)
        if inst is not None and inst.id in marks:
            total += amount * marks[inst.id]
    for iid, h in runner.venue.account.holdings.items():
        inst = next(i for i in runner.instruments if i.id == iid)
        if h.quantity and not inst.is_spot and iid in marks:
            total += h.quantity * (marks[iid] - h.avg_price) * inst.contract_size
    return total
