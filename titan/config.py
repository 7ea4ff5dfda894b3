"""Titan's configuration: one typed tree read from ``config.toml``, validated once.

Every section is a frozen msgspec Struct that rejects unknown fields; numeric bounds are
constraints, so a bad file fails at load with one line that names the file, the path inside it
and what is wrong (``config.toml: $.brain.max_total_leverage: expected <= 125, got 500``).

Precedence (seed): Brain global caps > phase config > strategy config. A lower level may only
tighten: the effective limit is the minimum along the chain (:meth:`TitanConfig.phase_limits`).

Secrets never live in the file. They come from the environment (``TITAN_BYBIT_API_KEY``,
``TITAN_BYBIT_API_SECRET``, ...) and are held in :class:`Secret`, whose repr is ``***``.
"""

from __future__ import annotations

import hashlib
import os
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

import msgspec
import orjson
from msgspec import Meta

from titan.core.errors import ConfigError
from titan.core.logs import register_secret

Fraction = Annotated[float, Meta(ge=0, le=1)]
PositiveFloat = Annotated[float, Meta(gt=0)]
NonNegFloat = Annotated[float, Meta(ge=0)]
Leverage = Annotated[float, Meta(gt=0, le=125)]
Port = Annotated[int, Meta(ge=0, le=65535)]
VenueName = Literal["bybit", "binance", "binanceusdm", "mexc", "sim"]


