# cython: language_level=3, always_allow_keywords=False
"""Rolling Hill tail-index estimator of returns; Cython twin of ``native/reference/tail.py``.
Streaming and batch share one inline step (bit-identical)."""

cimport cython
from libc.math cimport INFINITY, NAN, isfinite, log
from libc.string cimport memmove

import numpy as np

from native._args cimport to_number, to_period
from native._checks cimport check_finite, check_series
from native._window cimport Ring, alloc_doubles, ring_clear, ring_free, ring_init, ring_oldest, ring_push
from libc.stdlib cimport free


cdef struct HillState:
    Ring logs            # log|r| of the window, in time order (-inf for a zero return)
    double* sorted       # the same values, ascending
    Py_ssize_t size      # values in ``sorted``
    long k               # order statistics in the tail
    long count
    double value


cdef inline Py_ssize_t lower_bound(double* a, Py_ssize_t n, double x) noexcept nogil:
    cdef Py_ssize_t lo = 0, hi = n, mid
    while lo < hi:
        mid = (lo + hi) >> 1
        if a[mid] < x:
            lo = mid + 1
        else:
            hi = mid
    return lo


cdef inline double hill_step(HillState* s, double ret) noexcept nogil:
    cdef double a = ret if ret >= 0.0 else -ret
    cdef double v = log(a) if a > 0.0 else -INFINITY
    cdef double old, threshold, total
    cdef Py_ssize_t j, w = s.logs.size
    cdef long i
    if s.logs.count >= w:
        old = ring_oldest(&s.logs)
        j = lower_bound(s.sorted, s.size, old)
        memmove(&s.sorted[j], &s.sorted[j + 1], (s.size - j - 1) * sizeof(double))
        s.size -= 1
    j = lower_bound(s.sorted, s.size, v)
    memmove(&s.sorted[j + 1], &s.sorted[j], (s.size - j) * sizeof(double))
    s.sorted[j] = v
    s.size += 1
    ring_push(&s.logs, v)
    s.count += 1
    if s.size < w:
        return s.value
    threshold = s.sorted[w - 1 - s.k]
    if threshold == -INFINITY:
        s.value = NAN
        return s.value
    total = 0.0
    for i in range(s.k):
        total += s.sorted[w - 1 - i] - threshold
    s.value = s.k / total if total > 0.0 else INFINITY
    return s.value


cdef long tail_size(long window, double fraction) except -1:
    cdef long k = <long> (fraction * window)
    if k < 1:
        k = 1
    if k + 1 > window:
        raise ValueError(f"tail_fraction: {fraction!r} leaves no threshold in a window of {window}")
    return k


cdef int hill_init(HillState* s, long window, double fraction) except -1:
    s.k = tail_size(window, fraction)
    ring_init(&s.logs, window)
    s.sorted = alloc_doubles(window)
    hill_clear(s)
    return 0


cdef void hill_clear(HillState* s) noexcept nogil:
    ring_clear(&s.logs)
    s.size = 0
    s.count = 0
    s.value = NAN


cdef void hill_free(HillState* s) noexcept nogil:
    ring_free(&s.logs)
    free(s.sorted)
    s.sorted = NULL


@cython.final
cdef class HillTailIndex:
    """Rolling Hill estimator of the tail index of returns (Hill, "A simple general approach
    to inference about the tail of a distribution", Annals of Statistics 3(5), 1975).

    Over the last ``window`` returns, with ``k = max(1, floor(tail_fraction * window))``
    and ``X(1) >= X(2) >= ...`` the sorted absolute returns (both tails pooled),
    ``alpha = k / sum_{i<=k} ln(X(i) / X(k+1))``. Small alpha means a fat, power-law tail
    (alpha < 2: infinite variance); the Brain's tail-risk gate reads it. NaN until ``window``
    returns, and when ``X(k+1)`` is 0 (too many zero returns); +inf when the top ``k + 1`` are
    equal (no tail). O(window) per update for the sorted window (a memmove), no allocation.
    """

    cdef HillState _s

    def __cinit__(self, window, tail_fraction=0.1):
        hill_init(&self._s, to_period("window", window, -1, 2),
                  to_number("tail_fraction", tail_fraction, 0.0, 1.0, True))

    def __dealloc__(self):
        hill_free(&self._s)

    def reset(self):
        """Forget every return seen."""
        hill_clear(&self._s)

    @property
    def window(self):
        return self._s.logs.size

    @property
    def k(self):
        return self._s.k

    @property
    def count(self):
        return self._s.count

    @property
    def value(self):
        return self._s.value

    @property
    def ready(self):
        return self._s.size >= self._s.logs.size

    def update(self, double ret):
        """Add one return; return the tail-index estimate (NaN until ready)."""
        if not isfinite(ret):
            check_finite("ret", ret)
        return hill_step(&self._s, ret)


def hill(returns, window, tail_fraction=0.1):
    """Batch rolling Hill tail index of ``returns``; NaN for the first ``window - 1`` points."""
    cdef const double[::1] x = check_series("returns", returns)
    cdef Py_ssize_t n = x.shape[0], i
    cdef long w = to_period("window", window, n, 2)
    cdef double f = to_number("tail_fraction", tail_fraction, 0.0, 1.0, True)
    cdef HillState s
    hill_init(&s, w, f)
    out_arr = np.empty(n, dtype=np.float64)
    cdef double[::1] out = out_arr
    try:
        with nogil:
            for i in range(n):
                out[i] = hill_step(&s, x[i])
    finally:
        hill_free(&s)
    return out_arr
