# cython: language_level=3, always_allow_keywords=False
"""Price zones left behind by displacement: fair-value gaps (with fill tracking) and order
blocks. Cython twin of ``native/reference/zones.py``; streaming and batch share one step.

Batch outputs are aligned to the bar on which a zone becomes known (no look-ahead).
"""

cimport cython
from libc.math cimport NAN, isfinite
from libc.stdlib cimport free

import numpy as np

from native._args cimport check_bar, check_high_low, series_like, to_number, to_period
from native._checks cimport check_finite, check_series
from native._pivots cimport PivotState, pivot_clear, pivot_free, pivot_init, pivot_step
from native._window cimport alloc_doubles, alloc_longs


# ---- a bounded set of open zones --------------------------------------------------------------

cdef struct ZoneSet:
    long* side           # +1 bullish, -1 bearish
    double* bottom
    double* top
    long* origin         # bar index of the candle that defines the zone
    long* created        # bar index on which the zone became known
    double* fill         # deepest fraction of the zone traded into, 0..1
    Py_ssize_t size
    Py_ssize_t cap


cdef int zones_init(ZoneSet* z, Py_ssize_t cap) except -1:
    z.side = alloc_longs(cap)
    z.bottom = alloc_doubles(cap)
    z.top = alloc_doubles(cap)
    z.origin = alloc_longs(cap)
    z.created = alloc_longs(cap)
    z.fill = alloc_doubles(cap)
    z.cap = cap
    z.size = 0
    return 0


cdef void zones_free(ZoneSet* z) noexcept nogil:
    free(z.side)
    free(z.bottom)
    free(z.top)
    free(z.origin)
    free(z.created)
    free(z.fill)
    z.side = NULL
    z.bottom = NULL
    z.top = NULL
    z.origin = NULL
    z.created = NULL
    z.fill = NULL


cdef inline void zones_remove(ZoneSet* z, Py_ssize_t k) noexcept nogil:
    cdef Py_ssize_t j
    for j in range(k, z.size - 1):
        z.side[j] = z.side[j + 1]
        z.bottom[j] = z.bottom[j + 1]
        z.top[j] = z.top[j + 1]
        z.origin[j] = z.origin[j + 1]
        z.created[j] = z.created[j + 1]
        z.fill[j] = z.fill[j + 1]
    z.size -= 1


cdef inline void zones_add(ZoneSet* z, long side, double bottom, double top, long origin,
                           long created) noexcept nogil:
    if z.size == z.cap:
        zones_remove(z, 0)
    z.side[z.size] = side
    z.bottom[z.size] = bottom
    z.top[z.size] = top
    z.origin[z.size] = origin
    z.created[z.size] = created
    z.fill[z.size] = 0.0
    z.size += 1


cdef object zones_rows(ZoneSet* z):
    rows = [(z.side[j], z.bottom[j], z.top[j], z.origin[j], z.created[j], z.fill[j])
            for j in range(z.size)]
    return np.array(rows, dtype=np.float64).reshape(-1, 6)


# ---- fair-value gaps --------------------------------------------------------------------------

cdef struct GapState:
    ZoneSet zones
    double min_size
    long count
    double h1, l1, h2, l2    # the two previous bars (1 = previous, 2 = the one before)
    double new_side
    double new_bottom
    double new_top
    long filled


cdef void gaps_clear(GapState* s) noexcept nogil:
    s.zones.size = 0
    s.count = 0
    s.h1 = 0.0
    s.l1 = 0.0
    s.h2 = 0.0
    s.l2 = 0.0
    s.new_side = 0.0
    s.new_bottom = NAN
    s.new_top = NAN
    s.filled = 0


cdef inline void gaps_step(GapState* s, double high, double low) noexcept nogil:
    cdef ZoneSet* z = &s.zones
    cdef Py_ssize_t j = 0
    cdef double f
    cdef long index = s.count
    s.count += 1
    s.filled = 0
    s.new_side = 0.0
    s.new_bottom = NAN
    s.new_top = NAN
    while j < z.size:
        if z.side[j] > 0:
            if low <= z.bottom[j]:
                zones_remove(z, j)
                s.filled += 1
                continue
            if low < z.top[j]:
                f = (z.top[j] - low) / (z.top[j] - z.bottom[j])
                if f > z.fill[j]:
                    z.fill[j] = f
        else:
            if high >= z.top[j]:
                zones_remove(z, j)
                s.filled += 1
                continue
            if high > z.bottom[j]:
                f = (high - z.bottom[j]) / (z.top[j] - z.bottom[j])
                if f > z.fill[j]:
                    z.fill[j] = f
        j += 1
    if s.count >= 3:
        if low > s.h2 and low - s.h2 > s.min_size:
            s.new_side = 1.0
            s.new_bottom = s.h2
            s.new_top = low
            zones_add(z, 1, s.h2, low, index - 1, index)
        elif high < s.l2 and s.l2 - high > s.min_size:
            s.new_side = -1.0
            s.new_bottom = high
            s.new_top = s.l2
            zones_add(z, -1, high, s.l2, index - 1, index)
    s.h2 = s.h1
    s.l2 = s.l1
    s.h1 = high
    s.l1 = low


