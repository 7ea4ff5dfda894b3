"""Titan: a one-process crypto trading daemon with one kernel for live trading and backtests."""

__version__ = "0.1.0"
