"""The venue-neutral core of the emulator: markets, a recorded book, accounts, orders, matching.

One :class:`Exchange` is one account section of a venue (Bybit's unified account covers spot and
linear; Binance spot and Binance USD-M are separate wallets). The dialect modules (``bybit``,
``binance``, ``mexc``) translate HTTP/websocket requests into calls here and the outcomes back
into each venue's JSON; everything that moves money is ``Decimal``.

Matching rules (documented so tests can compute expectations independently):

* The book is the recorded one (:mod:`.tape`). Taker orders walk it level by level; what they take
  is remembered per level until the tape rewrites that level, so liquidity is not taken twice.
  Each level taken is one fill (one trade id) at that level's price, charged the taker fee.
* A limit order that does not cross rests. It fills as maker, at its own price, when a recorded
  trade prints at or through it, or when the recorded book crosses it.
* Post-only orders that would cross are refused (``post_only_cross="reject"``) or accepted and
  immediately cancelled (``"cancel"``, Bybit's behaviour).
* Reduce-only (contracts only) must shrink the position; the quantity is capped at its size.
* Stop orders wait (``untriggered``) until the last trade price reaches the trigger.
* Spot: buys lock quote, sells lock base; the fee is taken from the asset received.
  Linear: orders reserve initial margin (notional / leverage); fees and realised PnL settle in
  the quote currency; funding moves ``size * mark * rate`` from longs to shorts, at every recorded
  funding time the tape passes (``funding_schedule``) or on request (:meth:`Exchange.settle_funding`).
"""

from __future__ import annotations

import itertools
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import ROUND_DOWN, Decimal
from enum import Enum

from tests.kit.emulator.tape import BookUpdate, Tape, TradePrint

ZERO = Decimal(0)


class Reject(str, Enum):
    """Why the engine refused a request; each dialect maps it to the venue's real error."""

    UNKNOWN_SYMBOL = "unknown_symbol"
    BAD_QTY = "bad_qty"
    BAD_PRICE = "bad_price"
    MIN_NOTIONAL = "min_notional"
    INSUFFICIENT_FUNDS = "insufficient_funds"
    REDUCE_ONLY = "reduce_only"
    POST_ONLY = "post_only"
    DUPLICATE_ID = "duplicate_id"
    UNKNOWN_ORDER = "unknown_order"
    NO_LIQUIDITY = "no_liquidity"
    FOK = "fok"


class EngineError(Exception):
    def __init__(self, reject: Reject, detail: str = "") -> None:
        super().__init__(f"{reject.value}: {detail}" if detail else reject.value)
        self.reject = reject
        self.detail = detail


@dataclass(frozen=True)
class MarketSpec:
    """One market as the venue lists it. ``symbol`` is the venue id (``BTCUSDT``)."""

    symbol: str
    kind: str  # "spot" | "linear"
    base: str
    quote: str
    tick: Decimal
    lot: Decimal
    min_qty: Decimal
    max_qty: Decimal
    min_notional: Decimal
    maker_fee: Decimal
    taker_fee: Decimal
    max_leverage: Decimal = Decimal(100)
    funding_interval_h: int = 8

    @property
    def is_spot(self) -> bool:
        return self.kind == "spot"


class Status(str, Enum):
    NEW = "new"
    PARTIALLY_FILLED = "partially_filled"
    FILLED = "filled"
    CANCELED = "canceled"
    REJECTED = "rejected"
    EXPIRED = "expired"
    UNTRIGGERED = "untriggered"

    @property
    def is_open(self) -> bool:
        return self in (Status.NEW, Status.PARTIALLY_FILLED, Status.UNTRIGGERED)


