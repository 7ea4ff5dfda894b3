"""Every message Titan passes around: market data, intents, commands, order and system events.

All are frozen msgspec Structs (``kw_only``), tagged with their class name so the whole union
round-trips through one msgpack codec (see ``titan.core.codec``). Types are checked when a message
is *decoded*, not when it is constructed (msgspec's policy): validate at the edge, trust inside.

Times are ``ts_event`` (when it happened, venue time where known) and ``ts_init`` (when Titan
created the object), int nanoseconds since the Unix epoch, UTC. Commands are imperative
(``SubmitOrder``), events are past tense (``OrderFilled``).

Market data carries floats (signals may be float); anything that moves money - order quantity and
price, fills, fees, funding, balances - is ``Decimal``.
"""

from __future__ import annotations

from decimal import Decimal
from enum import Enum

import msgspec

# --------------------------------------------------------------------------------------------
# Enumerations (str-valued so logs, JSON and the event log stay readable)


class Side(str, Enum):
    BUY = "buy"
    SELL = "sell"

    @property
    def sign(self) -> int:
        return 1 if self is Side.BUY else -1

    @property
    def opposite(self) -> Side:
        return Side.SELL if self is Side.BUY else Side.BUY


class OrderType(str, Enum):
    MARKET = "market"
    LIMIT = "limit"
    STOP_MARKET = "stop_market"
    STOP_LIMIT = "stop_limit"


class TimeInForce(str, Enum):
    GTC = "gtc"
    IOC = "ioc"
    FOK = "fok"


class Liquidity(str, Enum):
    MAKER = "maker"
    TAKER = "taker"


class ErrorKind(str, Enum):
    """How a venue failure is classified; decides whether anything may be retried."""

    TEMPORARY = "temporary"
    RATE_LIMITED = "rate_limited"
    INVALID_ORDER = "invalid_order"
    INSUFFICIENT_FUNDS = "insufficient_funds"
    AUTH = "auth"
    NOT_FOUND = "not_found"
    POLICY = "policy"
    UNKNOWN = "unknown"


class BreakerState(str, Enum):
    NORMAL = "NORMAL"
    DEFENSIVE = "DEFENSIVE"
    HALTED = "HALTED"


class FeedStatus(str, Enum):
    CONNECTED = "connected"
    DISCONNECTED = "disconnected"
    STALE = "stale"
    GAP = "gap"
    RESYNCED = "resynced"


class PhaseStatus(str, Enum):
    STARTING = "STARTING"
    RUNNING = "RUNNING"
    DEGRADED = "DEGRADED"
    DISABLED = "DISABLED"


# --------------------------------------------------------------------------------------------
# Base classes


class Message(msgspec.Struct, frozen=True, kw_only=True, tag=True):
    """Base of every message. The msgpack tag is the class name."""


class Data(Message, frozen=True, kw_only=True, gc=False):
    """Market data about one instrument."""

    instrument_id: str
    ts_event: int
    ts_init: int


class Event(Message, frozen=True, kw_only=True):
    """Something that happened (past tense)."""

    ts_event: int
    ts_init: int


class Command(Message, frozen=True, kw_only=True):
    """Something Titan asks a venue to do (imperative)."""

    ts_init: int


# --------------------------------------------------------------------------------------------
# Market data


class Trade(Data, frozen=True, kw_only=True, gc=False):
    """One public trade. ``aggressor`` is the taker's side."""

    price: float
    size: float
    aggressor: Side
    trade_id: str = ""


class Quote(Data, frozen=True, kw_only=True, gc=False):
    """Best bid and offer."""

    bid: float
    bid_size: float
    ask: float
    ask_size: float


class BookDelta(Data, frozen=True, kw_only=True, gc=False):
    """A batch of L2 level changes (size 0 removes the level), or a full snapshot.

    ``first_update_id``/``last_update_id`` carry Binance's ``U``/``u`` (Bybit: ``u`` in both);
    ``prev_update_id`` is Binance futures' ``pu`` (or -1); ``sequence`` is Bybit's ``seq``.
    """

    bids: tuple[tuple[float, float], ...]
    asks: tuple[tuple[float, float], ...]
    is_snapshot: bool = False
    first_update_id: int = -1
    last_update_id: int = -1
    prev_update_id: int = -1
    sequence: int = -1


class Bar(Data, frozen=True, kw_only=True, gc=False):
    """OHLCV over ``[ts_open, ts_event)``. ``ts_event`` is the close time (when it is known).

    ``closed`` is False for an in-progress update of a bar that has not finished yet.
    """

    timeframe: str
    ts_open: int
    open: float
    high: float
    low: float
    close: float
    volume: float
    closed: bool = True


