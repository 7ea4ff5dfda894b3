"""The composition root of a trading session: a config and an *edge* in, wired parts out.

An :class:`Edge` says where the session meets the world - what ``titan run``'s flags decided:

- ``mode``: ``paper`` (fills simulated by a ``SimVenue`` per venue) or ``live`` (orders to the
  venues through ccxt, keys from the environment);
- ``market``: ``replay`` (a raw recording served by the local replay server and read by the
  real feed client; time is the data's time) or ``venue`` (the venues' websockets; wall time).

:func:`plan_edge` validates the combination (one line on a problem, naming the flag or the
environment variable); :func:`build` creates every part that exists before recovery - the
instrument registry, clocks, shadow state, event log, dead letters, the simulated venues and
the venue clients behind ``PolicyGuard`` (and ``DurableExecutionClient`` for real venues) - and
:meth:`Session.assemble` creates the Brain, the phases and the ``Kernel`` once recovery has
rebuilt the state. ``titan.live.LiveRunner`` drives the sequence; a backtest does not come
through here (``titan.backtest`` wires the same Kernel around a ``BacktestClock``).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

import msgspec

from titan.config import (
    PHASE_NAMES,
    TitanConfig,
    credentials_from_env,
    missing_credentials,
    policy_hash,
)
from titan.core import events as ev
from titan.core.clock import LiveClock, SimClock
from titan.core.errors import TitanError
from titan.core.instruments import Instrument, InstrumentRegistry
from titan.core.state import ShadowState

log = logging.getLogger(__name__)

FEED_VENUES = ("bybit", "binance", "binanceusdm")  # venues titan.feeds can stream
SIZED = ("scavenger", "hunter", "sentinel")


class PlanError(TitanError):
    """The flags, config and environment do not make a runnable session (one line)."""


class Edge(msgspec.Struct, frozen=True, kw_only=True):
    mode: Literal["paper", "live"]
    market: Literal["replay", "venue"]
    venues: tuple[str, ...]  # where orders go (paper: the simulated venue's name)
    recording: tuple[str, ...] = ()  # market == "replay"
    speed: float = 0.0  # replay speed, x real time (0 = as fast as the feed reads)
    duration_s: float = 0.0  # 0 = until signalled (a replay: until the recording is played out)
    base_dir: str = "."  # relative strategy paths resolve here (the config file's folder)

    @property
    def label(self) -> str:
        what = "recording " + ", ".join(Path(p).name for p in self.recording) \
            if self.market == "replay" else "live market data"
        where = ", ".join(self.venues) if self.venues else "simulated venue"
        return f"{self.mode} on {what} -> {where}"


def enabled_venues(config: TitanConfig) -> list[str]:
    return [n for n in ("bybit", "binance", "binanceusdm", "mexc")
            if getattr(config.venues, n).enabled]


def plan_edge(
    config: TitanConfig,
    *,
    live: bool = False,
    paper: bool = False,
    venue: str | None = None,
    replay: Iterable[str] = (),
    speed: float | None = None,
    duration_s: float = 0.0,
    base_dir: str = ".",
    env: Mapping[str, str] | None = None,
) -> Edge:
    """Decide the session's edge from flags and config; raises :class:`PlanError`."""
    env = os.environ if env is None else env
    if live and paper:
        raise PlanError("--live and --paper: choose one")
    mode = "live" if live else "paper" if paper else config.titan.mode
    replay = tuple(str(p) for p in replay)
    for p in replay:
        if not Path(p).is_file():
            raise PlanError(f"--replay: {p}: file not found")
    spd = config.paper.speed if speed is None else speed
    if spd < 0:
        raise PlanError(f"--speed: must be >= 0, got {spd:g}")
    if duration_s < 0:
        raise PlanError(f"--duration: must be >= 0, got {duration_s:g}")
    if mode == "live":
        if venue is not None:
            raise PlanError("--venue: only with --paper (live trades the enabled [venues.*])")
        venues = enabled_venues(config)
        if not venues:
            raise PlanError("live mode: no venue enabled (set enabled = true under [venues.bybit], ...)")
        missing = [name for v in venues for name in missing_credentials(v, env)]
        if missing:
            raise PlanError(f"live mode needs API keys in the environment: {', '.join(missing)} "
                            "missing (put them in an environment file, mode 0600)")
        if replay:
            return Edge(mode="live", market="replay", venues=tuple(venues), recording=replay,
                        speed=spd, duration_s=duration_s, base_dir=base_dir)
        for v in venues:
            if v not in FEED_VENUES:
                raise PlanError(f"[venues.{v}]: no market-data feed for {v} yet "
                                f"(feeds: {', '.join(FEED_VENUES)})")
        return Edge(mode="live", market="venue", venues=tuple(venues), duration_s=duration_s,
                    base_dir=base_dir)
    sim_venue = venue if venue is not None else config.paper.venue
    if sim_venue != "sim" and not replay:
        if sim_venue not in FEED_VENUES:
            raise PlanError(f"--venue: expected one of {', '.join(FEED_VENUES)}, got {sim_venue!r}")
        vcfg = getattr(config.venues, sim_venue)
        if not vcfg.symbols:
            raise PlanError(f"--venue {sim_venue}: [venues.{sim_venue}] symbols is empty "
                            "(which markets to paper-trade?)")
        return Edge(mode="paper", market="venue", venues=(sim_venue,), duration_s=duration_s,
                    base_dir=base_dir)
    if not replay:
        replay = (config.paper.data,) if config.paper.data else (str(bundled_recording()),)
        if not Path(replay[0]).is_file():
            raise PlanError(f"[paper] data: {replay[0]}: file not found")
    return Edge(mode="paper", market="replay", venues=(), recording=replay, speed=spd,
                duration_s=duration_s, base_dir=base_dir)


