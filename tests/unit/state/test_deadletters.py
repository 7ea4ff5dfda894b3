"""Dead letters: recorded with handler and error, persisted, requeued, redelivered, purged."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest

from titan.core import events as ev
from titan.core.deadletters import DeadLetterStore
from titan.core.errors import DataError

BAR = ev.Bar(instrument_id="BTC/USDT@binance", ts_event=5, ts_init=5, timeframe="1m", ts_open=0,
             open=1.0, high=2.0, low=0.5, close=1.5, volume=3.0)
FILL = ev.OrderFilled(client_order_id="c1", venue_order_id="v", trade_id="t", instrument_id="x@y",
                      side=ev.Side.BUY, last_qty=Decimal("1"), last_price=Decimal("2"),
                      fee=Decimal(0), fee_currency="USDT", liquidity=ev.Liquidity.TAKER,
                      ts_event=1, ts_init=1)


def boom(msg: str) -> BaseException:
    try:
        raise ZeroDivisionError(msg)
    except ZeroDivisionError as e:
        return e


def test_record_flush_list_requeue_redeliver_purge_on_file(tmp_path):
    store = DeadLetterStore(tmp_path / "titan.sqlite", now_ns=lambda: 42)
    store.record(BAR, "hunter.on_bar", boom("division by zero"))
    store.record(FILL, "scavenger.on_order", boom("bad"))
    store.record(object(), "sentinel.on_timer", boom("odd"))
    assert store.list() == [] and store.pending == 3  # recorded, not yet written
    asyncio.run(store.flush())
    letters = DeadLetterStore(tmp_path / "titan.sqlite").list()  # another process reads it
    assert [(d.id, d.handler, d.type, d.status) for d in letters] == [
        (1, "hunter.on_bar", "Bar", "dead"), (2, "scavenger.on_order", "OrderFilled", "dead"),
        (3, "sentinel.on_timer", "object", "dead")]
    assert letters[0].event == BAR and letters[2].event is None
    assert letters[0].error.startswith("ZeroDivisionError: division by zero (at test_deadletters.py:")

    assert store.requeue() == 3  # `titan dlq replay`
    seen = []

    def dispatch(handler, event):
        if handler.startswith("scavenger"):
            raise ValueError("still broken")
        seen.append((handler, event))

    assert store.redeliver(dispatch) == (1, 2)
    assert seen == [("hunter.on_bar", BAR)]
    after = {d.id: d for d in store.list()}
    assert after[1].status == "replayed" and after[1].attempts == 2
    assert after[2].status == "dead" and after[2].error.startswith("ValueError: still broken")
    assert after[3].status == "dead" and "cannot be replayed" in after[3].error
    assert store.purge(status="replayed") == 1
    assert store.purge(ids=[2]) == 1
    assert [d.id for d in store.list()] == [3]
    assert store.purge() == 1 and store.list() == []


def test_memory_store_has_the_same_api():
    store = DeadLetterStore(None)
    store.record(BAR, "h.on_bar", boom("x"))
    assert [d.status for d in store.list()] == ["dead"]
    assert store.requeue([1]) == 1
    assert store.redeliver(lambda h, e: None) == (1, 0)
    assert store.list("replayed")[0].event == BAR


def test_a_file_that_is_not_a_database_is_a_one_line_error(tmp_path):
    bad = tmp_path / "notes.txt"
    bad.write_text("hello, this is not sqlite" * 100)
    with pytest.raises(DataError, match="notes.txt: not a Titan database"):
        DeadLetterStore(bad).list()
