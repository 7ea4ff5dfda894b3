"""The rate limiter's guarantee, checked in virtual time against a venue that counts requests at
any instant between send and answer (the worst a real network can do)."""

from __future__ import annotations

import asyncio

import pytest
from hypothesis import given
from hypothesis import strategies as st

from titan.execution.ratelimit import Pool, RateLimiter, VenueLimits, published


class VirtualLoop(asyncio.SelectorEventLoop):
    """An event loop whose clock jumps to the next timer instead of sleeping."""

    def __init__(self) -> None:
        super().__init__()
        self._vt = 1000.0

    def time(self) -> float:
        return self._vt

    def _run_once(self) -> None:
        if not self._ready and self._scheduled:
            self._vt = max(self._vt, self._scheduled[0]._when)
        super()._run_once()


def run_virtual(coro):
    loop = VirtualLoop()
    try:
        return loop.run_until_complete(coro)
    finally:
        loop.close()


LIMIT, WINDOW = 10, 1.0
LIMITS = VenueLimits("test", (Pool("p", LIMIT, WINDOW),), lambda m, p, q: (("p", 1),))

requests = st.lists(
    st.tuples(
        st.floats(min_value=0, max_value=0.3),  # gap before this request arrives
        st.floats(min_value=0, max_value=0.4),  # network delay until the venue counts it
        st.floats(min_value=0, max_value=0.4),  # delay from counting to the answer
        st.integers(min_value=1, max_value=3),  # weight
    ),
    min_size=1, max_size=60,
)


@given(requests, st.sampled_from([0.5, 0.8, 1.0]))
def test_venue_never_counts_more_than_its_limit(reqs, share):
    async def scenario():
        loop = asyncio.get_running_loop()
        lim = RateLimiter(LIMITS, share=share, clock=loop.time)
        counted: list[tuple[float, int]] = []

        async def one(gap_total: float, d1: float, d2: float, w: int) -> None:
            await asyncio.sleep(gap_total)
            weights = (("p", w),)
            await lim.acquire(weights)
            await asyncio.sleep(d1)
            counted.append((loop.time(), w))
            await asyncio.sleep(d2)
            lim.release(weights)

        start, tasks = 0.0, []
        for gap, d1, d2, w in reqs:
            start += gap
            tasks.append(asyncio.ensure_future(one(start, d1, d2, w)))
        await asyncio.gather(*tasks)
        return counted, lim

    counted, lim = run_virtual(scenario())
    assert len(counted) == len(reqs), "every request is eventually granted"
    capacity = int(LIMIT * share)
    for t0, _ in counted:  # every venue-side window [t0, t0 + WINDOW)
        inside = sum(w for t, w in counted if t0 <= t < t0 + WINDOW)
        assert inside <= capacity <= LIMIT, (t0, inside)


def test_without_the_hold_a_naive_window_would_overshoot():
    """The control: counting only send times (a plain sliding window) lets the venue see more than
    the limit when answers come back at different speeds - the case the hold exists for."""
    sends = [0.0] * 10 + [1.0] * 10  # a naive limiter's schedule: 10 per second at send time
    counted = [t + (0.9 if i < 10 else 0.0) for i, t in enumerate(sends)]  # slow first, fast second
    worst = max(sum(1 for t in counted if t0 <= t < t0 + WINDOW) for t0 in counted)
    assert worst > LIMIT


def test_waiters_are_served_first_come_first_served():
    async def scenario():
        loop = asyncio.get_running_loop()
        lim = RateLimiter(VenueLimits("t", (Pool("p", 4, 1.0),), lambda *a: ()), share=1.0, clock=loop.time)
        order: list[int] = []

        async def one(i: int, w: int) -> None:
            await lim.acquire((("p", w),))
            order.append(i)
            lim.release((("p", w),))

        await asyncio.gather(*(one(i, w) for i, w in enumerate([4, 3, 1, 1, 4])))
        return order

    # the weight-1 requests must not overtake the heavier ones queued before them
    assert run_virtual(scenario()) == [0, 1, 2, 3, 4]


def test_penalty_holds_everything_for_the_given_time():
    async def scenario():
        loop = asyncio.get_running_loop()
        lim = RateLimiter(LIMITS, clock=loop.time)
        lim.penalize(2.5)
        t0 = loop.time()
        await lim.acquire((("p", 1),))
        return loop.time() - t0, lim.penalties

    waited, penalties = run_virtual(scenario())
    assert waited == pytest.approx(2.5) and penalties == 1


def test_cancelled_waiter_gives_way():
    async def scenario():
        loop = asyncio.get_running_loop()
        lim = RateLimiter(VenueLimits("t", (Pool("p", 1, 1.0),), lambda *a: ()), share=1.0, clock=loop.time)
        await lim.acquire((("p", 1),))
        blocked = asyncio.ensure_future(lim.acquire((("p", 1),)))
        await asyncio.sleep(0.1)
        blocked.cancel()
        lim.release((("p", 1),))
        t0 = loop.time()
        await lim.acquire((("p", 1),))
        return loop.time() - t0

    assert run_virtual(scenario()) == pytest.approx(1.0)  # one window after the release, not two


@pytest.mark.parametrize("venue,method,path,params,expected", [
    ("bybit", "POST", "/v5/order/create", {"category": "linear"}, (("ip", 1), ("trade:linear:/v5/order/create", 1))),
    ("bybit", "POST", "/v5/order/create", {"category": "spot"}, (("ip", 1), ("trade:spot:/v5/order/create", 1))),
    ("bybit", "GET", "/v5/market/kline", {}, (("ip", 1),)),
    ("binance", "POST", "/api/v3/order", {}, (("weight", 1), ("orders_10s", 1))),
    ("binance", "GET", "/api/v3/openOrders", {}, (("weight", 80),)),
    ("binance", "GET", "/api/v3/depth", {"limit": "1000"}, (("weight", 50),)),
    ("binanceusdm", "POST", "/fapi/v1/order", {}, (("orders_10s", 1), ("orders_1m", 1))),
    ("binanceusdm", "GET", "/fapi/v3/account", {}, (("weight", 5),)),
])
def test_published_weights(venue, method, path, params, expected):
    assert published(venue).cost(method, path, params) == expected


def test_published_pools_match_the_documentation():
    bybit = published("bybit")
    assert bybit.pool("trade:linear:/v5/order/create") == Pool("trade:linear:/v5/order/create", 10, 1.0)
    assert bybit.pool("trade:spot:/v5/order/cancel").limit == 20
    assert bybit.pool("ip") == Pool("ip", 600, 5.0)
    assert bybit.pool("private:/v5/order/realtime").limit == 50  # per-endpoint default
    assert published("binance").pool("orders_10s") == Pool("orders_10s", 50, 10.0)
    assert published("binanceusdm").pool("weight") == Pool("weight", 2400, 60.0)
    with pytest.raises(ValueError, match="no published rate limits"):
        published("kraken")
