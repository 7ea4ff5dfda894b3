"""A backtest described as data: what the CLI parses, what sweeps send to worker processes.

:class:`BacktestSpec` names the strategy, its parameters, the data and the simulation settings;
:func:`prepare` loads the data (once per process: sweeps run many specs on one file) and builds
the instrument; :func:`run_spec` runs it. Every problem is raised as a one-line error that says
which argument is wrong (``--fee-bps: ...``, ``data.csv:17: ...``).
"""

from __future__ import annotations

import importlib.resources
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any

import msgspec

from titan.backtest.data import (
    Stream,
    is_recording,
    load_file,
    parse_time,
    recording_venue,
    tick_prices,
    window,
)
from titan.backtest.market import SIM_VENUE, sim_instrument, symbol_from_filename
from titan.backtest.policy import owner_for
from titan.backtest.result import BacktestResult
from titan.backtest.runner import BacktestRunner, Progress
from titan.config import TitanConfig, load_config
from titan.core.errors import TitanError
from titan.core.instruments import Instrument
from titan.feeds.history import BarSeries, load_funding
from titan.phases.registry import instantiate

SAMPLE = "binance-usdm_BTCUSDT-PERP_1m_20250504-20250603.csv.gz"
DEFAULT_SYMBOL = "BTC/USDT"
FILLS = ("bar_close", "next_open", "ohlc", "book")


class SpecError(TitanError):
    """A backtest argument is invalid; ``str()`` is the one-line report."""


class BacktestSpec(msgspec.Struct, frozen=True, kw_only=True):
    strategy: str
    params: dict[str, Any] = {}
    data: str = ""  # empty: the sample bundled with Titan
    symbol: str = ""  # empty: from the file name, else BTC/USDT
    timeframe: str = ""
    start: str = ""
    end: str = ""
    cash: float | None = None  # None: [backtest] cash from the config
    fee_bps: float | None = None
    slippage_bps: float | None = None
    fill: str = ""
    funding: str = ""
    tick: str = ""
    lot: str = ""
    venue: str = ""  # empty: "sim" for tables, the recording's venue for raw captures
    latency_ms: float = 0.0
    config: str = ""  # empty: built-in defaults


def sample_path() -> Path:
    """The Binance USD-M BTCUSDT perpetual 1m candles shipped inside the package."""
    return Path(str(importlib.resources.files("titan") / "samples" / SAMPLE))


def symbol_for(spec: BacktestSpec) -> str:
    if spec.symbol:
        return spec.symbol
    return symbol_from_filename(Path(spec.data).name if spec.data else SAMPLE) or DEFAULT_SYMBOL


@lru_cache(maxsize=2)
def _file(path: str, iid: str, timeframe: str, funding: str) -> tuple[Stream, ...]:
    """A data file's streams, loaded once per process (a sweep runs many windows of it)."""
    streams = load_file(path, iid, timeframe or None)
    if funding:
        streams.append(load_funding(funding, iid))
    return tuple(streams)


def _load(path: str, symbol: str, timeframe: str, funding: str, start: str, end: str,
          tick: str, lot: str, fee_bps: float, venue: str) -> tuple[Instrument, tuple[Stream, ...]]:
    try:
        probe = sim_instrument(symbol, tick=tick or None, lot=lot or None, fee_bps=fee_bps)
    except ValueError as e:
        name = "--tick/--lot" if ("tick" in str(e) or "lot" in str(e)) else "--symbol"
        raise SpecError(f"{name}: {e}") from None
    if not Path(path).is_file():
        raise SpecError(f"--data {path}: file not found")
    if not venue:
        venue = recording_venue(path, not probe.is_spot) if is_recording(path) else SIM_VENUE
    probe = sim_instrument(symbol, tick=tick or None, lot=lot or None, fee_bps=fee_bps, venue=venue)
    if funding and probe.is_spot:
        raise SpecError(f"--funding: {symbol} is spot; funding needs a perpetual (BASE/QUOTE:SETTLE)")
    try:
        lo = parse_time(start, "--from") if start else None
        hi = parse_time(end, "--to") if end else None
    except ValueError as e:
        raise SpecError(str(e)) from None
    if lo is not None and hi is not None and hi <= lo:
        raise SpecError(f"--to: {end} is not after --from {start}")
    full = _file(path, probe.id, timeframe, funding)
    streams = tuple(window(s, lo, hi) for s in full)
    if not any(len(s) for s in streams):
        raise SpecError(f"--from/--to: no data of {path} in that window")
    # the tick comes from the whole file, so every window of a sweep trades the same instrument
    prices = tick_prices(full)
    inst = sim_instrument(symbol, prices=prices, tick=tick or None, lot=lot or None, fee_bps=fee_bps,
                          venue=venue)
    return inst, streams


def prepare(spec: BacktestSpec) -> tuple[TitanConfig, Instrument, tuple[Stream, ...]]:
    config = load_config(spec.config) if spec.config else TitanConfig()
    fee = config.backtest.fee_bps if spec.fee_bps is None else spec.fee_bps
    if fee < 0:
        raise SpecError(f"--fee-bps: must be >= 0, got {fee:g}")
    path = spec.data or str(sample_path())
    inst, streams = _load(path, symbol_for(spec), spec.timeframe, spec.funding, spec.start, spec.end,
                          spec.tick, spec.lot, float(fee), spec.venue)
    return config, inst, streams


def build(spec: BacktestSpec, *, progress: Progress | None = None, journal: str = "memory"
          ) -> BacktestRunner:
    config, inst, streams = prepare(spec)
    timeframe = next((s.timeframe for s in streams if isinstance(s, BarSeries)), "1m")
    base_dir = Path(spec.config).resolve().parent if spec.config else None
    name = owner_for(spec.strategy, config, base_dir)  # the owner `titan run` gives it
    phase = instantiate(spec.strategy, spec.params, name=name, instruments=[inst.id],
                        timeframe=timeframe, base_dir=base_dir)
    cash = config.backtest.cash if spec.cash is None else spec.cash
    if not cash > 0:
        raise SpecError(f"--cash: must be > 0, got {cash:g}")
    fill = spec.fill or config.backtest.fill
    if fill not in FILLS:
        raise SpecError(f"--fill: expected one of {', '.join(FILLS)}, got {fill!r}")
    if spec.latency_ms < 0:
        raise SpecError(f"--latency-ms: must be >= 0, got {spec.latency_ms:g}")
    try:
        return BacktestRunner(
            [phase], [inst], list(streams), config=config, cash=Decimal(repr(float(cash))),
            fill=fill, latency_ns=int(spec.latency_ms * 1_000_000),
            slippage_bps=spec.slippage_bps, journal=journal, progress=progress,
        )
    except ValueError as e:
        raise SpecError(str(e)) from None


def run_spec(spec: BacktestSpec, *, progress: Progress | None = None, journal: str = "memory"
             ) -> BacktestResult:
    return build(spec, progress=progress, journal=journal).run()
