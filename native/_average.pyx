# cython: language_level=3
"""Moving averages in Cython; twin of ``native/reference/average.py``.

EMA follows TA-Lib: ``alpha = 2 / (period + 1)``, seeded with the simple mean of the first
``period`` values, NaN before that. Streaming and batch share one recurrence, so they agree to
the last bit.
"""

from libc.math cimport NAN, isfinite

import numpy as np

from native._checks cimport check_period, check_series, check_finite


cdef class EMA:
    """Exponential moving average, O(1) per update; TA-Lib seeding (SMA of the first n)."""

    cdef readonly int period
    cdef readonly double alpha
    cdef readonly double value
    cdef readonly long count
    cdef double _seed_sum

    def __init__(self, int period):
        check_period("period", period, -1)
        self.period = period
        self.alpha = 2.0 / (period + 1.0)
        self.reset()

    cpdef void reset(self):
        self.value = NAN
        self.count = 0
        self._seed_sum = 0.0

    @property
    def ready(self):
        return self.count >= self.period

    cpdef double update(self, double x) except? -1.0:
        if not isfinite(x):
            check_finite("x", x)
        self.count += 1
        if self.count < self.period:
            self._seed_sum += x
        elif self.count == self.period:
            self._seed_sum += x
            self.value = self._seed_sum / self.period
        else:
            self.value = self.value + self.alpha * (x - self.value)
        return self.value


def ema(values, int period):
    """Batch EMA; NaN for the first ``period - 1`` points (TA-Lib convention)."""
    cdef const double[::1] x = check_series("values", values)
    cdef Py_ssize_t n = x.shape[0], i
    check_period("period", period, n)
    out_arr = np.empty(n, dtype=np.float64)
    cdef double[::1] out = out_arr
    cdef double alpha = 2.0 / (period + 1.0), acc = 0.0
    with nogil:
        for i in range(period - 1):
            acc += x[i]
            out[i] = NAN
        acc += x[period - 1]
        acc = acc / period
        out[period - 1] = acc
        for i in range(period, n):
            acc = acc + alpha * (x[i] - acc)
            out[i] = acc
    return out_arr
