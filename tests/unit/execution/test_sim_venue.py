"""SimVenue behaviour on real Bybit bars and hand-made ones: fill models, latency, slippage,
fees, funding, the rejections and the loop contract."""

from __future__ import annotations

import asyncio
from decimal import Decimal as D

import pytest

from titan.core import events as ev
from titan.core.instruments import InstrumentKind
from titan.execution.client import ExecutionClient
from titan.execution.sim import SimExecutionClient, SimVenue

from .test_sim_data import MIN, PERP, SPOT, Loop, bybit_bars, bybit_funding, order

BUY, SELL = ev.Side.BUY, ev.Side.SELL
E = ev.ErrorKind


def bar(ts_min: int, o: float, h: float, low: float, c: float, iid: str = PERP.id) -> ev.Bar:
    ts = ts_min * MIN
    return ev.Bar(instrument_id=iid, ts_event=ts, ts_init=ts, timeframe="1m", ts_open=ts - MIN,
                  open=o, high=h, low=low, close=c, volume=1.0)


def at(ts_min: int, *cmds):
    """A strategy that submits ``cmds`` when the event at minute ``ts_min`` arrives."""
    fired = []

    def strategy(evt, loop):
        if evt.ts_event == ts_min * MIN and not fired:
            fired.append(evt)
            for c in cmds:
                if isinstance(c, ev.SubmitOrder):
                    loop.venue.submit(c)
                else:
                    loop.venue.cancel(c)
    return strategy


def run(loop: Loop, data, *strategies):
    return loop.run(data, lambda evt: [s(evt, loop) for s in strategies])


def perp_loop(**kw) -> Loop:
    kw.setdefault("balances", {"USDT": D(100_000)})
    return Loop([PERP], **kw)


def fills(loop: Loop, cid: str | None = None) -> list[ev.OrderFilled]:
    return [f for f in loop.of(ev.OrderFilled) if cid is None or f.client_order_id == cid]


# ---- fill models on real bars -----------------------------------------------------------------


