"""One contract suite for every ExecutionClient (the Hummingbot pattern).

A :class:`Harness` wraps one client together with the means to drive and inspect its venue: the
exchange emulator for ``CcxtExecutionClient`` (real ccxt over real sockets), the in-process
``SimVenue`` for ``SimExecutionClient``. Every case in :data:`CASES` is an ``async`` function of a
harness; ``tests/integration/execution/test_contract.py`` runs each case against each harness.

Expectations come from the venue side (the emulator's ledger, the SimVenue account) and from the
venue's documented fee rule - never from the client under test. Cases that need a network
boundary (timeouts, rate-limit answers, signatures, a private stream) declare it in ``needs``;
a harness without that capability skips them with the reason.

The contract, as the cases check it:

* submit -> OrderAccepted (once) -> OrderFilled per execution: unique trade ids, exact Decimal
  quantity/price/fee, fee currency and liquidity side as the venue charged; the venue's balances
  move by exactly what the events say.
* a resting limit fills as maker at its price when the market trades through it.
* cancel -> one OrderCanceled; a second cancel -> OrderCancelRejected(NOT_FOUND), nothing else.
* a duplicate client id -> OrderRejected(INVALID_ORDER) for the second submit; the venue keeps one
  order and the first is untouched.
* post-only that would cross -> no fill; ends OrderRejected(INVALID_ORDER) or OrderCanceled.
* reduce-only without a position (contracts) -> OrderRejected(INVALID_ORDER).
* not enough funds -> OrderRejected(INSUFFICIENT_FUNDS).
* network: a create that times out after the venue accepted it -> exactly one order at the venue
  and one OrderAccepted; a rate-limit answer -> retried, one order; a bad signature ->
  OrderRejected(AUTH); the private stream dropped -> fills still arrive (REST polling).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from titan.core import events as ev
from titan.core.instruments import Instrument

D = Decimal


@dataclass
class Harness:
    """What every case needs; subclasses fill in the venue-specific parts."""

    name: str
    instrument: Instrument
    client: Any = None
    events: list[ev.Message] = field(default_factory=list)
    capabilities: frozenset[str] = frozenset()
    seq: int = 0

    # -- ids and commands
    def next_id(self) -> str:
        self.seq += 1
        return f"TTN-ctr-{int(time.time() * 1000) % 10**6:06d}{self.seq:04d}"

    def order(self, side: ev.Side, qty: Decimal, order_type: ev.OrderType = ev.OrderType.MARKET,
              price: Decimal | None = None, **kw: Any) -> ev.SubmitOrder:
        return ev.SubmitOrder(client_order_id=kw.pop("client_order_id", None) or self.next_id(), phase="contract",
                              instrument_id=self.instrument.id, side=side, order_type=order_type,
                              quantity=qty, price=price, ts_init=time.time_ns(), **kw)

    def cancel_cmd(self, cid: str) -> ev.CancelOrder:
        return ev.CancelOrder(client_order_id=cid, instrument_id=self.instrument.id, ts_init=time.time_ns())

    # -- events
    def of(self, cid: str, cls: type | tuple[type, ...] = ev.OrderEvent) -> list:
        return [e for e in self.events if isinstance(e, cls) and getattr(e, "client_order_id", None) == cid]

    def terminal(self, cid: str) -> bool:
        if self.of(cid, (ev.OrderRejected, ev.OrderCanceled, ev.OrderExpired)):
            return True
        filled = sum((f.last_qty for f in self.of(cid, ev.OrderFilled)), D(0))
        return filled > 0 and filled >= self._qty.get(cid, D(-1))

    _qty: dict[str, Decimal] = field(default_factory=dict)

    def submit(self, cmd: ev.SubmitOrder) -> str:
        self._qty.setdefault(cmd.client_order_id, cmd.quantity)
        self.client.submit(cmd)
        return cmd.client_order_id

    # -- venue-specific (override)
    async def wait(self, pred: Callable[[], bool], timeout: float = 10.0) -> None:
        raise NotImplementedError

    async def quiet(self, seconds: float = 0.3) -> None:
        """Let the client and venue work for a while (to check nothing more happens)."""
        raise NotImplementedError

    def best(self) -> tuple[Decimal, Decimal]:
        raise NotImplementedError

    async def trade_through(self, side: ev.Side, price: Decimal) -> None:
        """Make the market trade through ``price`` against a resting order of ``side``."""
        raise NotImplementedError

    def venue_orders(self, cid: str) -> int:
        """How many orders the venue holds (open or closed) with this client id."""
        raise NotImplementedError

    def venue_open(self, cid: str) -> bool:
        raise NotImplementedError

    def venue_balance(self, currency: str) -> Decimal:
        raise NotImplementedError

    def fee(self, qty: Decimal, price: Decimal, liquidity: ev.Liquidity, side: ev.Side) -> tuple[Decimal, str]:
        """The venue's documented fee rule: (amount, currency)."""
        raise NotImplementedError

    # network harnesses only
    async def inject(self, kind: str, **kw: Any) -> None:
        raise NotImplementedError

    async def clear_faults(self) -> None:
        raise NotImplementedError

    def requests(self, path: str) -> list:
        raise NotImplementedError

    async def bad_credentials_client(self) -> Any:
        raise NotImplementedError