class FundingRate(Data, frozen=True, kw_only=True, gc=False):
    """A perpetual's funding rate (fraction per interval); ``ts_next`` is the next settlement."""

    rate: float
    ts_next: int = 0
    interval_ns: int = 8 * 3600 * 1_000_000_000


class MarkPrice(Data, frozen=True, kw_only=True, gc=False):
    mark: float
    index: float = 0.0


class OpenInterest(Data, frozen=True, kw_only=True, gc=False):
    value: float


class Liquidation(Data, frozen=True, kw_only=True, gc=False):
    """A forced liquidation order seen on the public stream; ``side`` is the liquidation order's."""

    side: Side
    price: float
    size: float


class TimeEvent(Event, frozen=True, kw_only=True):
    """A timer set on the clock fell due."""

    name: str


# --------------------------------------------------------------------------------------------
# Decisions and commands


class OrderIntent(Message, frozen=True, kw_only=True):
    """What a phase would like to do. Only the Brain turns it into a ``SubmitOrder``.

    ``quantity`` is in base units (contracts for contract instruments). ``reduce_only`` intents
    may pass gates that block new risk.
    """

    phase: str
    instrument_id: str
    side: Side
    quantity: Decimal
    order_type: OrderType = OrderType.MARKET
    price: Decimal | None = None
    trigger_price: Decimal | None = None
    time_in_force: TimeInForce = TimeInForce.GTC
    post_only: bool = False
    reduce_only: bool = False
    tag: str = ""
    ts_init: int = 0


class SubmitOrder(Command, frozen=True, kw_only=True):
    """An order the Brain approved: rounded to the instrument, stamped with the policy hash."""

    client_order_id: str
    phase: str
    instrument_id: str
    side: Side
    order_type: OrderType
    quantity: Decimal
    price: Decimal | None = None
    trigger_price: Decimal | None = None
    time_in_force: TimeInForce = TimeInForce.GTC
    post_only: bool = False
    reduce_only: bool = False
    policy_hash: str = ""
    tag: str = ""


class CancelOrder(Command, frozen=True, kw_only=True):
    client_order_id: str
    instrument_id: str
    venue_order_id: str = ""
    reason: str = ""


class CancelAllOrders(Command, frozen=True, kw_only=True):
    instrument_id: str = ""
    reason: str = ""


class CheckResult(msgspec.Struct, frozen=True, kw_only=True):
    """One risk check applied to an intent, kept on the decision for ``titan explain``."""

    name: str
    passed: bool
    detail: str = ""


class OrderDenied(Event, frozen=True, kw_only=True):
    """The Brain refused an intent. A denial is an event, not an exception."""

    client_order_id: str
    phase: str
    instrument_id: str
    reason: str
    intent: OrderIntent
    checks: tuple[CheckResult, ...] = ()


class OrderApproved(Event, frozen=True, kw_only=True):
    """The Brain's record of an approved intent and the checks it passed (for ``explain``)."""

    client_order_id: str
    phase: str
    intent: OrderIntent
    checks: tuple[CheckResult, ...] = ()


# --------------------------------------------------------------------------------------------
# Order events (from a venue or the simulated venue)


class OrderEvent(Event, frozen=True, kw_only=True):
    client_order_id: str


class OrderAccepted(OrderEvent, frozen=True, kw_only=True):
    venue_order_id: str


class OrderRejected(OrderEvent, frozen=True, kw_only=True):
    reason: str
    kind: ErrorKind = ErrorKind.UNKNOWN


class OrderFilled(OrderEvent, frozen=True, kw_only=True):
    """One execution. ``fee`` is positive when paid, negative for a rebate."""

    venue_order_id: str
    trade_id: str
    instrument_id: str
    side: Side
    last_qty: Decimal
    last_price: Decimal
    fee: Decimal
    fee_currency: str
    liquidity: Liquidity


class OrderCanceled(OrderEvent, frozen=True, kw_only=True):
    reason: str = ""


class OrderExpired(OrderEvent, frozen=True, kw_only=True):
    reason: str = ""


class OrderTriggered(OrderEvent, frozen=True, kw_only=True):
    """A stop order's trigger price was reached."""


class OrderCancelRejected(OrderEvent, frozen=True, kw_only=True):
    reason: str
    kind: ErrorKind = ErrorKind.UNKNOWN


# --------------------------------------------------------------------------------------------
# Account events


class FundingPaid(Event, frozen=True, kw_only=True):
    """Funding settled on a perpetual position: ``amount`` > 0 was received, < 0 was paid."""

    instrument_id: str
    phase: str
    rate: Decimal
    amount: Decimal
    currency: str


class BalanceSet(Event, frozen=True, kw_only=True):
    """An account balance was set to an absolute value (deposit, initial cash, correction)."""

    venue: str
    currency: str
    total: Decimal
    reason: str = ""


