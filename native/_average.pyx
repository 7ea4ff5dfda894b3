# cython: language_level=3, always_allow_keywords=False
"""Moving averages (SMA, EMA, WMA) in Cython; twin of ``native/reference/average.py``.

TA-Lib conventions: the first value at index ``period - 1`` (NaN before); EMA uses
``alpha = 2 / (period + 1)`` seeded with the SMA of the first ``period`` values; WMA weights
1..n. Carried sums are recomputed from the window every ~1024 values, so rounding drift is
bounded (TA-Lib's carried WMA sum drifts 1e-4 over 1 M BTC prices). Each update keeps a
single add or multiply-add on the dependency chain, which is what makes the batch loops
faster than TA-Lib's. Streaming and batch do the same operations in the same order, so they
agree to the last bit.

``update`` takes one positional float and is compiled as METH_O
(``always_allow_keywords=False``): a Python loop pays one C call and one float box per update.
"""

cimport cython
from libc.math cimport NAN, isfinite

import numpy as np

from native._args cimport as_array, to_period
from native._checks cimport check_finite, check_series
from native._window cimport (EmaState, Ring, SmaState, ema_init, ema_step, resum_every, ring_clear,
                             ring_free, ring_init, ring_oldest, ring_push, sma_clear, sma_init,
                             sma_step)


# ---- SMA --------------------------------------------------------------------------------------

@cython.final
cdef class SMA:
    """Simple moving average, O(1) per update: a running sum of the window (re-summed every
    ~1024 values) times ``1 / period``. NaN until ``period`` values have been seen."""

    cdef SmaState _s
    cdef readonly int period
    cdef readonly long count

    def __cinit__(self, period):
        self.period = to_period("period", period, -1)
        sma_init(&self._s, self.period)
        self.count = 0

    def __dealloc__(self):
        ring_free(&self._s.ring)

    def reset(self):
        """Forget every value seen."""
        sma_clear(&self._s)
        self.count = 0

    @property
    def value(self):
        return self._s.value

    @property
    def ready(self):
        return self.count >= self.period

    def update(self, double x):
        """Add one value; return the average (NaN during warm-up)."""
        if not isfinite(x):
            check_finite("x", x)
        self.count += 1
        return sma_step(&self._s, x)


cdef double sma_into(const double* x, Py_ssize_t n, long p, double* out) noexcept nogil:
    """Batch SMA into ``out``: the operations of ``SMA.update``, in order, split so the main
    loop has no warm-up branch (``until`` cannot reach 0 before index ``every - 1``).
    Returns the check sum: 0 unless an input is NaN/inf."""
    cdef Py_ssize_t i, j
    cdef double total = 0.0, inv = 1.0 / p, v, chk = 0.0
    cdef long every = resum_every(p), until = every - p
    for i in range(p):
        v = x[i]
        chk += v - v
        total += v
        out[i] = NAN
    if until == 0:
        until = every
        total = 0.0
        for j in range(p):
            total += x[j]
    out[p - 1] = total * inv
    for i in range(p, n):
        v = x[i]
        chk += v - v
        total += v - x[i - p]
        until -= 1
        if until == 0:
            until = every
            total = 0.0
            for j in range(i - p + 1, i + 1):
                total += x[j]
        out[i] = total * inv
    return chk


def sma(values, period):
    """Batch SMA: NaN for the first ``period - 1`` points, then the mean of the last
    ``period`` (TA-Lib's lookback)."""
    arr = as_array("values", values)
    cdef const double[::1] x = arr
    cdef Py_ssize_t n = x.shape[0]
    cdef long p = to_period("period", period, n)
    out_arr = np.empty(n, dtype=np.float64)
    cdef double[::1] out = out_arr
    cdef double chk
    with nogil:
        chk = sma_into(&x[0], n, p, &out[0])
    if chk != 0.0:
        check_series("values", arr)
    return out_arr


# ---- EMA --------------------------------------------------------------------------------------

@cython.final
cdef class EMA:
    """Exponential moving average, O(1) per update; TA-Lib seeding (SMA of the first n), then
    ``ema * (1 - alpha) + x * alpha`` with ``alpha = 2 / (period + 1)``."""

    cdef readonly int period
    cdef readonly double alpha
    cdef readonly double value
    cdef readonly long count
    cdef double _keep
    cdef double _seed_sum

    def __cinit__(self, period):
        self.period = to_period("period", period, -1)
        self.alpha = 2.0 / (self.period + 1.0)
        self._keep = 1.0 - self.alpha
        self.reset()

    def reset(self):
        """Forget every value seen."""
        self.value = NAN
        self.count = 0
        self._seed_sum = 0.0

    @property
    def ready(self):
        return self.count >= self.period

    def update(self, double x):
        """Add one value; return the average (NaN during warm-up)."""
        if not isfinite(x):
            check_finite("x", x)
        self.count += 1
        if self.count > self.period:
            self.value = self.value * self._keep + x * self.alpha
        else:
            self._seed_sum += x
            if self.count == self.period:
                self.value = self._seed_sum / self.period
        return self.value


