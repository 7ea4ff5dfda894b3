"""History download with the genuine ccxt client against the local exchange emulator (127.0.0.1).

The emulator serves klines and funding history from recorded files with the venues' paging; the
downloaded file must equal those recordings row for row, across pages, resumes and a torn
``.part`` file left by an interrupted run.
"""

from __future__ import annotations

import asyncio
import gzip
from pathlib import Path

import numpy as np
from typer.testing import CliRunner

from tests.kit.emulator import Emulator
from titan.cli import app
from titan.feeds.download import download_funding, download_ohlcv, make_exchange, output_path
from titan.feeds.history import load_bars, load_funding

EMU_DATA = Path(__file__).resolve().parents[2] / "data" / "emulator"
BYBIT_1M = EMU_DATA / "bybit-linear_BTCUSDT_1m.csv.gz"  # 2022-12-13 00:00 .. 12:00
USDM_1M = EMU_DATA / "binance-usdm_BTCUSDT_1m.csv.gz"  # 2025-05-05 00:00 .. 05-06 23:59
H = 3600_000
DEC13 = 1670889600000


def same_bars(path: Path, source: Path, first_ms: int, end_ms: int) -> None:
    got = load_bars(path, "X@v", "1m")
    want = load_bars(source, "X@v", "1m")
    keep = (want.ts_open >= first_ms * 10**6) & (want.ts_open < end_ms * 10**6)
    assert len(got) == int(keep.sum()) > 0
    for col in ("ts_open", "open", "high", "low", "close", "volume"):
        assert np.array_equal(getattr(got, col), getattr(want, col)[keep]), col
    assert got.report.ok and not got.report.gaps


async def fetch(venue, url, fn, *args, **kw):
    ex = make_exchange(venue, url)
    try:
        return await fn(ex, *args, **kw)
    finally:
        await ex.close()


def test_bybit_candles_paged_and_resumed(tmp_path):
    async def main():
        async with Emulator(("bybit",)) as emu:
            url = emu.base_url("bybit")
            path = output_path(tmp_path, "bybit", "BTC/USDT:USDT", "1m")
            first = await fetch("bybit", url, download_ohlcv, "BTC/USDT:USDT", "1m", DEC13, DEC13 + 6 * H, path,
                                limit=200)
            emu.requests("bybit").clear()
            second = await fetch("bybit", url, download_ohlcv, "BTC/USDT:USDT", "1m", DEC13, DEC13 + 12 * H, path,
                                 limit=200)
            klines = [r for r in emu.requests("bybit") if r.path == "/v5/market/kline"]
        return path, first, second, klines

    path, first, second, klines = asyncio.run(main())
    assert (first.rows, first.added, first.pages, first.resumed_after_ms) == (360, 360, 2, 0)
    assert (second.rows, second.added, second.pages) == (720, 360, 2)
    assert second.resumed_after_ms == DEC13 + 6 * H - 60_000
    assert int(dict(_query(klines[0].query))["start"]) == DEC13 + 6 * H  # resumed after what was on disk
    same_bars(path, BYBIT_1M, DEC13, DEC13 + 12 * H)
    assert not path.with_name(path.name + ".part").exists()


def test_a_torn_part_file_is_completed(tmp_path):
    path = output_path(tmp_path, "bybit", "BTC/USDT:USDT", "1m")
    with gzip.open(BYBIT_1M, "rt") as fh:
        lines = fh.read().splitlines()
    # an interrupted run: a header, 100 complete rows and half a row
    path.with_name(path.name + ".part").write_text("\n".join(lines[:101]) + "\n" + lines[101][:17])

    async def main():
        async with Emulator(("bybit",)) as emu:
            return await fetch("bybit", emu.base_url("bybit"), download_ohlcv, "BTC/USDT:USDT", "1m", DEC13,
                               DEC13 + 12 * H, path)

    result = asyncio.run(main())
    assert result.resumed_after_ms == DEC13 + 99 * 60_000 and result.added == 620
    same_bars(path, BYBIT_1M, DEC13, DEC13 + 12 * H)


def test_binance_usdm_candles_and_funding(tmp_path):
    start = 1746403200000  # 2025-05-05 00:00

    async def main():
        async with Emulator(("binance",)) as emu:
            url = emu.base_url("binanceusdm")
            candles = await fetch("binanceusdm", url, download_ohlcv, "BTC/USDT:USDT", "1m", start, start + 48 * H,
                                  tmp_path / "c.csv.gz", limit=1000)
            funding = await fetch("binanceusdm", url, download_funding, "BTC/USDT:USDT", start - 30 * 24 * H,
                                  start + 48 * H, tmp_path / "f.csv.gz", limit=5)
        return candles, funding

    candles, funding = asyncio.run(main())
    assert candles.rows == 2880 and candles.pages == 3
    same_bars(tmp_path / "c.csv.gz", USDM_1M, start, start + 48 * H)
    got = load_funding(tmp_path / "f.csv.gz", "X@v")
    want = load_funding(EMU_DATA / "binance-usdm_BTCUSDT_funding.csv.gz", "X@v")
    keep = (want.ts_event >= (start - 30 * 24 * H) * 10**6) & (want.ts_event < (start + 48 * H) * 10**6)
    assert np.array_equal(got.ts_event, want.ts_event[keep]) and np.array_equal(got.rate, want.rate[keep])
    assert funding.pages >= 2  # five per page


def test_cli_download_bybit_funding_and_candles(tmp_path):
    runner = CliRunner()

    async def serve(fn):
        async with Emulator(("bybit",)) as emu:
            return await asyncio.to_thread(fn, emu.base_url("bybit"))

    def run(url):
        common = ["--venue", "bybit", "--symbol", "BTC/USDT:USDT", "--since", "2022-12-13", "--until",
                  "2022-12-14", "--out", str(tmp_path), "--rest-url", url]
        candles = runner.invoke(app, ["data", "download", "--timeframe", "15m", *common])
        funding = runner.invoke(app, ["data", "download", "--funding", *common])
        missing = runner.invoke(app, ["data", "download", *common[:3], "DOGE/USDT:USDT", *common[4:]])
        return candles, funding, missing

    candles, funding, missing = asyncio.run(serve(run))
    assert candles.exit_code == 0, candles.output
    assert "bybit_BTC-USDT-USDT_15m.csv.gz: 49 rows" in candles.output  # 00:00 .. 12:00 (the data ends at 12:00)
    bars = load_bars(tmp_path / "bybit_BTC-USDT-USDT_15m.csv.gz", "X@v")
    src = load_bars(BYBIT_1M, "X@v")
    assert bars.timeframe == "15m" and bars.high[0] == src.high[:15].max() and bars.close[0] == src.close[14]
    assert funding.exit_code == 0, funding.output
    rates = load_funding(tmp_path / "bybit_BTC-USDT-USDT_funding.csv.gz", "X@v")
    assert rates.rate.tolist() == load_funding(EMU_DATA / "bybit-linear_BTCUSDT_funding.csv.gz", "X@v").rate.tolist()
    assert missing.exit_code == 2 and "has no market 'DOGE/USDT:USDT'" in missing.output


def _query(q) -> list[tuple[str, str]]:
    if isinstance(q, dict):
        return list(q.items())
    if isinstance(q, str):
        from urllib.parse import parse_qsl

        return parse_qsl(q)
    return list(q)

