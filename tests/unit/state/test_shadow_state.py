"""ShadowState accounting, order folding and views, on hand-checked examples."""

from __future__ import annotations

import inspect
from decimal import Decimal as D

from titan.core import events as ev
from titan.core.instruments import Instrument, InstrumentKind, InstrumentRegistry
from titan.core.orders import OrderStatus
from titan.core.state import EXTERNAL_PHASE, ShadowState
from titan.core.views import PortfolioView

PERP = "BTC/USDT:USDT@bybit"
SPOT = "ETH/USDT@bybit"


def registry() -> InstrumentRegistry:
    return InstrumentRegistry([
        Instrument(symbol="BTC/USDT:USDT", venue="bybit", base="BTC", quote="USDT", settle="USDT",
                   kind=InstrumentKind.PERPETUAL, tick_size=D("0.1"), lot_size=D("0.001")),
        Instrument(symbol="ETH/USDT", venue="bybit", base="ETH", quote="USDT",
                   tick_size=D("0.01"), lot_size=D("0.0001")),
        Instrument(symbol="DOGE/USDT:USDT", venue="bybit", base="DOGE", quote="USDT",
                   settle="USDT", kind=InstrumentKind.PERPETUAL, tick_size=D("0.00001"),
                   lot_size=D("1"), contract_size=D("10")),
    ])


def submit(cid, iid, side, qty, phase="hunter", price=None, ts=1):
    return ev.SubmitOrder(client_order_id=cid, phase=phase, instrument_id=iid, side=side,
                          order_type=ev.OrderType.LIMIT if price else ev.OrderType.MARKET,
                          quantity=D(qty), price=D(price) if price else None, ts_init=ts)


def fill(cid, iid, side, qty, price, trade_id, fee="0", fee_ccy="USDT", ts=2):
    return ev.OrderFilled(client_order_id=cid, venue_order_id="v-" + cid, trade_id=trade_id,
                          instrument_id=iid, side=side, last_qty=D(qty), last_price=D(price),
                          fee=D(fee), fee_currency=fee_ccy, liquidity=ev.Liquidity.TAKER,
                          ts_event=ts, ts_init=ts)


def cash(state, venue="bybit", ccy="USDT", total="10000"):
    state.apply(ev.BalanceSet(venue=venue, currency=ccy, total=D(total), ts_event=0, ts_init=0))


BUY, SELL = ev.Side.BUY, ev.Side.SELL


def test_perp_round_trip_realizes_into_settle_balance_net_of_fees():
    s = ShadowState(registry())
    cash(s)
    s.apply(submit("a", PERP, BUY, "2"))
    s.apply(fill("a", PERP, BUY, "1", "100", "t1", fee="0.06"))
    s.apply(fill("a", PERP, BUY, "1", "110", "t2", fee="0.06"))
    assert s.position_qty(PERP) == D(2) and s.position(PERP).avg_price == D(105)
    assert s.balance("USDT") == D("9999.88")  # only fees moved money so far
    s.apply(submit("b", PERP, SELL, "2"))
    s.apply(fill("b", PERP, SELL, "2", "120", "t3", fee="0.12"))
    assert s.position_qty(PERP) == 0
    assert s.position(PERP, "hunter").realized_pnl == D(30)
    assert s.balance("USDT") == D("10000") + D(30) - D("0.24")
    assert s.phase_pnl("hunter") == D(30) - D("0.24")
    assert s.order("a").status is OrderStatus.FILLED and not list(s.open_orders())


def test_flip_opens_remainder_at_fill_price_and_contract_size_scales_money():
    s = ShadowState(registry())
    doge = "DOGE/USDT:USDT@bybit"
    s.apply(submit("a", doge, BUY, "5"))
    s.apply(fill("a", doge, BUY, "5", "0.1", "t1"))
    s.apply(submit("b", doge, SELL, "8"))
    s.apply(fill("b", doge, SELL, "8", "0.12", "t2"))
    pos = s.position(doge)
    assert pos.quantity == D(-3) and pos.avg_price == D("0.12")
    assert pos.realized_pnl == D("0.02") * 5 * 10
    s.apply(ev.MarkPrice(instrument_id=doge, mark=0.11, ts_event=3, ts_init=3))
    assert s.unrealized_pnl(doge) == (D("0.11") - D("0.12")) * -3 * 10
    assert s.gross_exposure() == D("0.11") * 3 * 10


