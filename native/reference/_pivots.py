"""Swing-point (pivot) detection of the references; twin of ``native/_pivots.pxd``.

A swing high is strictly above the ``left`` highs before it and the ``right`` after it (swing
low: strictly below); it is confirmed ``right`` bars later. Williams' fractal: left = right = 2.
"""

from __future__ import annotations

import math
from collections import deque


class Pivots:
    __slots__ = ("left", "right", "count", "_highs", "_lows", "new_high", "new_low",
                 "new_high_index", "new_low_index")

    def __init__(self, left: int, right: int) -> None:
        self.left = left
        self.right = right
        self.clear()

    def clear(self) -> None:
        size = self.left + self.right + 1
        self._highs: deque[float] = deque(maxlen=size)
        self._lows: deque[float] = deque(maxlen=size)
        self.count = 0
        self.new_high = self.new_low = math.nan
        self.new_high_index = self.new_low_index = -1

    def push(self, high: float, low: float) -> None:
        self._highs.append(high)
        self._lows.append(low)
        self.count += 1
        self.new_high = self.new_low = math.nan
        if len(self._highs) < self._highs.maxlen:
            return
        mid = self.left
        h = self._highs[mid]
        lo = self._lows[mid]
        others = [j for j in range(len(self._highs)) if j != mid]
        if all(self._highs[j] < h for j in others):
            self.new_high = h
            self.new_high_index = self.count - 1 - self.right
        if all(self._lows[j] > lo for j in others):
            self.new_low = lo
            self.new_low_index = self.count - 1 - self.right
