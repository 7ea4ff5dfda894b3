"""What a backtest trades: instruments for data files that carry no exchange metadata.

A CSV of candles says nothing about the market's tick, lot or fees, but the SimVenue and the
Brain need all three to round and check orders the way a venue would. Defaults are derived
from the data so a plain ``titan backtest`` needs no flags: the tick is the finest price step
the file's prices use (their decimals), the lot is a power of ten worth a few units of the
quote currency, fees come from ``--fee-bps``. A ccxt symbol with a settle currency
(``BTC/USDT:USDT``) is a linear perpetual, which is what makes funding apply.
"""

from __future__ import annotations

import math
import re
from decimal import Decimal

import numpy as np

from titan.core.instruments import Instrument, InstrumentKind, to_decimal

SIM_VENUE = "sim"
_SYMBOL = re.compile(r"^(?P<base>[A-Za-z0-9]+)/(?P<quote>[A-Za-z0-9]+)(?::(?P<settle>[A-Za-z0-9]+))?$")
_QUOTES = ("USDT", "USDC", "BUSD", "FDUSD", "USD", "BTC", "ETH", "EUR")


def parse_symbol(symbol: str) -> tuple[str, str, str]:
    """``BTC/USDT:USDT`` -> ("BTC", "USDT", "USDT"); the settle is "" for spot."""
    m = _SYMBOL.match(symbol.strip())
    if not m:
        raise ValueError(f"symbol {symbol!r}: expected BASE/QUOTE (spot) or BASE/QUOTE:SETTLE (perpetual)")
    return m.group("base").upper(), m.group("quote").upper(), (m.group("settle") or "").upper()


def symbol_from_filename(name: str) -> str | None:
    """Guess a ccxt symbol from a data file name such as
    ``binance-usdm_BTCUSDT-PERP_1m_20250504-20250603.csv.gz`` (-> ``BTC/USDT:USDT``); a
    ``-PERP`` pair or a derivatives market in the name (usdm, linear, swap) means perpetual."""
    derivatives = any(k in name.lower() for k in ("usdm", "linear", "swap"))
    for token in re.split(r"[_.\s]+", name):
        perp = token.upper().endswith("-PERP") or derivatives
        pair = token.upper().removesuffix("-PERP")
        for quote in _QUOTES:
            if pair.endswith(quote) and len(pair) > len(quote) and pair.isalnum():
                base = pair[: -len(quote)]
                return f"{base}/{quote}:{quote}" if perp else f"{base}/{quote}"
    return None


def price_tick(prices: np.ndarray, max_decimals: int = 8) -> Decimal:
    """The coarsest power-of-ten step on which every price lies (0.1 for ``94123.4``)."""
    x = np.asarray(prices, dtype=np.float64)
    x = x[np.isfinite(x)]
    if x.size == 0:
        return Decimal(10) ** -max_decimals
    for d in range(0, max_decimals + 1):
        scaled = x * 10.0**d
        tolerance = np.maximum(1e-7, 8 * np.finfo(np.float64).eps * np.abs(scaled))
        if np.all(np.abs(scaled - np.round(scaled)) <= tolerance):
            # steps coarser than 1 are not guessed: round prices do not make a coarse tick
            return Decimal(10) ** -d
    return Decimal(1).scaleb(-max_decimals)


def default_lot(price: float) -> Decimal:
    """A power of ten worth between 1 and 10 units of the quote currency at ``price``."""
    if not price > 0 or not math.isfinite(price):
        return Decimal("0.001")
    exponent = math.floor(math.log10(10.0 / price))
    return Decimal(10) ** exponent


def sim_instrument(
    symbol: str,
    *,
    prices: np.ndarray | None = None,
    tick: Decimal | str | float | None = None,
    lot: Decimal | str | float | None = None,
    fee_bps: Decimal | str | float = 0,
    maker_fee_bps: Decimal | str | float | None = None,
    venue: str = SIM_VENUE,
) -> Instrument:
    """The instrument a file-driven backtest trades (``BTC/USDT:USDT@sim``)."""
    base, quote, settle = parse_symbol(symbol)
    if tick is None:
        tick_d = price_tick(prices) if prices is not None else Decimal("0.01")
    else:
        tick_d = _positive("tick", tick)
    if lot is None:
        ref = float(np.nanmedian(prices)) if prices is not None and len(prices) else math.nan
        lot_d = default_lot(ref)
    else:
        lot_d = _positive("lot", lot)
    taker = to_decimal(fee_bps) / 10_000
    maker = taker if maker_fee_bps is None else to_decimal(maker_fee_bps) / 10_000
    if not taker.is_finite() or taker < 0 or not maker.is_finite():
        raise ValueError(f"fee_bps: expected a number >= 0, got {fee_bps!r}")
    return Instrument(
        symbol=f"{base}/{quote}" + (f":{settle}" if settle else ""), venue=venue, base=base,
        quote=quote, kind=InstrumentKind.PERPETUAL if settle else InstrumentKind.SPOT,
        settle=settle, tick_size=tick_d, lot_size=lot_d, min_qty=lot_d, taker_fee=taker,
        maker_fee=maker, max_leverage=Decimal(125) if settle else Decimal(1),
    )


def _positive(name: str, value: Decimal | str | float) -> Decimal:
    try:
        d = to_decimal(value)
    except (ArithmeticError, ValueError, TypeError):
        raise ValueError(f"{name}: expected a number, got {value!r}") from None
    if not d.is_finite() or d <= 0:
        raise ValueError(f"{name}: expected a number > 0, got {value!r}")
    return d