# ------------------------------------------------------------------------------------ helpers

def small_qty(h: Harness) -> Decimal:
    """The smallest order the venue takes at the current price (min qty / min notional)."""
    inst = h.instrument
    bid, ask = h.best()
    qty = max(inst.min_qty, inst.lot_size)
    while inst.min_notional and qty * bid * inst.contract_size < inst.min_notional * D("1.05"):
        qty += inst.lot_size
    return inst.round_qty(qty * 2)


def rest_price(h: Harness, side: ev.Side) -> Decimal:
    """A limit price that rests: a few ticks behind the touch."""
    bid, ask = h.best()
    tick = h.instrument.tick_size
    return h.instrument.round_price(bid - 4 * tick, side) if side is ev.Side.BUY else \
        h.instrument.round_price(ask + 4 * tick, side)


def check_fills(h: Harness, cid: str, side: ev.Side, qty: Decimal, liquidity: ev.Liquidity) -> list[ev.OrderFilled]:
    fills = h.of(cid, ev.OrderFilled)
    assert fills, f"{h.name}: no fill for {cid}: {h.of(cid)}"
    assert sum((f.last_qty for f in fills), D(0)) == qty
    ids = [f.trade_id for f in fills]
    assert all(ids) and len(set(ids)) == len(ids), f"trade ids not unique: {ids}"
    for f in fills:
        assert isinstance(f.last_qty, Decimal) and isinstance(f.fee, Decimal) and isinstance(f.last_price, Decimal)
        assert f.side is side and f.instrument_id == h.instrument.id and f.liquidity is liquidity
        fee, ccy = h.fee(f.last_qty, f.last_price, liquidity, side)
        assert (f.fee, f.fee_currency) == (fee, ccy), f"{h.name}: fee {f.fee} {f.fee_currency} != {fee} {ccy}"
    return fills


# ------------------------------------------------------------------------------------ cases

async def case_market_fill_accounting(h: Harness) -> None:
    inst = h.instrument
    qty = small_qty(h)
    before = {c: h.venue_balance(c) for c in (inst.base, inst.quote)}
    cid = h.submit(h.order(ev.Side.BUY, qty))
    await h.wait(lambda: h.terminal(cid))
    assert len(h.of(cid, ev.OrderAccepted)) == 1
    assert not h.of(cid, (ev.OrderRejected, ev.OrderCanceled))
    fills = check_fills(h, cid, ev.Side.BUY, qty, ev.Liquidity.TAKER)
    await h.quiet()
    assert len(h.of(cid, ev.OrderFilled)) == len(fills), "a fill was delivered twice"
    fees: dict[str, Decimal] = {}
    for f in fills:
        fees[f.fee_currency] = fees.get(f.fee_currency, D(0)) + f.fee
    notional = sum((f.last_qty * f.last_price for f in fills), D(0))
    after = {c: h.venue_balance(c) for c in (inst.base, inst.quote)}
    if inst.is_spot:
        assert after[inst.base] - before[inst.base] == qty - fees.get(inst.base, D(0))
        assert after[inst.quote] - before[inst.quote] == -notional - fees.get(inst.quote, D(0))
    else:  # opening a position moves only the fee
        assert after[inst.quote] - before[inst.quote] == -fees.get(inst.quote, D(0))


async def case_limit_rests_then_maker_fill(h: Harness) -> None:
    qty = small_qty(h)
    price = rest_price(h, ev.Side.BUY)
    cid = h.submit(h.order(ev.Side.BUY, qty, ev.OrderType.LIMIT, price))
    await h.wait(lambda: bool(h.of(cid, ev.OrderAccepted)))
    await h.quiet()
    assert not h.of(cid, ev.OrderFilled) and h.venue_open(cid)
    await h.trade_through(ev.Side.BUY, price)
    await h.wait(lambda: h.terminal(cid))
    fills = check_fills(h, cid, ev.Side.BUY, qty, ev.Liquidity.MAKER)
    assert all(f.last_price == price for f in fills)
    assert not h.venue_open(cid)