@dataclass
class EmuOrder:
    order_id: str
    client_id: str
    symbol: str
    side: str  # "buy" | "sell"
    type: str  # "limit" | "market"
    qty: Decimal
    price: Decimal | None
    tif: str = "GTC"  # GTC | IOC | FOK | PostOnly
    reduce_only: bool = False
    trigger_price: Decimal | None = None
    trigger_direction: int = 0  # 1: fires when price rises to trigger, 2: when it falls
    status: Status = Status.NEW
    filled: Decimal = ZERO
    cum_quote: Decimal = ZERO
    cum_fee: Decimal = ZERO
    fee_currency: str = ""
    created_ms: int = 0
    updated_ms: int = 0
    cancel_reason: str = ""
    locked: Decimal = ZERO  # spot: funds held; linear: margin reserved
    lock_currency: str = ""

    @property
    def leaves(self) -> Decimal:
        return self.qty - self.filled

    @property
    def avg_price(self) -> Decimal:
        return self.cum_quote / self.filled if self.filled else ZERO

    @property
    def is_post_only(self) -> bool:
        return self.tif == "PostOnly"


@dataclass(frozen=True)
class Fill:
    trade_id: str
    order_id: str
    client_id: str
    symbol: str
    side: str
    price: Decimal
    qty: Decimal
    fee: Decimal
    fee_currency: str
    fee_rate: Decimal
    is_maker: bool
    ts_ms: int
    seq: int


@dataclass
class Position:
    size: Decimal = ZERO  # signed
    entry: Decimal = ZERO
    realised: Decimal = ZERO
    updated_ms: int = 0


@dataclass
class Account:
    balances: dict[str, Decimal] = field(default_factory=dict)
    locked: dict[str, Decimal] = field(default_factory=dict)
    positions: dict[str, Position] = field(default_factory=dict)
    leverage: dict[str, Decimal] = field(default_factory=dict)
    margin_mode: str = "cross"

    def free(self, currency: str) -> Decimal:
        return self.balances.get(currency, ZERO) - self.locked.get(currency, ZERO)

    def add(self, currency: str, amount: Decimal) -> None:
        self.balances[currency] = self.balances.get(currency, ZERO) + amount

    def lock(self, currency: str, amount: Decimal) -> None:
        self.locked[currency] = self.locked.get(currency, ZERO) + amount


class Book:
    """The recorded book plus what our own taker orders consumed from each level."""

    def __init__(self) -> None:
        self.bids: dict[Decimal, Decimal] = {}
        self.asks: dict[Decimal, Decimal] = {}
        self._taken: dict[tuple[str, Decimal], Decimal] = {}
        self.last_update_id = 0
        self.ts_ms = 0

    def apply(self, upd: BookUpdate) -> None:
        if upd.snapshot:
            self.bids.clear()
            self.asks.clear()
            self._taken.clear()
        for side, levels in (("b", upd.bids), ("a", upd.asks)):
            book = self.bids if side == "b" else self.asks
            for price, qty in levels:
                self._taken.pop((side, price), None)
                if qty:
                    book[price] = qty
                else:
                    book.pop(price, None)
        self.last_update_id = upd.last_update_id
        self.ts_ms = upd.ts_ms

    def best_bid(self) -> Decimal | None:
        return max(self.bids) if self.bids else None

    def best_ask(self) -> Decimal | None:
        return min(self.asks) if self.asks else None

    def mid(self) -> Decimal | None:
        bid, ask = self.best_bid(), self.best_ask()
        if bid is None or ask is None:
            return bid or ask
        return (bid + ask) / 2

    def depth(self, side: str, n: int) -> list[tuple[Decimal, Decimal]]:
        """Top ``n`` recorded levels of ``side`` ('b'|'a'), best first."""
        book = self.bids if side == "b" else self.asks
        prices = sorted(book, reverse=side == "b")[:n]
        return [(p, book[p]) for p in prices]

    def available(self, side: str, price: Decimal) -> Decimal:
        book = self.bids if side == "b" else self.asks
        return book.get(price, ZERO) - self._taken.get((side, price), ZERO)

    def take(self, side: str, price: Decimal, qty: Decimal) -> None:
        key = (side, price)
        self._taken[key] = self._taken.get(key, ZERO) + qty


Listener = Callable[[str, object], None]


