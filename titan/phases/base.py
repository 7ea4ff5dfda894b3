"""The ``Phase`` interface: how built-in phases and user strategies plug into the kernel.

A phase reads market data and returns decisions as data: every hook returns ``OrderIntent``s (or
None), never places an order. The Brain alone turns intents into orders. The same phase object
runs unchanged in a backtest, in paper trading and live, because everything it touches comes
through its :class:`PhaseContext` (clock, read-only state view, instruments, timers).

A phase declares what it needs (``streams``) and carries a typed ``Params`` struct, built from
the config's ``params`` table and validated once at load.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from decimal import Decimal
from typing import TYPE_CHECKING, Any, ClassVar, Literal

import msgspec

from titan.core import events as ev
from titan.core.instruments import InstrumentRegistry, to_decimal
from titan.core.views import PortfolioView

if TYPE_CHECKING:
    from titan.core.clock import Clock

Intents = Iterable[ev.OrderIntent] | None
StreamKind = Literal["bar", "trade", "quote", "book", "funding", "mark"]


class Stream(msgspec.Struct, frozen=True, kw_only=True):
    """One market-data subscription: ``kind`` for ``instrument_id`` (``timeframe`` for bars)."""

    kind: StreamKind
    instrument_id: str
    timeframe: str = ""


class Params(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Base for a phase's typed parameters (subclass it as ``MyPhase.Params``)."""


class PhaseContext:
    """What a phase may touch: time, timers, a read-only view of state, the instruments.

    The kernel creates one per phase. ``view`` is the shared ``PortfolioView``: phases read their
    own positions through it (``position``) and must never mutate anything.
    """

    __slots__ = ("owner", "clock", "view", "instruments", "_timer_prefix", "_emit", "_budget")

    def __init__(
        self,
        owner: str,
        clock: Clock,
        view: PortfolioView,
        instruments: InstrumentRegistry,
        emit: Callable[[ev.Message], None] | None = None,
        budget: Callable[[], Decimal | None] | None = None,
    ) -> None:
        self.owner = owner
        self.clock = clock
        self.view = view
        self.instruments = instruments
        self._timer_prefix = f"{owner}:"
        self._emit = emit
        self._budget = budget

    def budget(self) -> Decimal | None:
        """The capital the Brain currently allocates to this phase's family (None if unknown).

        Size from this rather than from total equity: the Brain caps every order to it anyway.
        """
        return self._budget() if self._budget is not None else None

    def publish(self, event: ev.Message) -> None:
        """Hand an advisory system event to the kernel (e.g. AI Quant's ``RegimeChanged``).

        It reaches the Brain like any system event; it can never place an order.
        """
        if isinstance(event, (ev.OrderIntent, ev.Command, ev.OrderEvent)):
            raise TypeError(f"{self.owner}: publish() is for system events, not {type(event).__name__}")
        if self._emit is not None:
            self._emit(event)

    def now_ns(self) -> int:
        return self.clock.now_ns()

    def set_timer(self, name: str, interval_ns: int, *, start_ns: int | None = None) -> None:
        """A repeating timer; ``on_timer`` receives it with ``name`` (without the owner prefix)."""
        self.clock.set_timer(self._timer_prefix + name, interval_ns, start_ns=start_ns)

    def set_alert(self, name: str, at_ns: int) -> None:
        self.clock.set_alert(self._timer_prefix + name, at_ns)

    def cancel_timer(self, name: str) -> None:
        self.clock.cancel_timer(self._timer_prefix + name)

    def position(self, instrument_id: str) -> Decimal:
        """This phase's signed position in the instrument."""
        return self.view.position_qty(instrument_id, self.owner)


