"""CcxtExecutionClient against the exchange emulator: what the contract suite does not cover -
instruments from load_markets, the exact requests ccxt sends (so a ccxt upgrade fails loudly),
leverage and margin mode, stop orders, spot reduce-only, snapshot for reconciliation."""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal

import pytest

from tests.kit.emulator.runner import EmulatorThread
from tests.kit.harnesses import LIVE, EmulatorHarness
from titan.core import events as ev

D = Decimal


@pytest.fixture(scope="module")
def emu():
    t = EmulatorThread().start()
    yield t
    t.stop()


def harness(name: str, emu: EmulatorThread) -> EmulatorHarness:
    emu.reset()
    return EmulatorHarness(name, emu)


def session(name: str, emu: EmulatorThread, body):
    """Start a harness, run ``body(h)``, always stop the client; returns (h, body's result)."""
    async def go():
        h = harness(name, emu)
        await h.start()
        try:
            return h, await body(h)
        finally:
            await h.stop()

    return asyncio.run(go())


@pytest.mark.parametrize("name", list(LIVE))
def test_instruments_come_from_the_venues_markets(name, emu):
    async def nothing(h):
        return None

    h, _ = session(name, emu, nothing)
    spec, inst = h.spec(), h.instrument
    assert (inst.tick_size, inst.lot_size, inst.min_qty) == (spec.tick, spec.lot, spec.min_qty)
    assert inst.min_notional == spec.min_notional
    assert inst.is_spot == spec.is_spot and inst.base == spec.base and inst.quote == spec.quote
    if not inst.is_spot:
        assert inst.settle == "USDT" and inst.contract_size == 1 and inst.max_leverage == spec.max_leverage


# The requests ccxt 4.5.90 sends for start() + a market order + a resting limit + its cancel.
# A ccxt upgrade that changes endpoints or parameters fails here first.
START = {
    "bybit-linear": [("GET", "/v5/market/instruments-info", ["category"]),
                     ("GET", "/v5/market/instruments-info", ["category", "limit"]),
                     ("GET", "/v5/market/instruments-info", ["category", "limit", "status"]),
                     ("GET", "/v5/account/wallet-balance", ["accountType"]),
                     ("POST", "/v5/account/set-margin-mode", {"setMarginMode": "REGULAR_MARGIN"}),
                     ("GET", "/stream/v5/private", [])],
    "binance-spot": [("GET", "/api/v3/exchangeInfo", []),
                     ("GET", "/api/v3/account", ["recvWindow", "signature", "timestamp"]),
                     ("GET", "/ws-api/ws-api/v3", [])],
    "binanceusdm": [("GET", "/fapi/v1/exchangeInfo", []),
                    ("GET", "/fapi/v1/leverageBracket", ["recvWindow", "signature", "timestamp"]),  # max leverage
                    ("GET", "/fapi/v3/account", ["recvWindow", "signature", "timestamp"]),
                    ("POST", "/fapi/v1/marginType", ["marginType", "recvWindow", "signature", "symbol", "timestamp"]),
                    ("POST", "/fapi/v1/listenKey", []),
                    # watch_orders loads the brackets again (a separate ccxt cache) and a positions snapshot
                    ("GET", "/fapi/v1/leverageBracket", ["recvWindow", "signature", "timestamp"]),
                    ("GET", "/fapi/v3/positionRisk", ["recvWindow", "signature", "timestamp"]),
                    ("GET", "/fstream/private/ws", ["listenKey"])],
    "mexc-spot": [("GET", "/api/v3/exchangeInfo", []), ("GET", "/api/v1/contract/detail", []),
                  ("GET", "/api/v3/account", ["recvWindow", "signature", "timestamp"])],
}
# The create bodies: Titan builds the parameters (titan/execution/placement.py), ccxt adds the
# signature fields and encodes. Key order is the wire order.
CREATE_BODY = {
    "bybit-linear": {"category": "linear", "symbol": "BTCUSDT", "side": "Buy", "orderType": "Market",
                     "qty": "0.001", "orderLinkId": None},
    "binance-spot": "timestamp&symbol&side&type&quantity&newClientOrderId&newOrderRespType&recvWindow&signature",
    "binanceusdm": "timestamp&symbol&side&type&quantity&newClientOrderId&newOrderRespType&recvWindow&signature",
    "mexc-spot": "symbol&side&type&quantity&newClientOrderId&timestamp&recvWindow&signature",
}


