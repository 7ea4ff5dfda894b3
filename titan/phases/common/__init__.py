"""What the built-in phases share: higher-timeframe bars rolled up from the base stream
(``rollup``), a position's exit plan (``bracket``), size from risk (``sizing``) and the
position helpers of a directional phase (``desk``). User strategies may use them too."""

from titan.phases.common.bracket import Bracket, Target
from titan.phases.common.desk import Desk
from titan.phases.common.rollup import BarRollup
from titan.phases.common.sizing import risk_qty

__all__ = ["BarRollup", "Bracket", "Desk", "Target", "risk_qty"]
