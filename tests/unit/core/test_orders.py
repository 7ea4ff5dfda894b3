from __future__ import annotations

from decimal import Decimal

import pytest

from titan.core import events as ev
from titan.core.errors import IllegalTransition
from titan.core.orders import TERMINAL, Order, OrderStatus, Trigger, transition


def submit(qty="1"):
    return ev.SubmitOrder(client_order_id="c1", phase="hunter", instrument_id="BTC@x",
                          side=ev.Side.BUY, order_type=ev.OrderType.LIMIT,
                          quantity=Decimal(qty), price=Decimal("100"), ts_init=1)


def fill(qty, trade_id, price="100"):
    return ev.OrderFilled(client_order_id="c1", venue_order_id="v1", trade_id=trade_id,
                          instrument_id="BTC@x", side=ev.Side.BUY, last_qty=Decimal(qty),
                          last_price=Decimal(price), fee=Decimal("0.01"), fee_currency="USDT",
                          liquidity=ev.Liquidity.MAKER, ts_event=2, ts_init=2)


def test_happy_path_partial_then_full():
    o = Order.from_submit(submit("2"))
    o.apply(ev.OrderAccepted(client_order_id="c1", venue_order_id="v1", ts_event=1, ts_init=1))
    o.apply(fill("0.5", "t1", "100"))
    assert o.status is OrderStatus.PARTIALLY_FILLED
    o.apply(fill("1.5", "t2", "104"))
    assert o.status is OrderStatus.FILLED
    assert o.avg_price == Decimal("103") and o.fees == Decimal("0.02")
    assert o.history == [OrderStatus.SUBMITTED, OrderStatus.ACCEPTED,
                         OrderStatus.PARTIALLY_FILLED, OrderStatus.FILLED]


def test_duplicate_fill_ignored_and_overfill_rejected():
    o = Order.from_submit(submit("1"))
    assert o.apply(fill("0.5", "t1"))
    assert not o.apply(fill("0.5", "t1"))
    assert o.filled_qty == Decimal("0.5")
    with pytest.raises(IllegalTransition, match="overfills"):
        o.apply(fill("0.6", "t2"))


def test_terminal_never_changes():
    o = Order.from_submit(submit())
    o.apply(ev.OrderRejected(client_order_id="c1", reason="no", ts_event=1, ts_init=1))
    with pytest.raises(IllegalTransition):
        o.apply(ev.OrderAccepted(client_order_id="c1", venue_order_id="v", ts_event=1, ts_init=1))
    assert o.status is OrderStatus.REJECTED


def test_cancel_reject_returns_to_working_status():
    o = Order.from_submit(submit("2"))
    o.apply(ev.OrderAccepted(client_order_id="c1", venue_order_id="v1", ts_event=1, ts_init=1))
    o.apply(fill("1", "t1"))
    o.request_cancel()
    assert o.status is OrderStatus.PENDING_CANCEL
    o.apply(ev.OrderCancelRejected(client_order_id="c1", reason="too late", ts_event=3, ts_init=3))
    assert o.status is OrderStatus.PARTIALLY_FILLED


def test_table_has_no_exit_from_terminal():
    for (status, _trigger), _target in __import__("titan.core.orders", fromlist=["x"]).TRANSITIONS.items():
        assert status not in TERMINAL
    for status in TERMINAL:
        for trigger in Trigger:
            with pytest.raises(IllegalTransition):
                transition(status, trigger)


def test_cancel_reject_on_closed_order_is_a_benign_noop():
    o = Order.from_submit(submit("1"))
    o.apply(fill("1", "t1"))
    assert o.status is OrderStatus.FILLED
    assert o.apply(ev.OrderCancelRejected(client_order_id="c1", reason="gone", ts_event=3, ts_init=3)) is False
    assert o.status is OrderStatus.FILLED


def test_stop_triggering_during_cancel_stays_pending_cancel():
    o = Order.from_submit(submit("1"))
    o.apply(ev.OrderAccepted(client_order_id="c1", venue_order_id="v1", ts_event=1, ts_init=1))
    o.request_cancel()
    o.apply(ev.OrderTriggered(client_order_id="c1", ts_event=2, ts_init=2))
    assert o.status is OrderStatus.PENDING_CANCEL
    o.apply(ev.OrderCanceled(client_order_id="c1", ts_event=3, ts_init=3))
    assert o.status is OrderStatus.CANCELED