async def case_cancel_idempotent(h: Harness) -> None:
    qty = small_qty(h)
    cid = h.submit(h.order(ev.Side.BUY, qty, ev.OrderType.LIMIT, rest_price(h, ev.Side.BUY)))
    await h.wait(lambda: bool(h.of(cid, ev.OrderAccepted)))
    h.client.cancel(h.cancel_cmd(cid))
    await h.wait(lambda: bool(h.of(cid, ev.OrderCanceled)))
    assert not h.venue_open(cid)
    h.client.cancel(h.cancel_cmd(cid))
    await h.wait(lambda: bool(h.of(cid, ev.OrderCancelRejected)))
    await h.quiet()
    assert len(h.of(cid, ev.OrderCanceled)) == 1
    rej = h.of(cid, ev.OrderCancelRejected)
    assert len(rej) == 1 and rej[0].kind is ev.ErrorKind.NOT_FOUND
    assert not h.of(cid, (ev.OrderFilled, ev.OrderRejected))


async def case_duplicate_client_id(h: Harness) -> None:
    qty = small_qty(h)
    price = rest_price(h, ev.Side.BUY)
    first = h.order(ev.Side.BUY, qty, ev.OrderType.LIMIT, price)
    cid = h.submit(first)
    await h.wait(lambda: bool(h.of(cid, ev.OrderAccepted)))
    h.client.submit(h.order(ev.Side.BUY, qty, ev.OrderType.LIMIT, price, client_order_id=cid))
    await h.wait(lambda: bool(h.of(cid, ev.OrderRejected)))
    await h.quiet()
    rej = h.of(cid, ev.OrderRejected)
    assert len(rej) == 1 and rej[0].kind is ev.ErrorKind.INVALID_ORDER
    assert h.venue_orders(cid) == 1 and h.venue_open(cid), "the first order must be untouched"
    h.client.cancel(h.cancel_cmd(cid))
    await h.wait(lambda: bool(h.of(cid, ev.OrderCanceled)))


async def case_post_only_cross(h: Harness) -> None:
    qty = small_qty(h)
    bid, ask = h.best()
    cid = h.submit(h.order(ev.Side.BUY, qty, ev.OrderType.LIMIT, h.instrument.round_price(ask, ev.Side.SELL),
                           post_only=True))
    await h.wait(lambda: h.terminal(cid))
    await h.quiet()
    assert not h.of(cid, ev.OrderFilled)
    ends = h.of(cid, (ev.OrderRejected, ev.OrderCanceled))
    assert len(ends) == 1
    if isinstance(ends[0], ev.OrderRejected):
        assert ends[0].kind is ev.ErrorKind.INVALID_ORDER
    assert not h.venue_open(cid)


async def case_reduce_only_without_position(h: Harness) -> None:
    cid = h.submit(h.order(ev.Side.SELL, small_qty(h), reduce_only=True))
    await h.wait(lambda: h.terminal(cid))
    rej = h.of(cid, ev.OrderRejected)
    assert len(rej) == 1 and rej[0].kind is ev.ErrorKind.INVALID_ORDER, h.of(cid)
    assert not h.of(cid, (ev.OrderFilled, ev.OrderAccepted))


async def case_insufficient_funds(h: Harness) -> None:
    inst = h.instrument
    bid, ask = h.best()
    cash = h.venue_balance(inst.quote)
    qty = inst.round_qty(cash / bid * (1 if inst.is_spot else 200) * D("1.5"))
    if inst.max_qty and qty > inst.max_qty:
        qty = inst.round_qty(inst.max_qty)
    price = rest_price(h, ev.Side.BUY)
    cid = h.submit(h.order(ev.Side.BUY, qty, ev.OrderType.LIMIT, price))
    await h.wait(lambda: h.terminal(cid))
    rej = h.of(cid, ev.OrderRejected)
    assert len(rej) == 1 and rej[0].kind is ev.ErrorKind.INSUFFICIENT_FUNDS, h.of(cid)
    assert h.venue_orders(cid) == 0


