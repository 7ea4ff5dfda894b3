# cython: language_level=3, always_allow_keywords=False
"""Trend: ADX with +DI/-DI, Donchian channel. Cython twin of ``native/reference/trend.py``.

Streaming classes and batch functions share one inline step each (bit-identical results).
"""

cimport cython
from libc.math cimport NAN, isfinite

import numpy as np

from native._args cimport check_bar, check_high_low, check_length, series_like, to_period
from native._checks cimport check_finite, check_series
from native._window cimport (Extremum, extremum_clear, extremum_free, extremum_init,
                             extremum_push)


# ---- ADX --------------------------------------------------------------------------------------

cdef struct AdxState:
    long period
    long count
    double prev_high
    double prev_low
    double prev_close
    double plus_dm
    double minus_dm
    double tr
    double sum_dx
    double adx
    double plus_di
    double minus_di


cdef inline void adx_clear(AdxState* s) noexcept nogil:
    s.count = 0
    s.prev_high = 0.0
    s.prev_low = 0.0
    s.prev_close = 0.0
    s.plus_dm = 0.0
    s.minus_dm = 0.0
    s.tr = 0.0
    s.sum_dx = 0.0
    s.adx = NAN
    s.plus_di = NAN
    s.minus_di = NAN


cdef inline double adx_true_range(double high, double low, double prev_close) noexcept nogil:
    cdef double greatest = high - low
    cdef double v = prev_close - high
    if v < 0.0:
        v = -v
    if v > greatest:
        greatest = v
    v = prev_close - low
    if v < 0.0:
        v = -v
    if v > greatest:
        greatest = v
    return greatest


cdef inline void adx_step(AdxState* s, double high, double low, double close) noexcept nogil:
    cdef double diff_p, diff_m, tr, mdi, pdi, total, dx
    cdef long p = s.period
    s.count += 1
    if s.count == 1:
        s.prev_high = high
        s.prev_low = low
        s.prev_close = close
        return
    diff_p = high - s.prev_high
    diff_m = s.prev_low - low
    s.prev_high = high
    s.prev_low = low
    tr = adx_true_range(high, low, s.prev_close)
    s.prev_close = close
    if s.count <= p:
        # the first period - 1 moves are summed (TA-Lib), smoothing starts with the next
        if diff_m > 0.0 and diff_p < diff_m:
            s.minus_dm += diff_m
        elif diff_p > 0.0 and diff_p > diff_m:
            s.plus_dm += diff_p
        s.tr += tr
        return
    s.minus_dm -= s.minus_dm / p
    s.plus_dm -= s.plus_dm / p
    if diff_m > 0.0 and diff_p < diff_m:
        s.minus_dm += diff_m
    elif diff_p > 0.0 and diff_p > diff_m:
        s.plus_dm += diff_p
    s.tr = s.tr - (s.tr / p) + tr
    if s.tr != 0.0:
        mdi = 100.0 * (s.minus_dm / s.tr)
        pdi = 100.0 * (s.plus_dm / s.tr)
        s.minus_di = mdi
        s.plus_di = pdi
        total = mdi + pdi
        if total != 0.0:
            dx = 100.0 * (abs(mdi - pdi) / total)
            if s.count <= 2 * p:
                s.sum_dx += dx
            else:
                s.adx = ((s.adx * (p - 1)) + dx) / p
    else:
        s.minus_di = 0.0
        s.plus_di = 0.0
    if s.count == 2 * p:
        s.adx = s.sum_dx / p


@cython.final
cdef class ADX:
    """Average Directional Index with +DI and -DI, O(1) per update (Wilder 1978; TA-Lib).

    Directional movement and true range are Wilder-smoothed (TA-Lib: the first ``period - 1``
    moves summed, then ``s = s - s / period + new``); DX = 100 * |+DI - -DI| / (+DI + -DI);
    ADX = mean of the first ``period`` DX, then Wilder-smoothed. +DI/-DI are NaN for the first
    ``period`` bars, ADX for the first ``2 * period - 1``. TA-Lib treats |x| < 1e-8 as zero;
    here only an exact zero range is (so low-priced assets work). ``update`` returns ADX.
    """

    cdef AdxState _s

    def __cinit__(self, period=14):
        self._s.period = to_period("period", period, -1, 2)
        adx_clear(&self._s)

    def reset(self):
        """Forget every bar seen."""
        adx_clear(&self._s)

    @property
    def period(self):
        return self._s.period

    @property
    def count(self):
        return self._s.count

    @property
    def adx(self):
        return self._s.adx

    @property
    def plus_di(self):
        return self._s.plus_di

    @property
    def minus_di(self):
        return self._s.minus_di

    @property
    def value(self):
        return self._s.adx

    @property
    def ready(self):
        return self._s.count >= 2 * self._s.period

    def update(self, double high, double low, double close):
        """Add one bar; return ADX (NaN during warm-up)."""
        check_bar(high, low)
        if not isfinite(close):
            check_finite("close", close)
        adx_step(&self._s, high, low, close)
        return self._s.adx


