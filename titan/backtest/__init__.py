"""Titan backtest."""
