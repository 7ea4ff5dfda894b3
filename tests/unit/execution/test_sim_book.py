"""The ``book`` fill model on 20 s of real Binance USD-M BTCUSDT depth and trades.

The expectations are computed here from the CSV rows in Decimal, independently of the venue:
a market order walks the real snapshot, and a resting bid's queue is followed by a one-order
restatement of the documented queue rules over the real deltas and trades.
"""

from __future__ import annotations

from decimal import Decimal as D

from titan.core import events as ev

from .test_sim_data import USDM, Loop, binance_book_rows, binance_market, order

BUY, SELL = ev.Side.BUY, ev.Side.SELL


def book_loop() -> Loop:
    return Loop([USDM], balances={"USDT": D(10_000_000)}, fill_model="book")


def snapshot_side(side: str) -> list[tuple[D, D]]:
    rows = [r for r in binance_book_rows() if r["is_snapshot"] == "True" and r["side"] == side]
    levels = [(D(r["price"]), D(r["qty"])) for r in rows]
    return sorted(levels, reverse=side == "b")


def test_market_order_walks_the_real_book_level_by_level():
    data = binance_market()
    loop = book_loop()
    qty = D("25")
    first = data[0].ts_event
    loop.run(data[:1], lambda e: loop.venue.submit(order("m", BUY, str(qty), iid=USDM.id)))
    expected, left = [], qty
    for price, size in snapshot_side("a"):
        take = min(left, size)
        expected.append((price, take))
        left -= take
        if not left:
            break
    got = [(f.last_price, f.last_qty) for f in loop.of(ev.OrderFilled)]
    assert got == expected and len(got) > 3  # several partial fills, one per level
    assert all(f.liquidity is ev.Liquidity.TAKER and f.ts_event == first for f in loop.of(ev.OrderFilled))
    fee = sum(p * q * USDM.taker_fee for p, q in expected)
    assert loop.venue.balance("USDT") == D(10_000_000) - fee
    assert loop.venue.position(USDM.id) == qty
    # the depleted levels are gone from the simulated book until the feed rewrites them
    assert loop.venue.matcher(USDM.id).best_ask() * USDM.tick_size >= expected[-1][0]


def book_at(data: list[ev.Data], k: int) -> dict[D, D]:
    """The real bid side after event ``k`` (Decimal prices -> sizes)."""
    bids: dict[D, D] = {}
    for evt in data[: k + 1]:
        if isinstance(evt, ev.BookDelta):
            if evt.is_snapshot:
                bids.clear()
            for p, s in evt.bids:
                if s:
                    bids[D(repr(p))] = D(repr(s))
                else:
                    bids.pop(D(repr(p)), None)
    return bids


def queue_oracle(price: D, qty: D, data: list[ev.Data], k: int) -> list[tuple[int, D, str]]:
    """When and how a bid at ``price`` joining after event ``k`` fills, by the documented rules:
    (q) sell trades at its price eat the queue ahead, then it; (t) a sell trade below it fills
    it; depletion of its level moves it up; (x) asks at or below it fill it."""
    asks: dict[D, D] = {}
    queue: D | None = None
    left, out = qty, []
    for i, evt in enumerate(data):
        if isinstance(evt, ev.BookDelta):
            if evt.is_snapshot:
                asks.clear()
            for p, s in evt.bids:
                if queue is not None and D(repr(p)) == price:
                    queue = min(queue, D(repr(s)))
            for p, s in evt.asks:
                asks[D(repr(p))] = D(repr(s))
            if queue is not None and left:
                crossing = sum((s for p, s in asks.items() if p <= price), D(0))
                if crossing:
                    n = min(left, crossing)
                    out.append((evt.ts_event, n, "x"))
                    left -= n
                    for p in [p for p in asks if p <= price]:
                        asks[p] = D(0)  # taken by us in the simulated book
        elif queue is not None and left and evt.aggressor is SELL:
            p = D(repr(evt.price))
            if p < price:
                out.append((evt.ts_event, left, "t"))
                left = D(0)
            elif p == price:
                size = D(repr(evt.size))
                used = min(size, queue)
                queue -= used
                n = min(left, size - used)
                if n:
                    out.append((evt.ts_event, n, "q"))
                    left -= n
        if i == k:
            queue = book_at(data, k).get(price, D(0))
    return out


def test_resting_bid_fills_as_real_trades_pass_its_queue_position():
    data = binance_market()
    k = 850  # mid-recording, where the best bid trades for a while before the price moves on
    price = max(book_at(data, k))
    qty = D(1)
    loop = book_loop()
    loop.run(data[: k + 1], lambda e: e is data[k] and loop.venue.submit(
        order("bid", BUY, str(qty), price=str(price), iid=USDM.id)))
    core = loop.venue.matcher(USDM.id)
    assert core.queue_ahead(1) * float(USDM.lot_size) == float(book_at(data, k)[price])
    loop.run(data[k + 1:])
    expected = queue_oracle(price, qty, data, k)
    assert [kind for *_, kind in expected].count("q") >= 5  # several partial queue fills
    got = [(f.ts_event, f.last_qty) for f in loop.of(ev.OrderFilled)]
    assert got == [(ts, n) for ts, n, _ in expected]
    fills = loop.of(ev.OrderFilled)
    assert all(f.last_price == price and f.liquidity is ev.Liquidity.MAKER for f in fills)
    assert sum(f.last_qty for f in fills) == qty


def test_ask_above_the_market_fills_when_trades_go_through_it():
    data = binance_market()
    loop = book_loop()
    loop.run(data[:1], lambda e: loop.venue.submit(order("ask", SELL, "0.3", price="61810.0",
                                                         iid=USDM.id)))
    loop.run(data[1:])
    through = [t for t in data if isinstance(t, ev.Trade) and t.price > 61810.0
               and t.aggressor is BUY]
    fills = loop.of(ev.OrderFilled)
    assert through, "the recording rises through 61810"
    assert sum(f.last_qty for f in fills) == D("0.3")
    assert fills[-1].ts_event <= through[0].ts_event
    assert loop.venue.position(USDM.id) == D("-0.3")


def test_post_only_at_the_best_ask_is_rejected_in_book_mode():
    data = binance_market()
    loop = book_loop()
    best_ask = snapshot_side("a")[0][0]
    loop.run(data[:1], lambda e: loop.venue.submit(order("po", BUY, "0.1", price=str(best_ask),
                                                         post_only=True, iid=USDM.id)))
    (r,) = loop.of(ev.OrderRejected)
    assert r.kind is ev.ErrorKind.INVALID_ORDER and "post-only" in r.reason


def test_fok_larger_than_the_book_within_its_limit_expires_untouched():
    data = binance_market()
    loop = book_loop()
    best_ask = snapshot_side("a")[0][0]
    loop.run(data[:1], lambda e: loop.venue.submit(order(
        "fok", BUY, "100", price=str(best_ask), time_in_force=ev.TimeInForce.FOK, iid=USDM.id)))
    assert [type(e).__name__ for e in loop.events] == ["OrderAccepted", "OrderExpired"]
    assert loop.venue.position(USDM.id) == 0