def test_spot_moves_base_and_quote_and_equity_values_holdings_at_mark():
    s = ShadowState(registry())
    cash(s, total="1000")
    s.apply(submit("a", SPOT, BUY, "2", phase="scavenger"))
    s.apply(fill("a", SPOT, BUY, "2", "100", "t1", fee="0.002", fee_ccy="ETH"))
    assert s.balance("ETH") == D("1.998") and s.balance("USDT") == D(800)
    s.apply(ev.Trade(instrument_id=SPOT, price=150.0, size=1.0, aggressor=BUY, ts_event=5, ts_init=5))
    assert s.equity() == D(800) + D("1.998") * 150
    assert s.position(SPOT, "scavenger").fees == D("0.2")  # base fee valued at the fill price
    s.apply(submit("b", SPOT, SELL, "1", phase="scavenger"))
    s.apply(fill("b", SPOT, SELL, "1", "150", "t2", fee="0.15"))
    assert s.balance("USDT") == D(950) - D("0.15")
    assert s.position(SPOT, "scavenger").realized_pnl == D(50)


def test_duplicate_fill_is_booked_once_and_unknown_or_late_fills_still_move_money():
    s = ShadowState(registry())
    s.apply(submit("a", PERP, BUY, "1"))
    f = fill("a", PERP, BUY, "1", "100", "t1")
    s.apply(f)
    s.apply(f)
    assert s.position_qty(PERP) == D(1) and s.anomaly_count == 0
    # a late ack after the fill is an anomaly, not a crash, and changes nothing
    s.apply(ev.OrderAccepted(client_order_id="a", venue_order_id="v-a", ts_event=3, ts_init=3))
    assert s.order("a").status is OrderStatus.FILLED and s.anomaly_count == 1
    # a fill racing a cancel: the order stays canceled, the money is booked
    s.apply(submit("b", PERP, BUY, "1", price="90"))
    s.apply(ev.OrderCanceled(client_order_id="b", ts_event=4, ts_init=4))
    s.apply(fill("b", PERP, BUY, "1", "90", "t2"))
    assert s.order("b").status is OrderStatus.CANCELED and s.position_qty(PERP) == D(2)
    # a fill for an order never seen goes to the external phase
    s.apply(fill("zz", PERP, SELL, "0.5", "95", "t3"))
    assert s.position_qty(PERP, EXTERNAL_PHASE) == D("-0.5") and s.position_qty(PERP) == D("1.5")
    assert s.anomaly_count == 3


def test_cancel_request_and_cancel_all_fold_through_the_transition_table():
    s = ShadowState(registry())
    s.apply(submit("a", PERP, BUY, "1", price="90"))
    s.apply(submit("b", SPOT, BUY, "1", price="90"))
    s.apply(ev.CancelOrder(client_order_id="a", instrument_id=PERP, ts_init=2))
    assert s.order("a").status is OrderStatus.PENDING_CANCEL
    s.apply(ev.CancelOrder(client_order_id="a", instrument_id=PERP, ts_init=3))  # twice: harmless
    s.apply(ev.CancelAllOrders(instrument_id=SPOT, ts_init=3))
    assert s.order("b").status is OrderStatus.PENDING_CANCEL
    s.apply(ev.OrderCancelRejected(client_order_id="b", reason="x", ts_event=4, ts_init=4))
    assert s.order("b").status is OrderStatus.SUBMITTED
    assert {o.client_order_id for o in s.open_orders()} == {"a", "b"}
    assert [o.client_order_id for o in s.open_orders(instrument_id=SPOT)] == ["b"]


def test_internal_cross_moves_phase_positions_not_the_net_or_balances():
    s = ShadowState(registry())
    cash(s)
    s.apply(submit("a", PERP, BUY, "1", phase="hunter"))
    s.apply(fill("a", PERP, BUY, "1", "100", "t1"))
    s.apply(ev.InternalCross(cross_id="x1", instrument_id=PERP, buyer_phase="sentinel",
                             seller_phase="hunter", quantity=D(1), price=D(110),
                             ts_event=3, ts_init=3))
    assert s.position_qty(PERP) == D(1)
    assert s.position_qty(PERP, "hunter") == 0 and s.position_qty(PERP, "sentinel") == D(1)
    assert s.position(PERP, "hunter").realized_pnl == D(10)
    assert s.balance("USDT") == D(10000)
    # closing at the venue realizes against the venue's (net) average, as the venue does
    s.apply(submit("b", PERP, SELL, "1", phase="sentinel"))
    s.apply(fill("b", PERP, SELL, "1", "120", "t2"))
    assert s.balance("USDT") == D(10020)
    assert s.phase_pnl("hunter") + s.phase_pnl("sentinel") == D(20)


