# cython: language_level=3, always_allow_keywords=False
"""Trend: ADX with +DI/-DI, Donchian channel. Cython twin of ``native/reference/trend.py``.

Streaming classes and batch functions share one inline step each (bit-identical results).
"""

cimport cython
from libc.math cimport NAN, isfinite
from libc.stdlib cimport free

import numpy as np

from native._args cimport (array_like, as_array, check_bar, check_high_low, check_length,
                           series_like, to_period)
from native._checks cimport check_finite, check_series
from native._window cimport (Extremum, extremum_clear, extremum_free, extremum_init,
                             extremum_push, alloc_doubles)


# ---- ADX --------------------------------------------------------------------------------------

cdef struct AdxState:
    long period
    double keep          # (period - 1) / period
    double inv           # 1 / period
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


cdef inline void adx_init(AdxState* s, long period) noexcept nogil:
    s.period = period
    s.keep = (period - 1.0) / period
    s.inv = 1.0 / period
    adx_clear(s)


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
    """Wilder's true range (TA-Lib TRANGE operand order), branch-free (max/abs compile to
    maxsd/andpd: which range wins is a coin flip for the branch predictor)."""
    cdef double greatest = high - low
    cdef double v = abs(prev_close - high)
    greatest = v if v > greatest else greatest
    v = abs(prev_close - low)
    return v if v > greatest else greatest


cdef inline void adx_step(AdxState* s, double high, double low, double close) noexcept nogil:
    cdef double diff_p, diff_m, tr, dm_p, dm_m, mdi, pdi, total, dx
    cdef bint is_m, is_p
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
    # Wilder's directional movement: the larger move counts, if it is positive
    is_m = (diff_m > 0.0) & (diff_p < diff_m)
    is_p = (not is_m) & (diff_p > 0.0) & (diff_p > diff_m)
    dm_m = diff_m if is_m else 0.0
    dm_p = diff_p if is_p else 0.0
    if s.count <= p:
        # the first period - 1 moves are summed (TA-Lib), smoothing starts with the next
        s.minus_dm += dm_m
        s.plus_dm += dm_p
        s.tr += tr
        return
    s.minus_dm = s.minus_dm * s.keep + dm_m
    s.plus_dm = s.plus_dm * s.keep + dm_p
    s.tr = s.tr * s.keep + tr
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
                s.adx = s.adx * s.keep + dx * s.inv
    else:
        s.minus_di = 0.0
        s.plus_di = 0.0
    if s.count == 2 * p:
        s.adx = s.sum_dx / p


@cython.final
cdef class ADX:
    """Average Directional Index with +DI and -DI, O(1) per update (Wilder 1978; TA-Lib).

    Directional movement and true range are Wilder-smoothed (TA-Lib: the first ``period - 1``
    moves summed, then ``s = s * (period - 1) / period + new``); DX = 100 * |+DI - -DI| / (+DI + -DI);
    ADX = mean of the first ``period`` DX, then Wilder-smoothed. +DI/-DI are NaN for the first
    ``period`` bars, ADX for the first ``2 * period - 1``. TA-Lib treats |x| < 1e-8 as zero;
    here only an exact zero range is (so low-priced assets work). ``update`` returns ADX.
    """

    cdef AdxState _s

    def __cinit__(self, period=14):
        adx_init(&self._s, to_period("period", period, -1, 2))

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


cdef double adx_into(const double* h, const double* l, const double* c, Py_ssize_t n, long p,
                     double* a, double* pdi, double* mdi) noexcept nogil:
    """Batch ADX (``ADX.update``'s operations); returns the check sum."""
    cdef Py_ssize_t i
    cdef double vh, vl, vc, chk = 0.0
    cdef AdxState s
    adx_init(&s, p)
    for i in range(n):
        vh = h[i]
        vl = l[i]
        vc = c[i]
        chk += (vh - vh) + (vl - vl) + (vc - vc) + (vl - vh if vl > vh else 0.0)
        adx_step(&s, vh, vl, vc)
        a[i] = s.adx
        pdi[i] = s.plus_di
        mdi[i] = s.minus_di
    return chk


