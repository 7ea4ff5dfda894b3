"""A burst of 1,000 intents per second produces zero rate-limit errors from the venue.

The emulator enforces the venues' published limits (its own table, tests/kit/emulator/limits.py)
and Titan's limiter follows its own copy (titan/execution/ratelimit.py). Both run ``SCALE`` times
faster than real time, so Bybit's 10 orders/s become 10 per 20 ms and the burst drains in seconds
instead of minutes; the ratio of the two rates - the thing under test - is unchanged. The control
run gives the client a limiter that believes the windows are ten times shorter than they are:
the venue must then answer with rate-limit errors, which proves the counting is live.
"""

from __future__ import annotations

import asyncio
import time
from decimal import Decimal

import pytest

from tests.kit.emulator import API_KEY, API_SECRET, Emulator
from tests.kit.harnesses import test_execution
from titan.config import Credentials, Secret, VenueConfig
from titan.core import events as ev
from titan.execution.ccxt_client import CcxtExecutionClient
from titan.execution.ratelimit import RateLimiters

SCALE = 50.0


async def burst(venue: str, iid: str, price: Decimal, qty: Decimal, n: int, limiter_scale: float):
    async with Emulator((venue if venue != "binanceusdm" else "binance",), time_scale=SCALE) as emu:
        events: list = []
        cfg = VenueConfig(enabled=True, rest_url=emu.base_url(venue), ws_url=emu.ws_url(venue),
                          symbols=[iid.split("@")[0]])
        client = CcxtExecutionClient(
            venue, credentials=Credentials(venue=venue, api_key=Secret(API_KEY), secret=Secret(API_SECRET)),
            config=cfg, execution=test_execution(submit_timeout_s=5.0, max_retries=20, retry_backoff_s=0.01),
            sink=events.append, limiters=RateLimiters(time_scale=limiter_scale), enable_ccxt_rate_limit=False)
        await client.start()
        try:
            t0 = time.monotonic()
            for i in range(n):  # one synchronous burst: far faster than 1,000 per second
                client.submit(ev.SubmitOrder(
                    client_order_id=f"TTN-brs-{i:010d}", phase="burst", instrument_id=iid, side=ev.Side.BUY,
                    order_type=ev.OrderType.LIMIT, quantity=qty, price=price, ts_init=0))
            burst_s = time.monotonic() - t0
            deadline = time.monotonic() + 120
            done = lambda: sum(isinstance(e, (ev.OrderAccepted, ev.OrderRejected)) for e in events)  # noqa: E731
            while done() < n and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
            app = emu.app(venue)
            limited = [r for r in app.requests if r.status == 429 or r.code in ("10006", "-1003", "-1015")]
            return events, burst_s, app.limits.violations, limited, client.limiter
        finally:
            await client.stop()


@pytest.mark.parametrize("venue,iid,price,qty", [
    ("bybit", "BTC/USDT:USDT@bybit", Decimal("16000"), Decimal("0.001")),
    ("binance", "BTC/USDT@binance", Decimal("60000"), Decimal("0.0001")),
])
def test_burst_of_1000_intents_gets_no_rate_limit_error(venue, iid, price, qty):
    events, burst_s, violations, limited, limiter = asyncio.run(burst(venue, iid, price, qty, 1000, SCALE))
    assert burst_s < 1.0, "the burst must arrive faster than 1,000 intents per second"
    accepted = {e.client_order_id for e in events if isinstance(e, ev.OrderAccepted)}
    assert len(accepted) == 1000, [e for e in events if isinstance(e, ev.OrderRejected)][:3]
    assert violations == 0 and limited == [], limited[:3]
    assert limiter.waited > 0, "the limiter must have queued the burst"
    assert limiter.penalties == 0


def test_control_a_limiter_that_overestimates_the_budget_is_caught():
    events, _, violations, limited, limiter = asyncio.run(
        burst("bybit", "BTC/USDT:USDT@bybit", Decimal("16000"), Decimal("0.001"), 200, SCALE * 10))
    assert violations > 0 and limited, "the emulator must count and refuse the excess"
    assert limiter.penalties > 0, "a rate-limit answer must make the limiter back off"
    # and the client still never duplicates: every order accepted once, none lost
    accepted = [e.client_order_id for e in events if isinstance(e, ev.OrderAccepted)]
    assert len(accepted) == len(set(accepted))
