"""Market-data history (klines, funding) served from recorded files, with the venues' paging.

Candles are recorded at one minute; longer intervals are aggregated on the fly (open of the
first, max high, min low, close of the last, summed volume), aligned to the interval in UTC.
"""

from __future__ import annotations

from decimal import Decimal

from tests.kit.emulator.tape import Candle

_BYBIT = {"1": 1, "3": 3, "5": 5, "15": 15, "30": 30, "60": 60, "120": 120, "240": 240,
          "360": 360, "720": 720, "D": 1440, "W": 10080}
_BINANCE = {"1m": 1, "3m": 3, "5m": 5, "15m": 15, "30m": 30, "1h": 60, "2h": 120, "4h": 240,
            "6h": 360, "8h": 480, "12h": 720, "1d": 1440, "3d": 4320, "1w": 10080}


def bybit_interval_minutes(interval: str) -> int | None:
    return _BYBIT.get(interval)


def binance_interval_minutes(interval: str) -> int | None:
    return _BINANCE.get(interval)


def resample(candles: list[Candle], minutes: int) -> list[Candle]:
    if minutes == 1:
        return candles
    step = minutes * 60_000
    out: list[Candle] = []
    for c in candles:
        start = c.ts_ms - c.ts_ms % step
        if out and out[-1].ts_ms == start:
            last = out[-1]
            out[-1] = Candle(
                start, last.open, _max(last.high, c.high), _min(last.low, c.low), c.close,
                str(Decimal(last.volume) + Decimal(c.volume)),
            )
        else:
            out.append(Candle(start, c.open, c.high, c.low, c.close, c.volume))
    return out


def _max(a: str, b: str) -> str:
    return a if Decimal(a) >= Decimal(b) else b


def _min(a: str, b: str) -> str:
    return a if Decimal(a) <= Decimal(b) else b


def turnover(c: Candle) -> str:
    mid = (Decimal(c.high) + Decimal(c.low)) / 2
    return format((Decimal(c.volume) * mid).quantize(Decimal("0.0001")), "f")


def select(candles: list[Candle], start: str | None, end: str | None, limit: int, max_limit: int,
           *, newest_first: bool) -> list[Candle]:
    """The venues' paging: within ``[start, end]``; with only ``end`` (or neither) the newest
    ``limit`` up to ``end``; with ``start`` the oldest ``limit`` from it."""
    limit = max(1, min(limit, max_limit))
    rows = [c for c in candles
            if (not start or c.ts_ms >= int(start)) and (not end or c.ts_ms <= int(end))]
    rows = rows[:limit] if start else rows[-limit:]
    return rows[::-1] if newest_first else rows


def select_points(points: list[tuple[int, Decimal]], start: str | None, end: str | None, limit: int,
                  max_limit: int, *, newest_first: bool) -> list[tuple[int, Decimal]]:
    limit = max(1, min(limit, max_limit))
    rows = [p for p in points
            if (not start or p[0] >= int(start)) and (not end or p[0] <= int(end))]
    rows = rows[:limit] if start else rows[-limit:]
    return rows[::-1] if newest_first else rows