def bundled_recording() -> Path:
    from titan.feeds.replay_server import bundled_sample

    return bundled_sample()


def resolve_symbol(symbol: str, default_venue: str, where: str) -> str:
    """``BTC/USDT:USDT`` -> ``BTC/USDT:USDT@<default venue>``; ids with ``@`` pass unchanged."""
    if "@" in symbol:
        return symbol
    if not default_venue:
        raise PlanError(f"{where}: {symbol!r} names no venue and several are enabled "
                        "(write it as SYMBOL@venue)")
    return f"{symbol}@{default_venue}"


# ---- the parts ----------------------------------------------------------------------------------


class ExecSink:
    """The venue clients' event sink: buffers until the kernel exists, then forwards."""

    def __init__(self) -> None:
        self.target: Callable[[ev.Message], None] | None = None
        self.buffer: list[ev.Message] = []

    def __call__(self, event: ev.Message) -> None:
        target = self.target
        if target is None:
            self.buffer.append(event)
        else:
            target(event)

    def attach(self, target: Callable[[ev.Message], None]) -> None:
        self.target = target
        pending, self.buffer = self.buffer, []
        for e in pending:
            target(e)


class Session:
    """Every part of one trading session; :meth:`assemble` completes it after recovery."""

    def __init__(self, config: TitanConfig, edge: Edge, *, env: Mapping[str, str] | None = None,
                 data_dir: Path | None = None) -> None:
        from titan.core.deadletters import DeadLetterStore
        from titan.core.eventlog import EventLog
        from titan.core.ids import ClientOrderIds

        self.config = config
        self.edge = edge
        self.env = os.environ if env is None else env
        self.data_dir = data_dir if data_dir is not None else Path(config.titan.data_dir)
        self.db_path = self.data_dir / config.state.db_path \
            if not Path(config.state.db_path).is_absolute() else Path(config.state.db_path)
        self.policy_hash = policy_hash(config)
        self.registry = InstrumentRegistry()
        self.wall = LiveClock()  # receive times of market data
        # replayed data carries its own time: the kernel runs on it (as a backtest does)
        self.clock: SimClock | LiveClock = SimClock() if edge.market == "replay" else LiveClock()
        self.exec_sink = ExecSink()
        self.alerts_sink = ExecSink()  # the event log's own alerts, to the kernel once it exists
        self.eventlog = EventLog(self.db_path, flush_interval_ms=config.state.flush_interval_ms,
                                 flush_batch=config.state.flush_batch, on_alert=self.alerts_sink,
                                 now_ns=self.clock.now_ns)
        self.dead_letters = DeadLetterStore(self.db_path, now_ns=self.clock.now_ns)
        self.ids = ClientOrderIds(config.execution.client_id_prefix)
        self.instruments: list[Instrument] = []
        self.default_venue = ""
        self.sims: dict[str, Any] = {}  # venue -> SimVenue (paper)
        self.raw_clients: dict[str, Any] = {}
        self.clients: dict[str, Any] = {}  # what the kernel calls: PolicyGuard(...)
        self.state: ShadowState | None = None
        self.brain: Any = None
        self.kernel: Any = None
        self.phases: list[Any] = []
        self.owners: dict[str, str] = {}
        self.recording: Any = None  # the loaded Recording (market == "replay")
        self.journal: Any = None  # the kernel's journal port; None = the event log itself

    # ---- before recovery ----------------------------------------------------------------------

    def load_instruments(self) -> None:
        """Instruments known without a venue call: a recording's, and the paper venue's below."""
        if self.edge.market == "replay":
            from titan.feeds.recording import Recording
            from titan.paper import recording_instruments

            self.recording = Recording.load(*self.edge.recording)
            venue, insts = recording_instruments(list(self.edge.recording),
                                                 fee_bps=self.config.paper.fee_bps,
                                                 recording=self.recording)
            self.default_venue = venue
            if self.edge.mode == "live" and venue not in self.edge.venues:
                raise PlanError(f"--replay: the recording is {venue} data but the enabled venues "
                                f"are {', '.join(self.edge.venues)}")
            if self.edge.mode == "paper":
                self.instruments = insts
                for inst in insts:
                    self.registry.add(inst)
            else:
                self.instruments = []  # live: the venue's own instruments (client start)
                self._replay_ids = [i.id for i in insts]
        elif len(self.edge.venues) == 1:
            self.default_venue = self.edge.venues[0]

    async def load_venue_instruments(self) -> None:
        """Paper on live market data: the venue's markets through ccxt's public API."""
        if not (self.edge.mode == "paper" and self.edge.market == "venue"):
            return
        from titan.execution.markets import instruments_from_markets
        from titan.execution.venues import build_exchange, profile

        venue = self.edge.venues[0]
        vcfg = getattr(self.config.venues, venue)
        ex = build_exchange(profile(venue), api_key="", secret="", rest_url=vcfg.rest_url,
                            ws_url=vcfg.ws_url, testnet=vcfg.testnet)
        try:
            markets = await ex.load_markets()
        finally:
            await ex.close()
        wanted = {resolve_symbol(s, venue, f"[venues.{venue}] symbols") for s in vcfg.symbols}
        fee = Decimal(repr(self.config.paper.fee_bps)) / 10_000
        for inst in instruments_from_markets(markets, venue):
            if inst.id in wanted:
                inst = msgspec.structs.replace(inst, taker_fee=fee, maker_fee=fee)
                self.instruments.append(inst)
                self.registry.add(inst)
        unknown = wanted - {i.id for i in self.instruments}
        if unknown:
            raise PlanError(f"[venues.{venue}] symbols: {', '.join(sorted(unknown))} not listed by {venue}")

    def account_currency(self) -> str:
        return self.instruments[0].settle_currency if self.instruments else "USDT"

    def make_state(self) -> ShadowState:
        self.state = ShadowState(self.registry, account_currency=self.account_currency())
        return self.state

    def make_clients(self, seed: ShadowState | None = None) -> None:
        """Venue clients behind the policy guard. ``seed`` (paper): the state replayed from the
        log, whose balances and positions the simulated venue starts from."""
        from titan.execution.guard import PolicyGuard

        if self.edge.mode == "paper":
            from titan.execution.sim import SimExecutionClient, SimVenue

            venue = self.default_venue
            settle = self.account_currency()
            balances = {settle: Decimal(repr(self.config.paper.cash))}
            if seed is not None and seed.events_applied:
                balances = {cur: amt for (v, cur), amt in seed.balances(venue).items() if amt >= 0}
            sim = SimVenue(self.instruments, clock=self.clock, balances=balances,
                           sink=self.exec_sink, fill_model=self.config.paper.fill,
                           default_leverage=Decimal(repr(sim_leverage(self.config))))
            if seed is not None:
                for pos in seed.net_positions(venue):
                    if pos.quantity and pos.instrument_id in self.registry:
                        h = sim.account.holding(pos.instrument_id)
                        h.quantity, h.avg_price = pos.quantity, pos.avg_price
                resume_sim_ids(sim, seed)
            self.sims[venue] = sim
            self.raw_clients[venue] = SimExecutionClient(sim)
            self.clients[venue] = PolicyGuard(self.raw_clients[venue], self.policy_hash,
                                              self.exec_sink, self.clock.now_ns)
            return
        from titan.execution.ccxt_client import CcxtExecutionClient
        from titan.execution.durable import DurableExecutionClient
        from titan.execution.ratelimit import RateLimiters

        limiters = RateLimiters()
        for venue in self.edge.venues:
            creds = credentials_from_env(venue, self.env)
            if creds is None:
                raise PlanError(f"live mode: {', '.join(missing_credentials(venue, self.env))} missing")
            raw = CcxtExecutionClient(venue, credentials=creds, config=getattr(self.config.venues, venue),
                                      execution=self.config.execution, sink=self.exec_sink,
                                      clock=self.clock, instruments=self.registry, limiters=limiters)
            self.raw_clients[venue] = raw
            durable = DurableExecutionClient(raw, self.eventlog, self.exec_sink,
                                             now_ns=self.clock.now_ns)
            self.clients[venue] = PolicyGuard(durable, self.policy_hash, self.exec_sink,
                                              self.clock.now_ns)

    def after_clients_started(self) -> None:
        """Live: the instruments the venues listed that the session trades."""
        if self.edge.mode != "live":
            return
        ids = list(getattr(self, "_replay_ids", []))
        for venue in self.edge.venues:
            for s in getattr(self.config.venues, venue).symbols:
                ids.append(resolve_symbol(s, venue, f"[venues.{venue}] symbols"))
        seen: set[str] = set()
        for iid in ids:
            inst = self.registry.get(iid)
            if inst is None:
                raise PlanError(f"{iid}: not listed by the venue (check [venues.*] symbols)")
            if iid not in seen:
                seen.add(iid)
                self.instruments.append(inst)
        if self.state is not None:
            self.state.account_currency = self.account_currency()

    # ---- after recovery -----------------------------------------------------------------------

    def build_phases(self) -> list[Any]:
        self.phases, self.owners = build_phases(self.config, self.edge, self.default_venue,
                                                [i.id for i in self.instruments])
        return self.phases

    def assemble(self, restore: Iterable[ev.Message] = ()) -> Any:
        """Brain + phases + Kernel on the recovered state; venue events flow from here on."""
        from titan.brain.brain import Brain
        from titan.kernel import Kernel

        assert self.state is not None
        if not self.phases:
            self.build_phases()
        self.brain = Brain(owner_named(self.config, Path(self.edge.base_dir)), self.registry,
                           self.state, self.ids, policy_hash=self.policy_hash, owners=self.owners)
        self.brain.restore(restore)
        self.kernel = Kernel(clock=self.clock, state=self.state, brain=self.brain,
                             phases=self.phases, clients=self.clients,
                             journal=self.journal or self.eventlog,
                             dead_letters=self.dead_letters)
        return self.kernel


