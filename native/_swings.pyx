# cython: language_level=3, always_allow_keywords=False
"""Market structure from swing points: swings, Bill Williams fractals, equal highs/lows
(liquidity pools) and premium/discount within the dealing range. Cython twin of
``native/reference/swings.py``.

Batch outputs are aligned to the bar on which an event becomes known (a swing ``right`` bars
after its pivot), so a backtest reading ``out[i]`` never looks ahead.
"""

cimport cython
from libc.math cimport NAN, isfinite
from libc.stdlib cimport free, malloc

import numpy as np

from native._args cimport check_bar, check_high_low, series_like, to_number, to_period
from native._checks cimport check_finite, check_series
from native._pivots cimport PivotState, pivot_clear, pivot_free, pivot_init, pivot_step
from native._window cimport (Extremum, alloc_doubles, alloc_longs, extremum_clear,
                             extremum_free, extremum_init, extremum_push)


# ---- swings and fractals ----------------------------------------------------------------------

cdef class _PivotStream:
    """Shared body of Swings and Fractals."""

    cdef PivotState _s
    cdef readonly double high
    cdef readonly double low
    cdef readonly long high_index
    cdef readonly long low_index

    def __dealloc__(self):
        pivot_free(&self._s)

    def reset(self):
        """Forget every bar seen."""
        pivot_clear(&self._s)
        self.high = NAN
        self.low = NAN
        self.high_index = -1
        self.low_index = -1

    @property
    def count(self):
        return self._s.count

    @property
    def ready(self):
        return self._s.count >= self._s.left + self._s.right + 1

    @property
    def new_high(self):
        """The swing high confirmed on the latest bar (NaN if none)."""
        return self._s.new_high

    @property
    def new_low(self):
        return self._s.new_low

    def update(self, double high, double low):
        """Add one bar; return 1 if it confirmed a swing high, 2 a swing low, 3 both, else 0."""
        cdef int flags = 0
        check_bar(high, low)
        pivot_step(&self._s, high, low)
        if self._s.new_high == self._s.new_high:
            self.high = self._s.new_high
            self.high_index = self._s.new_high_index
            flags |= 1
        if self._s.new_low == self._s.new_low:
            self.low = self._s.new_low
            self.low_index = self._s.new_low_index
            flags |= 2
        return flags


@cython.final
cdef class Swings(_PivotStream):
    """Swing highs and lows: a high strictly above the ``left`` highs before it and the
    ``right`` after it (lows: strictly below), confirmed ``right`` bars later. O(left + right)
    per update. ``high``/``low`` are the latest confirmed swing levels, ``high_index``/
    ``low_index`` their bar numbers (0-based). (Structural swing points as in Wilder's swing
    index, 1978, and the pivot highs/lows of chart analysis.)"""

    def __cinit__(self, left=2, right=2):
        pivot_init(&self._s, to_period("left", left, -1), to_period("right", right, -1))
        self.reset()


@cython.final
cdef class Fractals(_PivotStream):
    """Bill Williams fractals (*Trading Chaos*, 1995): an up fractal is a bar whose high is
    strictly above the ``k`` highs on each side, a down fractal a low strictly below; known
    ``k`` bars after the pivot. Same as ``Swings(k, k)``; ``high``/``low`` are the latest up
    and down fractal levels."""

    def __cinit__(self, k=2):
        cdef long kk = to_period("k", k, -1)
        pivot_init(&self._s, kk, kk)
        self.reset()


def _pivot_batch(high, low, long left, long right):
    cdef const double[::1] h = check_series("high", high)
    cdef Py_ssize_t n = h.shape[0], i
    cdef const double[::1] l = series_like("low", low, n)
    check_high_low(h, l)
    cdef PivotState s
    pivot_init(&s, left, right)
    hi_arr = np.empty(n, dtype=np.float64)
    lo_arr = np.empty(n, dtype=np.float64)
    cdef double[::1] hi = hi_arr, lo = lo_arr
    try:
        with nogil:
            for i in range(n):
                pivot_step(&s, h[i], l[i])
                hi[i] = s.new_high
                lo[i] = s.new_low
    finally:
        pivot_free(&s)
    return hi_arr, lo_arr


