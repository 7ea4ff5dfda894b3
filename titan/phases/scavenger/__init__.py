"""Scavenger: breakout traps on structural levels (small accounts, high leverage)."""

from titan.phases.scavenger.phase import Scavenger, ScavengerParams

__all__ = ["Scavenger", "ScavengerParams"]
