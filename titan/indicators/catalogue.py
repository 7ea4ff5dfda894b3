"""The indicator catalogue: what each indicator takes, its parameters and its outputs.

Data only; ``titan indicators`` prints it and the tests check it against the kernels'
signatures, so it cannot drift from the code.
"""

from __future__ import annotations

import msgspec


class Indicator(msgspec.Struct, frozen=True, kw_only=True):
    """One indicator: its streaming class, its batch function and their shapes."""

    name: str
    title: str
    kernel: str  # native.<kernel> holds both implementations
    stream: str  # streaming class: update(*update_inputs)
    batch: str | None  # batch function: batch(*inputs, **params) -> outputs
    update_inputs: tuple[str, ...]
    inputs: tuple[str, ...]
    params: tuple[tuple[str, float | int | None], ...]  # (name, default); None = required
    outputs: tuple[str, ...]
    stream_outputs: tuple[str, ...]  # attributes of the streaming object, one per output
    warmup: str  # outputs are NaN before this many inputs (or "none")
    source: str


def _i(**kw) -> Indicator:
    kw.setdefault("inputs", kw["update_inputs"])
    kw.setdefault("stream_outputs", ("value",) if len(kw["outputs"]) == 1 else kw["outputs"])
    return Indicator(**kw)


_C = ("close",)
_HL = ("high", "low")
_HLC = ("high", "low", "close")