def swings(high, low, left=2, right=2):
    """Batch swings: ``(swing_high, swing_low)``; ``out[i]`` is the level of the swing
    confirmed on bar ``i`` (its pivot is bar ``i - right``), NaN elsewhere."""
    return _pivot_batch(high, low, to_period("left", left, -1), to_period("right", right, -1))


def fractals(high, low, k=2):
    """Batch Bill Williams fractals: ``(up, down)``; ``out[i]`` is the fractal confirmed on
    bar ``i`` (pivot bar ``i - k``), NaN elsewhere."""
    cdef long kk = to_period("k", k, -1)
    return _pivot_batch(high, low, kk, kk)


# ---- equal highs / lows (liquidity pools) -----------------------------------------------------

cdef struct LevelSet:
    double* level
    long* touches
    long* first
    long* last
    Py_ssize_t size
    Py_ssize_t cap


cdef int levels_init(LevelSet* s, Py_ssize_t cap) except -1:
    s.level = alloc_doubles(cap)
    s.touches = alloc_longs(cap)
    s.first = alloc_longs(cap)
    s.last = alloc_longs(cap)
    s.cap = cap
    s.size = 0
    return 0


cdef void levels_free(LevelSet* s) noexcept nogil:
    free(s.level)
    free(s.touches)
    free(s.first)
    free(s.last)
    s.level = NULL
    s.touches = NULL
    s.first = NULL
    s.last = NULL


cdef inline void levels_remove(LevelSet* s, Py_ssize_t k) noexcept nogil:
    cdef Py_ssize_t j
    for j in range(k, s.size - 1):
        s.level[j] = s.level[j + 1]
        s.touches[j] = s.touches[j + 1]
        s.first[j] = s.first[j + 1]
        s.last[j] = s.last[j + 1]
    s.size -= 1


cdef inline long levels_sweep(LevelSet* s, double price, double tol, bint above) noexcept nogil:
    """Drop every level that ``price`` traded through (beyond the tolerance band); return how
    many of them were pools (two or more touches)."""
    cdef Py_ssize_t j = 0
    cdef long pools = 0
    cdef double band
    while j < s.size:
        band = tol * (s.level[j] if s.level[j] > 0.0 else -s.level[j])
        if (price > s.level[j] + band) if above else (price < s.level[j] - band):
            if s.touches[j] >= 2:
                pools += 1
            levels_remove(s, j)
        else:
            j += 1
    return pools


cdef inline double levels_add(LevelSet* s, double price, long index, double tol,
                              bint is_high) noexcept nogil:
    """Merge ``price`` into the nearest level within ``tol`` (relative) or start a new one;
    return the pool's level if it now has two or more touches, else NaN."""
    cdef Py_ssize_t j, best = -1
    cdef double dist, best_dist = 0.0, ref
    for j in range(s.size):
        dist = price - s.level[j]
        if dist < 0.0:
            dist = -dist
        ref = s.level[j] if s.level[j] > 0.0 else -s.level[j]
        if dist <= tol * ref and (best < 0 or dist < best_dist):
            best = j
            best_dist = dist
    if best >= 0:
        if (price > s.level[best]) if is_high else (price < s.level[best]):
            s.level[best] = price
        s.touches[best] += 1
        s.last[best] = index
        return s.level[best]
    if s.size == s.cap:
        levels_remove(s, 0)
    s.level[s.size] = price
    s.touches[s.size] = 1
    s.first[s.size] = index
    s.last[s.size] = index
    s.size += 1
    return NAN


cdef struct EqualState:
    PivotState pivots
    LevelSet highs
    LevelSet lows
    double tolerance
    double new_high
    double new_low
    long swept_high
    long swept_low


cdef int equal_init(EqualState* s, long left, long right, double tol, long cap) except -1:
    pivot_init(&s.pivots, left, right)
    levels_init(&s.highs, cap)
    levels_init(&s.lows, cap)
    s.tolerance = tol
    equal_clear(s)
    return 0


