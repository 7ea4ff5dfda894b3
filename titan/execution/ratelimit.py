"""One rate limiter per venue and API key, following the venue's published request weights.

Every REST request - whichever phase, component or ccxt helper caused it - passes through the
client's limiter *before it is signed* (so a queued request never goes out with a stale
timestamp). A request holds its weight in each pool it touches from the moment it is sent until
one window after its answer arrived. The venue counts a request at some instant between those two,
so at any venue-side window the requests it sees all still held their weight on our side when the
last of them was sent: the venue can never count more than our capacity, whatever the network
latency. Capacity is ``share`` (``VenueConfig.rate_limit_share``) of the published limit.

Waiters are served first come, first served. A rate-limit answer anyway (429/418, Bybit 10006)
blocks the whole limiter for the venue's ``Retry-After`` or an exponential backoff.

Published limits (venue documentation, 2025):

* Bybit v5: 600 requests / 5 s per IP; per UID and endpoint, rolling 1 s: order create / amend /
  cancel / cancel-all 10 (linear) or 20 (spot), set-leverage 10, other private endpoints 50.
* Binance spot: REQUEST_WEIGHT 6000 / min (order 1, query order 4, open orders 6 or 80 without a
  symbol, account / my trades 20, exchangeInfo 20, depth 5-250), ORDERS 50 / 10 s.
* Binance USD-M: REQUEST_WEIGHT 2400 / min (new order 0, cancel / query 1, open orders 1 or 40,
  account / positions / user trades 5), ORDERS 300 / 10 s and 1200 / min.
* MEXC spot: 500 / 10 s per endpoint.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

Weights = tuple[tuple[str, int], ...]  # (pool name, weight)


@dataclass(frozen=True)
class Pool:
    name: str
    limit: int
    window_s: float


@dataclass(frozen=True)
class VenueLimits:
    """The published pools of one venue and how much each request costs in them."""

    venue: str
    pools: tuple[Pool, ...]
    cost: Callable[[str, str, dict], Weights]  # (method, url path, params) -> weights
    per_endpoint: tuple[int, float] | None = None  # (limit, window) of pools not listed

    def pool(self, name: str) -> Pool:
        for p in self.pools:
            if p.name == name:
                return p
        if self.per_endpoint is not None:
            return Pool(name, *self.per_endpoint)
        raise KeyError(f"{self.venue}: no rate-limit pool {name!r}")


# ---------------------------------------------------------------------------------- tables

_BYBIT_TRADE = {"/v5/order/create", "/v5/order/amend", "/v5/order/cancel", "/v5/order/cancel-all"}


def _bybit_cost(method: str, path: str, params: dict) -> Weights:
    if path in _BYBIT_TRADE:
        category = "spot" if params.get("category") == "spot" else "linear"
        return (("ip", 1), (f"trade:{category}:{path}", 1))
    if path == "/v5/position/set-leverage":
        return (("ip", 1), ("set-leverage", 1))
    if path.startswith("/v5/market/"):
        return (("ip", 1),)
    return (("ip", 1), (f"private:{path}", 1))


def _bybit_pools() -> tuple[Pool, ...]:
    pools = [Pool("ip", 600, 5.0), Pool("set-leverage", 10, 1.0)]
    for path in _BYBIT_TRADE:
        pools.append(Pool(f"trade:linear:{path}", 10, 1.0))
        pools.append(Pool(f"trade:spot:{path}", 20, 1.0))
    return tuple(pools)


_SPOT_WEIGHT = {
    ("POST", "/api/v3/order"): 1, ("DELETE", "/api/v3/order"): 1, ("GET", "/api/v3/order"): 4,
    ("GET", "/api/v3/openOrders"): 6, ("DELETE", "/api/v3/openOrders"): 1,
    ("GET", "/api/v3/allOrders"): 20, ("GET", "/api/v3/myTrades"): 20, ("GET", "/api/v3/account"): 20,
    ("GET", "/api/v3/exchangeInfo"): 20, ("GET", "/api/v3/klines"): 2,
    ("GET", "/api/v3/ticker/bookTicker"): 2, ("GET", "/api/v3/ticker/24hr"): 2,
}
_USDM_WEIGHT = {
    ("POST", "/fapi/v1/order"): 0, ("POST", "/fapi/v1/algoOrder"): 0, ("DELETE", "/fapi/v1/order"): 1,
    ("GET", "/fapi/v1/order"): 1, ("GET", "/fapi/v1/openOrders"): 1, ("GET", "/fapi/v1/userTrades"): 5,
    ("GET", "/fapi/v3/account"): 5, ("GET", "/fapi/v2/account"): 5, ("GET", "/fapi/v3/positionRisk"): 5,
    ("GET", "/fapi/v2/positionRisk"): 5, ("GET", "/fapi/v1/exchangeInfo"): 1,
}


def _binance_cost(method: str, path: str, params: dict) -> Weights:
    futures = path.startswith("/fapi/")
    if path.endswith("/depth"):
        n = int(params.get("limit") or 100)
        w = (2 if n <= 50 else 5 if n <= 100 else 10 if n <= 500 else 20) if futures else (
            5 if n <= 100 else 25 if n <= 500 else 50 if n <= 1000 else 250)
    elif path.endswith("/openOrders") and method == "GET" and not params.get("symbol"):
        w = 40 if futures else 80
    else:
        w = (_USDM_WEIGHT if futures else _SPOT_WEIGHT).get((method, path), 1)
    out: list[tuple[str, int]] = [("weight", w)] if w else []
    if method == "POST" and path in ("/api/v3/order", "/fapi/v1/order", "/fapi/v1/algoOrder"):
        out += [("orders_10s", 1), ("orders_1m", 1)] if futures else [("orders_10s", 1)]
    return tuple(out)


def _mexc_cost(method: str, path: str, params: dict) -> Weights:
    return ((f"endpoint:{method}:{path}", 1),)


def published(venue: str) -> VenueLimits:
    """The venue's published limits (see the module docstring)."""
    if venue == "bybit":
        return VenueLimits("bybit", _bybit_pools(), _bybit_cost, per_endpoint=(50, 1.0))
    if venue == "binance":
        return VenueLimits("binance", (Pool("weight", 6000, 60.0), Pool("orders_10s", 50, 10.0)), _binance_cost)
    if venue == "binanceusdm":
        return VenueLimits("binanceusdm", (Pool("weight", 2400, 60.0), Pool("orders_10s", 300, 10.0),
                                           Pool("orders_1m", 1200, 60.0)), _binance_cost)
    if venue == "mexc":
        return VenueLimits("mexc", (), _mexc_cost, per_endpoint=(500, 10.0))
    raise ValueError(f"venue {venue!r}: no published rate limits (expected bybit, binance, binanceusdm, mexc)")


