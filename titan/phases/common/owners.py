"""One owner name per configured strategy, the same in ``titan run`` and ``titan backtest``.

Every order carries its owner (``OrderIntent.phase``); the Brain's owner table, the journal,
``/status`` and the backtest report all key on it. A ``[[strategies]]`` entry's owner is its
``name``, else the name its class gives an instance when none is passed - the class's ``name``
attribute, else the class name in lower case (``Phase.__init__``) - so a strategy backtested on
its own and the same strategy run by the daemon journal under one name.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from titan.config import StrategyConfig
    from titan.phases.base import Phase


def default_owner(cls: type[Phase]) -> str:
    """The owner an instance of ``cls`` gets when no name is passed."""
    return cls.name or cls.__name__.lower()


def configured_owner(strategy: StrategyConfig, *, base_dir: Path | None = None) -> str:
    """``strategy.name``, else its class's default owner (loads the class; a strategy that
    cannot be loaded raises ``StrategyError``, one line)."""
    if strategy.name:
        return strategy.name
    from titan.phases.registry import load_class

    return default_owner(load_class(strategy.path, base_dir=base_dir))
