"""Shared pieces for the backtest tests: real data (``tests/data/backtest``), instruments, and a
scripted phase that trades at given bars - so expectations can be computed from the data."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from titan.backtest.market import sim_instrument
from titan.backtest.runner import BacktestRunner
from titan.backtest.summary import summarise
from titan.core import events as ev
from titan.feeds.history import BarSeries, load_bars, load_funding
from titan.phases.base import Phase

ROOT = Path(__file__).resolve().parents[3]
DATA = ROOT / "tests" / "data" / "backtest"
BINANCE_1M = DATA / "binance-usdm_BTCUSDT-PERP_1m_20250504_4000.csv.gz"
BYBIT_1M = DATA / "bybit-linear_BTCUSDT-PERP_1m_20221213.csv.gz"
BYBIT_FUNDING = DATA / "bybit-linear_BTCUSDT-PERP_funding_rate_20221213.csv.gz"
RECORDING = ROOT / "titan" / "samples" / "binanceusdm_BTCUSDT_20240808T235415Z.log.gz"
PERP = "BTC/USDT:USDT"
SPOT = "BTC/USDT"




def instrument(symbol: str = PERP, fee_bps: float = 5.5, **kw):
    return sim_instrument(symbol, tick="0.1", lot="0.001", fee_bps=fee_bps, **kw)


def bars(path: Path = BINANCE_1M, symbol: str = PERP, n: int | None = None) -> BarSeries:
    s = load_bars(path, instrument(symbol).id)
    if n is not None and n < len(s):
        s = BarSeries(s.instrument_id, s.timeframe, s.ts_open[:n], s.open[:n], s.high[:n], s.low[:n],
                      s.close[:n], s.volume[:n], s.report)
    return s


def funding(symbol: str = PERP):
    return load_funding(BYBIT_FUNDING, instrument(symbol).id)


def as_events(series: BarSeries) -> list[ev.Bar]:
    return list(series.events())


class Scripted(Phase):
    """Acts at given bar indices: ``{index: ("buy"|"sell", qty) | ("close", None)}``."""

    name = "scripted"

    def __init__(self, script: dict[int, tuple[str, object]], **kw) -> None:
        super().__init__(**kw)
        self.script = dict(script)
        self.i = -1
        self.seen: list[int] = []  # clock time at each bar (must equal the bar's close time)

    def on_bar(self, bar):
        self.i += 1
        self.seen.append(self.ctx.now_ns())
        act = self.script.get(self.i)
        if act is None:
            return None
        what, qty = act
        iid = bar.instrument_id
        if what == "close":
            return [self.close(iid)]
        return [self.buy(iid, qty) if what == "buy" else self.sell(iid, qty)]


def run(phases, inst, streams, **kw):
    result = BacktestRunner(phases, [inst], streams, **kw).run()
    return result, summarise(result)


def dec(x) -> Decimal:
    return Decimal(str(x))
