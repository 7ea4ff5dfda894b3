"""The emulator's engine books money exactly (it is the oracle for the live contract tests)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.kit.emulator.engine import EngineError, Exchange, MarketSpec, Reject, Status
from tests.kit.emulator.signing import hmac_hex, split_signed, verify_bybit, verify_query_signed
from tests.kit.emulator.tape import load_quote_bars

D = Decimal
EIGHT = D("1e-8")
LINEAR = MarketSpec("BTCUSDT", "linear", "BTC", "USDT", tick=D("0.5"), lot=D("0.001"), min_qty=D("0.001"),
                    max_qty=D("100"), min_notional=D("5"), maker_fee=D("0.0002"), taker_fee=D("0.00055"))
SPOT = MarketSpec("BTCUSDT:spot", "spot", "BTC", "USDT", tick=D("0.01"), lot=D("0.000001"), min_qty=D("0.000048"),
                  max_qty=D("71"), min_notional=D("1"), maker_fee=D("0.001"), taker_fee=D("0.001"))


def exchange() -> Exchange:
    tapes = {"BTCUSDT": load_quote_bars("bybit-linear_BTCUSDT_quote_1m.csv.gz", "bybit-linear_BTCUSDT_1m.csv.gz"),
             "BTCUSDT:spot": load_quote_bars("bybit-spot_BTCUSDT_quote_1m.csv.gz", "bybit-spot_BTCUSDT_1m.csv.gz")}
    return Exchange("t", [LINEAR, SPOT], tapes, {"USDT": D("100000"), "BTC": D("1")}, post_only_cross="cancel")


ops = st.lists(st.one_of(
    st.tuples(st.just("market"), st.sampled_from(["buy", "sell"]), st.integers(1, 40)),
    st.tuples(st.just("limit"), st.sampled_from(["buy", "sell"]), st.integers(1, 40), st.integers(-20, 20)),
    st.tuples(st.just("advance"), st.integers(1, 4)),
    st.tuples(st.just("cancel_all"),),
    st.tuples(st.just("funding"), st.integers(-50, 50)),
), max_size=25)


@settings(max_examples=60)
@given(ops, st.sampled_from(["BTCUSDT", "BTCUSDT:spot"]))
def test_money_is_conserved_exactly(seq, symbol):
    ex = exchange()
    m = ex.markets[symbol]
    start = dict(ex.account.balances)
    for op in seq:
        try:
            if op[0] == "market":
                ex.place(symbol, op[1], "market", m.lot * op[2] * (1 if m.kind == "linear" else 50))
            elif op[0] == "limit":
                ref = ex.books[symbol].mid()
                price = (ref / m.tick).to_integral_value() * m.tick + op[3] * m.tick
                ex.place(symbol, op[1], "limit", m.lot * op[2] * (1 if m.kind == "linear" else 50), price)
            elif op[0] == "advance":
                ex.advance(symbol, op[1])
            elif op[0] == "cancel_all":
                ex.cancel_all(symbol)
            elif op[0] == "funding" and m.kind == "linear":
                ex.settle_funding(symbol, D(op[1]) / D(100000))
        except EngineError as e:
            assert e.reject in (Reject.INSUFFICIENT_FUNDS, Reject.MIN_NOTIONAL, Reject.NO_LIQUIDITY)
    ex.cancel_all()
    fills = [f for f in ex.fills if f.symbol == symbol]
    for f in fills:
        rate = m.maker_fee if f.is_maker else m.taker_fee
        expect = f.qty * rate if (m.kind == "spot" and f.side == "buy") else f.qty * f.price * rate
        assert f.fee == expect.quantize(EIGHT)
    assert all(v == 0 for v in ex.account.locked.values()), ex.account.locked
    bal = ex.account.balances
    if m.kind == "spot":
        base = sum((f.qty - f.fee if f.side == "buy" else -f.qty) for f in fills)
        quote = sum((-f.qty * f.price if f.side == "buy" else f.qty * f.price - f.fee) for f in fills)
        assert bal["BTC"] - start["BTC"] == base and bal["USDT"] - start["USDT"] == quote
    else:
        pos = ex.position(symbol)
        assert pos.size == sum((f.qty if f.side == "buy" else -f.qty) for f in fills)
        funding = sum(a for s, _, _, a in ex.funding if s == symbol)
        assert bal["USDT"] - start["USDT"] == pos.realised - sum(f.fee for f in fills) + funding
        assert bal["BTC"] == start["BTC"]


def test_post_only_cross_cancel_and_reduce_only():
    ex = exchange()
    ask = ex.books["BTCUSDT"].best_ask()
    o = ex.place("BTCUSDT", "buy", "limit", D("0.001"), ask, tif="PostOnly")
    assert o.status is Status.CANCELED and o.cancel_reason == "EC_PostOnlyWillTakeLiquidity" and not ex.fills
    with pytest.raises(EngineError) as e:
        ex.place("BTCUSDT", "sell", "market", D("0.001"), reduce_only=True)
    assert e.value.reject is Reject.REDUCE_ONLY
    ex.place("BTCUSDT", "buy", "market", D("0.002"))
    r = ex.place("BTCUSDT", "sell", "market", D("0.005"), reduce_only=True)
    assert r.qty == D("0.002") and ex.position("BTCUSDT").size == 0  # capped at the position


def test_resting_order_fills_as_maker_when_a_trade_prints_through():
    ex = exchange()
    bid = ex.books["BTCUSDT"].best_bid()
    o = ex.place("BTCUSDT", "buy", "limit", D("0.003"), bid - 10)
    ex.print_trade("BTCUSDT", bid - 10, D("0.001"), "sell")  # at the price: only the printed size
    assert o.filled == D("0.001") and o.status is Status.PARTIALLY_FILLED
    ex.print_trade("BTCUSDT", bid - D("10.5"), D("0.001"), "sell")  # through it: everything
    assert o.status is Status.FILLED and all(f.is_maker and f.price == bid - 10 for f in ex.fills)


def test_signatures_are_checked_over_the_raw_bytes():
    keys = {"k": "s"}
    now = 1_700_000_000_000
    body = '{"symbol":"BTCUSDT","qty":"0.001"}'
    sign = hmac_hex("s", f"{now}k5000{body}")
    headers = {"X-BAPI-API-KEY": "k", "X-BAPI-TIMESTAMP": str(now), "X-BAPI-RECV-WINDOW": "5000", "X-BAPI-SIGN": sign}
    assert verify_bybit(headers, "", body, "POST", keys, now + 10) is None
    assert verify_bybit(headers, "", body.replace("0.001", "0.002"), "POST", keys, now).kind == "bad_signature"
    assert verify_bybit(headers, "", body, "POST", keys, now + 5001).kind == "timestamp"
    assert verify_bybit(headers, "", body, "POST", keys, now - 1001).kind == "timestamp"  # ts too far ahead
    assert verify_bybit({**headers, "X-BAPI-API-KEY": "x"}, "", body, "POST", keys, now).kind == "bad_key"
    q = f"symbol=BTCUSDT&timestamp={now}&recvWindow=5000"
    signed = f"{q}&signature={hmac_hex('s', q)}"
    fail, params = verify_query_signed("k", signed, "", keys, now, 5000)
    assert fail is None and params["symbol"] == "BTCUSDT"
    assert verify_query_signed("k", signed.replace("BTC", "ETH"), "", keys, now, 5000)[0].kind == "bad_signature"
    assert verify_query_signed("", signed, "", keys, now, 5000)[0].kind == "missing_key"
    assert split_signed("", signed) == (q, hmac_hex("s", q), params)


def test_recorded_funding_settles_when_the_tape_passes_it():
    from tests.kit.emulator.tape import load_funding

    ex = exchange()
    rates = load_funding("bybit-linear_BTCUSDT_funding.csv.gz")
    start = ex.tapes["BTCUSDT"].ts_ms
    ex.funding_schedule["BTCUSDT"] = [(ts, r) for ts, r in rates if ts > start]
    assert [ts for ts, _ in ex.funding_schedule["BTCUSDT"]] == [1670918400000, 1670947200000]  # 08:00, 16:00
    ex.place("BTCUSDT", "sell", "market", D("0.010"))
    before = ex.account.balances["USDT"]
    while ex.tapes["BTCUSDT"].remaining and not ex.funding:
        ex.advance("BTCUSDT", 1)
    (symbol, _, rate, amount), = ex.funding
    assert rate == D("-0.00022398") and ex.tapes["BTCUSDT"].ts_ms >= 1670918400000
    # a short pays when the rate is negative: -size * mark * rate with size -0.010
    assert amount == (D("0.010") * ex.mark["BTCUSDT"] * rate).quantize(EIGHT) and amount < 0
    assert ex.account.balances["USDT"] - before == amount