def test_funding_adoption_and_position_correction():
    s = ShadowState(registry())
    cash(s)
    s.apply(ev.FundingPaid(instrument_id=PERP, phase="sentinel", rate=D("0.0001"),
                           amount=D("-1.5"), currency="USDT", ts_event=1, ts_init=1))
    assert s.balance("USDT") == D("9998.5") and s.phase_pnl("sentinel") == D("-1.5")
    s.apply(ev.OrderAdopted(client_order_id="ext1", venue_order_id="v9", instrument_id=PERP,
                            phase=EXTERNAL_PHASE, side=SELL, order_type=ev.OrderType.LIMIT,
                            quantity=D(2), filled_qty=D("0.5"), price=D(130),
                            ts_event=2, ts_init=2))
    o = s.order("ext1")
    assert o.status is OrderStatus.PARTIALLY_FILLED and o.leaves_qty == D("1.5")
    assert s.position_qty(PERP) == 0  # adoption books no money
    s.apply(ev.PositionCorrected(correction_id="c1", instrument_id=PERP, quantity=D("-0.5"),
                                 avg_price=D(130), phase_quantities={EXTERNAL_PHASE: D("-0.5")},
                                 ts_event=3, ts_init=3))
    assert s.position_qty(PERP) == D("-0.5") == s.position_qty(PERP, EXTERNAL_PHASE)
    assert s.position(PERP).avg_price == D(130)


def test_marks_prefer_the_mark_price_stream_and_book_snapshots_give_mid():
    s = ShadowState(registry())
    s.apply(ev.Quote(instrument_id=PERP, bid=99.0, bid_size=1, ask=101.0, ask_size=1,
                     ts_event=1, ts_init=1))
    assert s.mark(PERP) == D(100) and s.mark_ts(PERP) == 1
    s.apply(ev.MarkPrice(instrument_id=PERP, mark=100.5, ts_event=2, ts_init=2))
    s.apply(ev.Trade(instrument_id=PERP, price=120.0, size=1, aggressor=BUY, ts_event=3, ts_init=3))
    assert s.mark(PERP) == D("100.5") and s.mark_ts(PERP) == 2
    s.apply(ev.BookDelta(instrument_id=SPOT, bids=((9.0, 1.0), (10.0, 2.0)), asks=((12.0, 1.0),),
                         is_snapshot=True, ts_event=4, ts_init=4))
    s.apply(ev.BookDelta(instrument_id=SPOT, bids=((11.5, 1.0),), asks=(), ts_event=5, ts_init=5))
    assert s.mark(SPOT) == D(11) and s.mark("nope@x") is None and s.mark_ts("nope@x") == 0


def test_clone_is_independent_and_equality_is_by_content():
    s = ShadowState(registry())
    cash(s)
    s.apply(submit("a", PERP, BUY, "1"))
    c = s.clone()
    assert c == s
    c.apply(fill("a", PERP, BUY, "1", "100", "t1"))
    assert c != s and s.position_qty(PERP) == 0 and s.order("a").status is OrderStatus.SUBMITTED
    assert c.order("a").status is OrderStatus.FILLED


def test_implements_every_portfolio_view_method_and_phase_view_is_scoped():
    s = ShadowState(registry())
    for name, member in inspect.getmembers(PortfolioView, inspect.isfunction):
        if not name.startswith("_"):
            assert callable(getattr(s, name)), name
            assert list(inspect.signature(member).parameters)[1:] == list(
                inspect.signature(getattr(s, name)).parameters)[: len(
                    inspect.signature(member).parameters) - 1], name
    s.apply(submit("a", PERP, BUY, "1", phase="hunter"))
    s.apply(fill("a", PERP, BUY, "1", "100", "t1"))
    s.apply(submit("b", PERP, SELL, "3", phase="sentinel", price="200"))
    hv, sv = s.phase_view("hunter"), s.phase_view("sentinel")
    assert hv.position_qty(PERP) == D(1) and sv.position_qty(PERP) == 0
    assert [p.phase for p in hv.positions()] == ["hunter"] and not list(sv.positions())
    assert [o.client_order_id for o in sv.open_orders()] == ["b"] and not list(hv.open_orders())
