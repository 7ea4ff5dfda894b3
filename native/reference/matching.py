"""Reference simulated matching core (pure Python), the oracle for ``native/_matching.pyx``.

One :class:`Matcher` per instrument holds the simulated venue's *resting* orders and, in book
mode, a copy of the L2 book. Numbers in, numbers out: prices are integer ticks, order
quantities integer lots, market sizes float lots; the caller (``titan.execution.sim``) turns
them into ``Decimal`` money. Market prices arrive as floats and are put on the tick grid with
:meth:`Matcher.to_ticks` (nearest tick, halves up).

Results are *records* collected until :meth:`Matcher.drain`: ``(code, handle, lots, price,
maker)`` with ``code`` FILL, TRIGGER (a stop's trigger was reached; ``price`` is where) or
EXPIRE (an IOC order saw its one chance pass; a stop-market found no liquidity). Every
``on_*``/``take`` call returns how many records are pending, so the caller drains only when
something happened.

Price paths (no book): each market event is a path of points. A point is a GAP (the first
point of a bar: the price jumped there), CONT (the price moved continuously from the previous
point, within a bar) or TICK (a trade or quote). Buys look at the ask side of a point, sells at
the bid side; bars and trades have bid == ask.

- market order (waiting for the next price): fills at the next GAP/TICK point.
- limit: a GAP through it fills at the gap price (the bar's open, better than the limit); a
  CONT segment reaching it fills at the limit; a TICK reaching it fills at the limit as maker
  (or at the tick price if it was marketable on arrival - ``taker``).
- stop: triggers when the price reaches the trigger; a stop-market then fills at the trigger
  (CONT) or at the gap/tick price (worse than the trigger); a stop-limit becomes a limit and
  fills at once if marketable at the trigger point, else rests.
- bar paths: close only (``PATH_CLOSE``), open then close (``PATH_OPEN_CLOSE``), or open, the
  extreme nearer the open (high on a tie), the other extreme, close (``PATH_OHLC``).
- within one segment, orders fill in the order the price reaches them, then by arrival.
- liquidity is unlimited on paths: an order that is reached fills completely.
- an order that survives a point is no longer ``taker``; an ``ioc`` order expires after its
  first point.

Book mode (``book=True``): deltas/quotes maintain the L2 book; ``take`` walks it (partial fills
level by level, depleting this copy until the feed overwrites a level). A resting limit joins
the queue behind the displayed size at its price (``queue_ahead``). Then:

1. a trade at its price on the opposite aggressor side consumes ``queue_ahead`` first and the
   excess fills it (own orders at one price fill in arrival order, each behind the earlier);
2. a trade through its price fills it completely;
3. a level update that leaves less than ``queue_ahead`` at its price moves it up to that size
   (what left the level was ahead of it);
4. the opposite side crossing its price fills it at its price, up to the crossing size.

Stops trigger on trades and on the best opposite price, then take liquidity from the book; a
triggered stop-market that finds no liquidity expires. Bars in book mode use the OHLC path.
"""

from __future__ import annotations

import math

BUY = 1
SELL = -1
MARKET = 0
LIMIT = 1
STOP_MARKET = 2
STOP_LIMIT = 3
FILL = 0
TRIGGER = 1
EXPIRE = 2
PATH_CLOSE = 0
PATH_OPEN_CLOSE = 1
PATH_OHLC = 2
GAP = 0
CONT = 1
TICK = 2
EPS = 1e-6  # a millionth of a lot: float noise in size / lot_size, never a real size
NONE = -1  # "no price" in ticks


def _positive(name: str, x) -> float:
    x = float(x)
    if not (math.isfinite(x) and x > 0.0):
        raise ValueError(f"{name}: must be finite and > 0, got {x!r}")
    return x


def _whole(x: float) -> int:
    """Whole lots in a float size (tolerating float noise just below an integer)."""
    return int(math.floor(x + EPS))


class _Order:
    __slots__ = ("handle", "side", "kind", "price", "trigger", "remaining", "queue_ahead", "seq",
                 "taker", "ioc")

    def __init__(self, handle, side, kind, price, trigger, remaining, queue_ahead, seq, taker, ioc):
        self.handle = handle
        self.side = side
        self.kind = kind
        self.price = price
        self.trigger = trigger
        self.remaining = remaining
        self.queue_ahead = queue_ahead
        self.seq = seq
        self.taker = taker
        self.ioc = ioc