def shape(r) -> tuple:
    if r.method == "POST" and r.body.startswith("{"):
        return (r.method, r.path, {k: v for k, v in json.loads(r.body).items() if k == "setMarginMode"})
    keys = sorted(r.query) if r.method == "GET" else sorted(k.split("=")[0] for k in (r.body or "").split("&") if k)
    return (r.method, r.path, keys)


@pytest.mark.parametrize("name", list(START))
def test_requests_ccxt_sends_are_pinned(name, emu):
    async def body(h):
        await h.quiet(0.2)
        start = [shape(r) for r in h.requests_all()]
        cid = h.submit(h.order(ev.Side.BUY, D("0.002") if "usdm" in name else D("0.001")))
        await h.wait(lambda: h.terminal(cid))
        return start, h.requests(h.create_path)[0]

    _, (start, create) = session(name, emu, body)
    expected = [(m, p, q if isinstance(q, dict) else sorted(q)) for m, p, q in START[name]]
    assert start == expected
    want = CREATE_BODY[name]
    if isinstance(want, dict):
        body = json.loads(create.body)
        assert list(body) == list(want) and all(v is None or body[k] == v for k, v in want.items())
        assert body["orderLinkId"].startswith("TTN-ctr-")
    else:
        source = create.body if name != "mexc-spot" else "&".join(f"{k}={v}" for k, v in create.query.items())
        assert [kv.split("=")[0] for kv in source.split("&")] == want.split("&")


def test_leverage_not_modified_is_success(emu):
    """Bybit answers 110043 when the leverage is already set: no alert, nothing retried."""
    async def go():
        h = harness("bybit-linear", emu)
        events: list = []
        for _ in range(2):
            client = h.make_client(sink=events.append, leverage={"BTC/USDT:USDT": 7.0})
            await client.start()
            await client.stop()
        return events, h.requests("/v5/position/set-leverage")

    events, calls = asyncio.run(go())
    assert [r.code for r in calls] == ["0", "110043"]
    assert not [e for e in events if isinstance(e, ev.AlertRaised)], events
    assert emu.call(lambda e: e.exchange("bybit").leverage("BTCUSDT")) == D("7")


def test_reduce_only_is_not_sent_on_spot(emu):
    async def body(h):
        cid = h.submit(h.order(ev.Side.SELL, D("0.001"), reduce_only=True))
        await h.wait(lambda: h.terminal(cid))
        return cid

    h, cid = session("binance-spot", emu, body)
    (create,) = h.requests(h.create_path)
    assert "reduceOnly" not in create.body
    assert h.of(cid, ev.OrderFilled), "a spot sell flagged reduce-only is an ordinary sell"


def test_bybit_stop_market_triggers_and_fills(emu):
    async def body(h):
        bid, ask = h.best()
        trigger = ask + 50
        cid = h.submit(h.order(ev.Side.BUY, D("0.001"), ev.OrderType.STOP_MARKET, trigger_price=trigger))
        await h.wait(lambda: bool(h.of(cid, ev.OrderAccepted)))
        await h.quiet(0.2)
        assert not h.of(cid, ev.OrderFilled) and h.venue_open(cid)
        body = json.loads(h.requests(h.create_path)[0].body)
        assert body["triggerPrice"] == str(trigger) and body["triggerDirection"] == 1
        emu.call(lambda e: e.exchange("bybit").print_trade("BTCUSDT", trigger + 1, D("1"), "buy"))
        await h.wait(lambda: h.terminal(cid))
        return cid

    h, cid = session("bybit-linear", emu, body)
    (fill,) = h.of(cid, ev.OrderFilled)
    assert fill.last_qty == D("0.001") and fill.liquidity is ev.Liquidity.TAKER


def test_binance_spot_stop_limit(emu):
    async def body(h):
        bid, ask = h.best()
        trigger, price = bid - D("20"), bid - D("30")
        cid = h.submit(h.order(ev.Side.SELL, D("0.001"), ev.OrderType.STOP_LIMIT, price, trigger_price=trigger))
        await h.wait(lambda: bool(h.of(cid, ev.OrderAccepted)))
        create = h.requests(h.create_path)[0]
        assert "type=STOP_LOSS_LIMIT" in create.body and f"stopPrice={trigger.normalize()}" in create.body
        emu.call(lambda e: e.exchange("binance").print_trade("BTCUSDT", trigger - D("0.01"), D("1"), "sell"))
        await h.wait(lambda: h.terminal(cid))
        return cid, price

    h, (cid, price) = session("binance-spot", emu, body)
    fills = h.of(cid, ev.OrderFilled)
    assert sum(f.last_qty for f in fills) == D("0.001") and all(f.last_price >= price for f in fills)


