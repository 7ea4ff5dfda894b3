"""Real candles, trades and quotes for the indicator tests, and the implementations to test."""

from __future__ import annotations

import gzip
from functools import cache

import numpy as np
import pytest

import native
from tests.conftest import TEST_DATA

DATA = TEST_DATA / "indicators"
CANDLES = {
    "BTC": "binance-usdm_BTCUSDT-PERP_1m_2000.csv.gz",
    "ETH": "binance-usdm_ETHUSDT-PERP_1m_2000.csv.gz",
}


def _table(name: str) -> dict[str, np.ndarray]:
    with gzip.open(DATA / name, "rt") as f:
        header = f.readline().strip().split(",")
        rows = [line.strip().split(",") for line in f]
    return {col: np.array([r[j] for r in rows]) for j, col in enumerate(header)}


@cache
def candles(symbol: str) -> dict[str, np.ndarray]:
    t = _table(CANDLES[symbol])
    out = {k: t[k].astype(np.float64) for k in ("open", "high", "low", "close", "volume")}
    out["ts_ns"] = t["ts"].astype(np.int64) * 1_000_000
    return out


@cache
def trades() -> dict[str, np.ndarray]:
    t = _table("binance-spot_BTCUSDT_trades_3000.csv.gz")
    return {
        "price": t["price"].astype(np.float64),
        "size": t["qty"].astype(np.float64),
        "qty_text": t["qty"],
        "side": np.where(t["is_buyer_maker"] == "True", -1.0, 1.0),
    }


@cache
def quotes() -> dict[str, np.ndarray]:
    t = _table("binance-spot_BTCUSDT_bookticker_3000.csv.gz")
    return {k: t[k].astype(np.float64) for k in ("bid", "bid_size", "ask", "ask_size")}


def kernel_params(kernel: str):
    """pytest params over the importable twins of ``kernel`` (compiled, reference)."""
    return [pytest.param(mod, id=impl) for impl, mod in sorted(native.implementations(kernel).items())]


@pytest.fixture(params=["BTC", "ETH"])
def bars(request) -> dict[str, np.ndarray]:
    return candles(request.param)
