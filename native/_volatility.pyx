# cython: language_level=3, always_allow_keywords=False
"""Volatility: Bollinger Bands, ATR, rolling standard deviation and z-score, realised
volatility. Cython twin of ``native/reference/volatility.py``.

Streaming classes and batch functions call one inline step each, so they agree to the last
bit. Standard deviations are population (divide by n), as TA-Lib and Bollinger use.
"""

cimport cython
from libc.math cimport NAN, isfinite, log, sqrt

import numpy as np

from native._args cimport (array_like, as_array, check_bar, check_high_low, check_length,
                           series_like, to_number, to_period)
from native._checks cimport check_finite, check_series
from native._bands cimport BandsState, bands_clear, bands_step
from native._window cimport (Moments, RollingSum, moments_clear, moments_init, moments_push,
                             moments_variance, ring_free, rsum_clear, rsum_init, rsum_push)


# ---- Bollinger Bands --------------------------------------------------------------------------

@cython.final
cdef class BollingerBands:
    """Bollinger Bands, O(1) per update (Bollinger, *Bollinger on Bollinger Bands*, 2001).

    middle = SMA(period) (exactly ``native.average.SMA``); upper/lower = middle +/- nbdev *
    population stdev of the same window (TA-Lib's BBANDS with matype SMA); bandwidth =
    (upper - lower) / middle (NaN when middle is 0). NaN for the first ``period - 1`` values.
    ``update`` returns the middle band.
    """

    cdef BandsState _s

    def __cinit__(self, period=20, nbdev_up=2.0, nbdev_dn=2.0):
        moments_init(&self._s.m, to_period("period", period, -1))
        self._s.nbdev_up = to_number("nbdev_up", nbdev_up, 0.0, 1e6)
        self._s.nbdev_dn = to_number("nbdev_dn", nbdev_dn, 0.0, 1e6)
        bands_clear(&self._s)

    def __dealloc__(self):
        ring_free(&self._s.m.ring)

    def reset(self):
        """Forget every value seen."""
        bands_clear(&self._s)

    @property
    def period(self):
        return self._s.m.ring.size

    @property
    def count(self):
        return self._s.m.ring.count

    @property
    def ready(self):
        return self._s.m.ring.count >= self._s.m.ring.size

    @property
    def middle(self):
        return self._s.middle

    @property
    def upper(self):
        return self._s.upper

    @property
    def lower(self):
        return self._s.lower

    @property
    def bandwidth(self):
        return self._s.bandwidth

    @property
    def value(self):
        return self._s.middle

    def update(self, double x):
        """Add one price; return the middle band (NaN during warm-up)."""
        if not isfinite(x):
            check_finite("x", x)
        bands_step(&self._s, x)
        return self._s.middle


cdef double bbands_into(BandsState* s, const double* x, Py_ssize_t n, double* up, double* mid,
                        double* lo, double* bw) noexcept nogil:
    """Batch Bollinger Bands (``BollingerBands.update``'s operations); returns the check sum."""
    cdef Py_ssize_t i
    cdef double v, chk = 0.0
    for i in range(n):
        v = x[i]
        chk += v - v
        bands_step(s, v)
        up[i] = s.upper
        mid[i] = s.middle
        lo[i] = s.lower
        bw[i] = s.bandwidth
    return chk


def bbands(values, period=20, nbdev_up=2.0, nbdev_dn=2.0):
    """Batch Bollinger Bands: ``(upper, middle, lower, bandwidth)`` (TA-Lib's order, plus
    bandwidth), NaN for the first ``period - 1`` points; population stdev as TA-Lib."""
    arr = as_array("values", values)
    cdef const double[::1] x = arr
    cdef Py_ssize_t n = x.shape[0]
    cdef BandsState s
    cdef double chk
    cdef long p = to_period("period", period, n)
    s.nbdev_up = to_number("nbdev_up", nbdev_up, 0.0, 1e6)
    s.nbdev_dn = to_number("nbdev_dn", nbdev_dn, 0.0, 1e6)
    moments_init(&s.m, p)
    bands_clear(&s)
    up_arr = np.empty(n, dtype=np.float64)
    mid_arr = np.empty(n, dtype=np.float64)
    lo_arr = np.empty(n, dtype=np.float64)
    bw_arr = np.empty(n, dtype=np.float64)
    cdef double[::1] up = up_arr, mid = mid_arr, lo = lo_arr, bw = bw_arr
    try:
        with nogil:
            chk = bbands_into(&s, &x[0], n, &up[0], &mid[0], &lo[0], &bw[0])
    finally:
        ring_free(&s.m.ring)
    if chk != 0.0:
        check_series("values", arr)
    return up_arr, mid_arr, lo_arr, bw_arr