async def case_timeout_after_acceptance(h: Harness) -> None:
    await h.inject("timeout_after_accept", path=h.create_path, delay_s=h.timeout_s * 2.5)
    cid = h.submit(h.order(ev.Side.BUY, small_qty(h), ev.OrderType.LIMIT, rest_price(h, ev.Side.BUY)))
    await h.wait(lambda: bool(h.of(cid, (ev.OrderAccepted, ev.OrderRejected))), timeout=20)
    await h.quiet(h.timeout_s * 2)
    assert len(h.of(cid, ev.OrderAccepted)) == 1 and not h.of(cid, ev.OrderRejected), h.of(cid)
    assert h.venue_orders(cid) == 1, "the create was duplicated"
    timed_out = [r for r in h.requests(h.create_path) if r.fault == "timeout_after_accept"]
    assert len(timed_out) == 1


async def case_rate_limit_answer(h: Harness) -> None:
    await h.inject("rate_limit", path=h.create_path, times=1)
    cid = h.submit(h.order(ev.Side.BUY, small_qty(h), ev.OrderType.LIMIT, rest_price(h, ev.Side.BUY)))
    await h.wait(lambda: bool(h.of(cid, (ev.OrderAccepted, ev.OrderRejected))), timeout=20)
    assert len(h.of(cid, ev.OrderAccepted)) == 1 and not h.of(cid, ev.OrderRejected), h.of(cid)
    creates = h.requests(h.create_path)
    assert [r.fault for r in creates[:2]] == ["rate_limit", ""], [(r.fault, r.status) for r in creates]
    assert h.venue_orders(cid) == 1


async def case_bad_signature(h: Harness) -> None:
    client, events = await h.bad_credentials_client()
    try:
        cmd = h.order(ev.Side.BUY, small_qty(h))
        client.submit(cmd)
        cid = cmd.client_order_id
        deadline = time.monotonic() + 10
        while not any(isinstance(e, ev.OrderRejected) and e.client_order_id == cid for e in events):
            assert time.monotonic() < deadline, f"no rejection: {events}"
            await asyncio.sleep(0.02)
        rej = [e for e in events if isinstance(e, ev.OrderRejected) and e.client_order_id == cid]
        assert rej[0].kind is ev.ErrorKind.AUTH, rej
        assert any(isinstance(e, ev.AlertRaised) for e in events), "start() should have raised an alert"
        assert h.venue_orders(cid) == 0
    finally:
        await client.stop()


async def case_stream_drop_fills_still_arrive(h: Harness) -> None:
    await h.inject("drop_ws", times=0)
    try:
        qty = small_qty(h)
        cid = h.submit(h.order(ev.Side.BUY, qty))
        await h.wait(lambda: h.terminal(cid), timeout=15)
        check_fills(h, cid, ev.Side.BUY, qty, ev.Liquidity.TAKER)
        price = rest_price(h, ev.Side.BUY)
        cid2 = h.submit(h.order(ev.Side.BUY, qty, ev.OrderType.LIMIT, price))
        await h.wait(lambda: bool(h.of(cid2, ev.OrderAccepted)), timeout=15)
        await h.trade_through(ev.Side.BUY, price)
        await h.wait(lambda: h.terminal(cid2), timeout=15)
        check_fills(h, cid2, ev.Side.BUY, qty, ev.Liquidity.MAKER)
        assert h.client.updates.polls > 0
    finally:
        await h.clear_faults()


@dataclass(frozen=True)
class Case:
    fn: Callable[[Harness], Awaitable[None]]
    needs: frozenset[str] = frozenset()
    contracts_only: bool = False

    @property
    def name(self) -> str:
        return self.fn.__name__.removeprefix("case_")


CASES = [
    Case(case_market_fill_accounting),
    Case(case_limit_rests_then_maker_fill),
    Case(case_cancel_idempotent),
    Case(case_duplicate_client_id),
    Case(case_post_only_cross),
    Case(case_reduce_only_without_position, contracts_only=True),
    Case(case_insufficient_funds),
    Case(case_timeout_after_acceptance, needs=frozenset({"network"})),
    Case(case_rate_limit_answer, needs=frozenset({"network"})),
    Case(case_bad_signature, needs=frozenset({"network"})),
    Case(case_stream_drop_fills_still_arrive, needs=frozenset({"stream"})),
]


def skip_reason(case: Case, h: Harness) -> str | None:
    missing = case.needs - h.capabilities
    if missing:
        return f"{h.name}: no {', '.join(sorted(missing))} boundary (the case exercises one)"
    if case.contracts_only and h.instrument.is_spot:
        return f"{h.name}: reduce-only is never sent on spot"
    return None
