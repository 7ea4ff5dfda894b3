"""Client factories for the contract suite: CcxtExecutionClient against the exchange emulator,
and SimExecutionClient against an in-process SimVenue fed with recorded prices."""

from __future__ import annotations

import asyncio
import time
from decimal import Decimal
from typing import Any

from tests.kit.contract import Harness
from tests.kit.emulator import API_KEY, API_SECRET, Fault
from tests.kit.emulator.runner import EmulatorThread
from titan.config import Credentials, ExecutionSection, Secret, VenueConfig
from titan.core import events as ev
from titan.core.instruments import Instrument, InstrumentKind

D = Decimal
EIGHT = D("1e-8")

# name -> (ccxt venue, instrument id, engine symbol, create path)
LIVE = {
    "bybit-linear": ("bybit", "BTC/USDT:USDT@bybit", "BTCUSDT", "/v5/order/create"),
    "bybit-spot": ("bybit", "BTC/USDT@bybit", "BTCUSDT:spot", "/v5/order/create"),
    "binance-spot": ("binance", "BTC/USDT@binance", "BTCUSDT", "/api/v3/order"),
    "binanceusdm": ("binanceusdm", "BTC/USDT:USDT@binanceusdm", "BTCUSDT", "/fapi/v1/order"),
    "mexc-spot": ("mexc", "BTC/USDT@mexc", "BTCUSDT", "/api/v3/order"),
}


def test_execution(**kw: Any) -> ExecutionSection:
    base = dict(submit_timeout_s=1.0, poll_interval_s=0.2, retry_backoff_s=0.05, max_retries=3)
    base.update(kw)
    return ExecutionSection(**base)


test_execution.__test__ = False  # type: ignore[attr-defined]  # not a pytest test


