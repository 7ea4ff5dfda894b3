"""Invariants of the core: bus delivery, rounding, the order state machine, the codec, config."""

from __future__ import annotations

from decimal import Decimal

import msgspec
from hypothesis import given
from hypothesis import strategies as st

from titan.config import TitanConfig, config_from_dict
from titan.core import codec
from titan.core import events as ev
from titan.core.bus import MessageBus, matches
from titan.core.errors import IllegalTransition
from titan.core.instruments import Instrument
from titan.core.orders import TERMINAL, Order, OrderStatus

# ---- bus -------------------------------------------------------------------------------------

segments = st.sampled_from(["a", "b", "c"])
topics = st.lists(segments, min_size=1, max_size=3).map(".".join)
patterns = st.one_of(topics, topics.map(lambda t: t + "*"), st.just("*"),
                     topics.map(lambda t: t + ".*"))


@given(st.lists(patterns, min_size=1, max_size=8), st.lists(topics, min_size=1, max_size=20))
def test_bus_delivers_to_exactly_the_matching_handlers_in_order(subs, published):
    bus = MessageBus()
    log: list[tuple[int, str, int]] = []
    for i, pattern in enumerate(subs):
        bus.subscribe(pattern, lambda m, i=i: log.append((i, m[0], m[1])))
    for n, topic in enumerate(published):
        bus.publish(topic, (topic, n))
    expected = []
    for n, topic in enumerate(published):
        # duplicates of (pattern, handler) are distinct lambdas, so every index is its own handler
        expected.extend((i, topic, n) for i, p in enumerate(subs) if matches(p, topic))
    assert log == expected


# ---- rounding --------------------------------------------------------------------------------

steps = st.sampled_from([Decimal(s) for s in ("0.5", "0.1", "0.01", "0.0001", "1", "5", "0.00000001")])
amounts = st.decimals(min_value=Decimal("0.00000001"), max_value=Decimal("1000000"), places=10,
                      allow_nan=False, allow_infinity=False)


@given(steps, steps, amounts, st.sampled_from(list(ev.Side)))
def test_rounding_stays_on_grid_and_never_worsens(tick, lot, x, side):
    inst = Instrument(symbol="X/Y", venue="v", base="X", quote="Y", tick_size=tick, lot_size=lot)
    p = inst.round_price(x, side)
    assert p % tick == 0
    assert abs(p - x) < tick
    assert (p <= x) if side is ev.Side.BUY else (p >= x)
    q = inst.round_qty(x)
    assert q % lot == 0 and q <= x and x - q < lot
    assert q == 0 or q >= lot  # never a non-zero quantity below the lot


@given(st.floats(min_value=1e-6, max_value=1e6, allow_nan=False), steps)
def test_float_inputs_round_on_grid(x, tick):
    inst = Instrument(symbol="X/Y", venue="v", base="X", quote="Y", tick_size=tick, lot_size=tick)
    assert inst.round_price(x, ev.Side.SELL) % tick == 0
    assert inst.round_qty(x) % tick == 0


# ---- order state machine -----------------------------------------------------------------------

def _event(kind: str, n: int, qty: Decimal):
    base = dict(client_order_id="c", ts_event=n, ts_init=n)
    if kind == "accept":
        return ev.OrderAccepted(venue_order_id="v", **base)
    if kind == "reject":
        return ev.OrderRejected(reason="r", **base)
    if kind == "cancel":
        return ev.OrderCanceled(**base)
    if kind == "expire":
        return ev.OrderExpired(**base)
    if kind == "trigger":
        return ev.OrderTriggered(**base)
    if kind == "cancel_reject":
        return ev.OrderCancelRejected(reason="r", **base)
    return ev.OrderFilled(venue_order_id="v", trade_id=f"t{n % 7}", instrument_id="i",
                          side=ev.Side.BUY, last_qty=qty, last_price=Decimal("10"),
                          fee=Decimal("0"), fee_currency="Y", liquidity=ev.Liquidity.TAKER, **base)


kinds = st.sampled_from(["accept", "reject", "cancel", "expire", "trigger", "cancel_reject",
                         "fill", "fill", "request_cancel"])


@given(st.lists(st.tuples(kinds, st.integers(1, 4)), max_size=30))
def test_order_never_leaves_terminal_and_never_overfills(steps_):
    order = Order.from_submit(ev.SubmitOrder(
        client_order_id="c", phase="p", instrument_id="i", side=ev.Side.BUY,
        order_type=ev.OrderType.LIMIT, quantity=Decimal(5), price=Decimal(10), ts_init=0))
    for n, (kind, q) in enumerate(steps_):
        before = order.status
        try:
            if kind == "request_cancel":
                order.request_cancel()
            else:
                order.apply(_event(kind, n, Decimal(q)))
        except IllegalTransition:
            assert order.status is before  # a rejected event changes nothing
        if before in TERMINAL:
            assert order.status is before
        assert Decimal(0) <= order.filled_qty <= order.quantity
        assert (order.status is OrderStatus.FILLED) == (order.filled_qty == order.quantity)


# ---- codec -------------------------------------------------------------------------------------

ints = st.integers(min_value=0, max_value=2**62)
money = st.decimals(allow_nan=False, allow_infinity=False, places=8,
                    min_value=Decimal("-1e9"), max_value=Decimal("1e9"))
floats = st.floats(allow_nan=False, allow_infinity=False)
text = st.text(max_size=12)


def _strategy_for(cls):
    return st.builds(cls, **{
        name: _field_strategy(typ) for name, typ in _fields(cls)
    })


def _fields(cls):
    import typing
    hints = typing.get_type_hints(cls)
    return [(f, hints[f]) for f in cls.__struct_fields__]


def _field_strategy(typ):
    import typing
    origin = typing.get_origin(typ)
    if typ is int:
        return ints
    if typ is float:
        return floats
    if typ is str:
        return text
    if typ is bool:
        return st.booleans()
    if typ is Decimal:
        return money
    if isinstance(typ, type) and issubclass(typ, ev.Enum):
        return st.sampled_from(list(typ))
    if isinstance(typ, type) and issubclass(typ, msgspec.Struct):
        return _strategy_for(typ)
    if origin in (typing.Union, __import__("types").UnionType):
        return st.one_of(*[_field_strategy(a) for a in typing.get_args(typ)])
    if typ is type(None):
        return st.none()
    if origin is tuple:
        args = typing.get_args(typ)
        if len(args) == 2 and args[1] is Ellipsis:
            return st.lists(_field_strategy(args[0]), max_size=3).map(tuple)
        return st.tuples(*[_field_strategy(a) for a in args])
    if origin is dict:
        k, v = typing.get_args(typ)
        return st.dictionaries(_field_strategy(k), _field_strategy(v), max_size=3)
    raise NotImplementedError(typ)


any_message = st.one_of(*[_strategy_for(t) for t in codec.message_types()])


@given(any_message)
def test_every_event_roundtrips_through_msgpack(msg):
    assert codec.decode(codec.encode(msg)) == msg


# ---- config ------------------------------------------------------------------------------------

@given(st.floats(min_value=0.01, max_value=125), st.floats(min_value=0.0, max_value=1.0),
       st.integers(min_value=1, max_value=100_000))
def test_config_roundtrips(lev, frac, orders):
    cfg = config_from_dict({"brain": {"max_total_leverage": lev, "daily_loss_budget": frac,
                                      "max_orders_per_minute": orders}})
    again = config_from_dict(msgspec.to_builtins(cfg))
    assert again == cfg and isinstance(again, TitanConfig)
