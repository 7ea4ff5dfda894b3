"""Hunter: multi-timeframe market structure (mid accounts)."""

from titan.phases.hunter.phase import Hunter, HunterParams

__all__ = ["Hunter", "HunterParams"]