INDICATORS: tuple[Indicator, ...] = (
    # ---- averages
    _i(name="sma", title="Simple moving average", kernel="average", stream="SMA", batch="sma",
       update_inputs=("x",), inputs=("values",), params=(("period", None),), outputs=("sma",),
       warmup="period", source="TA-Lib SMA (running sum, re-summed every ~1024 values)"),
    _i(name="ema", title="Exponential moving average", kernel="average", stream="EMA", batch="ema",
       update_inputs=("x",), inputs=("values",), params=(("period", None),), outputs=("ema",),
       warmup="period", source="TA-Lib EMA: alpha = 2/(n+1), seeded with the SMA of n"),
    _i(name="wma", title="Weighted moving average", kernel="average", stream="WMA", batch="wma",
       update_inputs=("x",), inputs=("values",), params=(("period", None),), outputs=("wma",),
       warmup="period", source="TA-Lib WMA (weights 1..n)"),
    # ---- momentum
    _i(name="rsi", title="Relative Strength Index", kernel="momentum", stream="RSI", batch="rsi",
       update_inputs=("x",), inputs=("values",), params=(("period", 14),), outputs=("rsi",),
       warmup="period + 1", source="Wilder 1978; TA-Lib RSI"),
    _i(name="macd", title="MACD", kernel="momentum", stream="MACD", batch="macd",
       update_inputs=("x",), inputs=("values",),
       params=(("fast", 12), ("slow", 26), ("signal", 9)), outputs=("macd", "signal", "hist"),
       warmup="slow + signal - 1", source="Appel; TA-Lib MACD (aligned EMA seeds)"),
    _i(name="stoch", title="Slow stochastic", kernel="momentum", stream="Stochastic",
       batch="stoch", update_inputs=_HLC,
       params=(("fastk_period", 5), ("slowk_period", 3), ("slowd_period", 3)),
       outputs=("k", "d"), warmup="fastk + slowk + slowd - 2", source="Lane; TA-Lib STOCH (SMA)"),
    # ---- volatility
    _i(name="bbands", title="Bollinger Bands", kernel="volatility", stream="BollingerBands",
       batch="bbands", update_inputs=("x",), inputs=("values",),
       params=(("period", 20), ("nbdev_up", 2.0), ("nbdev_dn", 2.0)),
       outputs=("upper", "middle", "lower", "bandwidth"), warmup="period",
       source="Bollinger 2001; TA-Lib BBANDS (population stdev)"),
    _i(name="atr", title="Average True Range", kernel="volatility", stream="ATR", batch="atr",
       update_inputs=_HLC, params=(("period", 14),), outputs=("atr",), warmup="period + 1",
       source="Wilder 1978; TA-Lib ATR"),
    _i(name="stddev", title="Rolling standard deviation", kernel="volatility", stream="StdDev",
       batch="stddev", update_inputs=("x",), inputs=("values",), params=(("period", 20),),
       outputs=("stddev",), warmup="period", source="population stdev (TA-Lib STDDEV)"),
    _i(name="zscore", title="Rolling z-score", kernel="volatility", stream="ZScore",
       batch="zscore", update_inputs=("x",), inputs=("values",), params=(("period", 20),),
       outputs=("zscore",), warmup="period", source="(x - mean) / population stdev"),
    _i(name="realized_volatility", title="Realised volatility", kernel="volatility",
       stream="RealizedVolatility", batch="realized_volatility", update_inputs=("x",),
       inputs=("values",), params=(("period", 30), ("periods_per_year", 0.0)),
       outputs=("realized_volatility",), warmup="period + 1",
       source="Andersen & Bollerslev 1998: sqrt(sum r^2)"),
    _i(name="squeeze", title="Bollinger squeeze", kernel="squeeze", stream="BollingerSqueeze",
       batch="squeeze", update_inputs=("x",), inputs=("values",),
       params=(("period", 20), ("nbdev", 2.0), ("lookback", 125)), outputs=("squeeze",),
       warmup="period + lookback - 1", source="Bollinger 2001, ch. 15 (BandWidth at a low)"),
    # ---- trend
    _i(name="adx", title="Average Directional Index", kernel="trend", stream="ADX", batch="adx",
       update_inputs=_HLC, params=(("period", 14),), outputs=("adx", "plus_di", "minus_di"),
       warmup="2 * period", source="Wilder 1978; TA-Lib ADX / PLUS_DI / MINUS_DI"),
    _i(name="donchian", title="Donchian channel", kernel="trend", stream="Donchian",
       batch="donchian", update_inputs=_HL, params=(("period", 20),),
       outputs=("upper", "middle", "lower"), warmup="period",
       source="Donchian 1960; TA-Lib MAX/MIN"),
    # ---- volume
    _i(name="vwap", title="Session VWAP", kernel="volume", stream="VWAP", batch="vwap",
       update_inputs=("price", "volume", "ts_ns"),
       params=(("session_ns", 86_400_000_000_000), ("offset_ns", 0)), outputs=("vwap",),
       warmup="first volume of the session", source="Berkowitz, Logue & Noser 1988"),
    _i(name="obv", title="On-Balance Volume", kernel="volume", stream="OBV", batch="obv",
       update_inputs=("close", "volume"), params=(), outputs=("obv",), warmup="none",
       source="Granville 1963; TA-Lib OBV"),
    # ---- order flow
    _i(name="cvd", title="Cumulative volume delta", kernel="microstructure",
       stream="CumulativeVolumeDelta", batch="cvd", update_inputs=("size", "side"), params=(),
       outputs=("cvd",), warmup="none", source="signed aggressor volume (side +1 / -1)"),
    _i(name="ofi", title="Order-flow imbalance", kernel="microstructure",
       stream="OrderFlowImbalance", batch="ofi",
       update_inputs=("bid", "bid_size", "ask", "ask_size"), params=(("window", 100),),
       outputs=("ofi",), warmup="window + 1", source="Cont, Kukanov & Stoikov 2014"),
    _i(name="vpin", title="VPIN (bulk volume classification)", kernel="microstructure",
       stream="VPIN", batch="vpin", update_inputs=("price", "volume"),
       params=(("bucket_volume", None), ("n_buckets", 50), ("sigma_window", 50)),
       outputs=("vpin",), warmup="n_buckets full buckets",
       source="Easley, Lopez de Prado & O'Hara 2012"),
    # ---- structure
    _i(name="swings", title="Swing highs and lows", kernel="swings", stream="Swings",
       batch="swings", update_inputs=_HL, params=(("left", 2), ("right", 2)),
       outputs=("swing_high", "swing_low"),
       stream_outputs=("new_high", "new_low"), warmup="left + right + 1",
       source="pivot highs/lows, confirmed `right` bars later"),
    _i(name="fractals", title="Bill Williams fractals", kernel="swings", stream="Fractals",
       batch="fractals", update_inputs=_HL, params=(("k", 2),), outputs=("up", "down"),
       stream_outputs=("new_high", "new_low"),
       warmup="2 * k + 1", source="Williams, Trading Chaos, 1995"),
    _i(name="equal_levels", title="Equal highs/lows (liquidity pools)", kernel="swings",
       stream="EqualLevels", batch="equal_levels", update_inputs=_HL,
       params=(("left", 2), ("right", 2), ("tolerance", 0.001), ("max_levels", 32)),
       outputs=("eq_high", "eq_low", "swept_high", "swept_low"),
       stream_outputs=("new_high", "new_low", "swept_high", "swept_low"),
       warmup="left + right + 1",
       source="resting stops above/below swings (Osler 2005)"),
    _i(name="premium_discount", title="Premium/discount in the dealing range", kernel="swings",
       stream="PremiumDiscount", batch="premium_discount", update_inputs=_HLC,
       params=(("period", 50),), outputs=("position",), warmup="period",
       source="ICT premium/discount of a Donchian range"),
    _i(name="fair_value_gaps", title="Fair-value gaps", kernel="zones", stream="FairValueGaps",
       batch="fair_value_gaps", update_inputs=_HL, params=(("min_size", 0.0), ("max_open", 64)),
       outputs=("side", "bottom", "top", "filled"),
       stream_outputs=("new_side", "new_bottom", "new_top", "filled"), warmup="3",
       source="ICT three-candle imbalance, with fill tracking"),
    _i(name="order_blocks", title="Order blocks", kernel="zones", stream="OrderBlocks",
       batch="order_blocks", update_inputs=("open", "high", "low", "close"),
       params=(("left", 2), ("right", 2), ("max_open", 32)),
       outputs=("bull_bottom", "bull_top", "bear_bottom", "bear_top", "broken"),
       warmup="left + right + 1", source="ICT: last opposite candle before a structure break"),
    # ---- tail risk
    _i(name="hill", title="Rolling Hill tail index", kernel="tail", stream="HillTailIndex",
       batch="hill", update_inputs=("ret",), inputs=("returns",),
       params=(("window", None), ("tail_fraction", 0.1)), outputs=("alpha",), warmup="window",
       source="Hill 1975 (absolute returns, both tails)"),
)

BY_NAME: dict[str, Indicator] = {i.name: i for i in INDICATORS}