class EmulatorHarness(Harness):
    def __init__(self, name: str, emu: EmulatorThread) -> None:
        venue, iid, engine_symbol, create_path = LIVE[name]
        super().__init__(name=name, instrument=None)  # type: ignore[arg-type]
        self.venue, self.iid, self.sym, self.create_path = venue, iid, engine_symbol, create_path
        self.emu = emu
        self.timeout_s = 1.0
        self.capabilities = frozenset({"network", "stream"} if venue != "mexc" else {"network"})

    def make_client(self, secret: str = API_SECRET, sink=None, leverage: dict | None = None, **exec_kw: Any):
        from titan.execution.ccxt_client import CcxtExecutionClient

        symbol = self.iid.split("@")[0]
        cfg = VenueConfig(enabled=True, rest_url=self.emu.base_url(self.venue), ws_url=self.emu.ws_url(self.venue),
                          symbols=[symbol], leverage=leverage or {})
        creds = Credentials(venue=self.venue, api_key=Secret(API_KEY), secret=Secret(secret))
        return CcxtExecutionClient(self.venue, credentials=creds, config=cfg,
                                   execution=test_execution(submit_timeout_s=self.timeout_s, **exec_kw),
                                   sink=sink or self.events.append, enable_ccxt_rate_limit=False)

    async def start(self) -> EmulatorHarness:
        self.client = self.make_client()
        await self.client.start()
        self.instrument = self.client.instruments[self.iid]
        return self

    async def stop(self) -> None:
        if self.client is not None:
            await self.client.stop()

    def _ex(self, e):
        return e.exchange(self.venue)

    async def wait(self, pred, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while not pred():
            if time.monotonic() > deadline:
                raise AssertionError(f"{self.name}: timed out; events: {self.events[-8:]}")
            await asyncio.sleep(0.01)

    async def quiet(self, seconds: float = 0.3) -> None:
        await asyncio.sleep(seconds)

    def best(self) -> tuple[Decimal, Decimal]:
        return self.emu.call(lambda e: (self._ex(e).books[self.sym].best_bid(), self._ex(e).books[self.sym].best_ask()))

    async def trade_through(self, side: ev.Side, price: Decimal) -> None:
        tick = self.instrument.tick_size
        through = price - tick if side is ev.Side.BUY else price + tick
        aggressor = "sell" if side is ev.Side.BUY else "buy"
        self.emu.call(lambda e: self._ex(e).print_trade(self.sym, through, D(1000), aggressor))

    def venue_orders(self, cid: str) -> int:
        return self.emu.call(lambda e: sum(1 for o in self._ex(e).orders.values() if o.client_id == cid))

    def venue_open(self, cid: str) -> bool:
        return self.emu.call(lambda e: any(o.client_id == cid and o.status.is_open
                                           for o in self._ex(e).orders.values()))

    def venue_balance(self, currency: str) -> Decimal:
        return self.emu.call(lambda e: self._ex(e).account.balances.get(currency, D(0)))

    def spec(self):
        return self.emu.call(lambda e: self._ex(e).markets[self.sym])

    def fee(self, qty: Decimal, price: Decimal, liquidity: ev.Liquidity, side: ev.Side) -> tuple[Decimal, str]:
        m = self.spec()
        rate = m.maker_fee if liquidity is ev.Liquidity.MAKER else m.taker_fee
        if m.is_spot and side is ev.Side.BUY:  # the emulator charges spot buys in the base coin
            return (qty * rate).quantize(EIGHT), m.base
        return (qty * price * rate).quantize(EIGHT), m.quote

    async def inject(self, kind: str, **kw: Any) -> None:
        self.emu.call(lambda e: e.inject(self.venue, Fault(kind, **kw)))

    async def clear_faults(self) -> None:
        self.emu.call(lambda e: e.clear_faults(self.venue))

    def requests(self, path: str) -> list:
        return self.emu.call(lambda e: [r for r in e.requests(self.venue) if r.path == path])

    def requests_all(self) -> list:
        return self.emu.call(lambda e: list(e.requests(self.venue)))

    async def bad_credentials_client(self):
        events: list = []
        client = self.make_client(secret="not-the-secret", sink=events.append)
        await client.start()
        return client, events


class SimHarness(Harness):
    """SimExecutionClient on a SimVenue priced by the first recorded Binance USD-M book."""

    def __init__(self, name: str = "sim-linear", spot: bool = False) -> None:
        from titan.core.clock import SimClock
        from titan.execution.sim import (  # skip-able import (other engineer's)
            SimExecutionClient,
            SimVenue,
        )

        inst = Instrument(symbol="BTC/USDT" if spot else "BTC/USDT:USDT", venue="sim", base="BTC", quote="USDT",
                          kind=InstrumentKind.SPOT if spot else InstrumentKind.PERPETUAL,
                          settle="" if spot else "USDT", tick_size=D("0.1"), lot_size=D("0.001"),
                          min_qty=D("0.001"), min_notional=D("5"), maker_fee=D("0.0002"), taker_fee=D("0.0005"),
                          max_leverage=D("20"))
        super().__init__(name=name, instrument=inst)
        self.clock = SimClock(1_723_161_256_501_000_000)
        self.venue = SimVenue([inst], clock=self.clock, balances={"USDT": D("100000"), "BTC": D("1")},
                              fill_model="book", default_leverage=10)
        self.client = SimExecutionClient(self.venue, sink=self.events.append)
        self.bid, self.ask = self._recorded_touch()
        self._quote()

    @staticmethod
    def _recorded_touch() -> tuple[Decimal, Decimal]:
        from tests.kit.emulator.tape import load_l2

        tape = load_l2("binance-usdm_BTCUSDT_book.csv.gz", "binance-usdm_BTCUSDT_trades.csv.gz")
        snap = tape.initial()[-1]
        return max(p for p, _ in snap.bids), min(p for p, _ in snap.asks)

    def _quote(self) -> None:
        now = self.clock.now_ns()
        self.venue.on_market(ev.Quote(instrument_id=self.instrument.id, bid=float(self.bid), bid_size=5.0,
                                      ask=float(self.ask), ask_size=5.0, ts_event=now, ts_init=now))

    async def start(self) -> SimHarness:
        await self.client.start()
        return self

    async def stop(self) -> None:
        await self.client.stop()

    def _step(self) -> None:
        self.clock.advance_to(self.clock.now_ns() + 1_000_000)
        self.venue.process(self.clock.now_ns())

    async def wait(self, pred, timeout: float = 10.0) -> None:
        for _ in range(1000):
            self._step()
            if pred():
                return
        raise AssertionError(f"{self.name}: condition not reached; events: {self.events[-8:]}")

    async def quiet(self, seconds: float = 0.3) -> None:
        for _ in range(20):
            self._step()

    def best(self) -> tuple[Decimal, Decimal]:
        return self.bid, self.ask

    async def trade_through(self, side: ev.Side, price: Decimal) -> None:
        tick = self.instrument.tick_size
        through = price - tick if side is ev.Side.BUY else price + tick
        now = self.clock.now_ns()
        self.venue.on_market(ev.Trade(instrument_id=self.instrument.id, price=float(through), size=1000.0,
                                      aggressor=ev.Side.SELL if side is ev.Side.BUY else ev.Side.BUY,
                                      ts_event=now, ts_init=now))
        self._step()

    def venue_orders(self, cid: str) -> int:
        if cid in self.venue.open_orders():
            return 1
        return min(1, len(self.of(cid, ev.OrderAccepted)))

    def venue_open(self, cid: str) -> bool:
        return cid in self.venue.open_orders()

    def venue_balance(self, currency: str) -> Decimal:
        return self.venue.balance(currency)

    def fee(self, qty: Decimal, price: Decimal, liquidity: ev.Liquidity, side: ev.Side) -> tuple[Decimal, str]:
        inst = self.instrument
        rate = inst.maker_fee if liquidity is ev.Liquidity.MAKER else inst.taker_fee
        return qty * price * inst.contract_size * rate, inst.quote if inst.is_spot else inst.settle_currency
