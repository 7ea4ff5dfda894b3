"""Bus throughput: 1 M events to 1 and to 8 handlers, next to a direct-call loop in the same run.

Prints one JSON line. ``overhead_ns_per_delivery`` is (bus ns per delivery) - (direct ns per
call): what the bus adds over calling the handlers yourself. Goal: <= 150 ns.
"""

from __future__ import annotations

import gc
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from titan.core.bus import MessageBus  # noqa: E402
from titan.core.events import Side, Trade  # noqa: E402

N = 1_000_000


def _best_of(fn, repeats: int = 3) -> float:
    best = float("inf")
    for _ in range(repeats):
        gc.collect()
        t0 = time.perf_counter_ns()
        fn()
        best = min(best, time.perf_counter_ns() - t0)
    return best


def run(n_handlers: int, n: int = N) -> dict:
    counter = [0]

    def make():
        def handler(msg):
            counter[0] += 1
        return handler

    handlers = [make() for _ in range(n_handlers)]
    bus = MessageBus()
    for h in handlers:
        bus.subscribe("data.trade.*", h)
    msg = Trade(instrument_id="BTC/USDT@binance", price=1.0, size=1.0, aggressor=Side.BUY,
                ts_event=0, ts_init=0)
    topic = "data.trade.BTC/USDT@binance"
    publish = bus.publish
    rng = range(n)

    def via_bus():
        for _ in rng:
            publish(topic, msg)

    def direct():
        hs = tuple(handlers)
        for _ in rng:
            for h in hs:
                h(msg)

    bus_ns = _best_of(via_bus)
    direct_ns = _best_of(direct)
    deliveries = n * n_handlers
    return {
        "handlers": n_handlers,
        "events": n,
        "bus_events_per_s": round(n / (bus_ns / 1e9)),
        "bus_ns_per_delivery": round(bus_ns / deliveries, 1),
        "direct_ns_per_delivery": round(direct_ns / deliveries, 1),
        "overhead_ns_per_delivery": round((bus_ns - direct_ns) / deliveries, 1),
    }


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else N
    results = [run(1, n), run(8, n)]
    worst = max(r["overhead_ns_per_delivery"] for r in results)
    print(json.dumps({"bench": "bus", "results": results, "goal_overhead_ns": 150,
                      "worst_overhead_ns": worst, "meets_goal": worst <= 150}))


if __name__ == "__main__":
    main()
