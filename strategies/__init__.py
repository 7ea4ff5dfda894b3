"""Example strategies shipped with Titan (plain Python files; copy one to start your own).

Installed with the package so ``titan backtest --strategy strategies/ema_cross.py`` works from
any directory: a ``strategies/...`` path that does not exist locally resolves to this folder.
"""
