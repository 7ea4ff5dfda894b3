from __future__ import annotations

import pytest

from titan.core.bus import MessageBus, matches


def test_exact_and_prefix_delivery_in_subscription_order():
    bus, seen = MessageBus(), []
    bus.subscribe("data.trade.*", lambda m: seen.append(("prefix", m)))
    bus.subscribe("data.trade.BTC", lambda m: seen.append(("exact", m)))
    bus.subscribe("data.quote.BTC", lambda m: seen.append(("other", m)))
    bus.publish("data.trade.BTC", 1)
    bus.publish("data.trade.ETH", 2)
    assert seen == [("prefix", 1), ("exact", 1), ("prefix", 2)]


def test_unsubscribe_invalidates_cache():
    bus, seen = MessageBus(), []
    handler = seen.append
    bus.subscribe("a", handler)
    bus.publish("a", 1)
    assert bus.unsubscribe("a", handler)
    bus.publish("a", 2)
    assert seen == [1]
    assert not bus.unsubscribe("a", handler)


def test_duplicate_subscription_is_noop_and_wildcard_star():
    bus, seen = MessageBus(), []
    bus.subscribe("*", seen.append)
    bus.subscribe("*", seen.append)
    bus.publish("anything.at.all", "x")
    assert seen == ["x"]
    assert bus.published == 1 and bus.delivered == 1


def test_new_subscriber_sees_cached_topic():
    bus, seen = MessageBus(), []
    bus.publish("t", 0)  # caches an empty handler tuple
    bus.subscribe("t", seen.append)
    bus.publish("t", 1)
    assert seen == [1]


@pytest.mark.parametrize("pattern", ["", "a*b", "*a"])
def test_bad_patterns_rejected(pattern):
    with pytest.raises(ValueError):
        MessageBus().subscribe(pattern, print)


def test_matches():
    assert matches("a.b", "a.b") and not matches("a.b", "a.bc")
    assert matches("a.*", "a.bc") and not matches("a.*", "b.a")
