# cython: language_level=3, always_allow_keywords=False
"""Bollinger squeeze: band width at its lowest of the lookback. Cython twin of
``native/reference/squeeze.py``; streaming and batch share one inline step."""

cimport cython
from libc.math cimport INFINITY, NAN, isfinite

import numpy as np

from native._args cimport check_length, to_number, to_period
from native._bands cimport BandsState, bands_clear, bands_step
from native._checks cimport check_finite, check_series
from native._window cimport (Extremum, extremum_clear, extremum_free, extremum_init,
                             extremum_push, moments_init, ring_free)


cdef struct SqueezeState:
    BandsState bands
    Extremum narrowest
    long lookback
    long widths          # bandwidths seen
    double min_width
    double value


cdef inline void squeeze_clear(SqueezeState* s) noexcept nogil:
    bands_clear(&s.bands)
    extremum_clear(&s.narrowest)
    s.widths = 0
    s.min_width = NAN
    s.value = NAN


cdef inline double squeeze_step(SqueezeState* s, double x) noexcept nogil:
    cdef double bw, lowest
    bands_step(&s.bands, x)
    if s.bands.m.ring.count < s.bands.m.ring.size:
        return s.value
    bw = s.bands.bandwidth
    lowest = extremum_push(&s.narrowest, bw if bw == bw else INFINITY)
    s.widths += 1
    if s.widths >= s.lookback:
        s.min_width = lowest
        s.value = 1.0 if bw == bw and bw <= lowest else 0.0
    return s.value


cdef int squeeze_init(SqueezeState* s, long period, double nbdev, long lookback) except -1:
    moments_init(&s.bands.m, period)
    s.bands.nbdev_up = nbdev
    s.bands.nbdev_dn = nbdev
    extremum_init(&s.narrowest, lookback, False)
    s.lookback = lookback
    squeeze_clear(s)
    return 0


cdef void squeeze_free(SqueezeState* s) noexcept nogil:
    ring_free(&s.bands.m.ring)
    extremum_free(&s.narrowest)


@cython.final
cdef class BollingerSqueeze:
    """The Squeeze (Bollinger, *Bollinger on Bollinger Bands*, 2001, ch. 15): BandWidth at
    its lowest of the last ``lookback`` bars (Bollinger: 125, about six months of days)
    signals volatility compression before a breakout. The value is 1.0 on a squeeze bar,
    else 0.0; NaN for the first ``period + lookback - 2`` values. ``bandwidth`` and
    ``min_bandwidth`` expose the numbers behind it. O(1) amortised per update.
    """

    cdef SqueezeState _s

    def __cinit__(self, period=20, nbdev=2.0, lookback=125):
        squeeze_init(&self._s, to_period("period", period, -1),
                     to_number("nbdev", nbdev, 0.0, 1e6), to_period("lookback", lookback, -1))

    def __dealloc__(self):
        squeeze_free(&self._s)

    def reset(self):
        """Forget every value seen."""
        squeeze_clear(&self._s)

    @property
    def count(self):
        return self._s.bands.m.ring.count

    @property
    def bandwidth(self):
        return self._s.bands.bandwidth

    @property
    def min_bandwidth(self):
        return self._s.min_width

    @property
    def value(self):
        return self._s.value

    @property
    def ready(self):
        return self._s.widths >= self._s.lookback

    def update(self, double x):
        """Add one price; return 1.0 on a squeeze, 0.0 otherwise (NaN during warm-up)."""
        if not isfinite(x):
            check_finite("x", x)
        return squeeze_step(&self._s, x)


def squeeze(values, period=20, nbdev=2.0, lookback=125):
    """Batch Bollinger squeeze flags; NaN for the first ``period + lookback - 2`` points."""
    cdef const double[::1] x = check_series("values", values)
    cdef Py_ssize_t n = x.shape[0], i
    cdef long p = to_period("period", period, n)
    cdef double nb = to_number("nbdev", nbdev, 0.0, 1e6)
    cdef long lb = to_period("lookback", lookback, n)
    check_length("values", n, p + lb - 1, "period + lookback - 1")
    cdef SqueezeState s
    squeeze_init(&s, p, nb, lb)
    out_arr = np.empty(n, dtype=np.float64)
    cdef double[::1] out = out_arr
    try:
        with nogil:
            for i in range(n):
                out[i] = squeeze_step(&s, x[i])
    finally:
        squeeze_free(&s)
    return out_arr