# ---- rolling standard deviation and z-score ---------------------------------------------------

cdef inline double zscore_of(Moments* m, double x) noexcept nogil:
    cdef double sd = sqrt(moments_variance(m))
    return (x - m.mean) / sd if sd != 0.0 else 0.0


@cython.final
cdef class StdDev:
    """Rolling population standard deviation, O(1) per update; NaN for ``period - 1`` values.

    Shifted sums re-anchored every ~1024 values (see ``native/_window.pxd``): no cancellation
    at high price levels, unlike TA-Lib's ``E[x^2] - E[x]^2``.
    """

    cdef Moments _m
    cdef readonly double value

    def __cinit__(self, period=20):
        moments_init(&self._m, to_period("period", period, -1))
        self.value = NAN

    def __dealloc__(self):
        ring_free(&self._m.ring)

    def reset(self):
        """Forget every value seen."""
        moments_clear(&self._m)
        self.value = NAN

    @property
    def period(self):
        return self._m.ring.size

    @property
    def count(self):
        return self._m.ring.count

    @property
    def ready(self):
        return self._m.ring.count >= self._m.ring.size

    def update(self, double x):
        """Add one value; return the standard deviation of the window (NaN during warm-up)."""
        if not isfinite(x):
            check_finite("x", x)
        moments_push(&self._m, x)
        if self._m.ring.count >= self._m.ring.size:
            self.value = sqrt(moments_variance(&self._m))
        return self.value


cdef double stddev_into(Moments* m, const double* x, Py_ssize_t n, long p,
                        double* out) noexcept nogil:
    cdef Py_ssize_t i
    cdef double v, chk = 0.0
    for i in range(n):
        v = x[i]
        chk += v - v
        moments_push(m, v)
        out[i] = sqrt(moments_variance(m)) if m.ring.count >= p else NAN
    return chk


def stddev(values, period=20):
    """Batch rolling population standard deviation; NaN for the first ``period - 1`` points."""
    arr = as_array("values", values)
    cdef const double[::1] x = arr
    cdef Py_ssize_t n = x.shape[0]
    cdef long p = to_period("period", period, n)
    cdef double chk
    cdef Moments m
    moments_init(&m, p)
    out_arr = np.empty(n, dtype=np.float64)
    cdef double[::1] out = out_arr
    try:
        with nogil:
            chk = stddev_into(&m, &x[0], n, p, &out[0])
    finally:
        ring_free(&m.ring)
    if chk != 0.0:
        check_series("values", arr)
    return out_arr


@cython.final
cdef class ZScore:
    """Rolling z-score ``(x - mean) / stdev`` over the last ``period`` values (the latest
    included), O(1) per update; 0 when the window is flat; NaN for ``period - 1`` values."""

    cdef Moments _m
    cdef readonly double value

    def __cinit__(self, period=20):
        moments_init(&self._m, to_period("period", period, -1))
        self.value = NAN

    def __dealloc__(self):
        ring_free(&self._m.ring)

    def reset(self):
        """Forget every value seen."""
        moments_clear(&self._m)
        self.value = NAN

    @property
    def period(self):
        return self._m.ring.size

    @property
    def count(self):
        return self._m.ring.count

    @property
    def ready(self):
        return self._m.ring.count >= self._m.ring.size

    def update(self, double x):
        """Add one value; return its z-score within the window (NaN during warm-up)."""
        if not isfinite(x):
            check_finite("x", x)
        moments_push(&self._m, x)
        if self._m.ring.count >= self._m.ring.size:
            self.value = zscore_of(&self._m, x)
        return self.value


cdef double zscore_into(Moments* m, const double* x, Py_ssize_t n, long p,
                        double* out) noexcept nogil:
    cdef Py_ssize_t i
    cdef double v, chk = 0.0
    for i in range(n):
        v = x[i]
        chk += v - v
        moments_push(m, v)
        out[i] = zscore_of(m, v) if m.ring.count >= p else NAN
    return chk


def zscore(values, period=20):
    """Batch rolling z-score; NaN for the first ``period - 1`` points, 0 where flat."""
    arr = as_array("values", values)
    cdef const double[::1] x = arr
    cdef Py_ssize_t n = x.shape[0]
    cdef long p = to_period("period", period, n)
    cdef double chk
    cdef Moments m
    moments_init(&m, p)
    out_arr = np.empty(n, dtype=np.float64)
    cdef double[::1] out = out_arr
    try:
        with nogil:
            chk = zscore_into(&m, &x[0], n, p, &out[0])
    finally:
        ring_free(&m.ring)
    if chk != 0.0:
        check_series("values", arr)
    return out_arr


