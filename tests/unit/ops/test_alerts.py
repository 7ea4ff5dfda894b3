"""Webhook alerts: which events page the operator, the rate limit, and delivery to a real local
HTTP receiver (aiohttp on 127.0.0.1 standing in for Telegram)."""

from __future__ import annotations

import asyncio

from aiohttp import web
from hypothesis import given
from hypothesis import strategies as st

from titan.core import events as ev
from titan.ops.alerts import Alert, TokenBucket, WebhookAlerts, alert_for

T = 1_000


class Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def test_which_events_page_the_operator():
    halted = ev.BreakerChanged(old=ev.BreakerState.NORMAL, new=ev.BreakerState.HALTED,
                               reason="operator: lunch", ts_event=T, ts_init=T)
    assert alert_for(halted).severity == "critical"
    assert "NORMAL -> HALTED" in alert_for(halted).title
    defensive = ev.BreakerChanged(old=ev.BreakerState.NORMAL, new=ev.BreakerState.DEFENSIVE,
                                  reason="tail", ts_event=T, ts_init=T)
    assert alert_for(defensive).severity == "warning"
    flat = ev.EmergencyFlatten(reason="drawdown 15%", source="drawdown", ts_event=T, ts_init=T)
    assert alert_for(flat).title == "EMERGENCY FLATTEN" and "drawdown 15%" in alert_for(flat).detail
    lost = ev.FeedStatusChanged(venue="bybit", instrument_id="", status=ev.FeedStatus.DISCONNECTED,
                                detail="closed", ts_event=T, ts_init=T)
    assert alert_for(lost).title == "feed disconnected: bybit"
    per_instrument = ev.FeedStatusChanged(venue="bybit", instrument_id="BTC/USDT@bybit",
                                          status=ev.FeedStatus.STALE, ts_event=T, ts_init=T)
    assert alert_for(per_instrument) is None  # the connection's own event says it once
    ok = ev.FeedStatusChanged(venue="bybit", instrument_id="", status=ev.FeedStatus.CONNECTED,
                              ts_event=T, ts_init=T)
    assert alert_for(ok) is None
    limited = ev.OrderRejected(client_order_id="c1", reason="429", kind=ev.ErrorKind.RATE_LIMITED,
                               ts_event=T, ts_init=T)
    assert alert_for(limited).title == "venue rate limit hit"
    venue_err = ev.OrderRejected(client_order_id="c2", reason="502", kind=ev.ErrorKind.TEMPORARY,
                                 ts_event=T, ts_init=T)
    assert alert_for(venue_err).severity == "error"
    invalid = ev.OrderRejected(client_order_id="c3", reason="lot", kind=ev.ErrorKind.INVALID_ORDER,
                               ts_event=T, ts_init=T)
    assert alert_for(invalid) is None  # a strategy's bad order is not a venue problem
    assert alert_for(ev.Trade(instrument_id="x@y", ts_event=T, ts_init=T, price=1.0, size=1.0,
                              aggressor=ev.Side.BUY)) is None


@given(st.integers(1, 30), st.lists(st.floats(0, 30, allow_nan=False), max_size=200))
def test_token_bucket_never_exceeds_its_rate(capacity, steps):
    clock = Clock()
    bucket = TokenBucket(capacity, 60.0, clock)
    taken = 0
    for dt in steps:
        clock.t += dt
        taken += bucket.take()
        assert taken <= capacity + clock.t * capacity / 60.0 + 1e-9


class Receiver:
    """A real webhook endpoint on 127.0.0.1."""

    def __init__(self, status: int = 200) -> None:
        self.status = status
        self.bodies: list[dict] = []
        self.runner: web.AppRunner | None = None
        self.url = ""

    async def __aenter__(self) -> Receiver:
        app = web.Application()

        async def hook(request: web.Request) -> web.Response:
            self.bodies.append(await request.json())
            return web.json_response({"ok": self.status < 300}, status=self.status)

        app.router.add_post("/bot123:ABC/sendMessage", hook)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}/bot123:ABC/sendMessage?chat_id=-10042"
        return self

    async def __aexit__(self, *exc) -> None:
        await self.runner.cleanup()


async def _deliver(alerts: WebhookAlerts, receiver: Receiver, n: int) -> None:
    task = asyncio.create_task(alerts.run())
    try:
        for _ in range(200):
            if len(receiver.bodies) >= n and not alerts.pending:
                break
            await asyncio.sleep(0.01)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


def test_alerts_reach_a_telegram_style_webhook_within_the_rate_limit():
    clock = Clock()

    async def main():
        async with Receiver() as rx:
            alerts = WebhookAlerts(rx.url, per_minute=3, now=clock)
            pushed = [alerts.push(Alert(severity="error", title=f"a{i}")) for i in range(5)]
            await _deliver(alerts, rx, 3)
            clock.t += 20.0  # one token back
            alerts.push(Alert(severity="warning", title="later"))
            await _deliver(alerts, rx, 4)
            return pushed, rx.bodies, alerts

    pushed, bodies, alerts = asyncio.run(main())
    assert pushed == [True, True, True, False, False]
    assert [b["text"].split(": ", 1)[1] for b in bodies[:3]] == ["a0", "a1", "a2"]
    assert all(b["chat_id"] == "-10042" for b in bodies)
    assert "later" in bodies[3]["text"] and "(2 more alerts were rate limited)" in bodies[3]["text"]
    assert alerts.sent == 4 and alerts.suppressed_total == 2 and alerts.suppressed == 0


def test_same_alert_key_within_the_cooldown_is_sent_once():
    clock = Clock()
    alerts = WebhookAlerts("http://127.0.0.1:9/x", per_minute=100, cooldown_s=60, now=clock)
    lost = ev.FeedStatusChanged(venue="bybit", instrument_id="", status=ev.FeedStatus.STALE,
                                ts_event=T, ts_init=T)
    alerts.on_event(lost)
    alerts.on_event(lost)
    clock.t += 61
    alerts.on_event(lost)
    assert alerts.pending == 2 and alerts.deduplicated == 1


def test_a_failing_or_missing_webhook_is_counted_never_fatal():
    async def main():
        async with Receiver(status=500) as rx:
            alerts = WebhookAlerts(rx.url, per_minute=10)
            alerts.push(Alert(severity="critical", title="x"))
            task = asyncio.create_task(alerts.run())
            for _ in range(200):
                if alerts.failed:
                    break
                await asyncio.sleep(0.01)
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            down = WebhookAlerts("http://127.0.0.1:9/nothing-listens", per_minute=10, timeout_s=2)
            down.push(Alert(severity="critical", title="y"))
            task = asyncio.create_task(down.run())
            for _ in range(300):
                if down.failed:
                    break
                await asyncio.sleep(0.01)
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            return alerts, down

    alerts, down = asyncio.run(main())
    assert alerts.failed == 1 and alerts.sent == 0
    assert down.failed == 1 and down.sent == 0