class _Side:
    """One side of the book: tick -> size in lots, with keys sorted so the best is last."""

    __slots__ = ("sign", "keys", "sizes")

    def __init__(self, sign: int) -> None:
        self.sign = sign  # bids: key = price; asks: key = -price
        self.keys: list[int] = []
        self.sizes: dict[int, float] = {}

    def set(self, price: int, size: float) -> None:
        key = price * self.sign
        if size <= 0.0:
            if self.sizes.pop(key, None) is not None:
                del self.keys[_bisect(self.keys, key)]
        else:
            if key not in self.sizes:
                self.keys.insert(_bisect(self.keys, key), key)
            self.sizes[key] = size

    def get(self, price: int) -> float:
        return self.sizes.get(price * self.sign, 0.0)

    def best(self) -> int:
        return self.keys[-1] * self.sign if self.keys else NONE

    def clear(self) -> None:
        self.keys.clear()
        self.sizes.clear()


def _bisect(keys: list[int], key: int) -> int:
    lo, hi = 0, len(keys)
    while lo < hi:
        mid = (lo + hi) >> 1
        if keys[mid] < key:
            lo = mid + 1
        else:
            hi = mid
    return lo


class Matcher:
    """Resting orders of one instrument (and its L2 book in book mode), in ticks and lots."""

    def __init__(self, tick_size: float, lot_size: float, book: bool = False) -> None:
        self.tick_size = _positive("tick_size", tick_size)
        self.lot_size = _positive("lot_size", lot_size)
        self.book = bool(book)
        self._orders: list[_Order] = []
        self._records: list[tuple[int, int, int, int, bool]] = []
        self._seq = 0
        self._bids = _Side(1)
        self._asks = _Side(-1)
        self.last_bid = NONE
        self.last_ask = NONE

    # ---- conversions and queries ---------------------------------------------------------------

    def to_ticks(self, price: float, name: str = "price") -> int:
        """The nearest tick (halves up); ValueError naming ``name`` unless finite and > 0."""
        price = float(price)
        if not (math.isfinite(price) and price > 0.0):
            raise ValueError(f"{name}: must be finite and > 0, got {price!r}")
        return int(math.floor(price / self.tick_size + 0.5))

    def to_lots(self, size: float, name: str = "size") -> float:
        """A market size in (float) lots; ValueError naming ``name`` unless finite and >= 0."""
        size = float(size)
        if not (math.isfinite(size) and size >= 0.0):
            raise ValueError(f"{name}: must be finite and >= 0, got {size!r}")
        return size / self.lot_size

    def __len__(self) -> int:
        return len(self._orders)

    @property
    def pending(self) -> int:
        return len(self._records)

    def remaining(self, handle: int) -> int:
        """Lots left on a resting order, or -1 if it is not resting."""
        for o in self._orders:
            if o.handle == handle:
                return o.remaining
        return -1

    def queue_ahead(self, handle: int) -> float:
        for o in self._orders:
            if o.handle == handle:
                return o.queue_ahead
        return -1.0

    def best_bid(self) -> int:
        return self._bids.best()

    def best_ask(self) -> int:
        return self._asks.best()

    def ref_bid(self) -> int:
        """What a seller gets now: the best bid in book mode (else the last point's bid)."""
        if self.book:
            b = self._bids.best()
            if b != NONE:
                return b
        return self.last_bid

    def ref_ask(self) -> int:
        if self.book:
            a = self._asks.best()
            if a != NONE:
                return a
        return self.last_ask

    def level_size(self, side: int, price: int) -> float:
        return (self._bids if side == BUY else self._asks).get(price)

    def depth(self, side: int, n: int = 0) -> list[tuple[int, float]]:
        s = self._bids if side == BUY else self._asks
        keys = s.keys[::-1] if n <= 0 else s.keys[: -n - 1 : -1]
        return [(k * s.sign, s.sizes[k]) for k in keys]

    def set_last(self, bid: float, ask: float) -> None:
        """Set the current price without matching (the caller skipped quiet updates)."""
        self.last_bid, self.last_ask = self.to_ticks(bid, "bid"), self.to_ticks(ask, "ask")

    def drain(self) -> list[tuple[int, int, int, int, bool]]:
        out = self._records
        self._records = []
        return out

    # ---- orders ----------------------------------------------------------------------------------

    def add(self, handle: int, side: int, kind: int, price: int, trigger: int, qty: int,
            taker: bool = False, ioc: bool = False) -> None:
        """Rest an order. In book mode a limit joins the queue behind the displayed size."""
        if side not in (BUY, SELL):
            raise ValueError(f"side: expected 1 or -1, got {side!r}")
        if kind not in (MARKET, LIMIT, STOP_MARKET, STOP_LIMIT):
            raise ValueError(f"kind: expected 0..3, got {kind!r}")
        if qty <= 0:
            raise ValueError(f"qty: must be > 0 lots, got {qty!r}")
        if kind in (LIMIT, STOP_LIMIT) and price <= 0:
            raise ValueError(f"price: must be > 0 ticks for a limit, got {price!r}")
        if kind in (STOP_MARKET, STOP_LIMIT) and trigger <= 0:
            raise ValueError(f"trigger: must be > 0 ticks for a stop, got {trigger!r}")
        for o in self._orders:
            if o.handle == handle:
                raise ValueError(f"handle: {handle} is already resting")
        queue = self.level_size(side, price) if (self.book and kind == LIMIT) else 0.0
        self._seq += 1
        self._orders.append(_Order(handle, side, kind, price, trigger, qty, queue, self._seq,
                                   bool(taker), bool(ioc)))

    def cancel(self, handle: int) -> int:
        """Remove a resting order; returns the lots it had left, or -1 if it was not resting."""
        for i, o in enumerate(self._orders):
            if o.handle == handle:
                del self._orders[i]
                return o.remaining
        return -1

    def take(self, handle: int, side: int, qty: int, limit: int = 0, fok: bool = False) -> int:
        """Execute ``qty`` lots now as a taker, not beyond ``limit`` ticks (0: no limit).

        Book mode walks the opposite side level by level; otherwise everything fills at the
        last point's ask (buy) or bid (sell) if it is within the limit. ``fok``: all or nothing.
        Returns the lots filled; FILL records carry the prices.
        """
        if qty <= 0:
            return 0
        if self.book:
            opp = self._asks if side == BUY else self._bids
            if fok and self._available(opp, side, limit) < qty:
                return 0
            return self._sweep(opp, handle, side, qty, limit)
        px = self.last_ask if side == BUY else self.last_bid
        if px == NONE or (limit > 0 and (px > limit if side == BUY else px < limit)):
            return 0
        self._records.append((FILL, handle, qty, px, False))
        return qty

    @staticmethod
    def _available(opp: _Side, side: int, limit: int) -> int:
        total = 0
        for key in reversed(opp.keys):
            price = key * opp.sign
            if limit > 0 and (price > limit if side == BUY else price < limit):
                break
            total += _whole(opp.sizes[key])
        return total

    def _sweep(self, opp: _Side, handle: int, side: int, qty: int, limit: int) -> int:
        left = qty
        while left > 0 and opp.keys:
            key = opp.keys[-1]
            price = key * opp.sign
            if limit > 0 and (price > limit if side == BUY else price < limit):
                break
            size = opp.sizes[key]
            lots = min(left, _whole(size))
            if lots <= 0:
                break  # a fractional lot at the top: nothing whole to take
            self._records.append((FILL, handle, lots, price, False))
            left -= lots
            opp.set(price, size - lots if size - lots > EPS else 0.0)
        return qty - left

    # ---- market data: paths ------------------------------------------------------------------

    def on_bar(self, open_: float, high: float, low: float, close: float, path: int) -> int:
        o, h = self.to_ticks(open_, "open"), self.to_ticks(high, "high")
        lo, c = self.to_ticks(low, "low"), self.to_ticks(close, "close")
        if path not in (PATH_CLOSE, PATH_OPEN_CLOSE, PATH_OHLC):
            raise ValueError(f"path: expected 0, 1 or 2, got {path!r}")
        if self.book:
            path = PATH_OHLC
        if not self._orders:
            self.last_bid = self.last_ask = c
            return len(self._records)
        if path == PATH_CLOSE:
            self._point(c, c, GAP)
        elif path == PATH_OPEN_CLOSE:
            self._point(o, o, GAP)
            self._point(c, c, CONT)
        else:
            near, far = (h, lo) if h - o <= o - lo else (lo, h)
            self._point(o, o, GAP)
            self._point(near, near, CONT)
            self._point(far, far, CONT)
            self._point(c, c, CONT)
        self.last_bid = self.last_ask = c
        return len(self._records)

    def on_trade(self, price: float, size: float, aggressor: int) -> int:
        p = self.to_ticks(price)
        lots = self.to_lots(size)
        if aggressor not in (BUY, SELL):
            raise ValueError(f"aggressor: expected 1 or -1, got {aggressor!r}")
        if self.book:
            if self._orders:
                self._book_trade(p, lots, aggressor)
        elif self._orders:
            self._point(p, p, TICK)
        self.last_bid = self.last_ask = p
        return len(self._records)

    def on_quote(self, bid: float, bid_size: float, ask: float, ask_size: float) -> int:
        b, a = self.to_ticks(bid, "bid"), self.to_ticks(ask, "ask")
        bid_lots, ask_lots = self.to_lots(bid_size, "bid_size"), self.to_lots(ask_size, "ask_size")
        if self.book:
            self._top(self._bids, b, bid_lots)
            self._top(self._asks, a, ask_lots)
            if self._orders:
                self._book_checks()
        elif self._orders:
            self._point(b, a, TICK)
        self.last_bid, self.last_ask = b, a
        return len(self._records)

    def apply_delta(self, bids, asks, snapshot: bool = False) -> int:
        """Apply one BookDelta's levels (``((price, size), ...)``, size 0 removes)."""
        if snapshot:
            self._bids.clear()
            self._asks.clear()
        tick, lot = self.tick_size, self.lot_size
        for name, side, levels in (("bids", self._bids, bids), ("asks", self._asks, asks)):
            for i, (price, size) in enumerate(levels):
                price, size = float(price), float(size)
                if not (math.isfinite(price) and price > 0.0):
                    raise ValueError(f"{name}[{i}]: price must be finite and > 0, got {price!r}")
                if not (math.isfinite(size) and size >= 0.0):
                    raise ValueError(f"{name}[{i}]: size must be finite and >= 0, got {size!r}")
                side.set(int(math.floor(price / tick + 0.5)), size / lot)
        if self._orders:
            self._book_checks()
        return len(self._records)

    def _top(self, side: _Side, price: int, size: float) -> None:
        """Make ``price`` the best level of ``side`` (a quote says nothing is better)."""
        while side.keys and side.keys[-1] > price * side.sign:
            side.set(side.keys[-1] * side.sign, 0.0)
        side.set(price, size)

    # ---- path matching -----------------------------------------------------------------------

    def _point(self, b1: int, a1: int, mode: int) -> None:
        b0, a0 = self.last_bid, self.last_ask
        hits: list[tuple[int, int, _Order, int, bool, int]] = []
        for o in self._orders:
            hit = _reach_buy(o, a0, a1, mode) if o.side == BUY else _reach_sell(o, b0, b1, mode)
            if hit is not None:
                dist, price, maker, trig = hit
                hits.append((dist, o.seq, o, price, maker, trig))
        if hits:
            hits.sort(key=lambda h: (h[0], h[1]))
            for _, _, o, price, maker, trig in hits:
                if trig != NONE:
                    self._records.append((TRIGGER, o.handle, 0, trig, False))
                    if price == NONE:  # a stop-limit now resting as a limit
                        o.kind = LIMIT
                        o.taker = False
                        continue
                self._records.append((FILL, o.handle, o.remaining, price, maker))
                o.remaining = 0
        if mode != CONT:
            for o in self._orders:
                if o.remaining > 0 and o.ioc:
                    self._records.append((EXPIRE, o.handle, o.remaining, 0, False))
                    o.remaining = 0
        for o in self._orders:
            o.taker = False
        self._orders = [o for o in self._orders if o.remaining > 0]
        self.last_bid, self.last_ask = b1, a1

    # ---- book matching ------------------------------------------------------------------------

    def _book_trade(self, p: int, lots: float, aggressor: int) -> None:
        side = -aggressor  # the resting side that was hit
        self._trigger_stops(p, p)
        level: list[_Order] = []
        for o in self._orders:
            if o.side != side or o.kind != LIMIT or o.remaining <= 0:
                continue
            if (o.price > p) if side == BUY else (o.price < p):
                self._records.append((FILL, o.handle, o.remaining, o.price, True))
                o.remaining = 0
            elif o.price == p:
                level.append(o)
        filled = 0
        blocked = False
        for o in level:  # arrival order
            avail = lots - filled
            used = min(avail, o.queue_ahead)
            o.queue_ahead -= used
            if blocked:
                continue
            n = min(o.remaining, _whole(avail - used))
            if n > 0:
                self._records.append((FILL, o.handle, n, o.price, True))
                o.remaining -= n
                filled += n
            if o.remaining > 0:
                blocked = True
        self._orders = [o for o in self._orders if o.remaining > 0]

    def _book_checks(self) -> None:
        """After a book change: queues shrink to their level, crossed orders fill, stops fire."""
        for o in self._orders:
            if o.kind == LIMIT:
                size = self.level_size(o.side, o.price)
                if o.queue_ahead > size:
                    o.queue_ahead = size
        best_bid, best_ask = self._bids.best(), self._asks.best()
        if best_bid != NONE or best_ask != NONE:
            self._trigger_stops(best_bid, best_ask)
        self._cross(BUY)
        self._cross(SELL)
        self._orders = [o for o in self._orders if o.remaining > 0]

    def _cross(self, side: int) -> None:
        opp = self._asks if side == BUY else self._bids
        best = opp.best()
        if best == NONE:
            return
        crossed = [o for o in self._orders if o.side == side and o.kind == LIMIT
                   and o.remaining > 0 and (o.price >= best if side == BUY else o.price <= best)]
        if not crossed:
            return
        crossed.sort(key=lambda o: (-o.price * side, o.seq))
        for o in crossed:
            left = o.remaining
            while left > 0 and opp.keys:
                key = opp.keys[-1]
                price = key * opp.sign
                if price > o.price if side == BUY else price < o.price:
                    break
                size = opp.sizes[key]
                lots = min(left, _whole(size))
                if lots <= 0:
                    break
                left -= lots
                opp.set(price, size - lots if size - lots > EPS else 0.0)
            n = o.remaining - left
            if n > 0:
                self._records.append((FILL, o.handle, n, o.price, True))
                o.remaining = left

    def _trigger_stops(self, bid: int, ask: int) -> None:
        """Fire stops whose trigger the price reached; they then take from the book."""
        fired = [o for o in self._orders if o.kind in (STOP_MARKET, STOP_LIMIT) and (
            (ask != NONE and ask >= o.trigger) if o.side == BUY
            else (bid != NONE and bid <= o.trigger))]
        for o in fired:
            at = ask if o.side == BUY else bid
            self._records.append((TRIGGER, o.handle, 0, at, False))
            if o.kind == STOP_MARKET:
                n = self._take_book(o, 0)
                o.remaining -= n
                if o.remaining > 0:
                    self._records.append((EXPIRE, o.handle, o.remaining, 0, False))
                    o.remaining = 0
            else:
                n = self._take_book(o, o.price)
                o.remaining -= n
                o.kind = LIMIT
                o.queue_ahead = self.level_size(o.side, o.price)
        self._orders = [o for o in self._orders if o.remaining > 0]

    def _take_book(self, o: _Order, limit: int) -> int:
        opp = self._asks if o.side == BUY else self._bids
        if opp.best() == NONE:
            return 0
        return self._sweep(opp, o.handle, o.side, o.remaining, limit)


