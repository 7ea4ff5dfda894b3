# cython: language_level=3, always_allow_keywords=False
"""Momentum oscillators (RSI, MACD, slow stochastic) in Cython; twin of
``native/reference/momentum.py``.

Each streaming class and its batch function call one inline step on a C struct, so the two
agree to the last bit. Warm-up lengths and seeding follow TA-Lib (see each docstring).
"""

cimport cython
from libc.math cimport NAN, isfinite
from libc.stdlib cimport free

import numpy as np

from native._args cimport (array_like, as_array, check_bar, check_high_low, check_length,
                           series_like, to_period)
from native._checks cimport check_finite, check_series
from native._window cimport (EmaState, Extremum, SmaState, ema_init, ema_step, extremum_clear,
                             extremum_free, extremum_init, extremum_push, ring_free,
                             alloc_doubles, rolling_range_into, sma_clear, sma_init, sma_step)


# ---- RSI --------------------------------------------------------------------------------------

cdef struct RsiState:
    long period
    double keep          # (period - 1) / period
    double inv           # 1 / period
    long count
    double prev
    double gain
    double loss
    double value


cdef inline void rsi_init(RsiState* s, long period) noexcept nogil:
    s.period = period
    s.keep = (period - 1.0) / period
    s.inv = 1.0 / period
    rsi_clear(s)


cdef inline void rsi_clear(RsiState* s) noexcept nogil:
    s.count = 0
    s.prev = 0.0
    s.gain = 0.0
    s.loss = 0.0
    s.value = NAN


cdef inline double rsi_step(RsiState* s, double x) noexcept nogil:
    cdef double diff, up, down, total
    s.count += 1
    if s.count == 1:
        s.prev = x
        return s.value
    diff = x - s.prev
    s.prev = x
    up = diff if diff > 0.0 else 0.0
    down = -diff if diff < 0.0 else 0.0
    if s.count <= s.period + 1:
        s.gain += up
        s.loss += down
        if s.count <= s.period:
            return s.value
        s.gain = s.gain / s.period
        s.loss = s.loss / s.period
    else:
        s.gain = s.gain * s.keep + up * s.inv
        s.loss = s.loss * s.keep + down * s.inv
    total = s.gain + s.loss
    s.value = 100.0 * (s.gain / total) if total != 0.0 else 0.0
    return s.value


@cython.final
cdef class RSI:
    """Relative Strength Index with Wilder smoothing, O(1) per update (TA-Lib conventions).

    Average gain and loss start as the plain means of the first ``period`` changes, then
    ``avg = avg * (period - 1) / period + change / period``; RSI = 100 * gain / (gain + loss), 0 when
    the price has not moved (TA-Lib). NaN until ``period + 1`` values (the first at index
    ``period``). Wilder, *New Concepts in Technical Trading Systems*, 1978.
    """

    cdef RsiState _s

    def __cinit__(self, period=14):
        rsi_init(&self._s, to_period("period", period, -1))

    def reset(self):
        """Forget every value seen."""
        rsi_clear(&self._s)

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

    def update(self, double x):
        """Add one price; return the RSI (NaN during warm-up)."""
        if not isfinite(x):
            check_finite("x", x)
        return rsi_step(&self._s, x)


cdef double rsi_into(const double* x, Py_ssize_t n, long p, double* out) noexcept nogil:
    """Batch RSI into ``out`` (``RSI.update``'s operations); returns the check sum."""
    cdef Py_ssize_t i
    cdef double v, chk = 0.0
    cdef RsiState s
    rsi_init(&s, p)
    for i in range(n):
        v = x[i]
        chk += v - v
        out[i] = rsi_step(&s, v)
    return chk


def rsi(values, period=14):
    """Batch RSI (Wilder, TA-Lib conventions): NaN for the first ``period`` points."""
    arr = as_array("values", values)
    cdef const double[::1] x = arr
    cdef Py_ssize_t n = x.shape[0]
    cdef long p = to_period("period", period, n)
    cdef double chk
    check_length("values", n, p + 1, "period + 1")
    out_arr = np.empty(n, dtype=np.float64)
    cdef double[::1] out = out_arr
    with nogil:
        chk = rsi_into(&x[0], n, p, &out[0])
    if chk != 0.0:
        check_series("values", arr)
    return out_arr


# ---- MACD -------------------------------------------------------------------------------------

cdef struct MacdState:
    EmaState fast
    EmaState slow
    EmaState signal
    long skip            # slow - fast: values the fast EMA ignores (TA-Lib aligns both seeds)
    long count
    double macd
    double sig
    double hist


cdef inline void macd_init(MacdState* s, long fast, long slow, long signal) noexcept nogil:
    ema_init(&s.fast, fast)
    ema_init(&s.slow, slow)
    ema_init(&s.signal, signal)
    s.skip = slow - fast
    s.count = 0
    s.macd = NAN
    s.sig = NAN
    s.hist = NAN