cdef double ema_into(const double* x, Py_ssize_t n, long p, double* out) noexcept nogil:
    """Batch EMA into ``out`` (``EMA.update``'s operations); returns the check sum."""
    cdef Py_ssize_t i
    cdef double v, chk = 0.0
    cdef EmaState e
    ema_init(&e, p)
    for i in range(n):
        v = x[i]
        chk += v - v
        out[i] = ema_step(&e, v)
    return chk


def ema(values, period):
    """Batch EMA: NaN for the first ``period - 1`` points, then TA-Lib's SMA-seeded EMA."""
    arr = as_array("values", values)
    cdef const double[::1] x = arr
    cdef Py_ssize_t n = x.shape[0]
    cdef long p = to_period("period", period, n)
    out_arr = np.empty(n, dtype=np.float64)
    cdef double[::1] out = out_arr
    cdef double chk
    with nogil:
        chk = ema_into(&x[0], n, p, &out[0])
    if chk != 0.0:
        check_series("values", arr)
    return out_arr


# ---- WMA --------------------------------------------------------------------------------------

@cython.final
cdef class WMA:
    """Linearly weighted moving average (weights 1..n, newest heaviest), O(1) per update.

    A weighted sum ``S`` and a plain sum ``W`` of the window are carried:
    ``S += period * x - W`` then ``W += x - oldest`` (TA-Lib's idea), both recomputed from the
    window every ~1024 values. NaN until ``period`` values have been seen.
    """

    cdef readonly int period
    cdef readonly double value
    cdef readonly long count
    cdef double _sum, _sub, _inv
    cdef long _every, _until
    cdef Ring _ring

    def __cinit__(self, period):
        self.period = to_period("period", period, -1)
        self._inv = 1.0 / ((self.period * (self.period + 1)) >> 1)
        self._every = resum_every(self.period)
        ring_init(&self._ring, self.period)
        self.reset()

    def __dealloc__(self):
        ring_free(&self._ring)

    def reset(self):
        """Forget every value seen."""
        self.value = NAN
        self.count = 0
        self._sum = 0.0
        self._sub = 0.0
        self._until = self._every
        ring_clear(&self._ring)

    @property
    def ready(self):
        return self.count >= self.period

    def update(self, double x):
        """Add one value; return the average (NaN during warm-up)."""
        cdef Py_ssize_t j
        cdef double v
        if not isfinite(x):
            check_finite("x", x)
        self.count += 1
        if self.count <= self.period:
            self._sub += x
            self._sum += x * self.count
        else:
            self._sum += x * self.period - self._sub
            self._sub += x - ring_oldest(&self._ring)
        ring_push(&self._ring, x)
        self._until -= 1
        if self._until == 0:
            self._until = self._every
            self._sub = 0.0
            self._sum = 0.0
            for j in range(self.period):
                v = self._ring.data[j]
                self._sub += v
                self._sum += v * (j + 1)
        if self.count >= self.period:
            self.value = self._sum * self._inv
        return self.value


cdef double wma_into(const double* x, Py_ssize_t n, long p, double* out) noexcept nogil:
    """Batch WMA into ``out`` (``WMA.update``'s operations); returns the check sum."""
    cdef Py_ssize_t i, j
    cdef double psum = 0.0, psub = 0.0, v, inv = 1.0 / ((p * (p + 1)) >> 1), chk = 0.0
    cdef long every = resum_every(p), until = every
    for i in range(p):
        v = x[i]
        chk += v - v
        psub += v
        psum += v * (i + 1)
        out[i] = NAN
    until -= p
    if until == 0:
        until = every
        psub = 0.0
        psum = 0.0
        for j in range(p):
            v = x[j]
            psub += v
            psum += v * (j + 1)
    out[p - 1] = psum * inv
    for i in range(p, n):
        v = x[i]
        chk += v - v
        psum += v * p - psub
        psub += v - x[i - p]
        until -= 1
        if until == 0:
            until = every
            psub = 0.0
            psum = 0.0
            for j in range(p):
                v = x[i - p + 1 + j]
                psub += v
                psum += v * (j + 1)
        out[i] = psum * inv
    return chk


def wma(values, period):
    """Batch WMA: NaN for the first ``period - 1`` points, then the weighted mean (weights
    1..n) of the last ``period`` (TA-Lib's lookback)."""
    arr = as_array("values", values)
    cdef const double[::1] x = arr
    cdef Py_ssize_t n = x.shape[0]
    cdef long p = to_period("period", period, n)
    out_arr = np.empty(n, dtype=np.float64)
    cdef double[::1] out = out_arr
    cdef double chk
    with nogil:
        chk = wma_into(&x[0], n, p, &out[0])
    if chk != 0.0:
        check_series("values", arr)
    return out_arr