def _reach_buy(o: _Order, s0: int, s1: int, mode: int):
    """(distance, fill price or NONE, maker, trigger price or NONE) if the point reaches ``o``."""
    kind = o.kind
    if kind == MARKET:
        return (0, s1, False, NONE) if mode != CONT else None
    if kind == LIMIT:
        if mode == CONT:
            return (s0 - o.price, o.price, True, NONE) if min(s0, s1) <= o.price else None
        if s1 > o.price:
            return None
        if mode == GAP or o.taker:
            return (0, s1, not o.taker, NONE)
        return (0, o.price, True, NONE)
    # stops: a buy stop fires when the price rises to the trigger
    if mode == CONT:
        if max(s0, s1) < o.trigger:
            return None
        dist, at = o.trigger - s0, o.trigger
    else:
        if s1 < o.trigger:
            return None
        dist, at = 0, s1
    if kind == STOP_MARKET:
        return (dist, at, False, at)
    return (dist, at, False, at) if at <= o.price else (dist, NONE, False, at)


def _reach_sell(o: _Order, s0: int, s1: int, mode: int):
    kind = o.kind
    if kind == MARKET:
        return (0, s1, False, NONE) if mode != CONT else None
    if kind == LIMIT:
        if mode == CONT:
            return (o.price - s0, o.price, True, NONE) if max(s0, s1) >= o.price else None
        if s1 < o.price:
            return None
        if mode == GAP or o.taker:
            return (0, s1, not o.taker, NONE)
        return (0, o.price, True, NONE)
    if mode == CONT:
        if min(s0, s1) > o.trigger:
            return None
        dist, at = s0 - o.trigger, o.trigger
    else:
        if s1 > o.trigger:
            return None
        dist, at = 0, s1
    if kind == STOP_MARKET:
        return (dist, at, False, at)
    return (dist, at, False, at) if at >= o.price else (dist, NONE, False, at)
