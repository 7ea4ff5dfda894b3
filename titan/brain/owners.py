"""Who may ask for orders, and within which limits.

Every intent names its *owner* (``OrderIntent.phase``): one of the four built-in phases, or a
user strategy. A strategy trades inside one built-in phase's budget (``StrategyConfig.phase``):
its exposure counts against that phase's caps, and its own ``leverage`` / ``max_position_pct``
can only tighten them (``TitanConfig.strategy_limits``). The owner of a strategy is the name
its ``Phase`` instance carries (``Phase.owner``): ``StrategyConfig.name`` if set, else the class
name in lower case (the phase loader's default). The kernel, which has the loaded instances,
may pass the exact mapping instead: ``Brain(..., owners={"my_strat": "hunter"})``.
"""

from __future__ import annotations

from collections.abc import Mapping

import msgspec

from titan.config import PHASE_NAMES, PhaseLimits, StrategyConfig, TitanConfig


class Owner(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    phase: str  # the built-in phase whose budget it trades in
    leverage: float
    max_position_pct: float
    enabled: bool = True


def strategy_owner(strategy: StrategyConfig) -> str:
    """The owner name a strategy's orders carry when the config does not name it."""
    if strategy.name:
        return strategy.name
    cls = strategy.path.rsplit(":", 1)[-1]
    return cls.lower()


def owners_from_config(config: TitanConfig, owners: Mapping[str, str] | None = None
                       ) -> dict[str, Owner]:
    """Every owner with its phase and effective limits.

    ``owners`` (owner -> phase) overrides the names derived from ``config.strategies``; an
    owner there that is no configured strategy trades at its phase's limits.
    """
    out: dict[str, Owner] = {}
    for p in PHASE_NAMES:
        lim = config.phase_limits(p)
        cfg = config.phase(p)
        out[p] = _owner(p, p, lim, cfg.enabled if cfg is not None else True)
    by_name = {strategy_owner(s): s for s in config.strategies}
    mapping = dict(owners) if owners is not None else {n: s.phase for n, s in by_name.items()}
    for name, phase in mapping.items():
        if phase not in PHASE_NAMES:
            raise ValueError(f"owners[{name!r}]: unknown phase {phase!r} (known: {', '.join(PHASE_NAMES)})")
        if name in PHASE_NAMES:
            if name != phase:
                raise ValueError(f"owners[{name!r}]: a built-in phase cannot trade in {phase!r}")
            continue
        strat = by_name.get(name)
        if strat is not None and strat.phase == phase:
            out[name] = _owner(name, phase, config.strategy_limits(strat), strat.enabled)
        else:
            out[name] = _owner(name, phase, config.phase_limits(phase), True)
    return out


def _owner(name: str, phase: str, lim: PhaseLimits, enabled: bool) -> Owner:
    return Owner(name=name, phase=phase, leverage=lim.leverage,
                 max_position_pct=lim.max_position_pct, enabled=enabled)