cdef inline void macd_step(MacdState* s, double x) noexcept nogil:
    cdef double line, sig
    s.count += 1
    if s.count > s.skip:
        ema_step(&s.fast, x)
    ema_step(&s.slow, x)
    if s.count < s.slow.period:
        return
    line = s.fast.value - s.slow.value
    sig = ema_step(&s.signal, line)
    if s.signal.count >= s.signal.period:
        s.macd = line
        s.sig = sig
        s.hist = line - sig


cdef int check_macd(long fast, long slow) except -1:
    if fast > slow:
        raise ValueError(f"fast: {fast} is longer than slow ({slow})")
    return 0


@cython.final
cdef class MACD:
    """Moving Average Convergence/Divergence (Appel), O(1) per update, TA-Lib conventions.

    ``macd = EMA_fast - EMA_slow``, ``signal = EMA_signal(macd)``, ``hist = macd - signal``.
    As in TA-Lib the fast EMA is seeded on the ``fast`` values that end where the slow seed
    ends, so both lines start together; all three outputs are NaN for the first
    ``slow + signal - 2`` values. ``update`` returns the MACD line.
    """

    cdef MacdState _s

    def __cinit__(self, fast=12, slow=26, signal=9):
        cdef long f = to_period("fast", fast, -1)
        cdef long sl = to_period("slow", slow, -1)
        cdef long sg = to_period("signal", signal, -1)
        check_macd(f, sl)
        macd_init(&self._s, f, sl, sg)

    def reset(self):
        """Forget every value seen."""
        macd_init(&self._s, self._s.fast.period, self._s.slow.period, self._s.signal.period)

    @property
    def count(self):
        return self._s.count

    @property
    def macd(self):
        return self._s.macd

    @property
    def signal(self):
        return self._s.sig

    @property
    def hist(self):
        return self._s.hist

    @property
    def value(self):
        return self._s.macd

    @property
    def ready(self):
        return self._s.signal.count >= self._s.signal.period

    def update(self, double x):
        """Add one price; return the MACD line (NaN during warm-up)."""
        if not isfinite(x):
            check_finite("x", x)
        macd_step(&self._s, x)
        return self._s.macd


cdef double macd_into(const double* x, Py_ssize_t n, long f, long sl, long sg, double* line,
                      double* sig, double* hist) noexcept nogil:
    """Batch MACD (``MACD.update``'s operations); returns the check sum."""
    cdef Py_ssize_t i
    cdef double v, chk = 0.0
    cdef MacdState s
    macd_init(&s, f, sl, sg)
    for i in range(n):
        v = x[i]
        chk += v - v
        macd_step(&s, v)
        line[i] = s.macd
        sig[i] = s.sig
        hist[i] = s.hist
    return chk


def macd(values, fast=12, slow=26, signal=9):
    """Batch MACD (TA-Lib conventions): ``(macd, signal, hist)``, NaN for the first
    ``slow + signal - 2`` points."""
    arr = as_array("values", values)
    cdef const double[::1] x = arr
    cdef Py_ssize_t n = x.shape[0]
    cdef long f = to_period("fast", fast, n)
    cdef long sl = to_period("slow", slow, n)
    cdef long sg = to_period("signal", signal, n)
    cdef double chk
    check_macd(f, sl)
    check_length("values", n, sl + sg - 1, "slow + signal - 1")
    line_arr = np.empty(n, dtype=np.float64)
    sig_arr = np.empty(n, dtype=np.float64)
    hist_arr = np.empty(n, dtype=np.float64)
    cdef double[::1] line = line_arr, sig = sig_arr, hist = hist_arr
    with nogil:
        chk = macd_into(&x[0], n, f, sl, sg, &line[0], &sig[0], &hist[0])
    if chk != 0.0:
        check_series("values", arr)
    return line_arr, sig_arr, hist_arr


# ---- Stochastic -------------------------------------------------------------------------------

cdef struct StochState:
    Extremum highest
    Extremum lowest
    SmaState slow_k
    SmaState slow_d
    long fastk_period
    long slowk_period
    long slowd_period
    long count
    double k
    double d


cdef inline int stoch_init(StochState* s, long fastk, long slowk, long slowd) except -1:
    extremum_init(&s.highest, fastk, True)
    extremum_init(&s.lowest, fastk, False)
    sma_init(&s.slow_k, slowk)
    sma_init(&s.slow_d, slowd)
    s.fastk_period = fastk
    s.slowk_period = slowk
    s.slowd_period = slowd
    s.count = 0
    s.k = NAN
    s.d = NAN
    return 0


cdef inline void stoch_clear(StochState* s) noexcept nogil:
    extremum_clear(&s.highest)
    extremum_clear(&s.lowest)
    sma_clear(&s.slow_k)
    sma_clear(&s.slow_d)
    s.count = 0
    s.k = NAN
    s.d = NAN


cdef inline void stoch_free(StochState* s) noexcept nogil:
    extremum_free(&s.highest)
    extremum_free(&s.lowest)
    ring_free(&s.slow_k.ring)
    ring_free(&s.slow_d.ring)


