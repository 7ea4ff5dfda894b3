"""AI Quant: regime detection for the Brain and walk-forward parameter suggestions (advisory)."""

from titan.phases.ai_quant.optimise import Suggestion, backtest_evaluator, grid, optimise
from titan.phases.ai_quant.phase import AiQuant, AiQuantParams
from titan.phases.ai_quant.regime import REGIMES, RegimeDetector, RegimeSettings

__all__ = ["AiQuant", "AiQuantParams", "REGIMES", "RegimeDetector", "RegimeSettings",
           "Suggestion", "backtest_evaluator", "grid", "optimise"]