def test_snapshot_reports_the_venue_exactly(emu):
    async def body(h):
        cid = h.submit(h.order(ev.Side.SELL, D("0.003")))
        await h.wait(lambda: h.terminal(cid))
        rest = h.submit(h.order(ev.Side.BUY, D("0.002"), ev.OrderType.LIMIT, h.best()[0] - 100))
        await h.wait(lambda: bool(h.of(rest, ev.OrderAccepted)))
        return cid, rest, await h.client.snapshot()

    h, (cid, rest, snap) = session("bybit-linear", emu, body)
    (o,) = snap.open_orders
    assert (o.client_order_id, o.instrument_id, o.side, o.quantity, o.filled_qty) == (rest, h.iid, ev.Side.BUY, D("0.002"), D(0))
    (p,) = snap.positions
    assert p.instrument_id == h.iid and p.quantity == D("-0.003")
    fills = [f for f in snap.fills if f.client_order_id == cid]
    assert {f.trade_id for f in fills} == {f.trade_id for f in h.of(cid, ev.OrderFilled)}
    assert snap.balances["USDT"] == h.venue_balance("USDT") and snap.balances["BTC"] == h.venue_balance("BTC")
    assert p.avg_price == fills[0].price


def test_unknown_instrument_and_cancel_of_unknown_order_are_events(emu):
    async def body(h):
        bad = ev.SubmitOrder(client_order_id="TTN-ctr-9999999999", phase="p", instrument_id="DOGE/USDT@bybit",
                             side=ev.Side.BUY, order_type=ev.OrderType.MARKET, quantity=D("1"), ts_init=0)
        h.client.submit(bad)
        h.client.cancel(h.cancel_cmd("TTN-ctr-8888888888"))
        await h.wait(lambda: len(h.events) >= 2)

    h, _ = session("bybit-linear", emu, body)
    rej = h.of("TTN-ctr-9999999999", ev.OrderRejected)
    assert rej and rej[0].kind is ev.ErrorKind.INVALID_ORDER and "unknown instrument" in rej[0].reason
    crej = h.of("TTN-ctr-8888888888", ev.OrderCancelRejected)
    assert crej and crej[0].kind is ev.ErrorKind.NOT_FOUND


@pytest.mark.parametrize("name", ["bybit-linear", "binance-spot"])
def test_a_5xx_on_create_is_looked_up_before_anything_is_resent(name, emu):
    """A 503 says nothing about whether the order exists: the client looks it up by client id,
    finds none (the emulator did nothing) and only then sends it again - one order."""
    async def body(h):
        await h.inject("http_5xx", path=h.create_path, times=1)
        cid = h.submit(h.order(ev.Side.BUY, D("0.001"), ev.OrderType.LIMIT, h.best()[0] - 100))
        await h.wait(lambda: bool(h.of(cid, (ev.OrderAccepted, ev.OrderRejected))))
        return cid, [(r.method, r.path, r.status, r.code) for r in h.requests_all()]

    h, (cid, log) = session(name, emu, body)
    assert len(h.of(cid, ev.OrderAccepted)) == 1 and not h.of(cid, ev.OrderRejected)
    assert h.venue_orders(cid) == 1
    creates = [i for i, r in enumerate(log) if r[:2] == ("POST", h.create_path)]
    assert [log[i][2] for i in creates] == [503, 200], log
    between = log[creates[0] + 1: creates[1]]
    assert between and all(m == "GET" for m, *_ in between), f"no lookup between the two creates: {between}"


@pytest.mark.parametrize("name", ["bybit-linear", "binance-spot"])
def test_clock_skew_is_measured_and_compensated(name, emu):
    """The venue's clock runs 8 s ahead: the first signed request is refused (timestamp window),
    the client measures the offset once and every later request is accepted."""
    emu.reset()
    emu.call(lambda e: setattr(e, "clock_skew_ms", 8000))
    try:
        async def body(h):
            cid = h.submit(h.order(ev.Side.BUY, D("0.001")))
            await h.wait(lambda: h.terminal(cid))
            return cid, [(r.path, r.code) for r in h.requests_all()]

        h, (cid, log) = session(name, emu, body)
    finally:
        emu.call(lambda e: setattr(e, "clock_skew_ms", 0))
    assert h.of(cid, ev.OrderFilled) and not h.of(cid, ev.OrderRejected)
    assert not [e for e in h.events if isinstance(e, ev.AlertRaised)]
    refused = [p for p, code in log if code in ("10002", "-1021")]
    assert len(refused) == 1, log  # one refusal, then compensated
    assert any(p.endswith("/time") for p, _ in log)