cdef void equal_clear(EqualState* s) noexcept nogil:
    pivot_clear(&s.pivots)
    s.highs.size = 0
    s.lows.size = 0
    s.new_high = NAN
    s.new_low = NAN
    s.swept_high = 0
    s.swept_low = 0


cdef void equal_free(EqualState* s) noexcept nogil:
    pivot_free(&s.pivots)
    levels_free(&s.highs)
    levels_free(&s.lows)


cdef inline void equal_step(EqualState* s, double high, double low) noexcept nogil:
    s.swept_high = levels_sweep(&s.highs, high, s.tolerance, True)
    s.swept_low = levels_sweep(&s.lows, low, s.tolerance, False)
    pivot_step(&s.pivots, high, low)
    s.new_high = NAN
    s.new_low = NAN
    if s.pivots.new_high == s.pivots.new_high:
        s.new_high = levels_add(&s.highs, s.pivots.new_high, s.pivots.new_high_index,
                                s.tolerance, True)
    if s.pivots.new_low == s.pivots.new_low:
        s.new_low = levels_add(&s.lows, s.pivots.new_low, s.pivots.new_low_index,
                               s.tolerance, False)


@cython.final
cdef class EqualLevels:
    """Equal highs and lows: liquidity pools resting above swing highs / below swing lows.

    Each confirmed swing (see ``Swings``) joins the nearest unswept swing level within
    ``tolerance`` (relative: |p - level| <= tolerance * |level|), which becomes a pool at the
    more extreme price; a level is swept (removed) when a later bar trades beyond it by more
    than the tolerance. At most ``max_levels`` levels per side are kept (oldest dropped). After each update
    ``new_high``/``new_low`` hold the pool formed or extended on that bar (NaN if none),
    ``swept_high``/``swept_low`` how many pools it swept. (Equal highs/lows as resting stop
    liquidity: Osler, "Stop-loss orders and price cascades in currency markets", Journal of
    International Money and Finance 2005.)
    """

    cdef EqualState _s

    def __cinit__(self, left=2, right=2, tolerance=0.001, max_levels=32):
        equal_init(&self._s, to_period("left", left, -1), to_period("right", right, -1),
                   to_number("tolerance", tolerance, 0.0, 1.0),
                   to_period("max_levels", max_levels, -1))

    def __dealloc__(self):
        equal_free(&self._s)

    def reset(self):
        """Forget every bar seen."""
        equal_clear(&self._s)

    @property
    def count(self):
        return self._s.pivots.count

    @property
    def ready(self):
        return self._s.pivots.count >= self._s.pivots.left + self._s.pivots.right + 1

    @property
    def new_high(self):
        return self._s.new_high

    @property
    def new_low(self):
        return self._s.new_low

    @property
    def swept_high(self):
        return self._s.swept_high

    @property
    def swept_low(self):
        return self._s.swept_low

    def pools(self):
        """Unswept pools (two or more touches): rows ``(side, level, touches, first_index,
        last_index)``, side +1 for equal highs, -1 for equal lows; highs first, oldest first."""
        rows = []
        cdef LevelSet* ls
        cdef Py_ssize_t j
        for side in (1, -1):
            ls = &self._s.highs if side == 1 else &self._s.lows
            for j in range(ls.size):
                if ls.touches[j] >= 2:
                    rows.append((side, ls.level[j], ls.touches[j], ls.first[j], ls.last[j]))
        return np.array(rows, dtype=np.float64).reshape(-1, 5)

    def update(self, double high, double low):
        """Add one bar; return 1 if a high pool formed or grew, 2 a low pool, 3 both, else 0."""
        check_bar(high, low)
        equal_step(&self._s, high, low)
        return (1 if self._s.new_high == self._s.new_high else 0) | \
               (2 if self._s.new_low == self._s.new_low else 0)


