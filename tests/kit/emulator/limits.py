"""The venues' published REST rate limits, enforced by the emulator.

Written from the venues' documentation, independently of Titan's own limiter tables
(``titan.execution.ratelimit``), so a wrong table on Titan's side shows up as a rate-limit error
here. ``time_scale`` divides every window (tests run the same limits faster: at scale 20 Bybit's
"10 per second" becomes "10 per 50 ms").

* Bybit v5 (UID, rolling one-second window per endpoint): order create/cancel/amend 10/s on
  linear and 20/s on spot; queries 50/s; set-leverage 10/s. Plus 600 requests / 5 s per IP
  (HTTP 403). Answer: HTTP 200, ``retCode 10006 "Too many visits!"``.
* Binance spot (fixed intervals): REQUEST_WEIGHT 6000 / minute, ORDERS 50 / 10 s; HTTP 429
  ``-1003`` (weight) / ``-1015`` (orders).
* Binance USD-M: REQUEST_WEIGHT 2400 / minute, ORDERS 300 / 10 s and 1200 / minute; new orders
  weigh 0 on the IP weight.
* MEXC spot: 500 per 10 s per endpoint; HTTP 429 ``{"code":429}``.
"""

from __future__ import annotations

import math
import time
from collections import deque
from dataclasses import dataclass


@dataclass(frozen=True)
class Rule:
    name: str
    limit: int
    window_s: float
    fixed: bool = False  # Binance counts in clock-aligned intervals; Bybit in a rolling window


class Counter:
    def __init__(self, rule: Rule, scale: float) -> None:
        self.rule = rule
        self.window = rule.window_s / scale
        self.events: deque[tuple[float, int]] = deque()
        self.used = 0
        self.interval = -1

    def would_exceed(self, now: float, cost: int) -> bool:
        if self.rule.fixed:
            interval = math.floor(now / self.window)
            if interval != self.interval:
                self.interval, self.used = interval, 0
            return self.used + cost > self.rule.limit
        while self.events and self.events[0][0] <= now - self.window:
            self.used -= self.events.popleft()[1]
        return self.used + cost > self.rule.limit

    def add(self, now: float, cost: int) -> None:
        self.used += cost
        if not self.rule.fixed:
            self.events.append((now, cost))


Cost = list[tuple[Rule, int]]

BYBIT_IP = Rule("bybit.ip", 600, 5.0)
BN_WEIGHT = Rule("REQUEST_WEIGHT", 6000, 60.0, fixed=True)
BN_ORDERS = Rule("ORDERS", 50, 10.0, fixed=True)
UM_WEIGHT = Rule("REQUEST_WEIGHT", 2400, 60.0, fixed=True)
UM_ORDERS_10S = Rule("ORDERS_10S", 300, 10.0, fixed=True)
UM_ORDERS_1M = Rule("ORDERS_1M", 1200, 60.0, fixed=True)

_BYBIT_TRADE = {"/v5/order/create", "/v5/order/cancel", "/v5/order/amend", "/v5/order/cancel-all"}


def bybit_cost(path: str, category: str) -> Cost:
    if path in _BYBIT_TRADE:
        per_s = 20 if category == "spot" else 10
        return [(BYBIT_IP, 1), (Rule(f"bybit.{path}.{category}", per_s, 1.0), 1)]
    if path == "/v5/position/set-leverage":
        return [(BYBIT_IP, 1), (Rule(f"bybit.{path}", 10, 1.0), 1)]
    if path.startswith("/v5/market/"):
        return [(BYBIT_IP, 1)]
    return [(BYBIT_IP, 1), (Rule(f"bybit.{path}", 50, 1.0), 1)]


_SPOT_WEIGHTS = {
    ("POST", "/api/v3/order"): 1, ("DELETE", "/api/v3/order"): 1, ("GET", "/api/v3/order"): 4,
    ("GET", "/api/v3/openOrders"): 6, ("DELETE", "/api/v3/openOrders"): 1,
    ("GET", "/api/v3/allOrders"): 20, ("GET", "/api/v3/myTrades"): 20,
    ("GET", "/api/v3/account"): 20, ("GET", "/api/v3/exchangeInfo"): 20,
    ("GET", "/api/v3/klines"): 2, ("GET", "/api/v3/ticker/bookTicker"): 2,
    ("GET", "/api/v3/ticker/24hr"): 2,
}
_UM_WEIGHTS = {
    ("POST", "/fapi/v1/order"): 0, ("DELETE", "/fapi/v1/order"): 1, ("GET", "/fapi/v1/order"): 1,
    ("GET", "/fapi/v1/openOrders"): 1, ("DELETE", "/fapi/v1/allOpenOrders"): 1,
    ("GET", "/fapi/v1/userTrades"): 5, ("GET", "/fapi/v3/account"): 5,
    ("GET", "/fapi/v3/positionRisk"): 5, ("GET", "/fapi/v1/exchangeInfo"): 1,
    ("POST", "/fapi/v1/algoOrder"): 0,
}


def _depth_weight(limit: int, futures: bool) -> int:
    if futures:
        return 2 if limit <= 50 else 5 if limit <= 100 else 10 if limit <= 500 else 20
    return 5 if limit <= 100 else 25 if limit <= 500 else 50 if limit <= 1000 else 250


def binance_cost(method: str, path: str, params: dict[str, str]) -> Cost:
    futures = path.startswith("/fapi/")
    if path.endswith("/depth"):
        w = _depth_weight(int(params.get("limit", "100") or 100), futures)
    elif path.endswith("/openOrders") and "symbol" not in params:
        w = 40 if futures else 80
    else:
        w = (_UM_WEIGHTS if futures else _SPOT_WEIGHTS).get((method, path), 1)
    cost: Cost = [(UM_WEIGHT if futures else BN_WEIGHT, w)] if w else []
    if method == "POST" and path in ("/api/v3/order", "/fapi/v1/order", "/fapi/v1/algoOrder"):
        cost += [(UM_ORDERS_10S, 1), (UM_ORDERS_1M, 1)] if futures else [(BN_ORDERS, 1)]
    return cost


def mexc_cost(method: str, path: str) -> Cost:
    return [(Rule(f"mexc.{method}.{path}", 500, 10.0), 1)]


class Limits:
    """Counters for one venue (one API key / IP: the emulator serves one account)."""

    def __init__(self, time_scale: float = 1.0, clock=time.monotonic) -> None:
        self.scale = time_scale
        self.clock = clock
        self.counters: dict[str, Counter] = {}
        self.violations = 0

    def admit(self, cost: Cost) -> Rule | None:
        """Count the request; return the rule it broke, if any (then nothing is counted)."""
        now = self.clock()
        counters = []
        for rule, c in cost:
            counter = self.counters.get(rule.name)
            if counter is None:
                counter = self.counters[rule.name] = Counter(rule, self.scale)
            if counter.would_exceed(now, c):
                self.violations += 1
                return rule
            counters.append((counter, c))
        for counter, c in counters:
            counter.add(now, c)
        return None
