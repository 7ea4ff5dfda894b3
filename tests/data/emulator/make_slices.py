"""Re-create the emulator's recorded slices from the shared data set (developer machines only).

Run from the repository root: ``python tests/data/emulator/make_slices.py``. The test suite never
runs this; it reads the committed slices. Every output is named in SOURCES.md.
"""

from __future__ import annotations

import csv
import gzip
from decimal import Decimal
from pathlib import Path

SHARED = Path(__file__).resolve().parents[3].parent / "shared" / "data"
OUT = Path(__file__).resolve().parent
BAND = Decimal("0.004")  # keep book levels within +-0.4% of the first mid price


def _rows(path: Path):
    with gzip.open(path, "rt", newline="") as f:
        yield from csv.reader(f)


def _write(name: str, header: list[str], rows) -> None:
    with gzip.open(OUT / name, "wt", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(header)
        w.writerows(rows)


def book_slice(src: str, dst: str, seconds: int, side_col: int, price_col: int, snap_col: int) -> int:
    rows = _rows(SHARED / "orderbook" / src)
    header = next(rows)
    data = list(rows)
    t0 = int(data[0][0])
    snap = [r for r in data if r[snap_col] == "True"]
    bids = [Decimal(r[price_col]) for r in snap if r[side_col] == "b"]
    asks = [Decimal(r[price_col]) for r in snap if r[side_col] == "a"]
    mid = (max(bids) + min(asks)) / 2
    lo, hi = mid * (1 - BAND), mid * (1 + BAND)
    keep = [
        r for r in data
        if int(r[0]) < t0 + seconds * 1000 and lo <= Decimal(r[price_col]) <= hi
    ]
    _write(dst, header, keep)
    return t0


def trades_slice(src: str, dst: str, t0: int, seconds: int) -> None:
    rows = _rows(SHARED / "trades" / src)
    header = next(rows)
    _write(dst, header, [r for r in rows if t0 <= int(r[0]) < t0 + seconds * 1000])


def copy_range(sub: str, src: str, dst: str, start: int, end: int) -> None:
    rows = _rows(SHARED / sub / src)
    header = next(rows)
    _write(dst, header, [r for r in rows if start <= int(r[0]) < end])


def main() -> None:
    t0 = book_slice("binance-spot_BTCUSDT_l2-deltas_20240808T2354.csv.gz",
                    "binance-spot_BTCUSDT_book.csv.gz", 30, 4, 5, 7)
    trades_slice("binance-spot_BTCUSDT_trades_20240808T2354.csv.gz",
                 "binance-spot_BTCUSDT_trades.csv.gz", t0, 30)
    t0 = book_slice("binance-usdm_BTCUSDT_l2-deltas_20240808T2354.csv.gz",
                    "binance-usdm_BTCUSDT_book.csv.gz", 15, 5, 6, 8)
    trades_slice("binance-usdm_BTCUSDT_trades_20240808T2354.csv.gz",
                 "binance-usdm_BTCUSDT_trades.csv.gz", t0, 15)
    day = 86_400_000
    for sub, src, dst in [
        ("perp", "bybit-linear_BTCUSDT-PERP_1m-quote_20221213.csv.gz", "bybit-linear_BTCUSDT_quote_1m.csv.gz"),
        ("candles", "bybit-spot_BTCUSDT_1m-quote_20221213.csv.gz", "bybit-spot_BTCUSDT_quote_1m.csv.gz"),
        ("perp", "bybit-linear_BTCUSDT-PERP_1m_20221213.csv.gz", "bybit-linear_BTCUSDT_1m.csv.gz"),
        ("candles", "bybit-spot_BTCUSDT_1m_20221213.csv.gz", "bybit-spot_BTCUSDT_1m.csv.gz"),
        ("perp", "bybit-linear_BTCUSDT-PERP_funding_rate_20221213.csv.gz", "bybit-linear_BTCUSDT_funding.csv.gz"),
    ]:
        copy_range(sub, src, dst, 0, 10**15)
    start = 1746403200000  # 2025-05-05T00:00Z
    copy_range("perp", "binance-usdm_BTCUSDT-PERP_1m_20250504-20250603.csv.gz",
               "binance-usdm_BTCUSDT_1m.csv.gz", start, start + 2 * day)
    copy_range("candles", "binance-spot_BTCUSDT_1m_20210420-20210520.csv.gz",
               "binance-spot_BTCUSDT_1m.csv.gz", 1620950400000, 1620950400000 + day)
    funding = "binance-usdm_BTCUSDT-PERP_funding_rate.csv.gz"
    rows = list(_rows(SHARED / "perp" / funding))
    keep = [r for r in rows[1:]
            if start - day <= int(r[0]) < start + 3 * day or 1723075200000 <= int(r[0]) <= 1723190400000]
    _write("binance-usdm_BTCUSDT_funding.csv.gz", rows[0], sorted(keep, key=lambda r: int(r[0])))


if __name__ == "__main__":
    main()