# --------------------------------------------------------------------------------------------
# System events


class BreakerChanged(Event, frozen=True, kw_only=True):
    old: BreakerState
    new: BreakerState
    reason: str


class FeedStatusChanged(Event, frozen=True, kw_only=True):
    """A market-data stream changed health; ``instrument_id`` is empty for a whole connection."""

    venue: str
    instrument_id: str
    status: FeedStatus
    detail: str = ""


class PhaseStatusChanged(Event, frozen=True, kw_only=True):
    phase: str
    old: PhaseStatus
    new: PhaseStatus
    reason: str = ""


class RegimeChanged(Event, frozen=True, kw_only=True):
    regime: str
    confidence: float = 1.0
    source: str = ""


class AllocationChanged(Event, frozen=True, kw_only=True):
    """The Allocator moved budget between phases (equity, regime or performance changed)."""

    budgets: dict[str, Decimal]
    reason: str = ""


class TruthScoreChanged(Event, frozen=True, kw_only=True):
    score: float
    components: dict[str, float] = {}


class AlertRaised(Event, frozen=True, kw_only=True):
    severity: str
    title: str
    detail: str = ""


class EmergencyFlatten(Event, frozen=True, kw_only=True):
    """All entries halted, orders canceled and positions closed by reduce-only market orders."""

    reason: str
    source: str = ""


# --------------------------------------------------------------------------------------------
# Netting (Brain)


class InternalCross(Event, frozen=True, kw_only=True):
    """Opposing intents of two phases in one tick, netted inside Titan.

    ``quantity`` moves from ``seller_phase`` to ``buyer_phase`` at ``price`` (the mark at decision
    time): per-phase positions change, the venue's net position does not, no fee is charged.
    """

    cross_id: str
    instrument_id: str
    buyer_phase: str
    seller_phase: str
    quantity: Decimal
    price: Decimal


# --------------------------------------------------------------------------------------------
# State and reconciliation (issue 6: event log, shadow state, recovery)


class OrderAdopted(OrderEvent, frozen=True, kw_only=True):
    """A venue order Titan had no record of, taken into the shadow state by reconciliation.

    ``filled_qty`` is the part already filled whose fills are not replayed as ``OrderFilled``
    (their money is corrected through ``PositionCorrected`` / ``BalanceSet``).
    """

    venue_order_id: str
    instrument_id: str
    phase: str
    side: Side
    order_type: OrderType
    quantity: Decimal
    filled_qty: Decimal = Decimal(0)
    price: Decimal | None = None
    reduce_only: bool = False
    correction_id: str = ""


class PositionCorrected(Event, frozen=True, kw_only=True):
    """Reconciliation set an instrument's net position to the venue's (absolute, not a delta).

    ``phase_quantities`` gives the new quantity of every phase sub-position that changes, so the
    sub-positions still sum to ``quantity``. No PnL is realized: money is corrected by
    ``BalanceSet``.
    """

    correction_id: str
    instrument_id: str
    quantity: Decimal
    avg_price: Decimal
    phase_quantities: dict[str, Decimal] = {}
    reason: str = ""


class ReconciliationCompleted(Event, frozen=True, kw_only=True):
    """One reconciliation against one venue: what differed and whether state now agrees."""

    venue: str
    ok: bool
    reason: str = ""
    discrepancies: int = 0
    position_discrepancies: int = 0
    order_discrepancies: int = 0
    corrections: int = 0
    startup: bool = False


# --------------------------------------------------------------------------------------------
# Daemon (issue 9: titan run)


class SessionStarted(Event, frozen=True, kw_only=True):
    """``titan run`` began trading: after recovery, before the first market event.

    ``mode`` is ``paper`` or ``live``; ``market`` is ``replay`` (a recording through the local
    replay server) or ``venue`` (the venues' websockets).
    """

    mode: str
    market: str
    venues: tuple[str, ...] = ()
    policy_hash: str = ""
    version: str = ""
    recovered: int = 0  # log entries replayed at startup
    ready: bool = True  # False: recovery could not make the state agree; trading halted


class SessionStopped(Event, frozen=True, kw_only=True):
    """The last entry of a clean shutdown: everything before it is flushed to the log."""

    reason: str
    clean: bool = True
    open_orders: int = 0  # left working at the venue (``execution.cancel_on_shutdown = false``)


# --------------------------------------------------------------------------------------------
# Phase cancel requests


class CancelIntent(Message, frozen=True, kw_only=True):
    """A phase asks to cancel one of its own working orders (a stale limit, the other leg of a
    stop/target pair). The Brain turns it into a ``CancelOrder`` if the order is open and belongs
    to that phase; cancels only ever reduce risk, so no other check applies."""

    phase: str
    client_order_id: str
    reason: str = ""
    ts_init: int = 0
