"""Technical indicators and market-structure math: Titan's public API over ``native``.

Every name here is the compiled Cython kernel when it is built (``native.COMPILED``), else
its pure-Python reference twin; both have the same API and give the same numbers.

Streaming classes (O(1) or amortised O(1) per ``update``, ``.value`` or named outputs,
``.ready``, ``.count``, ``reset()``) and batch functions over float64 arrays (same length
out, NaN during warm-up, TA-Lib conventions) - see :data:`INDICATORS` for every indicator's
inputs, parameters and outputs, or run ``titan indicators``.

Bad input (NaN, inf, empty or mismatched arrays, a period < 1 or longer than the data) raises
``ValueError`` naming the argument.
"""

from __future__ import annotations

import native
from titan.indicators.catalogue import BY_NAME, INDICATORS, Indicator

_average = native.loaded("average")
_momentum = native.loaded("momentum")
_volatility = native.loaded("volatility")
_squeeze = native.loaded("squeeze")
_trend = native.loaded("trend")
_volume = native.loaded("volume")
_micro = native.loaded("microstructure")
_swings = native.loaded("swings")
_zones = native.loaded("zones")
_tail = native.loaded("tail")

# streaming
SMA = _average.SMA
EMA = _average.EMA
WMA = _average.WMA
RSI = _momentum.RSI
MACD = _momentum.MACD
Stochastic = _momentum.Stochastic
BollingerBands = _volatility.BollingerBands
ATR = _volatility.ATR
StdDev = _volatility.StdDev
ZScore = _volatility.ZScore
RealizedVolatility = _volatility.RealizedVolatility
BollingerSqueeze = _squeeze.BollingerSqueeze
ADX = _trend.ADX
Donchian = _trend.Donchian
VWAP = _volume.VWAP
OBV = _volume.OBV
CumulativeVolumeDelta = _micro.CumulativeVolumeDelta
OrderFlowImbalance = _micro.OrderFlowImbalance
VPIN = _micro.VPIN
Swings = _swings.Swings
Fractals = _swings.Fractals
EqualLevels = _swings.EqualLevels
PremiumDiscount = _swings.PremiumDiscount
FairValueGaps = _zones.FairValueGaps
OrderBlocks = _zones.OrderBlocks
HillTailIndex = _tail.HillTailIndex

# batch
sma = _average.sma
ema = _average.ema
wma = _average.wma
rsi = _momentum.rsi
macd = _momentum.macd
stoch = _momentum.stoch
bbands = _volatility.bbands
atr = _volatility.atr
stddev = _volatility.stddev
zscore = _volatility.zscore
realized_volatility = _volatility.realized_volatility
squeeze = _squeeze.squeeze
adx = _trend.adx
donchian = _trend.donchian
vwap = _volume.vwap
obv = _volume.obv
cvd = _micro.cvd
ofi = _micro.ofi
vpin = _micro.vpin
swings = _swings.swings
fractals = _swings.fractals
equal_levels = _swings.equal_levels
premium_discount = _swings.premium_discount
fair_value_gaps = _zones.fair_value_gaps
order_blocks = _zones.order_blocks
hill = _tail.hill

DAY_NS: int = _volume.DAY_NS


def compiled() -> bool:
    """True when every indicator kernel is the compiled Cython module."""
    return all(native.loaded(k).__name__ == f"native._{k}" for k in {i.kernel for i in INDICATORS})


__all__ = [
    "INDICATORS", "BY_NAME", "Indicator", "compiled", "DAY_NS",
    "SMA", "EMA", "WMA", "RSI", "MACD", "Stochastic", "BollingerBands", "ATR", "StdDev",
    "ZScore", "RealizedVolatility", "BollingerSqueeze", "ADX", "Donchian", "VWAP", "OBV",
    "CumulativeVolumeDelta", "OrderFlowImbalance", "VPIN", "Swings", "Fractals", "EqualLevels",
    "PremiumDiscount", "FairValueGaps", "OrderBlocks", "HillTailIndex",
    "sma", "ema", "wma", "rsi", "macd", "stoch", "bbands", "atr", "stddev", "zscore",
    "realized_volatility", "squeeze", "adx", "donchian", "vwap", "obv", "cvd", "ofi", "vpin",
    "swings", "fractals", "equal_levels", "premium_discount", "fair_value_gaps", "order_blocks",
    "hill",
]