# ---------------------------------------------------------------------------------- limiter


class _PoolState:
    __slots__ = ("capacity", "window", "used", "returns", "timer")

    def __init__(self, capacity: int, window: float) -> None:
        self.capacity = capacity
        self.window = window
        self.used = 0
        self.returns: deque[tuple[float, int]] = deque()  # (when, weight), in time order
        self.timer: asyncio.TimerHandle | None = None


class RateLimiter:
    """Holds request weight per pool; see the module docstring for the guarantee."""

    def __init__(self, limits: VenueLimits, *, share: float = 0.8, time_scale: float = 1.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if not 0 < share <= 1:
            raise ValueError(f"share: expected 0 < share <= 1, got {share}")
        if time_scale <= 0:
            raise ValueError(f"time_scale: expected > 0, got {time_scale}")
        self.limits = limits
        self.share = share
        self.time_scale = time_scale
        self._clock = clock
        self._pools: dict[str, _PoolState] = {}
        self._waiters: deque[tuple[Weights, asyncio.Future[None]]] = deque()
        self._blocked_until = 0.0
        self._wake: asyncio.TimerHandle | None = None
        self.granted = 0
        self.waited = 0
        self.penalties = 0

    def weights(self, method: str, path: str, params: dict) -> Weights:
        return self.limits.cost(method, path, params)

    def _state(self, name: str) -> _PoolState:
        st = self._pools.get(name)
        if st is None:
            pool = self.limits.pool(name)
            st = _PoolState(max(1, int(pool.limit * self.share)), pool.window_s / self.time_scale)
            self._pools[name] = st
        return st

    def _fits(self, weights: Weights) -> bool:
        for name, w in weights:
            st = self._state(name)
            if st.used + min(w, st.capacity) > st.capacity:
                return False
        return True

    def _take(self, weights: Weights) -> None:
        for name, w in weights:
            st = self._state(name)
            st.used += min(w, st.capacity)
        self.granted += 1

    def try_acquire(self, weights: Weights) -> bool:
        """Hold the weights now if every pool has room and nobody waits (then pair with
        release()); False means: ``await acquire(weights)``. Spares the hot path a coroutine."""
        if not weights:
            return True
        if not self._waiters and self._clock() >= self._blocked_until and self._fits(weights):
            self._take(weights)
            return True
        return False

    async def acquire(self, weights: Weights) -> Weights:
        """Wait (FIFO) until every pool has room, then hold the weights. Pair with release()."""
        if self.try_acquire(weights):
            return weights
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append((weights, fut))
        self.waited += 1
        self._grant()
        try:
            await fut
        except asyncio.CancelledError:
            if fut.done() and not fut.cancelled():
                self.release(weights)  # granted just as we were cancelled
            else:
                self._waiters = deque(w for w in self._waiters if w[1] is not fut)
                self._grant()
            raise
        return weights

    def release(self, weights: Weights) -> None:
        """The request finished: its weights return one window from now. One timer per pool
        (returns are queued in time order, the window being constant), not one per request."""
        if not weights:
            return
        loop = asyncio.get_running_loop()
        now = loop.time()
        for name, w in weights:
            st = self._state(name)
            st.returns.append((now + st.window, min(w, st.capacity)))
            if st.timer is None:
                st.timer = loop.call_at(now + st.window, self._give_back, st)

    def _give_back(self, st: _PoolState) -> None:
        loop = asyncio.get_running_loop()
        now = loop.time()
        returns = st.returns
        while returns and returns[0][0] <= now:
            st.used -= returns.popleft()[1]
        st.timer = loop.call_at(returns[0][0], self._give_back, st) if returns else None
        self._grant()

    def _grant(self) -> None:
        now = self._clock()
        if now < self._blocked_until:
            self._schedule_wake(self._blocked_until - now)
            return
        while self._waiters:
            weights, fut = self._waiters[0]
            if fut.done():
                self._waiters.popleft()
                continue
            if not self._fits(weights):
                return
            self._waiters.popleft()
            self._take(weights)
            fut.set_result(None)

    def _schedule_wake(self, delay: float) -> None:
        if self._wake is not None:
            self._wake.cancel()
        self._wake = asyncio.get_running_loop().call_later(delay, self._grant)

    def penalize(self, seconds: float) -> None:
        """The venue said "too many": hold every request for ``seconds``."""
        self.penalties += 1
        self._blocked_until = max(self._blocked_until, self._clock() + seconds)

    @property
    def queued(self) -> int:
        return sum(1 for _, f in self._waiters if not f.done())


class RateLimiters:
    """The registry: one limiter per (venue, API key), shared by everything that calls the venue."""

    def __init__(self, *, time_scale: float = 1.0, limits: Callable[[str], VenueLimits] = published) -> None:
        self.time_scale = time_scale
        self.limits = limits  # venue -> its limits (benchmarks pass pools that never fill)
        self._by_key: dict[tuple[str, str], RateLimiter] = {}

    def get(self, venue: str, api_key: str, *, share: float = 0.8) -> RateLimiter:
        key = (venue, api_key)
        limiter = self._by_key.get(key)
        if limiter is None:
            limiter = RateLimiter(self.limits(venue), share=share, time_scale=self.time_scale)
            self._by_key[key] = limiter
        return limiter
