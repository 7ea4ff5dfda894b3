"""Market regime from bars: crash, volatile, trending or ranging - the Brain's allocation key.

Four measurements, each a standard one, checked in order of severity:

    crash     the close is ``crash_drawdown`` or more below its high of the last
              ``crash_lookback`` bars (a fast drawdown)
    volatile  realised volatility of the last ``vol_short`` returns is ``vol_ratio`` times or
              more that of the last ``vol_long`` (per return, so windows compare; Andersen &
              Bollerslev 1998), or the Hill tail index of the last ``tail_window`` returns is
              below ``tail_alpha`` (tails so heavy the variance is unstable; Hill 1975)
    trending  Wilder's ADX >= ``trend_adx`` (Wilder 1978: 25 marks a trend)
    ranging   none of the above

The names are the keys of ``config.brain.regimes``. The Brain re-allocates on every report, so
flickering would churn the phases: each threshold has a band of hysteresis (the current regime
is kept until its measure falls back by ``hysteresis`` of its threshold - ADX by 5 points), and
a new regime must hold for ``confirm_bars`` bars before it is reported; a crash is reported at
once.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

from titan.core.events import Bar
from titan.indicators import ADX, HillTailIndex, RealizedVolatility

REGIMES = ("crash", "volatile", "trending", "ranging")  # most severe first
SEVERITY = {name: i for i, name in enumerate(REGIMES)}


@dataclass(frozen=True, slots=True)
class RegimeSettings:
    adx_period: int = 14
    trend_adx: float = 25.0
    vol_short: int = 24
    vol_long: int = 168
    vol_ratio: float = 2.0
    tail_window: int = 240
    tail_fraction: float = 0.1
    tail_alpha: float = 2.0
    crash_lookback: int = 24
    crash_drawdown: float = 0.10
    confirm_bars: int = 2
    hysteresis: float = 0.25


@dataclass(frozen=True, slots=True)
class Reading:
    """One bar's classification and the numbers behind it (for ``titan explain``)."""

    regime: str
    confidence: float
    adx: float
    vol_ratio: float
    tail_alpha: float
    drawdown: float

    def reason(self) -> str:
        return (f"ADX {self.adx:.1f}, vol ratio {self.vol_ratio:.2f}, tail alpha "
                f"{self.tail_alpha:.2f}, drawdown {self.drawdown:.1%}")


class RegimeDetector:
    """Streaming classifier for one instrument's bars; :attr:`regime` is the confirmed one."""

    def __init__(self, s: RegimeSettings) -> None:
        if s.vol_short >= s.vol_long:
            raise ValueError("vol_short must be < vol_long")
        self.s = s
        self._adx = ADX(s.adx_period)
        self._rv_short = RealizedVolatility(s.vol_short)
        self._rv_long = RealizedVolatility(s.vol_long)
        self._tail = HillTailIndex(s.tail_window, s.tail_fraction)
        self._highs: deque[float] = deque(maxlen=s.crash_lookback)
        self._prev = math.nan
        self.regime = ""  # confirmed; "" until warmed up
        self.reading: Reading | None = None
        self._candidate = ""
        self._streak = 0

    @property
    def ready(self) -> bool:
        return self._adx.ready and self._rv_long.ready

    def update(self, bar: Bar) -> str | None:
        """Add a closed bar; the newly confirmed regime if it changed, else None."""
        s = self.s
        self._adx.update(bar.high, bar.low, bar.close)
        self._rv_short.update(bar.close)
        self._rv_long.update(bar.close)
        if self._prev > 0 and bar.close > 0:
            self._tail.update(math.log(bar.close / self._prev))
        self._prev = bar.close
        self._highs.append(bar.high)
        if not self.ready:
            return None
        r = self._classify(bar.close)
        self.reading = r
        if r.regime == self.regime:
            self._candidate, self._streak = "", 0
            return None
        if r.regime == self._candidate:
            self._streak += 1
        else:
            self._candidate, self._streak = r.regime, 1
        if r.regime == "crash" or self._streak >= s.confirm_bars or not self.regime:
            self.regime, self._candidate, self._streak = r.regime, "", 0
            return self.regime
        return None

    def _classify(self, close: float) -> Reading:
        s = self.s
        adx = float(self._adx.adx)
        short = float(self._rv_short.value) / math.sqrt(s.vol_short)
        long_ = float(self._rv_long.value) / math.sqrt(s.vol_long)
        ratio = short / long_ if long_ > 0 else 1.0
        alpha = float(self._tail.value) if self._tail.ready else math.nan
        peak = max(self._highs)
        dd = 1.0 - close / peak if peak > 0 else 0.0

        def reading(regime: str, confidence: float) -> Reading:
            return Reading(regime, max(0.0, min(1.0, confidence)), adx, ratio, alpha, dd)

        cur, h = self.regime, s.hysteresis
        if dd >= s.crash_drawdown * (1 - h if cur == "crash" else 1):
            return reading("crash", dd / (2 * s.crash_drawdown))
        if ratio >= s.vol_ratio * (1 - h if cur == "volatile" else 1):
            return reading("volatile", ratio / (2 * s.vol_ratio))
        tail_limit = s.tail_alpha * (1 + h / 2 if cur == "volatile" else 1)
        if not math.isnan(alpha) and alpha < tail_limit:
            return reading("volatile", s.tail_alpha / (2 * alpha) if alpha > 0 else 1.0)
        if adx >= s.trend_adx - (5.0 if cur == "trending" else 0.0):
            return reading("trending", adx / (2 * s.trend_adx))
        return reading("ranging", 1.0 - adx / (2 * s.trend_adx))