@cython.final
cdef class FairValueGaps:
    """Fair-value gaps: three-candle imbalances, with fill tracking.

    A bullish gap appears when a bar's low is above the high two bars back (the middle candle
    displaced price, leaving ``[high[i-2], low[i]]`` untraded); a bearish gap when a bar's
    high is below the low two bars back (``[high[i], low[i-2]]``). Gaps of height <=
    ``min_size`` are ignored. Later bars fill a gap: its ``fill`` is the deepest fraction
    traded into; when price trades through the far edge it is filled and dropped. At most
    ``max_open`` open gaps are kept (oldest dropped). The "fair value gap" of ICT
    (M. J. Huddleston); the same three-bar pattern as the classic price gap of Edwards &
    Magee, *Technical Analysis of Stock Trends*. ``update`` returns +1 / -1 for a new
    bullish / bearish gap, else 0; ``filled`` counts the gaps filled by the latest bar.
    """

    cdef GapState _s

    def __cinit__(self, min_size=0.0, max_open=64):
        self._s.min_size = to_number("min_size", min_size, 0.0, 1e300)
        zones_init(&self._s.zones, to_period("max_open", max_open, -1))
        gaps_clear(&self._s)

    def __dealloc__(self):
        zones_free(&self._s.zones)

    def reset(self):
        """Forget every bar seen."""
        gaps_clear(&self._s)

    @property
    def count(self):
        return self._s.count

    @property
    def ready(self):
        return self._s.count >= 3

    @property
    def filled(self):
        return self._s.filled

    @property
    def new_side(self):
        return <int> self._s.new_side

    @property
    def new_bottom(self):
        return self._s.new_bottom

    @property
    def new_top(self):
        return self._s.new_top

    def gaps(self):
        """Open gaps: rows ``(side, bottom, top, middle_index, created_index, fill)``."""
        return zones_rows(&self._s.zones)

    def update(self, double high, double low):
        """Add one bar; return +1 (new bullish gap), -1 (new bearish gap) or 0."""
        check_bar(high, low)
        gaps_step(&self._s, high, low)
        return <int> self._s.new_side


def fair_value_gaps(high, low, min_size=0.0, max_open=64):
    """Batch fair-value gaps: ``(side, bottom, top, filled)`` per bar: the gap completed by
    the bar (side +1 / -1 / 0, edges NaN if none) and the number of gaps it filled."""
    cdef const double[::1] h = check_series("high", high)
    cdef Py_ssize_t n = h.shape[0], i
    cdef const double[::1] l = series_like("low", low, n)
    check_high_low(h, l)
    cdef GapState s
    s.min_size = to_number("min_size", min_size, 0.0, 1e300)
    zones_init(&s.zones, to_period("max_open", max_open, -1))
    gaps_clear(&s)
    side_arr = np.empty(n, dtype=np.float64)
    bot_arr = np.empty(n, dtype=np.float64)
    top_arr = np.empty(n, dtype=np.float64)
    fill_arr = np.empty(n, dtype=np.float64)
    cdef double[::1] side = side_arr, bot = bot_arr, top = top_arr, filled = fill_arr
    try:
        with nogil:
            for i in range(n):
                gaps_step(&s, h[i], l[i])
                side[i] = s.new_side
                bot[i] = s.new_bottom
                top[i] = s.new_top
                filled[i] = s.filled
    finally:
        zones_free(&s.zones)
    return side_arr, bot_arr, top_arr, fill_arr


# ---- order blocks -----------------------------------------------------------------------------

cdef struct BlockState:
    PivotState pivots
    ZoneSet zones
    long count
    double swing_high        # latest confirmed swing high not yet broken (NaN if none)
    double swing_low
    long down_index          # latest down-close candle (close < open), -1 if none
    double down_high, down_low
    long up_index
    double up_high, up_low
    double bull_bottom, bull_top, bear_bottom, bear_top
    long broken


cdef void blocks_clear(BlockState* s) noexcept nogil:
    pivot_clear(&s.pivots)
    s.zones.size = 0
    s.count = 0
    s.swing_high = NAN
    s.swing_low = NAN
    s.down_index = -1
    s.down_high = 0.0
    s.down_low = 0.0
    s.up_index = -1
    s.up_high = 0.0
    s.up_low = 0.0
    s.bull_bottom = NAN
    s.bull_top = NAN
    s.bear_bottom = NAN
    s.bear_top = NAN
    s.broken = 0


