"""AI Quant: regime detection for the Brain and walk-forward parameter suggestions (advisory)."""

from titan.phases.ai_quant.optimise import (
    DEFAULT_SPACES,
    Suggestion,
    backtest_evaluator,
    grid,
    optimise,
    search,
)
from titan.phases.ai_quant.phase import AiQuant, AiQuantParams
from titan.phases.ai_quant.regime import REGIMES, RegimeDetector, RegimeSettings

__all__ = ["AiQuant", "AiQuantParams", "REGIMES", "RegimeDetector", "RegimeSettings",
           "DEFAULT_SPACES", "Suggestion", "backtest_evaluator", "grid", "optimise", "search"]