def resume_sim_ids(sim: Any, seed: ShadowState) -> None:
    """Number the resumed simulated venue's orders and trades after the logged ones: the state
    drops a fill whose trade id it has booked before, so ids must never repeat across restarts.
    (``SimVenue`` has no public setter for its counters yet; its id formats are
    ``<venue>-<n>`` and ``<venue>-t<n>``.)"""
    prefix = f"{sim.venue}-"
    orders = trades = 0
    for o in seed.orders():
        if o.venue_order_id.startswith(prefix) and o.venue_order_id[len(prefix):].isdigit():
            orders = max(orders, int(o.venue_order_id[len(prefix):]))
        for t in o.trade_ids:
            if t.startswith(prefix + "t") and t[len(prefix) + 1:].isdigit():
                trades = max(trades, int(t[len(prefix) + 1:]))
    sim._seq = max(sim._seq, orders)
    sim._trade_seq = max(sim._trade_seq, trades)


def sim_leverage(config: TitanConfig) -> float:
    """The simulated venue's margin leverage: the largest any enabled phase or strategy may use."""
    levs = [config.phase_limits(p).leverage for p in SIZED if config.phase(p).enabled]
    levs += [config.strategy_limits(s).leverage for s in config.strategies if s.enabled]
    return max(levs) if levs else 1.0