# ---- ATR --------------------------------------------------------------------------------------

cdef struct AtrState:
    long period
    double keep          # (period - 1) / period
    double keep2         # keep * keep
    double inv           # 1 / period
    long count
    double prev_close
    double total
    double anchor        # the ATR after the last even step since the seed
    double pending       # tr / period of the odd step in between
    double value


cdef inline void atr_init(AtrState* s, long period) noexcept nogil:
    s.period = period
    s.keep = (period - 1.0) / period
    s.keep2 = s.keep * s.keep
    s.inv = 1.0 / period
    atr_clear(s)


cdef inline void atr_clear(AtrState* s) noexcept nogil:
    s.count = 0
    s.prev_close = 0.0
    s.total = 0.0
    s.anchor = 0.0
    s.pending = 0.0
    s.value = NAN


cdef inline double true_range(double high, double low, double prev_close) noexcept nogil:
    """Wilder's true range (TA-Lib TRANGE operand order), branch-free (max/abs compile to
    maxsd/andpd: which range wins is a coin flip for the branch predictor)."""
    cdef double greatest = high - low
    cdef double v = abs(prev_close - high)
    greatest = v if v > greatest else greatest
    v = abs(prev_close - low)
    return v if v > greatest else greatest


cdef inline double atr_step(AtrState* s, double high, double low, double close) noexcept nogil:
    cdef double c
    s.count += 1
    if s.count > 1:
        if s.count <= s.period + 1:
            s.total += true_range(high, low, s.prev_close)
            if s.count == s.period + 1:
                s.value = s.total / s.period
                s.anchor = s.value
        else:
            # Wilder: atr = atr * k + tr / n, taken two steps at a time on the dependency
            # chain (anchor * k^2 + ...), the step in between computed off it
            c = true_range(high, low, s.prev_close) * s.inv
            if (s.count - s.period) & 1 == 0:
                s.value = s.anchor * s.keep + c
                s.pending = c
            else:
                s.anchor = s.anchor * s.keep2 + (s.pending * s.keep + c)
                s.value = s.anchor
    s.prev_close = close
    return s.value


@cython.final
cdef class ATR:
    """Average True Range with Wilder smoothing, O(1) per update (Wilder 1978; TA-Lib).

    The first ATR is the mean of the first ``period`` true ranges (the first bar has none),
    then ``atr = atr * k + tr / period`` with ``k = (period - 1) / period``, evaluated two bars
    at a time (``atr * k^2 + (tr1 / period * k + tr2 / period)``) so the dependency chain is
    half as long; the bar in between is ``atr * k + tr1 / period``. NaN for the first ``period`` bars.
    """

    cdef AtrState _s

    def __cinit__(self, period=14):
        atr_init(&self._s, to_period("period", period, -1))

    def reset(self):
        """Forget every bar seen."""
        atr_clear(&self._s)

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
        return self._s.count > self._s.period

    def update(self, double high, double low, double close):
        """Add one bar; return the ATR (NaN during warm-up)."""
        check_bar(high, low)
        if not isfinite(close):
            check_finite("close", close)
        return atr_step(&self._s, high, low, close)


cdef double atr_into(const double* h, const double* l, const double* c, Py_ssize_t n, long p,
                     double* out) noexcept nogil:
    """Batch ATR: the operations of ``atr_step`` (bit for bit), laid out as straight loops.
    Returns the check sum: 0 unless an input is NaN/inf or a bar is inverted."""
    cdef AtrState s
    cdef Py_ssize_t i
    cdef double d, chk = 0.0, chk2 = 0.0, c1, c2, total = 0.0, anchor
    atr_init(&s, p)
    d = h[0] - l[0]
    chk += (d - d) + (c[0] - c[0]) + (d if d < 0.0 else 0.0)
    out[0] = NAN
    for i in range(1, p + 1):
        d = h[i] - l[i]
        chk += (d - d) + (c[i] - c[i]) + (d if d < 0.0 else 0.0)
        total += true_range(h[i], l[i], c[i - 1])
        out[i] = NAN
    anchor = total / p
    out[p] = anchor
    i = p + 1
    while i + 1 < n:
        # two check sums, so neither becomes the loop's dependency chain
        d = h[i] - l[i]
        chk += (d - d) + (c[i] - c[i]) + (d if d < 0.0 else 0.0)
        d = h[i + 1] - l[i + 1]
        chk2 += (d - d) + (c[i + 1] - c[i + 1]) + (d if d < 0.0 else 0.0)
        c1 = true_range(h[i], l[i], c[i - 1]) * s.inv
        c2 = true_range(h[i + 1], l[i + 1], c[i]) * s.inv
        out[i] = anchor * s.keep + c1
        anchor = anchor * s.keep2 + (c1 * s.keep + c2)
        out[i + 1] = anchor
        i += 2
    if i < n:
        d = h[i] - l[i]
        chk += (d - d) + (c[i] - c[i]) + (d if d < 0.0 else 0.0)
        out[i] = anchor * s.keep + true_range(h[i], l[i], c[i - 1]) * s.inv
    chk += chk2
    return chk