class Section(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Base of every config section."""


# --------------------------------------------------------------------------------------------


class TitanSection(Section):
    mode: Literal["paper", "live"] = "paper"
    data_dir: str = "var"
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_json: bool | None = None


class VenueConfig(Section):
    """One venue account. Keys come from ``TITAN_<VENUE>_API_KEY`` / ``_API_SECRET``."""

    enabled: bool = False
    testnet: bool = False
    symbols: list[str] = []
    margin_mode: Literal["cross", "isolated"] = "cross"
    leverage: dict[str, Annotated[float, Meta(gt=0, le=125)]] = {}
    # Override the venue's base URLs (e.g. the local exchange emulator). Empty = real venue.
    rest_url: str = ""
    ws_url: str = ""
    recv_window_ms: Annotated[int, Meta(ge=1000, le=60000)] = 5000
    # Fraction of the venue's published request budget Titan may use (leave headroom).
    rate_limit_share: Annotated[float, Meta(gt=0, le=1)] = 0.8


class VenuesSection(Section):
    bybit: VenueConfig = VenueConfig()
    binance: VenueConfig = VenueConfig()
    binanceusdm: VenueConfig = VenueConfig()
    mexc: VenueConfig = VenueConfig()


class RegimeRule(Section):
    """Which phases may trade in a regime and how much of their leverage they keep."""

    phases: list[str] = []
    leverage_scale: Fraction = 1.0


def _default_regimes() -> dict[str, RegimeRule]:
    return {
        "trending": RegimeRule(phases=["scavenger", "hunter", "sentinel"], leverage_scale=1.0),
        "ranging": RegimeRule(phases=["hunter", "sentinel"], leverage_scale=0.8),
        "volatile": RegimeRule(phases=["sentinel"], leverage_scale=0.5),
        "crash": RegimeRule(phases=["sentinel"], leverage_scale=0.25),
    }


class BrainSection(Section):
    """Global caps. Every number is part of the hashed risk policy."""

    max_total_leverage: Leverage = 50.0
    portfolio_flatten_drawdown: Fraction = 0.15
    daily_loss_budget: Fraction = 0.06
    correlation_limit: Fraction = 0.8
    correlation_window: Annotated[int, Meta(ge=10, le=10_000)] = 100
    price_band_bps: Annotated[float, Meta(gt=0, le=10_000)] = 500.0
    truth_score_min: Annotated[float, Meta(ge=0, le=100)] = 60.0
    max_orders_per_minute: Annotated[int, Meta(ge=1, le=100_000)] = 120
    # No new entries on an instrument whose last mark is older than this. A 1m-bar session
    # marks an instrument once a minute (at its bar's close), so a decision on one instrument's
    # bar that reads another's mark sees the previous minute's close (up to 60 s plus the bar's
    # delivery): 90 s accepts that and refuses a mark two bars old. Live feeds are watched
    # sooner, by the feed itself: a stream silent for ``feeds.stale_after_s`` is declared STALE
    # (FeedStatusChanged), which blocks entries whatever the mark's age.
    feed_stale_after_s: PositiveFloat = 90.0
    max_slippage_bps: NonNegFloat = 30.0
    max_ack_latency_ms: PositiveFloat = 3000.0
    tail_index_defensive: Annotated[float, Meta(gt=0, le=10)] = 2.0
    defensive_size_scale: Fraction = 0.5
    venue_error_flatten_count: Annotated[int, Meta(ge=1, le=1000)] = 20
    allocation_steepness: PositiveFloat = 4.0
    performance_weight: Fraction = 0.3
    regimes: dict[str, RegimeRule] = msgspec.field(default_factory=_default_regimes)
    # Brain tuning (issue 7): sampling windows and thresholds behind the rules above.
    allocation_event_step: Annotated[float, Meta(gt=0, le=1)] = 0.05  # share move -> AllocationChanged
    returns_sample_s: PositiveFloat = 300.0  # phase returns for correlation and performance
    correlation_min_samples: Annotated[int, Meta(ge=3, le=10_000)] = 20
    exec_quality_window: Annotated[int, Meta(ge=1, le=10_000)] = 50  # fills / acks per venue
    exec_quality_min_samples: Annotated[int, Meta(ge=1, le=10_000)] = 5
    exec_quality_halt_factor: Annotated[float, Meta(ge=1, le=100)] = 2.0  # x limit -> halt venue
    venue_error_window_s: PositiveFloat = 300.0  # venue_error_flatten_count within this window
    tail_sample_s: PositiveFloat = 300.0  # mark sampling for the Hill tail index
    tail_window: Annotated[int, Meta(ge=20, le=100_000)] = 240  # samples per Hill estimate
    tail_fraction: Annotated[float, Meta(gt=0, le=0.5)] = 0.1  # k = tail_fraction x window
    resync_interval_s: PositiveFloat = 900.0  # re-anchor the Brain's running sums on the state


class PhaseConfig(Section):
    """One capital-range phase. Leverage and limits can only tighten the Brain's caps."""

    enabled: bool = True
    equity_min: NonNegFloat = 0.0
    equity_max: NonNegFloat = 0.0  # 0 = no upper bound
    leverage_min: Leverage = 1.0
    leverage: Leverage = 1.0
    max_position_pct: Annotated[float, Meta(gt=0, le=10)] = 0.25
    drawdown_tiers: tuple[Fraction, Fraction, Fraction] = (0.03, 0.05, 0.07)
    symbols: list[str] = []
    timeframes: list[str] = []
    params: dict[str, Any] = {}


class ScavengerConfig(PhaseConfig):
    """Breakout traps on structural levels; small accounts, high leverage (seed: $200-$5k, 15-20x)."""

    equity_min: NonNegFloat = 200.0
    equity_max: NonNegFloat = 5_000.0
    leverage_min: Leverage = 15.0
    leverage: Leverage = 20.0
    max_position_pct: Annotated[float, Meta(gt=0, le=10)] = 0.5


class HunterConfig(PhaseConfig):
    """Multi-timeframe market structure (seed: $2.5k-$50k, 3-5x)."""

    equity_min: NonNegFloat = 2_500.0
    equity_max: NonNegFloat = 50_000.0
    leverage_min: Leverage = 3.0
    leverage: Leverage = 5.0
    max_position_pct: Annotated[float, Meta(gt=0, le=10)] = 0.25


class SentinelConfig(PhaseConfig):
    """Delta-neutral basis and funding (seed: $50k+, 1-3x)."""

    equity_min: NonNegFloat = 50_000.0
    equity_max: NonNegFloat = 0.0
    leverage_min: Leverage = 1.0
    leverage: Leverage = 3.0
    max_position_pct: Annotated[float, Meta(gt=0, le=10)] = 1.0
    drawdown_tiers: tuple[Fraction, Fraction, Fraction] = (0.02, 0.04, 0.06)


class AiQuantConfig(PhaseConfig):
    """Advisory only: optimisation and regime detection; it never sizes positions itself."""

    max_position_pct: Annotated[float, Meta(gt=0, le=10)] = 0.01
    optimize_every_h: Annotated[float, Meta(gt=0, le=720)] = 6.0
    # The daemon's optimiser: walk-forward windows over the 1m bars the session has recorded
    # (kept for ``history_days`` per instrument under data_dir/history), ranked by a backtest
    # metric (``titan sweep`` names them). Spans like 10d, 12h, 90m.
    optimize_train: Annotated[str, Meta(pattern=r"^[1-9][0-9]*[dhm]$")] = "10d"
    optimize_test: Annotated[str, Meta(pattern=r"^[1-9][0-9]*[dhm]$")] = "5d"
    optimize_metric: Annotated[str, Meta(pattern=r"^[a-z_]+$")] = "sharpe"
    history_days: Annotated[float, Meta(gt=0, le=366)] = 30.0


class PhasesSection(Section):
    scavenger: ScavengerConfig = ScavengerConfig()
    hunter: HunterConfig = HunterConfig()
    sentinel: SentinelConfig = SentinelConfig()
    ai_quant: AiQuantConfig = AiQuantConfig()


class StrategyConfig(Section):
    """A user strategy: ``path.py:Class``, run inside a phase's budget."""

    path: str
    name: str = ""
    phase: str = "hunter"
    symbols: list[str] = []
    timeframe: str = "1m"
    params: dict[str, Any] = {}
    leverage: Leverage | None = None
    max_position_pct: Annotated[float, Meta(gt=0, le=10)] | None = None
    enabled: bool = True


class ExecutionSection(Section):
    client_id_prefix: Annotated[str, Meta(pattern=r"^[A-Za-z0-9]{1,8}$")] = "TTN"
    submit_timeout_s: PositiveFloat = 10.0
    cancel_timeout_s: PositiveFloat = 10.0
    max_retries: Annotated[int, Meta(ge=0, le=20)] = 3
    retry_backoff_s: PositiveFloat = 0.5
    poll_interval_s: PositiveFloat = 5.0
    cancel_on_shutdown: bool = True


class StateSection(Section):
    db_path: str = "titan.sqlite"  # relative to titan.data_dir
    reconcile_interval_s: PositiveFloat = 60.0
    qty_tolerance: NonNegFloat = 1e-9
    balance_tolerance: NonNegFloat = 0.01
    unknown_orders: Literal["adopt", "cancel"] = "cancel"
    flush_interval_ms: Annotated[int, Meta(ge=1, le=10_000)] = 50
    flush_batch: Annotated[int, Meta(ge=1, le=100_000)] = 256
    inflight_timeout_s: PositiveFloat = 30.0
    # SQLite durability of the event log: FULL fsyncs every commit (survives power loss),
    # NORMAL only survives a process crash. Commands are committed before they are sent either way.
    log_synchronous: Literal["NORMAL", "FULL"] = "FULL"
    account_currency: Annotated[str, Meta(pattern=r"^[A-Z0-9]{2,10}$")] = "USDT"  # equity unit


class FeedsSection(Section):
    stale_after_s: PositiveFloat = 30.0
    reconnect_min_s: PositiveFloat = 0.5
    reconnect_max_s: PositiveFloat = 30.0
    ping_interval_s: PositiveFloat = 20.0
    emit_bar_updates: bool = False


class PaperSection(Section):
    """Paper trading: simulated fills. Without ``venue`` it replays the bundled sample."""

    data: str = ""  # empty = the sample shipped inside the package
    venue: VenueName = "sim"
    speed: NonNegFloat = 0.0  # x real time; 0 = as fast as the data can be replayed
    cash: PositiveFloat = 10_000.0
    fee_bps: NonNegFloat = 5.5
    fill: Literal["bar_close", "next_open", "ohlc", "book"] = "next_open"


class BacktestSection(Section):
    cash: PositiveFloat = 10_000.0
    fee_bps: NonNegFloat = 5.5
    slippage_bps: NonNegFloat = 0.0
    fill: Literal["bar_close", "next_open", "ohlc", "book"] = "bar_close"


class OperatorSection(Section):
    enabled: bool = True
    host: str = "127.0.0.1"
    port: Port = 8765
    token_env: str = "TITAN_OPERATOR_TOKEN"


class TelemetrySection(Section):
    trades_file: str = "trades.jsonl"  # relative to titan.data_dir
    rotate_mb: PositiveFloat = 64.0
    webhook_env: str = "TITAN_ALERT_WEBHOOK"
    alerts_per_minute: Annotated[int, Meta(ge=1, le=600)] = 10


class TitanConfig(Section):
    titan: TitanSection = TitanSection()
    venues: VenuesSection = VenuesSection()
    brain: BrainSection = BrainSection()
    phases: PhasesSection = PhasesSection()
    strategies: list[StrategyConfig] = []
    execution: ExecutionSection = ExecutionSection()
    state: StateSection = StateSection()
    feeds: FeedsSection = FeedsSection()
    paper: PaperSection = PaperSection()
    backtest: BacktestSection = BacktestSection()
    operator: OperatorSection = OperatorSection()
    telemetry: TelemetrySection = TelemetrySection()

    def phase(self, name: str) -> PhaseConfig | None:
        return getattr(self.phases, name, None)

    def phase_limits(self, name: str) -> PhaseLimits:
        """The effective leverage and position cap of a phase: never above a Brain cap."""
        phase = self.phase(name)
        if phase is None:
            raise KeyError(f"unknown phase {name!r}")
        return PhaseLimits(
            leverage=min(phase.leverage, self.brain.max_total_leverage),
            max_position_pct=phase.max_position_pct,
            drawdown_tiers=tuple(phase.drawdown_tiers),
        )

    def strategy_limits(self, strategy: StrategyConfig) -> PhaseLimits:
        """A strategy's limits: its own settings, tightened by its phase and the Brain."""
        base = self.phase_limits(strategy.phase)
        leverage = base.leverage if strategy.leverage is None else min(strategy.leverage, base.leverage)
        pct = (
            base.max_position_pct
            if strategy.max_position_pct is None
            else min(strategy.max_position_pct, base.max_position_pct)
        )
        return PhaseLimits(leverage=leverage, max_position_pct=pct, drawdown_tiers=base.drawdown_tiers)


class PhaseLimits(msgspec.Struct, frozen=True, kw_only=True):
    leverage: float
    max_position_pct: float
    drawdown_tiers: tuple[float, ...]


PHASE_NAMES = ("scavenger", "hunter", "sentinel", "ai_quant")
DEFAULT_CONFIG_NAME = "config.toml"

# --------------------------------------------------------------------------------------------
# Loading


def load_config(path: str | os.PathLike[str] | None = None) -> TitanConfig:
    """Read and validate a config file; ``None`` gives the built-in defaults.

    Raises ``ConfigError`` whose ``str()`` is the one-line report.
    """
    if path is None:
        return TitanConfig()
    p = Path(path)
    label = str(path)
    try:
        raw = p.read_bytes()
    except FileNotFoundError:
        raise ConfigError(label, "", "file not found") from None
    except OSError as e:
        raise ConfigError(label, "", f"cannot read ({e.strerror})") from None
    return parse_config(raw, source=label)


def parse_config(raw: bytes | str, *, source: str = "<config>") -> TitanConfig:
    text = raw.decode("utf-8", errors="replace") if isinstance(raw, bytes) else raw
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(source, "", f"invalid TOML: {e}") from None
    return config_from_dict(data, source=source)


def config_from_dict(data: Mapping[str, Any], *, source: str = "<config>") -> TitanConfig:
    try:
        cfg = msgspec.convert(data, TitanConfig, strict=True)
    except msgspec.ValidationError as e:
        path, message = _explain(str(e), data)
        raise ConfigError(source, path, message) from None
    _cross_check(cfg, source)
    return cfg


_AT = re.compile(r"^(?P<msg>.*?)(?: - at `(?P<path>[^`]*)`)?$", re.S)
_BOUND = re.compile(r"^Expected `[^`]+` (?P<op>[<>]=? .*)$")
_UNKNOWN = re.compile(r"^Object contains unknown field `(?P<field>[^`]+)`$")
_SECRET_WORDS = ("key", "secret", "password", "passphrase", "token")


def _explain(text: str, data: Mapping[str, Any]) -> tuple[str, str]:
    m = _AT.match(text)
    msg = m.group("msg") if m else text
    path = (m.group("path") if m else None) or "$"
    unknown = _UNKNOWN.match(msg)
    if unknown:
        field = unknown.group("field")
        hint = ""
        if any(w in field.lower() for w in _SECRET_WORDS):
            hint = " (secrets are read from the environment, e.g. TITAN_BYBIT_API_KEY)"
        return f"{path}.{field}", f"unknown field{hint}"
    bound = _BOUND.match(msg)
    value = _lookup(data, path)
    if bound:
        got = f", got {_show(value)}" if value is not _MISSING else ""
        op = re.sub(r"(\d)\.0\b", r"\1", bound.group("op"))
        return path, f"expected {op}{got}"
    if msg.startswith("Invalid enum value"):
        options = _literal_options(path)
        if options:
            return path, f"expected one of {', '.join(map(repr, options))}, got {_show(value)}"
    lowered = msg[:1].lower() + msg[1:]
    if lowered.startswith("expected") and ", got" not in lowered and value is not _MISSING:
        lowered += f", got {_show(value)}"
    return path, lowered


_MISSING = object()


def _lookup(data: Any, path: str) -> Any:
    cur = data
    for part in re.findall(r"\.([^.\[]+)|\[(\d+)\]", path[1:] if path.startswith("$") else path):
        key, index = part
        try:
            cur = cur[int(index)] if index else cur[key]
        except (KeyError, IndexError, TypeError):
            return _MISSING
    return cur


def _literal_options(path: str) -> tuple[Any, ...]:
    """The allowed values of the Literal field at ``path`` (by walking the config types)."""
    import typing

    typ: Any = TitanConfig
    for key, index in re.findall(r"\.([^.\[]+)|\[(\d+)\]", path[1:]):
        while typing.get_origin(typ) in (typing.Union, __import__("types").UnionType):
            typ = next(a for a in typing.get_args(typ) if a is not type(None))
        if typing.get_origin(typ) is typing.Annotated:
            typ = typing.get_args(typ)[0]
        if index:
            typ = typing.get_args(typ)[0] if typing.get_args(typ) else Any
        elif isinstance(typ, type) and issubclass(typ, msgspec.Struct):
            typ = typing.get_type_hints(typ).get(key, Any)
        elif typing.get_origin(typ) is dict:
            typ = typing.get_args(typ)[1]
        else:
            return ()
    while typing.get_origin(typ) in (typing.Union, __import__("types").UnionType):
        typ = next(a for a in typing.get_args(typ) if a is not type(None))
    return typing.get_args(typ) if typing.get_origin(typ) is Literal else ()


def _show(value: Any) -> str:
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _cross_check(cfg: TitanConfig, source: str) -> None:
    """Rules that span fields (msgspec constraints are per field)."""
    for name in PHASE_NAMES:
        phase = cfg.phase(name)
        assert phase is not None
        if phase.equity_max and phase.equity_max < phase.equity_min:
            raise ConfigError(
                source, f"$.phases.{name}.equity_max",
                f"expected >= equity_min ({phase.equity_min:g}), got {phase.equity_max:g}",
            )
        if phase.leverage < phase.leverage_min:
            raise ConfigError(
                source, f"$.phases.{name}.leverage",
                f"expected >= leverage_min ({phase.leverage_min:g}), got {phase.leverage:g}",
            )
        tiers = phase.drawdown_tiers
        if list(tiers) != sorted(tiers):
            raise ConfigError(source, f"$.phases.{name}.drawdown_tiers", "expected ascending tiers")
    for rname, rule in cfg.brain.regimes.items():
        for p in rule.phases:
            if p not in PHASE_NAMES:
                raise ConfigError(
                    source, f"$.brain.regimes.{rname}.phases", f"unknown phase {p!r}"
                )
    for i, strat in enumerate(cfg.strategies):
        if strat.phase not in PHASE_NAMES:
            raise ConfigError(source, f"$.strategies[{i}].phase", f"unknown phase {strat.phase!r}")
        if ":" not in strat.path.rsplit("/", 1)[-1]:
            raise ConfigError(
                source, f"$.strategies[{i}].path", f"expected FILE.py:Class, got {strat.path!r}"
            )
    if cfg.feeds.reconnect_max_s < cfg.feeds.reconnect_min_s:
        raise ConfigError(source, "$.feeds.reconnect_max_s", "expected >= reconnect_min_s")


def json_schema() -> dict[str, Any]:
    return msgspec.json.schema(TitanConfig)


# --------------------------------------------------------------------------------------------
# Risk policy hash


def risk_policy(cfg: TitanConfig) -> dict[str, Any]:
    """The canonical risk policy: every number that limits risk, and nothing else."""
    phases = {name: msgspec.to_builtins(cfg.phase(name)) for name in PHASE_NAMES}
    for p in phases.values():
        p.pop("symbols", None)
        p.pop("timeframes", None)
        p.pop("params", None)
    strategies = [
        {
            "path": s.path, "phase": s.phase, "leverage": s.leverage,
            "max_position_pct": s.max_position_pct, "enabled": s.enabled,
        }
        for s in cfg.strategies
    ]
    return {
        "brain": msgspec.to_builtins(cfg.brain),
        "phases": phases,
        "strategies": strategies,
        "venues": {
            name: {"leverage": v.leverage, "margin_mode": v.margin_mode}
            for name, v in msgspec.structs.asdict(cfg.venues).items()
            if v.enabled
        },
    }


def policy_hash(cfg: TitanConfig) -> str:
    """SHA-256 of the canonical (sorted-key JSON) risk policy."""
    blob = orjson.dumps(risk_policy(cfg), option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(blob).hexdigest()


# --------------------------------------------------------------------------------------------
# Secrets


class Secret:
    """A value that prints as ``***`` everywhere (repr, str, f-strings, logs)."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value
        register_secret(value)

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    def __str__(self) -> str:
        return "***"

    def __format__(self, spec: str) -> str:
        return "***"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(("Secret", self._value))

    def __reduce__(self):  # never pickled in clear by accident
        raise TypeError("Secret cannot be pickled")


class Credentials(msgspec.Struct, frozen=True, kw_only=True):
    venue: str
    api_key: Secret
    secret: Secret
    password: Secret | None = None

    def __repr__(self) -> str:
        return f"Credentials(venue={self.venue!r}, api_key=***, secret=***)"


def env_names(venue: str) -> dict[str, str]:
    v = venue.upper()
    return {
        "api_key": f"TITAN_{v}_API_KEY",
        "secret": f"TITAN_{v}_API_SECRET",
        "password": f"TITAN_{v}_API_PASSWORD",
    }


def credentials_from_env(venue: str, env: Mapping[str, str] | None = None) -> Credentials | None:
    """Keys for ``venue`` from the environment, or None if either is missing."""
    env = os.environ if env is None else env
    names = env_names(venue)
    key, secret = env.get(names["api_key"], ""), env.get(names["secret"], "")
    if not key or not secret:
        return None
    password = env.get(names["password"], "")
    return Credentials(
        venue=venue,
        api_key=Secret(key),
        secret=Secret(secret),
        password=Secret(password) if password else None,
    )


def missing_credentials(venue: str, env: Mapping[str, str] | None = None) -> list[str]:
    """The environment variable names still needed for ``venue``."""
    env = os.environ if env is None else env
    names = env_names(venue)
    return [names[k] for k in ("api_key", "secret") if not env.get(names[k])]


def resolve_path(cfg: TitanConfig, relative: str, base: Path | None = None) -> Path:
    """A path from the config, relative to ``titan.data_dir`` (itself relative to ``base``)."""
    p = Path(relative)
    if p.is_absolute():
        return p
    data_dir = Path(cfg.titan.data_dir)
    if not data_dir.is_absolute() and base is not None:
        data_dir = base / data_dir
    return data_dir / p
