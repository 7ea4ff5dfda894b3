"""The risk policy a backtest runs under: the configured one, fitted to the run's cash.

The Brain gates every order in a backtest exactly as it does live. Two things would deny
orders for reasons that say nothing about the strategy, so they are fitted here:

- capital ranges: live, a phase gets capital only inside its equity range (Hunter $2.5k-$50k),
  but a backtest's cash is chosen by the user. The phases the tested strategies trade in
  (``Phase.family``) are opened to any equity and the other sized phases are switched off, so
  the whole cash is the strategies' budget (split evenly between their phases);
- spot has no leverage: on spot instruments each strategy is capped at 1x (the
  ``[[strategies]]`` leverage), so the Brain never approves what the account cannot pay.

Advisory phases (family ``ai_quant``) run too: they never size an order, they publish
``RegimeChanged`` for the Brain, whose regime table then gates the sized phases exactly as live.

Everything else - leverage, position caps, drawdown rules, breaker, order rate - stays as
configured, and ``policy_hash`` is computed over the fitted config (reported with the result).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import msgspec

from titan.brain.allocator import ADVISORY, SIZED
from titan.config import StrategyConfig, TitanConfig
from titan.core.instruments import Instrument
from titan.phases.base import Phase
from titan.phases.common.owners import configured_owner
from titan.phases.registry import StrategyError, load_class


class PolicyError(ValueError):
    """A strategy cannot run under the policy (a family that is no built-in phase)."""


def fit_policy(config: TitanConfig, phases: Iterable[Phase], instruments: Iterable[Instrument],
               *, base_dir: Path | None = None) -> tuple[TitanConfig, dict[str, str]]:
    """(the fitted config, owner -> phase) for a backtest of ``phases`` on ``instruments``.

    A phase whose owner is a configured strategy's (``configured_owner``, the name ``titan run``
    gives it) keeps that strategy's leverage and position cap."""
    phases = list(phases)
    spot_only = all(i.is_spot for i in instruments)
    owners: dict[str, str] = {}
    for p in phases:
        if p.family not in SIZED and p.family not in ADVISORY:
            raise PolicyError(f"{p.owner}: unknown family {p.family!r} "
                              f"(expected one of {', '.join((*SIZED, *sorted(ADVISORY)))})")
        owners[p.owner] = p.family
    families = set(owners.values())
    updates = {}
    for name in SIZED:
        cfg = config.phase(name)
        assert cfg is not None
        if name in families:
            updates[name] = msgspec.structs.replace(cfg, enabled=True, equity_min=0.0, equity_max=0.0)
        else:
            updates[name] = msgspec.structs.replace(cfg, enabled=False)
    for name in ADVISORY & families:  # advisory: enabled, never given capital
        cfg = config.phase(name)
        assert cfg is not None
        updates[name] = msgspec.structs.replace(cfg, enabled=True)
    phases_section = msgspec.structs.replace(config.phases, **updates)
    configured = configured_strategies(config, base_dir)
    strategies: list[StrategyConfig] = []
    for p in phases:
        base = configured.get(p.owner)
        path = base.path if base is not None else f"{type(p).__module__}:{type(p).__name__}"
        leverage = base.leverage if base is not None else None
        if spot_only:
            leverage = 1.0 if leverage is None else min(leverage, 1.0)
        strategies.append(StrategyConfig(
            path=path, name=p.owner, phase=p.family, leverage=leverage,
            max_position_pct=base.max_position_pct if base is not None else None,
        ))
    fitted = msgspec.structs.replace(config, phases=phases_section, strategies=strategies)
    return fitted, owners


def configured_strategies(config: TitanConfig, base_dir: Path | None = None
                          ) -> dict[str, StrategyConfig]:
    """The config's strategies by owner name (those whose class cannot be loaded are left out:
    no phase of a backtest can be one of them)."""
    out: dict[str, StrategyConfig] = {}
    for s in config.strategies:
        try:
            out.setdefault(configured_owner(s, base_dir=base_dir), s)
        except StrategyError:
            continue
    return out


def owner_for(strategy: str, config: TitanConfig, base_dir: Path | None = None) -> str:
    """The owner name ``titan run`` would give ``strategy`` under ``config``: the configured
    strategy of the same class, if exactly one is enabled; else "" (the class's default)."""
    cls = load_class(strategy, base_dir=base_dir)
    found = []
    for s in config.strategies:
        if not s.enabled:
            continue
        try:
            if load_class(s.path, base_dir=base_dir) is cls:
                found.append(configured_owner(s, base_dir=base_dir))
        except StrategyError:
            continue
    return found[0] if len(found) == 1 else ""


def venue_leverage(config: TitanConfig) -> float:
    """The largest leverage any strategy of the fitted config may use (the SimVenue's margin)."""
    levs = [config.strategy_limits(s).leverage for s in config.strategies if s.phase not in ADVISORY]
    return max(levs) if levs else 1.0