def atr(high, low, close, period=14):
    """Batch ATR (Wilder, TA-Lib conventions): NaN for the first ``period`` points."""
    h_arr = as_array("high", high)
    cdef Py_ssize_t n = h_arr.shape[0]
    l_arr = array_like("low", low, n)
    c_arr = array_like("close", close, n)
    cdef const double[::1] h = h_arr, l = l_arr, c = c_arr
    cdef long p = to_period("period", period, n)
    cdef double chk
    check_length("high", n, p + 1, "period + 1")
    out_arr = np.empty(n, dtype=np.float64)
    cdef double[::1] out = out_arr
    with nogil:
        chk = atr_into(&h[0], &l[0], &c[0], n, p, &out[0])
    if chk != 0.0:
        check_series("high", h_arr)
        check_series("low", l_arr)
        check_series("close", c_arr)
        check_high_low(h, l)
    return out_arr


# ---- realised volatility ----------------------------------------------------------------------

cdef struct RealizedState:
    RollingSum sq
    double scale         # 1, or periods_per_year / period
    double prev
    long count
    double value


cdef inline void realized_clear(RealizedState* s) noexcept nogil:
    rsum_clear(&s.sq)
    s.prev = 0.0
    s.count = 0
    s.value = NAN


cdef inline double realized_step(RealizedState* s, double price) noexcept nogil:
    cdef double r, total
    s.count += 1
    if s.count > 1:
        r = log(price / s.prev)
        total = rsum_push(&s.sq, r * r)
        if s.sq.ring.count >= s.sq.ring.size:
            if total < 0.0:
                total = 0.0
            s.value = sqrt(total * s.scale)
    s.prev = price
    return s.value


cdef int check_price(double price) except -1:
    if not (price > 0.0) or not isfinite(price):
        raise ValueError(f"x: price must be finite and > 0, got {price!r}")
    return 0


cdef double realized_scale(long period, object periods_per_year) except? -1.0:
    cdef double ppy = to_number("periods_per_year", periods_per_year, 0.0, 1e12)
    return 1.0 if ppy == 0.0 else ppy / period


@cython.final
cdef class RealizedVolatility:
    """Realised volatility over the last ``period`` log returns, O(1) per update.

    ``sqrt(sum r^2)`` (Andersen & Bollerslev, "Answering the skeptics", Int. Econ. Review
    1998); with ``periods_per_year`` > 0 it is annualised: ``sqrt(sum r^2 * ppy / period)``.
    The sum is re-added exactly every ~1024 values. NaN for the first ``period`` prices.
    """

    cdef RealizedState _s

    def __cinit__(self, period=30, periods_per_year=0.0):
        cdef long p = to_period("period", period, -1)
        rsum_init(&self._s.sq, p)
        self._s.scale = realized_scale(p, periods_per_year)
        realized_clear(&self._s)

    def __dealloc__(self):
        ring_free(&self._s.sq.ring)

    def reset(self):
        """Forget every price seen."""
        realized_clear(&self._s)

    @property
    def period(self):
        return self._s.sq.ring.size

    @property
    def count(self):
        return self._s.count

    @property
    def value(self):
        return self._s.value

    @property
    def ready(self):
        return self._s.count > self._s.sq.ring.size

    def update(self, double x):
        """Add one price (> 0); return the realised volatility (NaN during warm-up)."""
        check_price(x)
        return realized_step(&self._s, x)


def realized_volatility(values, period=30, periods_per_year=0.0):
    """Batch realised volatility of prices ``values``; NaN for the first ``period`` points."""
    cdef const double[::1] x = check_series("values", values)
    cdef Py_ssize_t n = x.shape[0], i
    cdef long p = to_period("period", period, n)
    check_length("values", n, p + 1, "period + 1")
    for i in range(n):
        if not x[i] > 0.0:
            raise ValueError(f"values: price must be > 0, got {x[i]!r} at index {i}")
    cdef RealizedState s
    s.scale = realized_scale(p, periods_per_year)
    rsum_init(&s.sq, p)
    realized_clear(&s)
    out_arr = np.empty(n, dtype=np.float64)
    cdef double[::1] out = out_arr
    try:
        with nogil:
            for i in range(n):
                out[i] = realized_step(&s, x[i])
    finally:
        ring_free(&s.sq.ring)
    return out_arr