def adx(high, low, close, period=14):
    """Batch ADX (Wilder, TA-Lib conventions): ``(adx, plus_di, minus_di)``; ADX is NaN for
    the first ``2 * period - 1`` points, the DIs for the first ``period``."""
    cdef const double[::1] h = check_series("high", high)
    cdef Py_ssize_t n = h.shape[0], i
    cdef const double[::1] l = series_like("low", low, n)
    cdef const double[::1] c = series_like("close", close, n)
    check_high_low(h, l)
    cdef AdxState s
    s.period = to_period("period", period, n, 2)
    check_length("high", n, 2 * s.period, "2 * period")
    adx_clear(&s)
    adx_arr = np.empty(n, dtype=np.float64)
    pdi_arr = np.empty(n, dtype=np.float64)
    mdi_arr = np.empty(n, dtype=np.float64)
    cdef double[::1] a = adx_arr, pdi = pdi_arr, mdi = mdi_arr
    with nogil:
        for i in range(n):
            adx_step(&s, h[i], l[i], c[i])
            a[i] = s.adx
            pdi[i] = s.plus_di
            mdi[i] = s.minus_di
    return adx_arr, pdi_arr, mdi_arr


# ---- Donchian ---------------------------------------------------------------------------------

cdef struct DonchianState:
    Extremum highest
    Extremum lowest
    long period
    long count
    double upper
    double lower
    double middle


cdef inline int donchian_init(DonchianState* s, long period) except -1:
    extremum_init(&s.highest, period, True)
    extremum_init(&s.lowest, period, False)
    s.period = period
    donchian_clear(s)
    return 0


cdef inline void donchian_clear(DonchianState* s) noexcept nogil:
    extremum_clear(&s.highest)
    extremum_clear(&s.lowest)
    s.count = 0
    s.upper = NAN
    s.lower = NAN
    s.middle = NAN


cdef inline void donchian_free(DonchianState* s) noexcept nogil:
    extremum_free(&s.highest)
    extremum_free(&s.lowest)


cdef inline void donchian_step(DonchianState* s, double high, double low) noexcept nogil:
    cdef double hh = extremum_push(&s.highest, high)
    cdef double ll = extremum_push(&s.lowest, low)
    s.count += 1
    if s.count >= s.period:
        s.upper = hh
        s.lower = ll
        s.middle = (hh + ll) / 2.0


@cython.final
cdef class Donchian:
    """Donchian channel, O(1) amortised per update (Donchian, "High finance in copper",
    Financial Analysts Journal 1960): highest high and lowest low of the last ``period`` bars
    (the current one included; TA-Lib MAX/MIN) and their midpoint. NaN for ``period - 1``
    bars. ``update`` returns the middle."""

    cdef DonchianState _s

    def __cinit__(self, period=20):
        donchian_init(&self._s, to_period("period", period, -1))

    def __dealloc__(self):
        donchian_free(&self._s)

    def reset(self):
        """Forget every bar seen."""
        donchian_clear(&self._s)

    @property
    def period(self):
        return self._s.period

    @property
    def count(self):
        return self._s.count

    @property
    def upper(self):
        return self._s.upper

    @property
    def lower(self):
        return self._s.lower

    @property
    def middle(self):
        return self._s.middle

    @property
    def value(self):
        return self._s.middle

    @property
    def ready(self):
        return self._s.count >= self._s.period

    def update(self, double high, double low):
        """Add one bar; return the channel middle (NaN during warm-up)."""
        check_bar(high, low)
        donchian_step(&self._s, high, low)
        return self._s.middle


def donchian(high, low, period=20):
    """Batch Donchian channel: ``(upper, middle, lower)``, NaN for the first ``period - 1``."""
    cdef const double[::1] h = check_series("high", high)
    cdef Py_ssize_t n = h.shape[0], i
    cdef const double[::1] l = series_like("low", low, n)
    check_high_low(h, l)
    cdef DonchianState s
    donchian_init(&s, to_period("period", period, n))
    up_arr = np.empty(n, dtype=np.float64)
    mid_arr = np.empty(n, dtype=np.float64)
    lo_arr = np.empty(n, dtype=np.float64)
    cdef double[::1] up = up_arr, mid = mid_arr, lo = lo_arr
    try:
        with nogil:
            for i in range(n):
                donchian_step(&s, h[i], l[i])
                up[i] = s.upper
                mid[i] = s.middle
                lo[i] = s.lower
    finally:
        donchian_free(&s)
    return up_arr, mid_arr, lo_arr
