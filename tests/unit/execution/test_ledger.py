"""The ledger turns duplicated, reordered venue reports into an event stream the order state
machine (titan.core.orders.Order.apply, the oracle here) always accepts."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from titan.core import events as ev
from titan.core.instruments import Instrument, InstrumentKind
from titan.core.orders import Order, OrderStatus
from titan.execution.ledger import Ledger
from titan.execution.reports import FillReport

D = Decimal
INST = Instrument(symbol="BTC/USDT:USDT", venue="bybit", base="BTC", quote="USDT", kind=InstrumentKind.PERPETUAL,
                  settle="USDT", tick_size=D("0.5"), lot_size=D("0.001"))


def cmd(qty: Decimal) -> ev.SubmitOrder:
    return ev.SubmitOrder(client_order_id="TTN-tst-0000000001", phase="p", instrument_id=INST.id,
                          side=ev.Side.BUY, order_type=ev.OrderType.LIMIT, quantity=qty, price=D("17000"), ts_init=1)


def fill(i: int, qty: Decimal) -> FillReport:
    return FillReport(trade_id=f"t{i}", venue_order_id="v1", client_order_id="TTN-tst-0000000001", qty=qty,
                      price=D("17000"), fee=D("0.01"), fee_currency="USDT", liquidity=ev.Liquidity.MAKER, ts_ms=1)


# a report: ("ack",) | ("fill", i) | ("cancel",) | ("expire",) | ("reject",)
reports = st.lists(st.one_of(
    st.just(("ack",)), st.tuples(st.just("fill"), st.integers(0, 5)), st.just(("cancel",)),
    st.just(("expire",)), st.just(("reject",)),
), max_size=30)


@given(st.integers(1, 6), reports)
def test_any_report_sequence_yields_a_legal_lifecycle(lots, seq):
    qty = D(lots) * D("0.001")
    parts = [D("0.001")] * lots  # fill i is one lot; ids >= lots do not exist at the venue
    out: list[ev.Message] = []
    ledger = Ledger(out.append, lambda: 5)
    t = ledger.track(cmd(qty), INST.symbol, INST)
    for r in seq:
        if r[0] == "ack":
            ledger.accepted(t, "v1")
        elif r[0] == "fill" and r[1] < lots:
            ledger.fill(t, fill(r[1], parts[r[1]]))
        elif r[0] == "cancel":
            ledger.ended(t, "canceled", "user")
        elif r[0] == "expire":
            ledger.ended(t, "expired")
        elif r[0] == "reject":
            ledger.rejected(t, ev.ErrorKind.INVALID_ORDER, "no")
    order = Order.from_submit(cmd(qty))
    for e in out:
        assert order.apply(e), f"a duplicate reached the sink: {e}"  # raises on an illegal transition
    fills = [e for e in out if isinstance(e, ev.OrderFilled)]
    assert len({f.trade_id for f in fills}) == len(fills)
    assert sum((f.last_qty for f in fills), D(0)) <= qty
    assert sum(isinstance(e, ev.OrderAccepted) for e in out) <= 1
    terminal = [e for e in out if isinstance(e, (ev.OrderCanceled, ev.OrderExpired, ev.OrderRejected))]
    assert len(terminal) <= 1
    assert order.status.is_terminal == bool(t.terminal)
    if order.status is OrderStatus.FILLED:
        assert ledger.get(t.client_order_id) is t and not ledger.open_orders()


def test_fill_before_ack_then_duplicates_from_stream_and_rest():
    out: list[ev.Message] = []
    ledger = Ledger(out.append, lambda: 5)
    t = ledger.track(cmd(D("0.002")), INST.symbol, INST)
    assert ledger.fill(t, fill(1, D("0.001")))  # websocket, before the create answered
    assert ledger.accepted(t, "v1")
    assert not ledger.fill(t, fill(1, D("0.001")))  # the same trade from REST polling
    assert ledger.fill(t, fill(2, D("0.001")))
    assert not ledger.accepted(t, "v1") and not ledger.ended(t, "canceled")
    assert [type(e).__name__ for e in out] == ["OrderFilled", "OrderAccepted", "OrderFilled"]
    assert ledger.duplicates_dropped == 1 and t.terminal == "filled"
    assert ledger.find(venue_order_id="v1") is t


def test_a_refusal_after_acknowledgement_becomes_a_cancel():
    out: list[ev.Message] = []
    ledger = Ledger(out.append, lambda: 5)
    t = ledger.track(cmd(D("0.001")), INST.symbol, INST)
    ledger.accepted(t, "v1")
    ledger.rejected(t, ev.ErrorKind.INVALID_ORDER, "post-only would take")
    assert isinstance(out[-1], ev.OrderCanceled) and "post-only" in out[-1].reason


def test_closed_orders_are_forgotten_beyond_the_bound():
    ledger = Ledger(lambda e: None, lambda: 5, keep_closed=3)
    for i in range(5):
        c = ev.SubmitOrder(client_order_id=f"TTN-tst-{i:010d}", phase="p", instrument_id=INST.id, side=ev.Side.BUY,
                           order_type=ev.OrderType.MARKET, quantity=D("0.001"), ts_init=1)
        t = ledger.track(c, INST.symbol, INST)
        ledger.accepted(t, f"v{i}")
        ledger.ended(t, "canceled")
    assert not ledger.knows("TTN-tst-0000000000") and ledger.knows("TTN-tst-0000000004")
    assert ledger.find(venue_order_id="v0") is None and ledger.find(venue_order_id="v4") is not None