class Exchange:
    """One account section of a venue: markets, books, orders, fills, positions."""

    def __init__(
        self,
        name: str,
        markets: list[MarketSpec],
        tapes: dict[str, Tape],
        balances: dict[str, Decimal],
        *,
        numeric_ids: bool = False,
        post_only_cross: str = "reject",
        client_id_scope: str = "all",  # "all": unique forever; "open": unique among open orders
        now_ms: Callable[[], int] | None = None,
        default_leverage: Decimal = Decimal(10),
    ) -> None:
        self.name = name
        self.markets = {m.symbol: m for m in markets}
        self.tapes = tapes
        self.books = {m.symbol: Book() for m in markets}
        self.last_price: dict[str, Decimal] = {}
        self.mark: dict[str, Decimal] = {}
        self.account = Account(balances=dict(balances))
        self.default_leverage = default_leverage
        self.orders: dict[str, EmuOrder] = {}
        self.by_client: dict[str, EmuOrder] = {}
        self.fills: list[Fill] = []
        self.funding: list[tuple[str, int, Decimal, Decimal]] = []  # symbol, ts, rate, amount
        self.funding_schedule: dict[str, list[tuple[int, Decimal]]] = {}  # recorded settlements
        self.listeners: list[Listener] = []
        self.numeric_ids = numeric_ids
        self.post_only_cross = post_only_cross
        self.client_id_scope = client_id_scope
        self._now = now_ms or (lambda: int(time.time() * 1000))
        self._ids = itertools.count(1_800_000_000_000_000_001)
        self._trade_seq = itertools.count(1)
        for sym, tape in tapes.items():
            if sym in self.books:
                for item in tape.initial():
                    self._apply_market(sym, item, match=False)

    # ------------------------------------------------------------------ helpers

    def market(self, symbol: str) -> MarketSpec:
        try:
            return self.markets[symbol]
        except KeyError:
            raise EngineError(Reject.UNKNOWN_SYMBOL, symbol) from None

    def now(self) -> int:
        return self._now()

    def _emit(self, kind: str, payload: object) -> None:
        for listener in list(self.listeners):
            listener(kind, payload)

    def _new_order_id(self) -> str:
        return str(next(self._ids)) if self.numeric_ids else str(uuid.uuid4())

    def leverage(self, symbol: str) -> Decimal:
        return self.account.leverage.get(symbol, self.default_leverage)

    def position(self, symbol: str) -> Position:
        return self.account.positions.setdefault(symbol, Position())

    def reference_price(self, symbol: str) -> Decimal:
        book = self.books[symbol]
        px = self.last_price.get(symbol) or book.mid()
        if px is None:
            raise EngineError(Reject.NO_LIQUIDITY, f"{symbol}: no price yet")
        return px

    # ------------------------------------------------------------------ orders

    def place(
        self,
        symbol: str,
        side: str,
        type_: str,
        qty: Decimal,
        price: Decimal | None = None,
        *,
        tif: str = "GTC",
        reduce_only: bool = False,
        client_id: str = "",
        trigger_price: Decimal | None = None,
        trigger_direction: int = 0,
    ) -> EmuOrder:
        """Validate, reserve funds, match. Raises ``EngineError`` for a refusal that creates no
        order; a post-only cross under ``post_only_cross="cancel"`` returns a canceled order."""
        m = self.market(symbol)
        if client_id:
            prev = self.by_client.get(client_id)
            if prev is not None and (self.client_id_scope == "all" or prev.status.is_open):
                raise EngineError(Reject.DUPLICATE_ID, client_id)
        if qty <= 0 or qty % m.lot != 0 or qty < m.min_qty or (m.max_qty and qty > m.max_qty):
            raise EngineError(Reject.BAD_QTY, f"qty {qty} (lot {m.lot}, min {m.min_qty})")
        if type_ == "limit":
            if price is None or price <= 0 or price % m.tick != 0:
                raise EngineError(Reject.BAD_PRICE, f"price {price} (tick {m.tick})")
        if trigger_price is not None and (trigger_price <= 0 or trigger_price % m.tick != 0):
            raise EngineError(Reject.BAD_PRICE, f"trigger {trigger_price} (tick {m.tick})")
        ref = price if type_ == "limit" else self.reference_price(symbol)
        assert ref is not None
        if m.min_notional and qty * ref < m.min_notional:
            raise EngineError(Reject.MIN_NOTIONAL, f"{qty * ref} < {m.min_notional}")
        if reduce_only and not m.is_spot:
            pos = self.position(symbol).size
            if pos == 0 or (pos > 0) == (side == "buy"):
                raise EngineError(Reject.REDUCE_ONLY, f"position {pos}")
            qty = min(qty, abs(pos))
        now = self.now()
        order = EmuOrder(
            order_id=self._new_order_id(), client_id=client_id, symbol=symbol, side=side,
            type=type_, qty=qty, price=price, tif=tif, reduce_only=reduce_only,
            trigger_price=trigger_price, trigger_direction=trigger_direction,
            created_ms=now, updated_ms=now,
        )
        crosses = type_ == "market" or self._crosses(order)
        if order.is_post_only and crosses and trigger_price is None:
            if self.post_only_cross == "reject":
                raise EngineError(Reject.POST_ONLY, "order would immediately match and take")
            order.status = Status.CANCELED
            order.cancel_reason = "EC_PostOnlyWillTakeLiquidity"
            self._register(order)
            self._emit("order", order)
            return order
        if tif == "FOK" and crosses and self._fillable(order) < qty:
            raise EngineError(Reject.FOK, "order could not be filled completely")
        self._reserve(m, order, ref)
        if trigger_price is not None:
            order.status = Status.UNTRIGGERED
            if not order.trigger_direction:
                order.trigger_direction = 1 if trigger_price >= ref else 2
        self._register(order)
        self._emit("order", order)
        if trigger_price is None:
            self._execute_taker(order)
        return order

    def _register(self, order: EmuOrder) -> None:
        self.orders[order.order_id] = order
        if order.client_id:
            self.by_client[order.client_id] = order

    def _crosses(self, order: EmuOrder) -> bool:
        book = self.books[order.symbol]
        if order.side == "buy":
            ask = book.best_ask()
            return ask is not None and order.price is not None and order.price >= ask
        bid = book.best_bid()
        return bid is not None and order.price is not None and order.price <= bid

    def _levels_for(self, order: EmuOrder) -> list[Decimal]:
        book = self.books[order.symbol]
        if order.side == "buy":
            prices = sorted(book.asks)
            if order.type == "limit":
                prices = [p for p in prices if p <= order.price]  # type: ignore[operator]
        else:
            prices = sorted(book.bids, reverse=True)
            if order.type == "limit":
                prices = [p for p in prices if p >= order.price]  # type: ignore[operator]
        return prices

    def _fillable(self, order: EmuOrder) -> Decimal:
        side = "a" if order.side == "buy" else "b"
        book = self.books[order.symbol]
        return sum((book.available(side, p) for p in self._levels_for(order)), ZERO)

    def _reserve(self, m: MarketSpec, order: EmuOrder, ref: Decimal) -> None:
        acct = self.account
        if m.is_spot:
            if order.side == "buy":
                est = order.qty * ref
                if order.type == "market":
                    est = self._market_cost(order) or est
                cur, amount = m.quote, est
            else:
                cur, amount = m.base, order.qty
            if acct.free(cur) < amount:
                raise EngineError(Reject.INSUFFICIENT_FUNDS, f"{cur} free {acct.free(cur)} < {amount}")
            acct.lock(cur, amount)
            order.locked, order.lock_currency = amount, cur
        elif not order.reduce_only:
            margin = order.qty * ref / self.leverage(m.symbol)
            fee_reserve = order.qty * ref * m.taker_fee
            if self.available_margin(m.quote) < margin + fee_reserve:
                raise EngineError(
                    Reject.INSUFFICIENT_FUNDS,
                    f"{m.quote} available {self.available_margin(m.quote)} < {margin + fee_reserve}",
                )
            acct.lock(m.quote, margin)
            order.locked, order.lock_currency = margin, m.quote

    def _market_cost(self, order: EmuOrder) -> Decimal:
        book = self.books[order.symbol]
        left, cost = order.qty, ZERO
        for p in self._levels_for(order):
            take = min(left, book.available("a", p))
            cost += take * p
            left -= take
            if left <= 0:
                break
        return cost

    def _release(self, order: EmuOrder, amount: Decimal | None = None) -> None:
        amount = order.locked if amount is None else min(amount, order.locked)
        if amount and order.lock_currency:
            self.account.locked[order.lock_currency] -= amount
            order.locked -= amount

    def available_margin(self, currency: str) -> Decimal:
        """Wallet + unrealised PnL - position margin - order margin (linear accounts)."""
        acct = self.account
        upnl, pos_im = ZERO, ZERO
        for sym, pos in acct.positions.items():
            m = self.markets.get(sym)
            if m is None or m.is_spot or not pos.size or m.quote != currency:
                continue
            mark = self.mark.get(sym) or self.reference_price(sym)
            upnl += (mark - pos.entry) * pos.size
            pos_im += abs(pos.size) * pos.entry / self.leverage(sym)
        return acct.balances.get(currency, ZERO) + upnl - pos_im - acct.locked.get(currency, ZERO)

    def _execute_taker(self, order: EmuOrder) -> None:
        book = self.books[order.symbol]
        side = "a" if order.side == "buy" else "b"
        for price in self._levels_for(order):
            if order.leaves <= 0:
                break
            avail = book.available(side, price)
            if avail <= 0:
                continue
            qty = min(order.leaves, avail)
            book.take(side, price, qty)
            self._fill(order, price, qty, is_maker=False)
        if order.leaves > 0 and (order.type == "market" or order.tif in ("IOC", "FOK")):
            self._close(order, Status.CANCELED, "no more liquidity" if order.type == "market" else "IOC")

    def _fill(self, order: EmuOrder, price: Decimal, qty: Decimal, *, is_maker: bool) -> None:
        m = self.markets[order.symbol]
        acct = self.account
        rate = m.maker_fee if is_maker else m.taker_fee
        notional = price * qty
        if m.is_spot:
            if order.side == "buy":
                fee_cur, fee = m.base, _round_fee(qty * rate)
                self._release(order, notional if order.type == "limit" else None)
                if order.type == "limit" and order.price is not None and order.price > price:
                    self._release(order, (order.price - price) * qty)
                acct.add(m.quote, -notional)
                acct.add(m.base, qty - fee)
            else:
                fee_cur, fee = m.quote, _round_fee(notional * rate)
                self._release(order, qty)
                acct.add(m.base, -qty)
                acct.add(m.quote, notional - fee)
        else:
            fee_cur, fee = m.quote, _round_fee(notional * rate)
            if order.locked:
                self._release(order, order.locked * qty / order.leaves)
            self._move_position(order.symbol, qty if order.side == "buy" else -qty, price)
            acct.add(m.quote, -fee)
        order.filled += qty
        order.cum_quote += notional
        order.cum_fee += fee
        order.fee_currency = fee_cur
        order.updated_ms = self.now()
        self.last_price[order.symbol] = price
        seq = next(self._trade_seq)
        fill = Fill(
            trade_id=str(uuid.uuid5(uuid.NAMESPACE_OID, f"{self.name}:{seq}")) if not self.numeric_ids
            else str(2_100_000_000_000_000_000 + seq),
            order_id=order.order_id, client_id=order.client_id, symbol=order.symbol,
            side=order.side, price=price, qty=qty, fee=fee, fee_currency=fee_cur, fee_rate=rate,
            is_maker=is_maker, ts_ms=order.updated_ms, seq=seq,
        )
        self.fills.append(fill)
        if order.filled >= order.qty:
            order.status = Status.FILLED
            self._release(order)
        else:
            order.status = Status.PARTIALLY_FILLED
        self._emit("fill", fill)
        self._emit("order", order)

    def _move_position(self, symbol: str, delta: Decimal, price: Decimal) -> None:
        pos = self.position(symbol)
        acct = self.account
        quote = self.markets[symbol].quote
        if pos.size == 0 or (pos.size > 0) == (delta > 0):
            new = pos.size + delta
            pos.entry = (pos.entry * abs(pos.size) + price * abs(delta)) / abs(new)
            pos.size = new
        else:
            closing = min(abs(delta), abs(pos.size))
            pnl = _round_fee((price - pos.entry) * closing * (1 if pos.size > 0 else -1))  # 8 dp, as venues book it
            pos.realised += pnl
            acct.add(quote, pnl)
            new = pos.size + delta
            if new == 0:
                pos.entry = ZERO
            elif (new > 0) != (pos.size > 0):
                pos.entry = price  # flipped: the rest opened at this price
            pos.size = new
        pos.updated_ms = self.now()
        self._emit("position", (symbol, pos))

    def _close(self, order: EmuOrder, status: Status, reason: str = "") -> None:
        order.status = status
        order.cancel_reason = reason
        order.updated_ms = self.now()
        self._release(order)
        self._emit("order", order)

    def cancel(self, symbol: str, *, order_id: str = "", client_id: str = "") -> EmuOrder:
        self.market(symbol)
        order = self.find(order_id=order_id, client_id=client_id)
        if order is None or order.symbol != symbol or not order.status.is_open:
            raise EngineError(Reject.UNKNOWN_ORDER, order_id or client_id)
        self._close(order, Status.CANCELED, "CancelByUser")
        return order

    def cancel_all(self, symbol: str | None = None) -> list[EmuOrder]:
        done = []
        for order in list(self.orders.values()):
            if order.status.is_open and (symbol is None or order.symbol == symbol):
                self._close(order, Status.CANCELED, "CancelAll")
                done.append(order)
        return done

    def find(self, *, order_id: str = "", client_id: str = "") -> EmuOrder | None:
        if order_id:
            return self.orders.get(order_id)
        if client_id:
            return self.by_client.get(client_id)
        return None

    def open_orders(self, symbol: str | None = None) -> list[EmuOrder]:
        return [o for o in self.orders.values()
                if o.status.is_open and (symbol is None or o.symbol == symbol)]

    def closed_orders(self, symbol: str | None = None) -> list[EmuOrder]:
        return [o for o in self.orders.values()
                if not o.status.is_open and (symbol is None or o.symbol == symbol)]

    def set_leverage(self, symbol: str, leverage: Decimal) -> bool:
        """Returns False when nothing changed (Bybit answers 110043 then)."""
        m = self.market(symbol)
        if leverage <= 0 or leverage > m.max_leverage:
            raise EngineError(Reject.BAD_QTY, f"leverage {leverage}")
        if self.leverage(symbol) == leverage:
            return False
        self.account.leverage[symbol] = leverage
        return True

    # ------------------------------------------------------------------ market data

    def advance(self, symbol: str | None = None, steps: int = 1) -> int:
        """Replay ``steps`` recorded events of one market (or each market); returns how many."""
        done = 0
        for sym in [symbol] if symbol else list(self.tapes):
            tape = self.tapes.get(sym)
            if tape is None:
                continue
            for item in tape.take(steps):
                self._apply_market(sym, item, match=True)
                done += 1
        return done

    def _apply_market(self, symbol: str, item: BookUpdate | TradePrint, *, match: bool) -> None:
        schedule = self.funding_schedule.get(symbol)
        while match and schedule and schedule[0][0] <= item.ts_ms:
            _, rate = schedule.pop(0)  # the tape crossed a recorded funding time
            self.settle_funding(symbol, rate)
        if isinstance(item, BookUpdate):
            self.books[symbol].apply(item)
            mid = self.books[symbol].mid()
            if mid is not None:
                self.mark[symbol] = mid
            self._emit("book", (symbol, item))
            if match:
                self._match_book(symbol)
        else:
            if item.price > 0:
                self.last_price[symbol] = item.price
            self._emit("trade", (symbol, item))
            if match:
                self._trigger_stops(symbol, item.price)
                self._match_print(symbol, item)
        if match and self.last_price.get(symbol) is not None:
            self._trigger_stops(symbol, self.last_price[symbol])

    def print_trade(self, symbol: str, price: Decimal, qty: Decimal, side: str) -> None:
        """Inject one public trade (tests: move the market to a resting order)."""
        self.market(symbol)
        self._apply_market(symbol, TradePrint(ts_ms=self.now(), price=price, qty=qty, side=side,
                                              trade_id=f"emu-{next(self._trade_seq)}",
                                              low=price, high=price), match=True)

    def _resting(self, symbol: str) -> list[EmuOrder]:
        return [o for o in self.orders.values()
                if o.symbol == symbol and o.status in (Status.NEW, Status.PARTIALLY_FILLED)
                and o.type == "limit"]

    def _match_print(self, symbol: str, trade: TradePrint) -> None:
        volume = trade.qty
        for order in sorted(self._resting(symbol), key=lambda o: o.created_ms):
            assert order.price is not None
            hit = (order.side == "buy" and trade.low <= order.price) or (
                order.side == "sell" and trade.high >= order.price)
            if not hit:
                continue
            through = (order.side == "buy" and trade.low < order.price) or (
                order.side == "sell" and trade.high > order.price)
            qty = order.leaves if through else min(order.leaves, volume)
            qty = _floor(qty, self.markets[symbol].lot)
            if qty > 0:
                self._fill(order, order.price, qty, is_maker=True)
                if not through:
                    volume -= qty

    def _match_book(self, symbol: str) -> None:
        book = self.books[symbol]
        bid, ask = book.best_bid(), book.best_ask()
        for order in sorted(self._resting(symbol), key=lambda o: o.created_ms):
            assert order.price is not None
            if order.side == "buy" and ask is not None and ask <= order.price:
                qty = min(order.leaves, book.available("a", ask))
            elif order.side == "sell" and bid is not None and bid >= order.price:
                qty = min(order.leaves, book.available("b", bid))
            else:
                continue
            qty = _floor(qty, self.markets[symbol].lot)
            if qty > 0:
                book.take("a" if order.side == "buy" else "b", ask if order.side == "buy" else bid, qty)  # type: ignore[arg-type]
                self._fill(order, order.price, qty, is_maker=True)

    def _trigger_stops(self, symbol: str, price: Decimal) -> None:
        for order in list(self.orders.values()):
            if order.symbol != symbol or order.status is not Status.UNTRIGGERED:
                continue
            assert order.trigger_price is not None
            up = order.trigger_direction == 1
            if (up and price >= order.trigger_price) or (not up and price <= order.trigger_price):
                order.status = Status.NEW
                order.updated_ms = self.now()
                self._emit("order", order)
                self._execute_taker(order)

    # ------------------------------------------------------------------ funding

    def settle_funding(self, symbol: str, rate: Decimal, mark: Decimal | None = None) -> Decimal:
        """Apply one funding settlement; returns the amount credited (negative = paid)."""
        m = self.market(symbol)
        pos = self.position(symbol)
        mark = mark or self.mark.get(symbol) or self.reference_price(symbol)
        amount = _round_fee(-pos.size * mark * rate) if pos.size else ZERO
        if amount:
            self.account.add(m.quote, amount)
        self.funding.append((symbol, self.now(), rate, amount))
        self._emit("funding", (symbol, rate, amount))
        return amount


def _floor(qty: Decimal, lot: Decimal) -> Decimal:
    return (qty / lot).to_integral_value(rounding=ROUND_DOWN) * lot


def _round_fee(x: Decimal) -> Decimal:
    """Fees, funding and realised PnL are booked to 8 decimals, as the venues report them."""
    return x.quantize(Decimal("1e-8"))