def equal_levels(high, low, left=2, right=2, tolerance=0.001, max_levels=32):
    """Batch equal highs/lows: ``(eq_high, eq_low, swept_high, swept_low)`` per bar: the pool
    level formed or extended on the bar (NaN if none) and the number of pools swept on it."""
    cdef const double[::1] h = check_series("high", high)
    cdef Py_ssize_t n = h.shape[0], i
    cdef const double[::1] l = series_like("low", low, n)
    check_high_low(h, l)
    cdef EqualState s
    equal_init(&s, to_period("left", left, -1), to_period("right", right, -1),
               to_number("tolerance", tolerance, 0.0, 1.0), to_period("max_levels", max_levels, -1))
    eh_arr = np.empty(n, dtype=np.float64)
    el_arr = np.empty(n, dtype=np.float64)
    sh_arr = np.empty(n, dtype=np.float64)
    sl_arr = np.empty(n, dtype=np.float64)
    cdef double[::1] eh = eh_arr, el = el_arr, sh = sh_arr, sl = sl_arr
    try:
        with nogil:
            for i in range(n):
                equal_step(&s, h[i], l[i])
                eh[i] = s.new_high
                el[i] = s.new_low
                sh[i] = s.swept_high
                sl[i] = s.swept_low
    finally:
        equal_free(&s)
    return eh_arr, el_arr, sh_arr, sl_arr


# ---- premium / discount -----------------------------------------------------------------------

cdef struct RangeState:
    Extremum highest
    Extremum lowest
    long period
    long count
    double value


cdef inline double range_step(RangeState* s, double high, double low, double close) noexcept nogil:
    cdef double hh = extremum_push(&s.highest, high)
    cdef double ll = extremum_push(&s.lowest, low)
    s.count += 1
    if s.count >= s.period:
        s.value = (close - ll) / (hh - ll) if hh > ll else 0.5
    return s.value


@cython.final
cdef class PremiumDiscount:
    """Position of the close within the dealing range of the last ``period`` bars:
    ``(close - lowest low) / (highest high - lowest low)``; above 0.5 is premium, below is
    discount, 0.5 the equilibrium (0.5 when the range is empty). ICT's premium/discount of a
    dealing range; the range is the Donchian channel (Donchian 1960). NaN for ``period - 1``
    bars; O(1) amortised per update. ``update`` returns the position."""

    cdef RangeState _s

    def __cinit__(self, period=50):
        self._s.period = to_period("period", period, -1)
        extremum_init(&self._s.highest, self._s.period, True)
        extremum_init(&self._s.lowest, self._s.period, False)
        self.reset()

    def __dealloc__(self):
        extremum_free(&self._s.highest)
        extremum_free(&self._s.lowest)

    def reset(self):
        """Forget every bar seen."""
        extremum_clear(&self._s.highest)
        extremum_clear(&self._s.lowest)
        self._s.count = 0
        self._s.value = NAN

    @property
    def period(self):
        return self._s.period

    @property
    def count(self):
        return self._s.count

    @property
    def value(self):
        return self._s.value

    @property
    def ready(self):
        return self._s.count >= self._s.period

    def update(self, double high, double low, double close):
        """Add one bar; return the close's position in the range (NaN during warm-up)."""
        check_bar(high, low)
        if not isfinite(close):
            check_finite("close", close)
        return range_step(&self._s, high, low, close)


def premium_discount(high, low, close, period=50):
    """Batch premium/discount position; NaN for the first ``period - 1`` points."""
    cdef const double[::1] h = check_series("high", high)
    cdef Py_ssize_t n = h.shape[0], i
    cdef const double[::1] l = series_like("low", low, n)
    cdef const double[::1] c = series_like("close", close, n)
    check_high_low(h, l)
    cdef RangeState s
    s.period = to_period("period", period, n)
    s.count = 0
    s.value = NAN
    extremum_init(&s.highest, s.period, True)
    extremum_init(&s.lowest, s.period, False)
    out_arr = np.empty(n, dtype=np.float64)
    cdef double[::1] out = out_arr
    try:
        with nogil:
            for i in range(n):
                out[i] = range_step(&s, h[i], l[i], c[i])
    finally:
        extremum_free(&s.highest)
        extremum_free(&s.lowest)
    return out_arr