def owner_named(config: TitanConfig, base_dir: Path) -> TitanConfig:
    """The config with each strategy's owner name written in (``configured_owner``): the Brain
    finds a strategy's own limits by the owner its orders carry. Limits are unchanged, and the
    session's policy hash stays the one of the file."""
    from titan.phases.common.owners import configured_owner
    from titan.phases.registry import StrategyError

    named = []
    for s in config.strategies:
        try:
            named.append(s if s.name else msgspec.structs.replace(
                s, name=configured_owner(s, base_dir=base_dir)))
        except StrategyError:  # a disabled strategy that does not load: no orders, no owner
            named.append(s)
    return msgspec.structs.replace(config, strategies=named)


def build_phases(config: TitanConfig, edge: Edge, default_venue: str, instrument_ids: list[str]
                 ) -> tuple[list[Any], dict[str, str]]:
    """Built-in phases with configured symbols, the configured strategies, and - for a paper
    session that configures none - the demo (``titan.paper.TapeMomentum``; never live).
    Returns (phases, owner -> the built-in phase whose budget it trades in). A strategy's owner
    is its ``name``, else its class's default (``titan.phases.common.owners``); two phases
    with one owner are refused."""
    from titan.phases.common.owners import configured_owner
    from titan.phases.registry import StrategyError, builtin, instantiate

    phases: list[Any] = []
    owners: dict[str, str] = {}
    for name in PHASE_NAMES:
        section = config.phase(name)
        if section is None or not section.enabled or not section.symbols:
            continue
        ids = [resolve_symbol(s, default_venue, f"[phases.{name}] symbols") for s in section.symbols]
        cls = builtin(name)
        try:
            phase = cls.from_config(msgspec.structs.replace(section, symbols=ids))  # type: ignore[attr-defined]
        except StrategyError:
            raise
        except Exception as e:
            raise PlanError(f"[phases.{name}]: {type(e).__name__}: {e}") from None
        phases.append(phase)
        owners[phase.owner] = name
    for i, s in enumerate(config.strategies):
        if not s.enabled:
            continue
        ids = [resolve_symbol(x, default_venue, f"strategies[{i}].symbols") for x in s.symbols] \
            or list(instrument_ids)
        base = Path(edge.base_dir)
        phase = instantiate(s.path, s.params, name=configured_owner(s, base_dir=base),
                            instruments=ids, timeframe=s.timeframe, base_dir=base)
        if phase.owner in owners:
            raise PlanError(f"strategies[{i}]: owner {phase.owner!r} is already taken by another "
                            "phase or strategy (set a distinct name = ...)")
        phases.append(phase)
        owners[phase.owner] = s.phase
    if not phases and edge.mode == "paper":
        from titan.paper import TapeMomentum

        phase = TapeMomentum(instruments=instrument_ids)
        phases.append(phase)
        owners[phase.owner] = phase.family
        log.info("no strategy configured: paper session trades the demo %s on %s",
                 phase.owner, ", ".join(instrument_ids))
    return phases, owners
