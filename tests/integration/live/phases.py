"""Phases the live-runner tests configure as ``[[strategies]]`` (module paths, not files)."""

from __future__ import annotations

from titan.core import events as ev
from titan.phases.base import Params, Phase, Stream


class RestingBid(Phase):
    """Rests one post-only limit bid ``below_bps`` under the first trade, and nothing else:
    an order that is still working when the session stops."""

    name = "resting_bid"
    family = "hunter"

    class Params(Params, frozen=True, kw_only=True, forbid_unknown_fields=True):
        below_bps: float = 200.0
        qty: float = 0.002

    def __init__(self, params=None, **kw):
        super().__init__(params, **kw)
        self.placed = False

    def subscriptions(self):
        return tuple(Stream(kind="trade", instrument_id=i) for i in self.instruments)

    def on_trade(self, trade: ev.Trade):
        if self.placed:
            return None
        self.placed = True
        inst = self.ctx.instruments[trade.instrument_id]
        price = inst.round_price(trade.price * (1 - self.params.below_bps / 1e4), ev.Side.BUY)
        return [self.buy(trade.instrument_id, self.params.qty, price=price, post_only=True,
                         tag="rest")]


class BookTaker(Phase):
    """Reads the L2 book (rebuilt from the REST snapshot plus diffs) and the trades; buys once,
    at market, on the first trade after the book is known."""

    name = "book_taker"
    family = "hunter"

    def __init__(self, params=None, **kw):
        super().__init__(params, **kw)
        self.book_events = 0
        self.snapshots = 0
        self.done = False

    def subscriptions(self):
        return tuple(Stream(kind=k, instrument_id=i) for i in self.instruments
                     for k in ("book", "trade"))

    def on_book(self, delta: ev.BookDelta):
        self.book_events += 1
        self.snapshots += delta.is_snapshot
        return None

    def on_trade(self, trade: ev.Trade):
        if self.done or not self.snapshots:
            return None
        self.done = True
        return [self.buy(trade.instrument_id, 0.002, tag="after_book")]


class QuoteTape(Phase):
    """Reads two streams: trades (a fast and a slow EMA of their prices) and the best bid/offer
    (which side shows more size). Goes long when the tape trends up *and* the bid outweighs
    the offer at that moment, short on the mirror image, flat otherwise - so its decisions
    depend on how the two streams interleave."""

    name = "quote_tape"
    family = "hunter"

    class Params(Params, frozen=True, kw_only=True, forbid_unknown_fields=True):
        fast: int = 20
        slow: int = 80
        qty: float = 0.002

    def __init__(self, params=None, **kw):
        super().__init__(params, **kw)
        self.fast = self.slow = 0.0
        self.n = 0
        self.pressure = 0  # +1 bid heavier, -1 offer heavier, 0 no quote yet
        self.quotes = 0

    def subscriptions(self):
        return tuple(Stream(kind=k, instrument_id=i) for i in self.instruments
                     for k in ("trade", "quote"))

    def on_quote(self, quote: ev.Quote):
        self.quotes += 1
        self.pressure = (quote.bid_size > quote.ask_size) - (quote.bid_size < quote.ask_size)
        return None

    def on_trade(self, trade: ev.Trade):
        p = self.params
        a, b = 2 / (p.fast + 1), 2 / (p.slow + 1)
        self.n += 1
        if self.n == 1:
            self.fast = self.slow = trade.price
        self.fast += a * (trade.price - self.fast)
        self.slow += b * (trade.price - self.slow)
        if self.n < p.slow or self.open_orders(trade.instrument_id):
            return None
        trend = (self.fast > self.slow) - (self.fast < self.slow)
        want = p.qty * trend if trend == self.pressure else 0.0
        inst = self.ctx.instruments[trade.instrument_id]
        delta = inst.round_qty(repr(want)) - self.position(trade.instrument_id)
        if not delta:
            return None
        side = ev.Side.BUY if delta > 0 else ev.Side.SELL
        return [self.intent(trade.instrument_id, side, abs(delta), tag="quote_tape")]