def test_after_a_restart_orders_are_adopted_or_canceled_by_their_ids(emu):
    """A new process (a second client) meets orders the first one placed: one is adopted and its
    fill becomes an event; another, unknown to it, is canceled at the venue by client id."""
    async def body(h):
        keep = h.submit(h.order(ev.Side.BUY, D("0.001"), ev.OrderType.LIMIT, h.best()[0] - 100))
        drop = h.submit(h.order(ev.Side.BUY, D("0.001"), ev.OrderType.LIMIT, h.best()[0] - 150))
        await h.wait(lambda: bool(h.of(keep, ev.OrderAccepted)) and bool(h.of(drop, ev.OrderAccepted)))
        venue_id = h.of(keep, ev.OrderAccepted)[0].venue_order_id
        events: list = []
        second = h.make_client(sink=events.append)
        await second.start()
        try:
            cmd = h.order(ev.Side.BUY, D("0.001"), ev.OrderType.LIMIT, h.best()[0] - 100, client_order_id=keep)
            assert second.adopt(cmd, venue_id) and not second.adopt(cmd, venue_id)
            second.cancel(ev.CancelOrder(client_order_id=drop, instrument_id=h.iid, ts_init=0))
            await h.trade_through(ev.Side.BUY, h.best()[0] - 100)
            await h.wait(lambda: any(isinstance(e, ev.OrderFilled) for e in events)
                         and any(isinstance(e, ev.OrderCanceled) for e in events))
        finally:
            await second.stop(cancel_open=False)
        return keep, drop, events

    h, (keep, drop, events) = session("bybit-linear", emu, body)
    fills = [e for e in events if isinstance(e, ev.OrderFilled)]
    assert [f.client_order_id for f in fills] == [keep] and fills[0].liquidity is ev.Liquidity.MAKER
    assert [e.client_order_id for e in events if isinstance(e, ev.OrderCanceled)] == [drop]
    assert not h.venue_open(drop)


@pytest.mark.parametrize("name", ["bybit-linear", "binanceusdm"])
def test_private_stream_recovers_after_a_drop(name, emu):
    async def body(h):
        await h.wait(lambda: h.client.updates.healthy)
        await h.inject("drop_ws", times=0)
        await h.wait(lambda: not h.client.updates.healthy)
        errors = h.client.updates.stream_errors
        await h.clear_faults()
        await h.wait(lambda: h.client.updates.healthy)
        cid = h.submit(h.order(ev.Side.BUY, D("0.002") if "usdm" in name else D("0.001")))
        await h.wait(lambda: h.terminal(cid))
        return errors, cid

    h, (errors, cid) = session(name, emu, body)
    assert errors > 0, "the drop must have been noticed"
    assert len(h.of(cid, ev.OrderFilled)) >= 1
    private_ws = [r for r in h.requests_all() if ("private/ws" in r.path or r.path.endswith("/v5/private"))]
    assert len(private_ws) >= 2, "connected, dropped, connected again"


def test_stream_update_that_beats_the_create_answer_is_not_lost(emu):
    """Bybit cancels a crossing post-only order at once and says so on the private stream before
    the (delayed) REST answer arrives; with polling far away the stream report must end it."""
    emu.reset()

    async def go():
        h = EmulatorHarness("bybit-linear", emu)
        h.client = h.make_client(poll_interval_s=60.0)
        await h.client.start()
        h.instrument = h.client.instruments[h.iid]
        try:
            await h.wait(lambda: h.client.updates.healthy)
            await h.inject("timeout_after_accept", path=h.create_path, delay_s=0.5)  # answer held 0.5 s < timeout
            cid = h.submit(h.order(ev.Side.BUY, D("0.001"), ev.OrderType.LIMIT, h.best()[1], post_only=True))
            await h.wait(lambda: h.terminal(cid), timeout=5)
            await h.quiet(0.6)
            return h, cid
        finally:
            await h.client.stop()

    h, cid = asyncio.run(go())
    assert [type(e).__name__ for e in h.of(cid)] == ["OrderAccepted", "OrderCanceled"]
    assert "post-only" in h.of(cid, ev.OrderCanceled)[0].reason
    assert h.client.updates.polls == 0
