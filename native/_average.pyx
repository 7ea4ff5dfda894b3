# cython: language_level=3, always_allow_keywords=False
"""Moving averages (SMA, EMA, WMA) in Cython; twin of ``native/reference/average.py``.

All three follow TA-Lib bit for bit: the first value appears at index ``period - 1`` (NaN
before), SMA and WMA are TA-Lib's running sums, EMA uses ``alpha = 2 / (period + 1)`` seeded
with the SMA of the first ``period`` values. Streaming and batch run the same operations in
the same order, so they agree to the last bit.

Streaming ``update`` methods take one positional float and are compiled as METH_O
(``always_allow_keywords=False``): a Python loop then pays one C call and one float box per
update, nothing else.
"""

cimport cython
from libc.math cimport NAN, isfinite

import numpy as np

from native._args cimport to_period
from native._checks cimport check_finite, check_series
from native._window cimport Ring, ring_clear, ring_free, ring_init, ring_oldest, ring_push


# ---- SMA --------------------------------------------------------------------------------------

@cython.final
cdef class SMA:
    """Simple moving average, O(1) per update.

    TA-Lib's running sum (add the new value, divide, drop the oldest), except that every
    ``period`` updates the sum is recomputed from the window, so rounding drift never outlives
    one window. NaN until ``period`` values have been seen.
    """

    cdef readonly int period
    cdef readonly double value
    cdef readonly long count
    cdef double _total
    cdef Ring _ring

    def __cinit__(self, period):
        self.period = to_period("period", period, -1)
        ring_init(&self._ring, self.period)
        self.reset()

    def __dealloc__(self):
        ring_free(&self._ring)

    def reset(self):
        """Forget every value seen."""
        self.value = NAN
        self.count = 0
        self._total = 0.0
        ring_clear(&self._ring)

    @property
    def ready(self):
        return self.count >= self.period

    def update(self, double x):
        """Add one value; return the average (NaN during warm-up)."""
        cdef Py_ssize_t j
        if not isfinite(x):
            check_finite("x", x)
        self.count += 1
        self._total += x
        ring_push(&self._ring, x)
        if self.count >= self.period:
            if self._ring.pos == 0:
                self._total = 0.0
                for j in range(self.period):
                    self._total += self._ring.data[j]
            self.value = self._total / self.period
            self._total -= ring_oldest(&self._ring)
        return self.value


cdef void sma_into(const double* x, Py_ssize_t n, long p, double* out) noexcept nogil:
    """SMA of ``x[:n]`` into ``out``: the operations of ``SMA.update``, in order."""
    cdef Py_ssize_t i, j
    cdef double total = 0.0
    for i in range(p - 1):
        total += x[i]
        out[i] = NAN
    for i in range(p - 1, n):
        total += x[i]
        if (i + 1) % p == 0:
            total = 0.0
            for j in range(i - p + 1, i + 1):
                total += x[j]
        out[i] = total / p
        total -= x[i - p + 1]


def sma(values, period):
    """Batch SMA: NaN for the first ``period - 1`` points, then the mean of the last ``period``
    (TA-Lib's running sum, re-summed once per window)."""
    cdef const double[::1] x = check_series("values", values)
    cdef Py_ssize_t n = x.shape[0]
    cdef long p = to_period("period", period, n)
    out_arr = np.empty(n, dtype=np.float64)
    cdef double[::1] out = out_arr
    with nogil:
        sma_into(&x[0], n, p, &out[0])
    return out_arr


# ---- EMA --------------------------------------------------------------------------------------

@cython.final
cdef class EMA:
    """Exponential moving average, O(1) per update; TA-Lib seeding (SMA of the first n)."""

    cdef readonly int period
    cdef readonly double alpha
    cdef readonly double value
    cdef readonly long count
    cdef double _seed_sum

    def __cinit__(self, period):
        self.period = to_period("period", period, -1)
        self.alpha = 2.0 / (self.period + 1.0)
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
            self.value = self.value + self.alpha * (x - self.value)
        else:
            self._seed_sum += x
            if self.count == self.period:
                self.value = self._seed_sum / self.period
        return self.value


cdef void ema_into(const double* x, Py_ssize_t n, long period, double alpha, double* out) noexcept nogil:
    """EMA of ``x[:n]`` into ``out``: the one recurrence behind ``ema`` (and MACD's lines)."""
    cdef Py_ssize_t i
    cdef double acc = 0.0
    for i in range(period - 1):
        acc += x[i]
        out[i] = NAN
    acc += x[period - 1]
    acc = acc / period
    out[period - 1] = acc
    for i in range(period, n):
        acc = acc + alpha * (x[i] - acc)
        out[i] = acc


def ema(values, period):
    """Batch EMA; NaN for the first ``period - 1`` points, then TA-Lib's SMA-seeded EMA."""
    cdef const double[::1] x = check_series("values", values)
    cdef Py_ssize_t n = x.shape[0]
    cdef long p = to_period("period", period, n)
    out_arr = np.empty(n, dtype=np.float64)
    cdef double[::1] out = out_arr
    with nogil:
        ema_into(&x[0], n, p, 2.0 / (p + 1.0), &out[0])
    return out_arr


# ---- WMA --------------------------------------------------------------------------------------

@cython.final
cdef class WMA:
    """Linearly weighted moving average (weights 1..n, newest heaviest), O(1) per update.

    TA-Lib's algorithm (a weighted sum and a plain sum carried across updates), except that
    both sums are recomputed from the window every ``period`` updates: the carried weighted
    sum otherwise drifts (1e-4 after 1 M BTC prices). NaN until ``period`` values.
    """

    cdef readonly int period
    cdef readonly double value
    cdef readonly long count
    cdef double _sum, _sub, _trailing
    cdef long _divider
    cdef Ring _ring

    def __cinit__(self, period):
        self.period = to_period("period", period, -1)
        self._divider = (self.period * (self.period + 1)) >> 1
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
        self._trailing = 0.0
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
        ring_push(&self._ring, x)
        if self.count < self.period:
            return self.value
        if self._ring.pos == 0:
            self._sub = 0.0
            self._sum = 0.0
            for j in range(self.period):
                v = self._ring.data[j]
                self._sub += v
                self._sum += v * (j + 1)
        else:
            self._sub += x
            self._sub -= self._trailing
            self._sum += x * self.period
        self.value = self._sum / self._divider
        self._sum -= self._sub
        self._trailing = ring_oldest(&self._ring)
        return self.value


def wma(values, period):
    """Batch WMA: NaN for the first ``period - 1`` points, then the weighted mean (weights
    1..n) of the last ``period`` (TA-Lib's carried sums, re-summed once per window)."""
    cdef const double[::1] x = check_series("values", values)
    cdef Py_ssize_t n = x.shape[0], i, j
    cdef long p = to_period("period", period, n)
    out_arr = np.empty(n, dtype=np.float64)
    cdef double[::1] out = out_arr
    cdef double psum = 0.0, psub = 0.0, trailing = 0.0, v
    cdef long divider = (p * (p + 1)) >> 1
    with nogil:
        for i in range(p - 1):
            out[i] = NAN
        for i in range(p - 1, n):
            if (i + 1) % p == 0:
                psub = 0.0
                psum = 0.0
                for j in range(p):
                    v = x[i - p + 1 + j]
                    psub += v
                    psum += v * (j + 1)
            else:
                psub += x[i]
                psub -= trailing
                psum += x[i] * p
            out[i] = psum / divider
            psum -= psub
            trailing = x[i - p + 1]
    return out_arr
