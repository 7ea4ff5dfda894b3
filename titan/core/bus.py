"""A synchronous publish/subscribe bus for fan-out (dashboards, recorders, phases' extra feeds).

The kernel's core order (state, then phases, then the Brain) is plain code and does not go
through here; the bus is for everything that merely listens.

Topics are dotted strings (``data.trade.BTC/USDT@binance``, ``events.order.hunter``). A
subscription pattern is either exact or a prefix ending in ``*`` (``data.trade.*``, ``*``).
Handlers run in subscription order, synchronously, on the publisher's stack. The set of handlers
for a topic is resolved once and cached until the subscriptions change, so ``publish`` is a
dictionary lookup and a loop.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Handler = Callable[[Any], None]


class MessageBus:
    __slots__ = ("_subs", "_cache", "_seq", "published", "delivered")

    def __init__(self) -> None:
        # pattern -> list of (seq, handler); seq keeps global subscription order across patterns
        self._subs: dict[str, list[tuple[int, Handler]]] = {}
        self._cache: dict[str, tuple[Handler, ...]] = {}
        self._seq = 0
        self.published = 0
        self.delivered = 0

    def subscribe(self, pattern: str, handler: Handler) -> None:
        """Deliver messages on topics matching ``pattern`` to ``handler``.

        Subscribing the same handler twice to one pattern is a no-op.
        """
        if not pattern:
            raise ValueError("pattern: must not be empty")
        if "*" in pattern[:-1]:
            raise ValueError(f"pattern {pattern!r}: '*' is only allowed at the end")
        subs = self._subs.setdefault(pattern, [])
        if any(h == handler for _, h in subs):
            return
        self._seq += 1
        subs.append((self._seq, handler))
        self._cache.clear()

    def unsubscribe(self, pattern: str, handler: Handler) -> bool:
        """Remove one subscription; returns False if it did not exist."""
        subs = self._subs.get(pattern)
        if not subs:
            return False
        for i, (_, h) in enumerate(subs):
            if h == handler:
                del subs[i]
                if not subs:
                    del self._subs[pattern]
                self._cache.clear()
                return True
        return False

    def has_subscribers(self, topic: str) -> bool:
        return bool(self._handlers(topic))

    def subscriptions(self) -> dict[str, int]:
        return {p: len(s) for p, s in self._subs.items()}

    def publish(self, topic: str, msg: Any) -> None:
        handlers = self._cache.get(topic)
        if handlers is None:
            handlers = self._resolve(topic)
        self.published += 1
        for handler in handlers:
            handler(msg)
        self.delivered += len(handlers)

    def _handlers(self, topic: str) -> tuple[Handler, ...]:
        handlers = self._cache.get(topic)
        return handlers if handlers is not None else self._resolve(topic)

    def _resolve(self, topic: str) -> tuple[Handler, ...]:
        matched: list[tuple[int, Handler]] = []
        for pattern, subs in self._subs.items():
            if matches(pattern, topic):
                matched.extend(subs)
        matched.sort(key=lambda item: item[0])
        handlers = tuple(h for _, h in matched)
        self._cache[topic] = handlers
        return handlers


def matches(pattern: str, topic: str) -> bool:
    """True if ``topic`` is ``pattern`` or ``pattern`` ends in ``*`` and prefixes ``topic``."""
    if pattern.endswith("*"):
        return topic.startswith(pattern[:-1])
    return pattern == topic
