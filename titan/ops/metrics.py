"""Prometheus metrics for ``GET /metrics`` (text exposition format via prometheus-client).

Two kinds, in one private registry (never the library's global one: tests run several daemons
in one process):

- counted as they happen, from the kernel's bus: decisions by phase and verdict, denials by
  the Brain check that failed (a bounded label set - the free-text reason is in ``/explain``),
  fills, alerts, and the event-to-order latency histogram (market event received -> order
  handed to the venue client);
- read when scraped, from the running session (:class:`LiveGauges`): equity, drawdown,
  allocations, positions, open orders, breaker, truth score, feed staleness per venue, and the
  kernel's own counters. Nothing is computed between scrapes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from titan.core import events as ev

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
# event-to-order: from tens of microseconds (compiled kernel) to seconds (a stuck loop)
LATENCY_BUCKETS = (10e-6, 20e-6, 50e-6, 100e-6, 250e-6, 500e-6, 1e-3, 2.5e-3, 5e-3, 10e-3,
                   25e-3, 50e-3, 100e-3, 250e-3, 1.0, 5.0)
BREAKER_STATES = tuple(s.value for s in ev.BreakerState)


def denial_check(d: ev.OrderDenied) -> str:
    """The name of the first Brain check that failed (``breaker``, ``feed``, ``leverage``...)."""
    for c in d.checks:
        if not c.passed:
            return c.name
    return "other"


class Metrics:
    def __init__(self, gauges: Callable[[], dict[str, Any]] | None = None) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.decisions = Counter("titan_decisions", "Brain decisions on order intents",
                                 ["phase", "verdict"], registry=r)
        self.denials = Counter("titan_denials", "Denied intents by the Brain check that failed",
                               ["reason"], registry=r)
        self.fills = Counter("titan_fills", "Order fills", ["phase", "venue"], registry=r)
        self.alerts = Counter("titan_alerts", "Alerts raised", ["severity"], registry=r)
        self.latency = Histogram("titan_event_to_order_seconds",
                                 "Market event received to order handed to the venue client",
                                 buckets=LATENCY_BUCKETS, registry=r)
        self.faults = Counter("titan_faults", "Exceptions caught in the daemon's tasks",
                              ["where"], registry=r)
        self._phase_of: Callable[[str], str] = lambda cid: ""
        if gauges is not None:
            r.register(LiveGauges(gauges))

    def bind_phases(self, phase_of: Callable[[str], str]) -> None:
        self._phase_of = phase_of

    def on_event(self, e: ev.Message) -> None:
        """A bus listener (``events.*``)."""
        cls = e.__class__
        if cls is ev.OrderApproved:
            self.decisions.labels(e.phase, "approved").inc()
        elif cls is ev.OrderDenied:
            self.decisions.labels(e.phase, "denied").inc()
            self.denials.labels(denial_check(e)).inc()
        elif cls is ev.OrderFilled:
            venue = e.instrument_id.rpartition("@")[2]
            self.fills.labels(self._phase_of(e.client_order_id) or "unknown", venue).inc()
        elif cls is ev.AlertRaised:
            self.alerts.labels(e.severity).inc()

    def render(self) -> bytes:
        return generate_latest(self.registry)


class LiveGauges(Collector):
    """Values read from the session at scrape time (``gauges()`` returns a plain dict)."""

    def __init__(self, gauges: Callable[[], dict[str, Any]]) -> None:
        self.gauges = gauges

    def describe(self) -> list:
        return []  # values appear only once the session runs

    def collect(self) -> Iterator[Any]:
        g = self.gauges()
        yield _gauge("titan_equity", "Account equity in the account currency", g.get("equity"))
        yield _gauge("titan_drawdown", "Drawdown from the equity peak (fraction)", g.get("drawdown"))
        yield _gauge("titan_truth_score", "Truth score 0-100", g.get("truth_score"))
        yield _gauge("titan_up_seconds", "Seconds since the session started", g.get("uptime_s"))
        breaker = GaugeMetricFamily("titan_breaker_state", "1 for the current breaker state",
                                    labels=["state"])
        for s in BREAKER_STATES:
            breaker.add_metric([s], 1.0 if g.get("breaker") == s else 0.0)
        yield breaker
        alloc = GaugeMetricFamily("titan_allocation", "Budget per phase", labels=["phase"])
        for phase, amount in sorted(g.get("allocations", {}).items()):
            alloc.add_metric([phase], float(amount))
        yield alloc
        pos = GaugeMetricFamily("titan_position", "Signed position per instrument and phase",
                                labels=["instrument", "phase"])
        for p in g.get("positions", ()):
            pos.add_metric([p["instrument_id"], p["phase"]], float(p["quantity"]))
        yield pos
        orders = GaugeMetricFamily("titan_open_orders", "Working orders per venue",
                                   labels=["venue"])
        for venue, n in sorted(g.get("open_orders_by_venue", {}).items()):
            orders.add_metric([venue], float(n))
        yield orders
        stale = GaugeMetricFamily("titan_feed_staleness_seconds",
                                  "Seconds since the last market event per venue",
                                  labels=["venue"])
        for venue, age in sorted(g.get("feed_age_s", {}).items()):
            stale.add_metric([venue], float(age))
        yield stale
        counters = CounterMetricFamily("titan_kernel_events", "Kernel counters by kind",
                                       labels=["kind"])
        for kind, n in sorted(g.get("counters", {}).items()):
            counters.add_metric([kind], float(n))
        yield counters


def _gauge(name: str, doc: str, value: Any) -> GaugeMetricFamily:
    m = GaugeMetricFamily(name, doc)
    if value is not None:
        m.add_metric([], float(value))
    return m