cdef inline void stoch_step(StochState* s, double high, double low, double close) noexcept nogil:
    stoch_step_hl(s, extremum_push(&s.highest, high), extremum_push(&s.lowest, low), close)


cdef inline void stoch_step_hl(StochState* s, double hh, double ll, double close) noexcept nogil:
    """One bar given the highest high and lowest low of the last ``fastk_period`` bars."""
    cdef double fast_k, slow_k, slow_d
    s.count += 1
    if s.count < s.fastk_period:
        return
    fast_k = 100.0 * (close - ll) / (hh - ll) if hh != ll else 0.0
    slow_k = sma_step(&s.slow_k, fast_k)
    if s.count < s.fastk_period + s.slowk_period - 1:
        return
    slow_d = sma_step(&s.slow_d, slow_k)
    if s.count >= s.fastk_period + s.slowk_period + s.slowd_period - 2:
        s.k = slow_k
        s.d = slow_d


@cython.final
cdef class Stochastic:
    """Slow stochastic oscillator (Lane), O(1) amortised per update, TA-Lib conventions.

    fast %K = 100 * (close - lowest low) / (highest high - lowest low) over ``fastk_period``
    bars (0 when the range is empty, as TA-Lib); slow %K = SMA(``slowk_period``) of fast %K;
    %D = SMA(``slowd_period``) of slow %K. Both are NaN for the first
    ``fastk + slowk + slowd - 3`` bars. ``update`` returns slow %K.
    """

    cdef StochState _s

    def __cinit__(self, fastk_period=5, slowk_period=3, slowd_period=3):
        stoch_init(&self._s, to_period("fastk_period", fastk_period, -1),
                   to_period("slowk_period", slowk_period, -1),
                   to_period("slowd_period", slowd_period, -1))

    def __dealloc__(self):
        stoch_free(&self._s)

    def reset(self):
        """Forget every bar seen."""
        stoch_clear(&self._s)

    @property
    def count(self):
        return self._s.count

    @property
    def k(self):
        return self._s.k

    @property
    def d(self):
        return self._s.d

    @property
    def value(self):
        return self._s.k

    @property
    def ready(self):
        return self._s.count >= self._s.fastk_period + self._s.slowk_period + self._s.slowd_period - 2

    def update(self, double high, double low, double close):
        """Add one bar; return slow %K (NaN during warm-up)."""
        check_bar(high, low)
        if not isfinite(close):
            check_finite("close", close)
        stoch_step(&self._s, high, low, close)
        return self._s.k


cdef double stoch_into(StochState* s, const double* h, const double* l, const double* c,
                       Py_ssize_t n, double* k, double* d, double* tmp) noexcept nogil:
    """Batch slow stochastic; returns the check sum (0 unless NaN/inf or an inverted bar)."""
    cdef Py_ssize_t i
    cdef double vh, vl, vc, chk = 0.0
    # highest high into k, lowest low into d (exactly the deque's values), then the steps
    rolling_range_into(h, l, n, s.fastk_period, k, d, tmp)
    for i in range(n):
        vh = h[i]
        vl = l[i]
        vc = c[i]
        chk += (vh - vh) + (vl - vl) + (vc - vc) + (vl - vh if vl > vh else 0.0)
        stoch_step_hl(s, k[i], d[i], vc)
        k[i] = s.k
        d[i] = s.d
    return chk


def stoch(high, low, close, fastk_period=5, slowk_period=3, slowd_period=3):
    """Batch slow stochastic (TA-Lib conventions): ``(slowk, slowd)``, NaN for the first
    ``fastk + slowk + slowd - 3`` points."""
    h_arr = as_array("high", high)
    cdef Py_ssize_t n = h_arr.shape[0]
    l_arr = array_like("low", low, n)
    c_arr = array_like("close", close, n)
    cdef const double[::1] h = h_arr, l = l_arr, c = c_arr
    cdef long fk = to_period("fastk_period", fastk_period, n)
    cdef long sk = to_period("slowk_period", slowk_period, n)
    cdef long sd = to_period("slowd_period", slowd_period, n)
    check_length("high", n, fk + sk + sd - 2, "fastk + slowk + slowd - 2")
    cdef StochState s
    cdef double chk = 0.0
    cdef double* tmp = NULL
    stoch_init(&s, fk, sk, sd)
    k_arr = np.empty(n, dtype=np.float64)
    d_arr = np.empty(n, dtype=np.float64)
    cdef double[::1] k = k_arr, d = d_arr
    try:
        tmp = alloc_doubles(2 * fk)
        with nogil:
            chk = stoch_into(&s, &h[0], &l[0], &c[0], n, &k[0], &d[0], tmp)
    finally:
        free(tmp)
        stoch_free(&s)
    if chk != 0.0:
        check_series("high", h_arr)
        check_series("low", l_arr)
        check_series("close", c_arr)
        check_high_low(h, l)
    return k_arr, d_arr