class Phase:
    """Base class. Subclasses set ``name`` (the owner tag on its orders), ``family`` (the capital
    phase whose budget it trades in), ``streams`` (or override :meth:`subscriptions`), an optional
    nested ``Params`` struct, and override the hooks they need.
    """

    name: ClassVar[str] = ""
    family: ClassVar[str] = "hunter"
    Params: ClassVar[type[Params]] = Params
    streams: ClassVar[tuple[Stream, ...]] = ()

    def __init__(
        self,
        params: Params | None = None,
        *,
        name: str | None = None,
        instruments: Iterable[str] = (),
        timeframe: str = "1m",
    ) -> None:
        self.params = params if params is not None else type(self).Params()
        self.owner = name or type(self).name or type(self).__name__.lower()
        self.instruments: tuple[str, ...] = tuple(instruments)
        self.timeframe = timeframe
        self.ctx: PhaseContext | None = None

    # --- wiring -------------------------------------------------------------------------------

    def bind(self, ctx: PhaseContext) -> None:
        """Called once by the kernel before ``on_start``."""
        self.ctx = ctx

    def subscriptions(self) -> tuple[Stream, ...]:
        """The streams this phase reads: the class-level ``streams`` if declared, else one bar
        stream per configured instrument at the configured timeframe."""
        declared = type(self).streams
        if declared:
            return declared
        return tuple(bar_stream(iid, self.timeframe) for iid in self.instruments)

    # --- hooks (return intents or None) ---------------------------------------------------------

    def on_start(self) -> Intents:
        return None

    def on_bar(self, bar: ev.Bar) -> Intents:
        return None

    def on_trade(self, trade: ev.Trade) -> Intents:
        return None

    def on_quote(self, quote: ev.Quote) -> Intents:
        return None

    def on_book(self, delta: ev.BookDelta) -> Intents:
        return None

    def on_funding(self, funding: ev.FundingRate) -> Intents:
        return None

    def on_mark(self, mark: ev.MarkPrice) -> Intents:
        return None

    def on_timer(self, event: ev.TimeEvent) -> Intents:
        return None

    def on_order(self, event: ev.Message) -> Intents:
        """Execution events for this phase's orders (accepted, filled, canceled, denied...)."""
        return None

    def on_stop(self) -> Intents:
        return None

    # --- intent builders ------------------------------------------------------------------------

    def intent(
        self,
        instrument_id: str,
        side: ev.Side,
        quantity: Decimal | float | int | str,
        *,
        price: Decimal | float | str | None = None,
        trigger_price: Decimal | float | str | None = None,
        order_type: ev.OrderType | None = None,
        post_only: bool = False,
        reduce_only: bool = False,
        time_in_force: ev.TimeInForce = ev.TimeInForce.GTC,
        tag: str = "",
    ) -> ev.OrderIntent:
        """Build an intent owned by this phase. The order type defaults from the prices given."""
        if order_type is None:
            if trigger_price is not None:
                order_type = ev.OrderType.STOP_LIMIT if price is not None else ev.OrderType.STOP_MARKET
            else:
                order_type = ev.OrderType.LIMIT if price is not None else ev.OrderType.MARKET
        return ev.OrderIntent(
            phase=self.owner,
            instrument_id=instrument_id,
            side=side,
            quantity=to_decimal(quantity),
            order_type=order_type,
            price=None if price is None else to_decimal(price),
            trigger_price=None if trigger_price is None else to_decimal(trigger_price),
            time_in_force=time_in_force,
            post_only=post_only,
            reduce_only=reduce_only,
            tag=tag,
            ts_init=self.ctx.now_ns() if self.ctx is not None else 0,
        )

    def buy(self, instrument_id: str, quantity: Any, **kw: Any) -> ev.OrderIntent:
        return self.intent(instrument_id, ev.Side.BUY, quantity, **kw)

    def sell(self, instrument_id: str, quantity: Any, **kw: Any) -> ev.OrderIntent:
        return self.intent(instrument_id, ev.Side.SELL, quantity, **kw)

    def cancel(self, client_order_id: str, *, reason: str = "") -> ev.CancelIntent:
        """Ask to cancel one of this phase's working orders (see ``open_orders``)."""
        return ev.CancelIntent(
            phase=self.owner, client_order_id=client_order_id, reason=reason,
            ts_init=self.ctx.now_ns() if self.ctx is not None else 0,
        )

    def open_orders(self, instrument_id: str | None = None) -> list:
        """This phase's working orders (``titan.core.orders.Order``, read-only by convention)."""
        if self.ctx is None:
            return []
        return list(self.ctx.view.open_orders(self.owner, instrument_id))

    def position(self, instrument_id: str) -> Decimal:
        if self.ctx is None:
            return Decimal(0)
        return self.ctx.position(instrument_id)

    def close(self, instrument_id: str, *, tag: str = "close") -> ev.OrderIntent | None:
        """A reduce-only market intent that flattens this phase's position, or None if flat."""
        qty = self.position(instrument_id)
        if qty == 0:
            return None
        side = ev.Side.SELL if qty > 0 else ev.Side.BUY
        return self.intent(instrument_id, side, abs(qty), reduce_only=True, tag=tag)


def bar_stream(instrument_id: str, timeframe: str = "1m") -> Stream:
    return Stream(kind="bar", instrument_id=instrument_id, timeframe=timeframe)
