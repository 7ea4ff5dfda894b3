"""Sentinel: delta-neutral spot/perp basis and funding carry (large accounts)."""

from titan.phases.sentinel.phase import Sentinel, SentinelParams

__all__ = ["Sentinel", "SentinelParams"]