def adx(high, low, close, period=14):
    """Batch ADX (Wilder, TA-Lib conventions): ``(adx, plus_di, minus_di)``; ADX is NaN for
    the first ``2 * period - 1`` points, the DIs for the first ``period``."""
    h_arr = as_array("high", high)
    cdef Py_ssize_t n = h_arr.shape[0]
    l_arr = array_like("low", low, n)
    c_arr = array_like("close", close, n)
    cdef const double[::1] h = h_arr, l = l_arr, c = c_arr
    cdef long p = to_period("period", period, n, 2)
    cdef double chk
    check_length("high", n, 2 * p, "2 * period")
    adx_arr = np.empty(n, dtype=np.float64)
    pdi_arr = np.empty(n, dtype=np.float64)
    mdi_arr = np.empty(n, dtype=np.float64)
    cdef double[::1] a = adx_arr, pdi = pdi_arr, mdi = mdi_arr
    with nogil:
        chk = adx_into(&h[0], &l[0], &c[0], n, p, &a[0], &pdi[0], &mdi[0])
    if chk != 0.0:
        check_series("high", h_arr)
        check_series("low", l_arr)
        check_series("close", c_arr)
        check_high_low(h, l)
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


cdef double donchian_into(const double* high, const double* low, Py_ssize_t n, Py_ssize_t p,
                          double* up, double* mid, double* lo, double* tmp) noexcept nogil:
    """Batch channel in one sweep of blocks (van Herk / Gil-Werman, as
    ``native._window.rolling_range_into``), the midpoint and the input check fused in.
    Returns the check sum: 0 unless an input is NaN/inf or a bar is inverted."""
    cdef Py_ssize_t b = 0, i, end, stop
    cdef double mh, ml, vh, vl, chk = 0.0
    cdef double* th = tmp
    cdef double* tl = tmp + p
    while b < n:
        end = b + p if b + p < n else n
        mh = high[b]
        ml = low[b]
        chk += (mh - mh) + (ml - ml) + (ml - mh if ml > mh else 0.0)
        up[b] = mh
        lo[b] = ml
        for i in range(b + 1, end):
            vh = high[i]
            vl = low[i]
            chk += (vh - vh) + (vl - vl) + (vl - vh if vl > vh else 0.0)
            mh = vh if vh > mh else mh
            ml = vl if vl < ml else ml
            up[i] = mh
            lo[i] = ml
        if b > 0:
            stop = b + p - 1 if b + p - 1 < end else end
            for i in range(b, stop):
                vh = th[i - b + 1]
                vl = tl[i - b + 1]
                up[i] = vh if vh > up[i] else up[i]
                lo[i] = vl if vl < lo[i] else lo[i]
        for i in range(b, end):
            mid[i] = (up[i] + lo[i]) / 2.0
        if end - b == p:
            mh = high[end - 1]
            ml = low[end - 1]
            th[p - 1] = mh
            tl[p - 1] = ml
            for i in range(end - 2, b - 1, -1):
                vh = high[i]
                vl = low[i]
                mh = vh if vh > mh else mh
                ml = vl if vl < ml else ml
                th[i - b] = mh
                tl[i - b] = ml
        b = end
    for i in range(p - 1 if p - 1 < n else n):
        up[i] = NAN
        mid[i] = NAN
        lo[i] = NAN
    return chk


def donchian(high, low, period=20):
    """Batch Donchian channel: ``(upper, middle, lower)``, NaN for the first ``period - 1``."""
    h_arr = as_array("high", high)
    cdef Py_ssize_t n = h_arr.shape[0]
    l_arr = array_like("low", low, n)
    cdef const double[::1] h = h_arr, l = l_arr
    cdef long p = to_period("period", period, n)
    cdef double chk
    up_arr = np.empty(n, dtype=np.float64)
    mid_arr = np.empty(n, dtype=np.float64)
    lo_arr = np.empty(n, dtype=np.float64)
    cdef double[::1] up = up_arr, mid = mid_arr, lo = lo_arr
    cdef double* tmp = alloc_doubles(2 * p)
    with nogil:
        chk = donchian_into(&h[0], &l[0], n, p, &up[0], &mid[0], &lo[0], tmp)
        free(tmp)
    if chk != 0.0:
        check_series("high", h_arr)
        check_series("low", l_arr)
        check_high_low(h, l)
    return up_arr, mid_arr, lo_arr
