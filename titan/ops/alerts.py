"""Alerts to a webhook (Telegram-compatible), rate limited, never on the trading path.

:func:`alert_for` (pure) decides which events page the operator: breaker changes, emergency
flattens, alerts the Brain / clients / event log raise, feed loss, venue errors and rate
limiting. :class:`WebhookAlerts` sends them: ``push`` is synchronous and never blocks (the
kernel's listeners call it), a sender task POSTs ``{"text": ...}`` - the body Telegram's
``sendMessage`` takes (a ``chat_id`` in the URL's query is copied into the body; Slack and
Mattermost incoming webhooks read the same ``text``) - and a token bucket keeps at most
``per_minute`` messages a minute. What the bucket refuses is counted and reported in the next
message that goes out, so a storm costs one line, not silence.

The URL comes from the environment (``telemetry.webhook_env``) and is never logged: a Telegram
URL carries the bot token.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Callable
from urllib.parse import parse_qs, urlsplit

import msgspec

from titan.core import events as ev

log = logging.getLogger(__name__)

VENUE_ERRORS = frozenset({ev.ErrorKind.TEMPORARY, ev.ErrorKind.AUTH, ev.ErrorKind.UNKNOWN})
FEED_LOST = frozenset({ev.FeedStatus.DISCONNECTED, ev.FeedStatus.STALE})
ICON = {"critical": "\U0001F6A8", "error": "\u2757", "warning": "\u26A0\uFE0F", "info": "\u2139\uFE0F"}


class Alert(msgspec.Struct, frozen=True, kw_only=True):
    severity: str  # info | warning | error | critical
    title: str
    detail: str = ""
    key: str = ""  # same key within the cool-down: sent once

    def text(self, prefix: str = "titan") -> str:
        icon = ICON.get(self.severity, "")
        body = f"{icon} {prefix}: {self.title}".strip()
        return body + (f"\n{self.detail}" if self.detail else "")


def alert_for(event: ev.Message) -> Alert | None:
    """The alert an event deserves, or None."""
    cls = event.__class__
    if cls is ev.BreakerChanged:
        sev = "critical" if event.new is ev.BreakerState.HALTED else "warning"
        return Alert(severity=sev, title=f"breaker {event.old.value} -> {event.new.value}",
                     detail=event.reason)
    if cls is ev.EmergencyFlatten:
        return Alert(severity="critical", title="EMERGENCY FLATTEN",
                     detail=f"{event.source}: {event.reason}" if event.source else event.reason)
    if cls is ev.AlertRaised:
        if event.title == "emergency flatten":  # the EmergencyFlatten event says it
            return None
        return Alert(severity=event.severity, title=event.title, detail=event.detail,
                     key=f"alert:{event.title}")
    if cls is ev.FeedStatusChanged:
        if event.status in FEED_LOST and not event.instrument_id:
            return Alert(severity="error", title=f"feed {event.status.value}: {event.venue}",
                         detail=event.detail, key=f"feed:{event.venue}:{event.status.value}")
        return None
    if cls is ev.OrderRejected:
        if event.kind is ev.ErrorKind.RATE_LIMITED:
            return Alert(severity="warning", title="venue rate limit hit",
                         detail=f"{event.client_order_id}: {event.reason}", key="rate_limited")
        if event.kind in VENUE_ERRORS:
            return Alert(severity="error", title=f"venue error ({event.kind.value})",
                         detail=f"{event.client_order_id}: {event.reason}",
                         key=f"venue:{event.kind.value}")
        return None
    if cls is ev.OrderCancelRejected and event.kind is ev.ErrorKind.RATE_LIMITED:
        return Alert(severity="warning", title="venue rate limit hit",
                     detail=f"cancel {event.client_order_id}: {event.reason}", key="rate_limited")
    return None


class TokenBucket:
    """``capacity`` tokens, refilled at ``capacity`` per ``period_s``."""

    def __init__(self, capacity: int, period_s: float = 60.0,
                 now: Callable[[], float] = time.monotonic) -> None:
        if capacity < 1:
            raise ValueError(f"capacity: must be >= 1, got {capacity}")
        self.capacity = capacity
        self.rate = capacity / period_s
        self.tokens = float(capacity)
        self._now = now
        self._t = now()

    def take(self) -> bool:
        t = self._now()
        self.tokens = min(self.capacity, self.tokens + (t - self._t) * self.rate)
        self._t = t
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False


class WebhookAlerts:
    """Queue and POST alerts; see the module docstring."""

    def __init__(self, url: str, *, per_minute: int = 10, prefix: str = "titan",
                 cooldown_s: float = 60.0, timeout_s: float = 10.0,
                 now: Callable[[], float] = time.monotonic, max_queue: int = 1000) -> None:
        self.url = url
        self.prefix = prefix
        self.bucket = TokenBucket(per_minute, 60.0, now)
        self.cooldown_s = cooldown_s
        self.timeout_s = timeout_s
        self._now = now
        self._queue: deque[Alert] = deque(maxlen=max_queue)
        self._wake = asyncio.Event()
        self._last_key: dict[str, float] = {}
        query = parse_qs(urlsplit(url).query)
        self._chat_id = query["chat_id"][0] if "chat_id" in query else None
        self.sent = 0
        self.failed = 0
        self.suppressed = 0  # refused by the rate limit, not yet reported
        self.suppressed_total = 0
        self.deduplicated = 0
        self.recent: deque[tuple[float, Alert]] = deque(maxlen=50)  # for the dashboard

    def push(self, alert: Alert) -> bool:
        """Queue an alert if the rate limit allows; never blocks, never raises."""
        now = self._now()
        if alert.key:
            last = self._last_key.get(alert.key)
            if last is not None and now - last < self.cooldown_s:
                self.deduplicated += 1
                return False
            self._last_key[alert.key] = now
        self.recent.append((time.time(), alert))
        if not self.bucket.take():
            self.suppressed += 1
            self.suppressed_total += 1
            return False
        if self.suppressed:
            alert = msgspec.structs.replace(
                alert, detail=(alert.detail + "\n" if alert.detail else "")
                + f"({self.suppressed} more alerts were rate limited)")
            self.suppressed = 0
        self._queue.append(alert)
        self._wake.set()
        return True

    def on_event(self, event: ev.Message) -> None:
        """A bus listener: alert on what :func:`alert_for` selects."""
        alert = alert_for(event)
        if alert is not None:
            self.push(alert)

    async def run(self) -> None:
        import aiohttp

        timeout = aiohttp.ClientTimeout(total=self.timeout_s)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            while True:
                if not self._queue:
                    self._wake.clear()
                    await self._wake.wait()
                    continue
                alert = self._queue[0]
                await self._post(session, alert)
                self._queue.popleft()

    async def _post(self, session, alert: Alert) -> None:
        body: dict[str, object] = {"text": alert.text(self.prefix), "disable_web_page_preview": True}
        if self._chat_id is not None:
            body["chat_id"] = self._chat_id
        try:
            async with session.post(self.url, json=body) as resp:
                if resp.status >= 300:
                    self.failed += 1
                    log.warning("alert webhook answered HTTP %d for %r", resp.status, alert.title)
                    return
        except (TimeoutError, OSError, Exception) as e:  # noqa: BLE001 - never fatal
            self.failed += 1
            log.warning("alert webhook unreachable for %r: %s", alert.title, type(e).__name__)
            return
        self.sent += 1

    async def drain(self, timeout_s: float = 3.0) -> None:
        """Wait (bounded) until the queue is empty: the last alerts of a shutdown go out."""
        deadline = time.monotonic() + timeout_s
        while self._queue and time.monotonic() < deadline:
            await asyncio.sleep(0.02)

    @property
    def pending(self) -> int:
        return len(self._queue)


async def cancel(task: asyncio.Task | None) -> None:
    if task is not None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