def test_bar_close_fills_at_the_signal_bars_close():
    bars = bybit_bars()
    loop = perp_loop(fill_model="bar_close")
    run(loop, bars[:20], at(bars[5].ts_event // MIN, order("a", BUY, "0.01")))
    (f,) = fills(loop)
    assert f.last_price == D(repr(bars[5].close)) and f.ts_event == bars[5].ts_event
    assert f.liquidity is ev.Liquidity.TAKER and f.fee == D("0.01") * f.last_price * D("0.00055")
    kinds = [type(e) for e in loop.events]
    assert kinds == [ev.OrderAccepted, ev.OrderFilled]


@pytest.mark.parametrize("model", ["next_open", "ohlc"])
def test_next_open_fills_at_the_next_bars_open(model):
    bars = bybit_bars()
    loop = perp_loop(fill_model=model)
    run(loop, bars[:20], at(bars[5].ts_event // MIN, order("a", SELL, "0.02")))
    (f,) = fills(loop)
    assert f.last_price == D(repr(bars[6].open)) and f.ts_event == bars[6].ts_event
    assert loop.venue.position(PERP.id) == D("-0.02")


def test_ohlc_limit_fills_at_its_price_inside_the_bar_and_at_the_open_on_a_gap():
    loop = perp_loop(fill_model="ohlc")
    data = [bar(1, 100, 101, 99, 100), bar(2, 100.5, 100.6, 97.5, 98), bar(3, 96, 97, 95, 96.5)]
    run(loop, data, at(1, order("in", BUY, "1", price="98.0"), order("gap", BUY, "1", price="96.5")))
    got = {f.client_order_id: (f.last_price, f.liquidity, f.ts_event // MIN) for f in fills(loop)}
    assert got == {"in": (D("98.0"), ev.Liquidity.MAKER, 2), "gap": (D("96"), ev.Liquidity.MAKER, 3)}


def test_stop_market_triggers_and_fills_at_the_trigger():
    loop = perp_loop(fill_model="ohlc")
    data = [bar(1, 100, 101, 99, 100), bar(2, 100, 103, 99.5, 102)]
    run(loop, data, at(1, order("s", BUY, "1", order_type=ev.OrderType.STOP_MARKET, trigger="102.5")))
    kinds = [type(e).__name__ for e in loop.events]
    assert kinds == ["OrderAccepted", "OrderTriggered", "OrderFilled"]
    assert fills(loop)[0].last_price == D("102.5")


def test_latency_delays_the_command_in_clock_time():
    bars = bybit_bars()
    loop = perp_loop(fill_model="bar_close", latency_ns=90 * 1_000_000_000)
    run(loop, bars[:10], at(bars[2].ts_event // MIN, order("a", BUY, "0.01")))
    accepted = loop.of(ev.OrderAccepted)[0]
    assert accepted.ts_event == bars[4].ts_event  # 90 s after bar 2's close: bar 4's step
    assert fills(loop)[0].last_price == D(repr(bars[4].close))


# ---- slippage, fees ----------------------------------------------------------------------------


def test_slippage_moves_taker_fills_against_the_taker_rounded_to_the_tick():
    loop = perp_loop(fill_model="bar_close", slippage_bps=10)
    data = [bar(1, 17199, 17200, 17198, 17199.0), bar(2, 17199, 17200, 17198, 17199.0)]
    run(loop, data, at(1, order("b", BUY, "0.01")), at(2, order("s", SELL, "0.01")))
    prices = [f.last_price for f in fills(loop)]
    # 17199 * 1.001 = 17216.199 -> up to 17216.2; 17199 * 0.999 = 17181.801 -> down to 17181.8
    assert prices == [D("17216.2"), D("17181.8")]


def test_slippage_never_pushes_a_fill_past_the_limit():
    loop = perp_loop(fill_model="bar_close", slippage_bps=50)
    run(loop, [bar(1, 100, 100, 100, 100)], at(1, order("b", BUY, "1", price="100.2")))
    assert fills(loop)[0].last_price == D("100.2")


def test_fee_overrides_and_maker_rebate():
    loop = perp_loop(fill_model="ohlc", maker_fee="-0.0001", taker_fee="0.001")
    data = [bar(1, 100, 100, 100, 100), bar(2, 100, 100, 98, 99)]
    run(loop, data, at(1, order("m", BUY, "1", price="99.0"), order("t", BUY, "1")))
    fees = {f.client_order_id: f.fee for f in fills(loop)}
    assert fees == {"t": D("0.1"), "m": D("-0.0099")}
    assert loop.venue.balance("USDT") == D(100_000) - D("0.1") + D("0.0099")


def test_perp_round_trip_books_pnl_minus_fees_to_the_cent():
    loop = perp_loop(fill_model="bar_close")
    data = [bar(1, 100, 100, 100, 100.0), bar(2, 110, 110, 110, 110.5)]
    run(loop, data, at(1, order("o", BUY, "2")), at(2, order("c", SELL, "2")))
    fees = D(2) * D("100.0") * D("0.00055") + D(2) * D("110.5") * D("0.00055")
    assert loop.venue.balance("USDT") == D(100_000) + D(2) * D("10.5") - fees
    assert loop.venue.position(PERP.id) == 0


def test_spot_moves_base_and_quote_and_pays_fee_in_quote():
    loop = Loop([SPOT], balances={"USDT": D(1000)}, fill_model="bar_close")
    run(loop, [bar(1, 100, 100, 100, 100.0, SPOT.id)],
        at(1, order("b", BUY, "0.5", iid=SPOT.id)))
    assert loop.venue.balance("BTC") == D("0.5")
    assert loop.venue.balance("USDT") == D(1000) - D(50) - D("0.05")
    assert loop.venue.snapshot().positions == ()  # spot holdings are balances


# ---- rejections ------------------------------------------------------------------------------


def rejected(loop: Loop) -> dict[str, tuple[ev.ErrorKind, str]]:
    return {r.client_order_id: (r.kind, r.reason) for r in loop.of(ev.OrderRejected)}


def test_invalid_numbers_are_rejected_with_reasons():
    from .test_sim_data import USDM

    loop = Loop([PERP, USDM], venue="sim", balances={"USDT": D(10**6)})
    cmds = [
        order("lot", BUY, "0.0015"),
        order("tick", BUY, "0.01", price="100.05"),
        order("noprice", BUY, "0.01", order_type=ev.OrderType.LIMIT),
        order("notional", BUY, "0.001", price="99.0", iid=USDM.id),
        order("po", BUY, "0.01", post_only=True),
        order("unknown", BUY, "0.01", iid="ETH/USDT:USDT@bybit"),
        order("trig", SELL, "0.01", order_type=ev.OrderType.STOP_MARKET, trigger="99.99"),
    ]
    run(loop, [bar(1, 100, 100, 100, 100), bar(1, 100, 100, 100, 100, USDM.id)], at(1, *cmds))
    got = rejected(loop)
    assert set(got) == {c.client_order_id for c in cmds}
    assert all(kind is E.INVALID_ORDER for kind, _ in got.values())
    assert "multiple of the lot 0.001" in got["lot"][1]
    assert "not on the tick 0.1" in got["tick"][1]
    assert "needs a positive price" in got["noprice"][1]
    assert "below minimum 100" in got["notional"][1]
    assert "post-only needs a limit" in got["po"][1]
    assert "unknown instrument" in got["unknown"][1]
    assert "trigger price 99.99" in got["trig"][1]


def test_market_order_before_any_price_is_a_temporary_rejection():
    loop = perp_loop()
    loop.venue.submit(order("a", BUY, "0.01"))
    loop.venue.process(0)
    assert rejected(loop) == {"a": (E.TEMPORARY, f"no market price yet for {PERP.id}")}


def test_post_only_that_would_cross_is_rejected_else_rests_as_maker():
    loop = perp_loop(fill_model="ohlc")
    data = [bar(1, 100, 100, 100, 100), bar(2, 100, 100.5, 99, 99.5)]
    run(loop, data, at(1, order("x", BUY, "1", price="100.0", post_only=True),
                        order("ok", BUY, "1", price="99.5", post_only=True)))
    assert rejected(loop)["x"][0] is E.INVALID_ORDER
    assert [(f.client_order_id, f.liquidity) for f in fills(loop)] == [("ok", ev.Liquidity.MAKER)]


def test_reduce_only_without_position_or_flipping_is_rejected():
    loop = perp_loop()
    data = [bar(1, 100, 100, 100, 100), bar(2, 100, 100, 100, 100)]
    run(loop, data,
        at(1, order("none", SELL, "1", reduce_only=True), order("open", BUY, "1")),
        at(2, order("flip", SELL, "2", reduce_only=True), order("same", BUY, "1", reduce_only=True),
           order("fine", SELL, "1", reduce_only=True)))
    got = rejected(loop)
    assert set(got) == {"none", "flip", "same"}
    assert "increase" in got["none"][1] and "flip" in got["flip"][1] and "increase" in got["same"][1]
    assert loop.venue.position(PERP.id) == 0


def test_resting_reduce_only_is_cut_to_the_position_when_it_fills():
    loop = perp_loop(fill_model="ohlc")
    data = [bar(1, 100, 100, 100, 100), bar(2, 100, 100, 100, 100), bar(3, 100, 100, 100, 100),
            bar(4, 100, 106, 100, 105)]
    run(loop, data, at(1, order("open", BUY, "1")),
        at(2, order("tp", SELL, "1", price="105.0", reduce_only=True)),
        at(3, order("part", SELL, "0.4")))
    tp = fills(loop, "tp")
    assert [f.last_qty for f in tp] == [D("0.600")]
    canceled = loop.of(ev.OrderCanceled)
    assert [c.client_order_id for c in canceled] == ["tp"] and "reduce-only" in canceled[0].reason
    assert loop.venue.position(PERP.id) == 0


def test_insufficient_funds_spot_and_margin():
    spot = Loop([SPOT], balances={"USDT": D(100), "BTC": D("0.5")}, fill_model="ohlc")
    run(spot, [bar(1, 100, 100, 100, 100, SPOT.id)], at(1,
        order("big", BUY, "1", iid=SPOT.id),                # 100 USDT + fee > 100
        order("hold", BUY, "0.9", price="99.0", iid=SPOT.id),  # fits, and holds 89.19 USDT
        order("after", BUY, "0.2", price="99.0", iid=SPOT.id),  # 19.82 more: does not fit
        order("sell", SELL, "0.6", iid=SPOT.id)))            # only 0.5 BTC
    got = rejected(spot)
    assert {k: v[0] for k, v in got.items()} == {
        "big": E.INSUFFICIENT_FUNDS, "after": E.INSUFFICIENT_FUNDS, "sell": E.INSUFFICIENT_FUNDS}
    perp = Loop([PERP], balances={"USDT": D(1000)}, default_leverage=10)
    run(perp, [bar(1, 100, 100, 100, 100)], at(1,
        order("a", BUY, "99"),   # 9,900 notional / 10 = 990 margin: fits
        order("b", BUY, "2"),    # 20 more margin: not
        order("c", SELL, "99")))  # reduces: needs none
    assert set(rejected(perp)) == {"b"}


def test_duplicate_client_id_is_rejected_and_the_first_order_is_untouched():
    loop = perp_loop(fill_model="ohlc")
    run(loop, [bar(1, 100, 100, 100, 100)], at(1, order("a", BUY, "1", price="90.0")))
    run(loop, [bar(2, 100, 100, 100, 100)], at(2, order("a", BUY, "1", price="91.0")))
    assert rejected(loop)["a"][0] is E.INVALID_ORDER
    assert loop.venue.open_orders() == ["a"]
    assert loop.venue.snapshot().open_orders[0].price == D("90.0")


def test_cancel_is_idempotent_and_unknown_ids_are_reported():
    loop = perp_loop(fill_model="ohlc")
    cancel = ev.CancelOrder(ts_init=0, client_order_id="a", instrument_id=PERP.id)
    run(loop, [bar(1, 100, 100, 100, 100)], at(1, order("a", BUY, "1", price="90.0")))
    run(loop, [bar(2, 100, 100, 100, 100)], at(2, cancel, cancel,
        ev.CancelOrder(ts_init=0, client_order_id="zz", instrument_id=PERP.id)))
    assert [c.client_order_id for c in loop.of(ev.OrderCanceled)] == ["a"]
    rej = loop.of(ev.OrderCancelRejected)
    assert [(r.client_order_id, r.kind, r.reason) for r in rej] == [
        ("a", E.NOT_FOUND, "order already closed"), ("zz", E.NOT_FOUND, "unknown order")]
    run(loop, [bar(3, 100, 100, 80, 85)])
    assert fills(loop) == []  # canceled orders never fill


def test_cancel_all_orders():
    loop = perp_loop(fill_model="ohlc")
    run(loop, [bar(1, 100, 100, 100, 100)],
        at(1, order("a", BUY, "1", price="90.0"), order("b", SELL, "1", price="110.0")))
    loop.venue.cancel_all(ev.CancelAllOrders(ts_init=0, instrument_id=PERP.id, reason="halt"))
    loop.venue.process(loop.clock.now_ns())
    assert sorted(c.client_order_id for c in loop.of(ev.OrderCanceled)) == ["a", "b"]
    assert loop.venue.open_orders() == []


# ---- loop contract ---------------------------------------------------------------------------


def test_submit_never_calls_the_sink_and_handlers_may_submit_from_the_sink():
    depth = [0]
    seen: list[type] = []
    clock_holder = {}

    def sink(e):
        depth[0] += 1
        assert depth[0] == 1, "sink entered re-entrantly"
        seen.append(type(e))
        if isinstance(e, ev.OrderFilled) and e.client_order_id == "a":
            venue.submit(order("b", SELL, "0.01"))  # react to the fill from inside the sink
        depth[0] -= 1

    from titan.core.clock import SimClock

    clock = clock_holder["c"] = SimClock(0)
    venue = SimVenue([PERP], clock=clock, sink=sink, balances={"USDT": 10_000})
    b = bar(1, 100, 100, 100, 100)
    clock.advance_to(b.ts_event)
    venue.on_market(b)
    venue.submit(order("a", BUY, "0.01"))
    assert seen == []  # submit only queued
    venue.process(b.ts_event)
    # "b", submitted from inside the sink, had no latency: the same process() call ran it,
    # after the sink call that submitted it had returned
    assert seen == [ev.OrderAccepted, ev.OrderFilled, ev.OrderAccepted, ev.OrderFilled]
    assert venue.position(PERP.id) == 0


def test_client_implements_the_protocol_and_snapshot_reports_the_truth():
    events: list[ev.Message] = []
    from titan.core.clock import SimClock

    clock = SimClock(0)
    venue = SimVenue([PERP], clock=clock, balances={"USDT": 10_000}, fill_model="ohlc")
    client = SimExecutionClient(venue, sink=events.append)
    assert isinstance(client, ExecutionClient) and client.venue == "bybit"
    asyncio.run(client.start())
    for i, b in enumerate([bar(1, 100, 100, 100, 100), bar(2, 100, 100, 100, 100)]):
        clock.advance_to(b.ts_event)
        venue.on_market(b)
        if i == 0:
            client.submit(order("m", BUY, "0.5"))
            client.submit(order("l", SELL, "0.2", price="120.0"))
        venue.process(b.ts_event)
    snap = asyncio.run(client.snapshot())
    asyncio.run(client.stop())
    assert snap.venue == "bybit" and snap.ts == 2 * MIN
    assert [(p.instrument_id, p.quantity, p.avg_price) for p in snap.positions] == [
        (PERP.id, D("0.500"), D("100.0"))]
    (o,) = snap.open_orders
    assert (o.client_order_id, o.side, o.quantity, o.filled_qty, o.price) == (
        "l", SELL, D("0.2"), D(0), D("120.0"))
    assert snap.balances == {"USDT": D(10_000) - D("0.5") * 100 * D("0.00055")}
    assert [(f.client_order_id, f.quantity) for f in snap.fills] == [("m", D("0.500"))]


# ---- funding --------------------------------------------------------------------------------


def test_recorded_funding_is_paid_on_the_position_at_the_mark():
    bars, funding = bybit_bars(), bybit_funding()
    data = sorted(bars + funding, key=lambda e: (e.ts_event, e.__class__ is ev.Bar))
    loop = perp_loop(fill_model="bar_close")
    run(loop, data, at(bars[0].ts_event // MIN, order("long", BUY, "0.1")))
    paid = loop.of(ev.FundingPaid)
    # the position opened after the 00:00 settlement; 08:00 and 16:00 (after the last bar,
    # at its close) are paid
    assert [p.ts_event for p in paid] == [funding[1].ts_event, funding[2].ts_event]
    expected = []
    for rec in funding[1:]:
        last = [b for b in bars if b.ts_event < rec.ts_event][-1]  # funding sorts first
        expected.append(-D("0.100") * D(repr(last.close)) * D(repr(rec.rate)))
    assert [p.amount for p in paid] == expected and all(a > 0 for a in expected)  # longs receive
    assert paid[0].currency == "USDT" and paid[0].rate == D("-0.00022398")
    f = fills(loop)[0]
    assert loop.venue.balance("USDT") == D(100_000) - f.fee + sum(expected)


def test_announced_funding_settles_once_at_ts_next_with_the_latest_rate():
    loop = perp_loop(fill_model="bar_close")
    iid = PERP.id

    def fr(ts_min, rate, nxt):
        return ev.FundingRate(instrument_id=iid, ts_event=ts_min * MIN, ts_init=0, rate=rate,
                              ts_next=nxt * MIN)

    mark = ev.MarkPrice(instrument_id=iid, ts_event=2 * MIN, ts_init=0, mark=200.0)
    data = [bar(1, 100, 100, 100, 100), mark, fr(2, 0.001, 5), fr(3, 0.002, 5),
            bar(4, 100, 100, 100, 100), bar(6, 100, 100, 100, 100), fr(6, 0.002, 5),
            bar(7, 100, 100, 100, 100)]
    run(loop, data, at(1, order("s", SELL, "1")))
    (paid,) = loop.of(ev.FundingPaid)
    assert paid.ts_event == 5 * MIN and paid.rate == D("0.002")
    assert paid.amount == D("1") * D("200.0") * D("0.002")  # a short receives a positive rate


def test_spot_ignores_funding():
    loop = Loop([SPOT], balances={"USDT": D(1000)})
    run(loop, [bar(1, 100, 100, 100, 100, SPOT.id)], at(1, order("b", BUY, "1", iid=SPOT.id)))
    run(loop, [ev.FundingRate(instrument_id=SPOT.id, ts_event=2 * MIN, ts_init=0, rate=0.01)])
    assert loop.of(ev.FundingPaid) == []


# ---- construction ----------------------------------------------------------------------------


@pytest.mark.parametrize("kwargs, message", [
    ({"fill_model": "vwap"}, "fill_model: expected one of bar_close, next_open, ohlc, book"),
    ({"latency_ns": -1}, "latency_ns: must be >= 0"),
    ({"slippage_bps": -2}, "slippage_bps: must be >= 0"),
    ({"default_leverage": 0}, "default_leverage: must be > 0"),
    ({"leverage": {"X@bybit": 2}}, r"leverage: unknown instruments \['X@bybit'\]"),
    ({"balances": {"USDT": "-1"}}, "balances\\['USDT'\\]: must be a finite amount >= 0"),
])
def test_bad_construction_says_what(kwargs, message):
    from titan.core.clock import SimClock

    with pytest.raises(ValueError, match=message):
        SimVenue([PERP], clock=SimClock(), **kwargs)


def test_no_sink_is_an_error_not_silence():
    from titan.core.clock import SimClock

    venue = SimVenue([PERP], clock=SimClock())
    venue.submit(order("a", BUY, "1"))
    with pytest.raises(RuntimeError, match="no sink attached"):
        venue.process(0)


def test_perpetual_kind_is_what_the_test_instrument_says():
    assert PERP.kind is InstrumentKind.PERPETUAL and SPOT.is_spot


# ---- numbering across restarts ----------------------------------------------------------------


def test_resumed_venue_continues_the_order_and_trade_numbering():
    from titan.core.state import ShadowState

    state = ShadowState()
    state.apply(ev.BalanceSet(venue=PERP.venue, currency="USDT", total=D(100_000), ts_event=0, ts_init=0))

    def session(cid: str, resume: tuple[int, int] | None):
        loop = perp_loop()
        if resume is not None:
            loop.venue.resume_ids(*resume)
        cmd = order(cid, BUY, "0.01")
        state.apply(cmd)
        out = run(loop, [bar(1, 100, 101, 99, 100)], at(1, cmd))
        for e in out:
            state.apply(e)
        return loop.venue, [e for e in out if isinstance(e, (ev.OrderAccepted, ev.OrderFilled))]

    first, events = session("a", None)
    assert [getattr(e, "trade_id", e.venue_order_id) for e in events] == [f"{PERP.venue}-1", f"{PERP.venue}-t1"]
    second, events = session("b", first.next_ids)
    assert [getattr(e, "trade_id", e.venue_order_id) for e in events] == [f"{PERP.venue}-2", f"{PERP.venue}-t2"]
    assert state.position_qty(PERP.id) == D("0.02")  # the second fill was not taken for a duplicate
    _, events = session("c", None)  # without resuming, the ids repeat and the state drops the fill
    assert events[-1].trade_id == f"{PERP.venue}-t1" and state.position_qty(PERP.id) == D("0.02")


def test_resume_ids_never_goes_back_and_rejects_bad_numbers():
    venue = perp_loop().venue
    venue.resume_ids(10, 7)
    venue.resume_ids(3, 3)
    assert venue.next_ids == (10, 7)
    for bad in (0, -1, 1.5, True, "2"):
        with pytest.raises(ValueError, match="next_order_seq: expected an integer >= 1"):
            venue.resume_ids(bad, 1)
    with pytest.raises(ValueError, match="next_trade_seq"):
        venue.resume_ids(1, 0)
