"""AI Quant: the advisory phase. It watches, classifies and suggests; it never trades.

Seed phase 4. On ``regime_timeframe`` bars (rolled up from the base stream) it runs a
:class:`~titan.phases.ai_quant.regime.RegimeDetector` per instrument and reports the market's
regime to the Brain as a ``RegimeChanged`` event through ``PhaseContext.publish``; the Brain's
``brain.regimes`` table then decides which phases may trade and at what leverage. The market's
regime is the most severe of crash/volatile seen on any instrument, else the first (reference)
instrument's trending/ranging. Every hook returns no intents - the Brain would deny them anyway
(``advisory``). Its offline half, the parameter optimiser, is :func:`titan.phases.ai_quant.optimise`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

from msgspec import Meta

from titan.core import events as ev
from titan.feeds.bars import timeframe_ns
from titan.phases.ai_quant.regime import SEVERITY, RegimeDetector, RegimeSettings
from titan.phases.base import Params, Phase
from titan.phases.common.rollup import BarRollup

if TYPE_CHECKING:
    from titan.config import AiQuantConfig

Pos = Annotated[float, Meta(gt=0)]
Bars = Annotated[int, Meta(ge=2, le=100_000)]


class AiQuantParams(Params, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Regime detector parameters (bars of ``regime_timeframe``)."""

    regime_timeframe: str = "1h"
    adx_period: Bars = 14
    trend_adx: Pos = 25.0
    vol_short: Bars = 24  # one day of 1h bars
    vol_long: Bars = 168  # one week
    vol_ratio: Pos = 2.0
    tail_window: Annotated[int, Meta(ge=20, le=100_000)] = 240
    tail_fraction: Annotated[float, Meta(gt=0, le=0.5)] = 0.1
    tail_alpha: Pos = 2.0
    crash_lookback: Bars = 24
    crash_drawdown: Annotated[float, Meta(gt=0, lt=1)] = 0.10
    confirm_bars: Annotated[int, Meta(ge=1, le=1000)] = 2
    hysteresis: Annotated[float, Meta(ge=0, lt=1)] = 0.25  # of each threshold, to leave a regime


class AiQuant(Phase):
    name = "ai_quant"
    family = "ai_quant"
    Params = AiQuantParams

    def __init__(self, params: AiQuantParams | None = None, **kw: Any) -> None:
        super().__init__(params, **kw)
        p: AiQuantParams = self.params  # type: ignore[assignment]
        if timeframe_ns(p.regime_timeframe) % timeframe_ns(self.timeframe):
            raise ValueError(f"regime_timeframe {p.regime_timeframe} is not a multiple of the "
                             f"base timeframe {self.timeframe}")
        self.settings = RegimeSettings(
            adx_period=p.adx_period, trend_adx=p.trend_adx, vol_short=p.vol_short,
            vol_long=p.vol_long, vol_ratio=p.vol_ratio, tail_window=p.tail_window,
            tail_fraction=p.tail_fraction, tail_alpha=p.tail_alpha,
            crash_lookback=p.crash_lookback, crash_drawdown=p.crash_drawdown,
            confirm_bars=p.confirm_bars, hysteresis=p.hysteresis)
        RegimeDetector(self.settings)  # validate once, at load
        self.detectors: dict[str, RegimeDetector] = {}
        self._rollups: dict[str, BarRollup] = {}
        self.regime = ""  # the last regime published
        self.published: list[ev.RegimeChanged] = []

    @classmethod
    def from_config(cls, section: AiQuantConfig) -> AiQuant:
        from titan.phases.registry import build_params

        params = build_params(cls, section.params, source="phases.ai_quant")
        tfs = section.timeframes or ["1m"]
        return cls(params, instruments=section.symbols, timeframe=min(tfs, key=timeframe_ns))

    def on_start(self) -> None:
        for iid in self.instruments:
            self.detectors[iid] = RegimeDetector(self.settings)
            self._rollups[iid] = BarRollup(self.params.regime_timeframe)  # type: ignore[attr-defined]

    def on_bar(self, bar: ev.Bar) -> None:
        rollup = self._rollups.get(bar.instrument_id)
        if rollup is None:
            return None
        det = self.detectors[bar.instrument_id]
        changed = False
        for hb in rollup.update(bar):
            changed |= det.update(hb) is not None
        if changed:
            self._report(bar.ts_event)
        return None

    def market_regime(self) -> tuple[str, str]:
        """(regime, instrument it comes from): the worst crash/volatile anywhere, else the
        reference instrument's."""
        worst, source = "", ""
        for iid in self.instruments:
            r = self.detectors[iid].regime if iid in self.detectors else ""
            if r in ("crash", "volatile") and (not worst or SEVERITY[r] < SEVERITY[worst]):
                worst, source = r, iid
        if worst:
            return worst, source
        ref = self.instruments[0] if self.instruments else ""
        return (self.detectors[ref].regime if ref in self.detectors else ""), ref

    def _report(self, now: int) -> None:
        regime, iid = self.market_regime()
        if not regime or regime == self.regime:
            return
        reading = self.detectors[iid].reading
        event = ev.RegimeChanged(
            regime=regime, confidence=reading.confidence if reading else 1.0,
            source=f"{self.owner}:{iid}" + (f" ({reading.reason()})" if reading else ""),
            ts_event=now, ts_init=now)
        self.regime = regime
        self.published.append(event)
        if self.ctx is not None:
            self.ctx.publish(event)