cdef inline void blocks_step(BlockState* s, double open, double high, double low,
                             double close) noexcept nogil:
    cdef ZoneSet* z = &s.zones
    cdef Py_ssize_t j = 0
    cdef long index = s.count
    s.count += 1
    s.bull_bottom = NAN
    s.bull_top = NAN
    s.bear_bottom = NAN
    s.bear_top = NAN
    s.broken = 0
    pivot_step(&s.pivots, high, low)
    if s.pivots.new_high == s.pivots.new_high:
        s.swing_high = s.pivots.new_high
    if s.pivots.new_low == s.pivots.new_low:
        s.swing_low = s.pivots.new_low
    # a close beyond the far edge invalidates a block
    while j < z.size:
        if (close < z.bottom[j]) if z.side[j] > 0 else (close > z.top[j]):
            zones_remove(z, j)
            s.broken += 1
        else:
            j += 1
    # a close beyond the latest swing breaks structure: the last opposite candle is the block
    if s.swing_high == s.swing_high and close > s.swing_high:
        s.swing_high = NAN
        if s.down_index >= 0:
            s.bull_bottom = s.down_low
            s.bull_top = s.down_high
            zones_add(z, 1, s.down_low, s.down_high, s.down_index, index)
    if s.swing_low == s.swing_low and close < s.swing_low:
        s.swing_low = NAN
        if s.up_index >= 0:
            s.bear_bottom = s.up_low
            s.bear_top = s.up_high
            zones_add(z, -1, s.up_low, s.up_high, s.up_index, index)
    if close < open:
        s.down_index = index
        s.down_high = high
        s.down_low = low
    elif close > open:
        s.up_index = index
        s.up_high = high
        s.up_low = low


@cython.final
cdef class OrderBlocks:
    """Order blocks: the last opposite candle before a break of structure.

    Swings are tracked as in ``Swings(left, right)``. When a close rises above the latest
    unbroken swing high, the most recent down-close candle before that bar becomes a bullish
    block ``[low, high]`` (symmetrically: a close below the latest swing low makes the most
    recent up-close candle a bearish block). A block is invalidated when a later close goes
    beyond its far edge (below a bullish block's low, above a bearish block's high). At most
    ``max_open`` blocks are kept. The "order block" of ICT / smart-money-concepts practice
    (M. J. Huddleston): where the orders behind the displacement were filled. ``update``
    returns 1 for a new bullish block, 2 bearish, 3 both, else 0.
    """

    cdef BlockState _s

    def __cinit__(self, left=2, right=2, max_open=32):
        pivot_init(&self._s.pivots, to_period("left", left, -1), to_period("right", right, -1))
        zones_init(&self._s.zones, to_period("max_open", max_open, -1))
        blocks_clear(&self._s)

    def __dealloc__(self):
        pivot_free(&self._s.pivots)
        zones_free(&self._s.zones)

    def reset(self):
        """Forget every bar seen."""
        blocks_clear(&self._s)

    @property
    def count(self):
        return self._s.count

    @property
    def ready(self):
        return self._s.count >= self._s.pivots.left + self._s.pivots.right + 1

    @property
    def broken(self):
        return self._s.broken

    @property
    def bull_bottom(self):
        return self._s.bull_bottom

    @property
    def bull_top(self):
        return self._s.bull_top

    @property
    def bear_bottom(self):
        return self._s.bear_bottom

    @property
    def bear_top(self):
        return self._s.bear_top

    def blocks(self):
        """Open blocks: rows ``(side, bottom, top, origin_index, created_index, 0)``."""
        return zones_rows(&self._s.zones)

    def update(self, double open, double high, double low, double close):
        """Add one bar; return 1 (new bullish block), 2 (bearish), 3 (both) or 0."""
        check_bar(high, low)
        if not isfinite(open):
            check_finite("open", open)
        if not isfinite(close):
            check_finite("close", close)
        blocks_step(&self._s, open, high, low, close)
        return (1 if self._s.bull_top == self._s.bull_top else 0) | \
               (2 if self._s.bear_top == self._s.bear_top else 0)


def order_blocks(open, high, low, close, left=2, right=2, max_open=32):
    """Batch order blocks: ``(bull_bottom, bull_top, bear_bottom, bear_top, broken)`` per bar:
    the blocks created on the bar (NaN if none) and how many blocks it invalidated."""
    cdef const double[::1] o = check_series("open", open)
    cdef Py_ssize_t n = o.shape[0], i
    cdef const double[::1] h = series_like("high", high, n)
    cdef const double[::1] l = series_like("low", low, n)
    cdef const double[::1] c = series_like("close", close, n)
    check_high_low(h, l)
    cdef BlockState s
    pivot_init(&s.pivots, to_period("left", left, -1), to_period("right", right, -1))
    try:
        zones_init(&s.zones, to_period("max_open", max_open, -1))
    except BaseException:
        pivot_free(&s.pivots)
        raise
    blocks_clear(&s)
    out_arr = np.empty((5, n), dtype=np.float64)
    cdef double[:, ::1] out = out_arr
    try:
        with nogil:
            for i in range(n):
                blocks_step(&s, o[i], h[i], l[i], c[i])
                out[0, i] = s.bull_bottom
                out[1, i] = s.bull_top
                out[2, i] = s.bear_bottom
                out[3, i] = s.bear_top
                out[4, i] = s.broken
    finally:
        pivot_free(&s.pivots)
        zones_free(&s.zones)
    return tuple(out_arr[k].copy() for k in range(5))
