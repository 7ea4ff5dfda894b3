# cython: language_level=3, always_allow_keywords=False
"""Volume: session-anchored VWAP and On-Balance Volume. Cython twin of
``native/reference/volume.py``; streaming and batch share one inline step each."""

cimport cython
from libc.math cimport NAN, isfinite
from libc.stdint cimport int64_t

import numpy as np

from native._args cimport array_like, as_array, series_like
from native._checks cimport check_finite, check_series

DAY_NS = 86_400_000_000_000


# ---- VWAP -------------------------------------------------------------------------------------

cdef struct VwapState:
    int64_t session_ns
    int64_t offset_ns
    int64_t session       # index of the current session
    int64_t last_ts
    long count
    double pv
    double volume
    double value


cdef inline void vwap_clear(VwapState* s) noexcept nogil:
    s.count = 0
    s.session = 0
    s.last_ts = 0
    s.pv = 0.0
    s.volume = 0.0
    s.value = NAN


cdef inline int64_t floor_div(int64_t a, int64_t b) noexcept nogil:
    cdef int64_t q = a // b
    if (a % b != 0) and ((a < 0) != (b < 0)):
        q -= 1
    return q


cdef inline double vwap_step(VwapState* s, double price, double volume, int64_t ts) noexcept nogil:
    cdef int64_t session = floor_div(ts - s.offset_ns, s.session_ns)
    if s.count == 0 or session != s.session:
        s.session = session
        s.pv = 0.0
        s.volume = 0.0
        s.value = NAN
    s.count += 1
    s.last_ts = ts
    s.pv += price * volume
    s.volume += volume
    if s.volume > 0.0:
        s.value = s.pv / s.volume
    return s.value


cdef int check_volume(str name, double v) except -1:
    if not isfinite(v) or v < 0.0:
        raise ValueError(f"{name}: must be finite and >= 0, got {v!r}")
    return 0


cdef int64_t to_ns(str name, object value, int64_t low) except? -1:
    try:
        ok = not isinstance(value, bool) and int(value) == value
    except (TypeError, ValueError, OverflowError):
        ok = False
    if not ok:
        raise ValueError(f"{name}: expected an integer number of nanoseconds, got {value!r}")
    cdef int64_t v = int(value)
    if v < low:
        raise ValueError(f"{name}: must be >= {low}, got {v}")
    return v


@cython.final
cdef class VWAP:
    """Volume-weighted average price anchored to UTC sessions, O(1) per update.

    ``sum(price * volume) / sum(volume)`` since the start of the session that contains
    ``ts_ns``; a session is ``[offset + k * session, offset + (k + 1) * session)`` in ns since
    the epoch (default: the UTC day), so the sums restart at each boundary. Pass the trade
    price, or the typical price ``(h + l + c) / 3`` of a bar. NaN until the session has
    volume. (Berkowitz, Logue & Noser, "The total cost of transactions on the NYSE",
    Journal of Finance 1988.)
    """

    cdef VwapState _s

    def __cinit__(self, session_ns=DAY_NS, offset_ns=0):
        self._s.session_ns = to_ns("session_ns", session_ns, 1)
        self._s.offset_ns = to_ns("offset_ns", offset_ns, 0)
        vwap_clear(&self._s)

    def reset(self):
        """Forget the current session."""
        vwap_clear(&self._s)

    @property
    def count(self):
        return self._s.count

    @property
    def value(self):
        return self._s.value

    @property
    def session_volume(self):
        return self._s.volume

    @property
    def ready(self):
        return self._s.volume > 0.0

    def update(self, double price, double volume, int64_t ts_ns):
        """Add one trade (or bar) at ``ts_ns`` (ns since the epoch, non-decreasing)."""
        if not isfinite(price):
            check_finite("price", price)
        check_volume("volume", volume)
        if self._s.count > 0 and ts_ns < self._s.last_ts:
            raise ValueError(f"ts_ns: {ts_ns} is before the previous {self._s.last_ts}")
        return vwap_step(&self._s, price, volume, ts_ns)


def vwap(price, volume, ts_ns, session_ns=DAY_NS, offset_ns=0):
    """Batch session VWAP: ``price``, ``volume`` (>= 0) and ``ts_ns`` (int64 ns since the
    epoch, non-decreasing) of equal length; restarts at each session boundary; NaN until a
    session has volume."""
    cdef const double[::1] p = check_series("price", price)
    cdef Py_ssize_t n = p.shape[0], i
    cdef const double[::1] v = series_like("volume", volume, n)
    try:
        ts_arr = np.ascontiguousarray(ts_ns, dtype=np.int64)
    except (TypeError, ValueError, OverflowError) as e:
        raise ValueError(f"ts_ns: expected integer nanoseconds ({e})") from None
    if ts_arr.ndim != 1 or ts_arr.shape[0] != n:
        raise ValueError(f"ts_ns: shape {ts_arr.shape} differs from the first input ({n},)")
    cdef const int64_t[::1] ts = ts_arr
    for i in range(n):
        if v[i] < 0.0:
            raise ValueError(f"volume: must be >= 0, got {v[i]!r} at index {i}")
        if i > 0 and ts[i] < ts[i - 1]:
            raise ValueError(f"ts_ns: {ts[i]} at index {i} is before {ts[i - 1]}")
    cdef VwapState s
    s.session_ns = to_ns("session_ns", session_ns, 1)
    s.offset_ns = to_ns("offset_ns", offset_ns, 0)
    vwap_clear(&s)
    out_arr = np.empty(n, dtype=np.float64)
    cdef double[::1] out = out_arr
    with nogil:
        for i in range(n):
            out[i] = vwap_step(&s, p[i], v[i], ts[i])
    return out_arr


# ---- OBV --------------------------------------------------------------------------------------

cdef struct ObvState:
    long count
    double prev
    double value


cdef inline double obv_step(ObvState* s, double close, double volume) noexcept nogil:
    cdef double sign
    s.count += 1
    if s.count == 1:
        s.value = volume
    else:
        # branch-free: the direction of the close is a coin flip for the branch predictor
        sign = <double> ((close > s.prev) - (close < s.prev))
        s.value += sign * volume
    s.prev = close
    return s.value


@cython.final
cdef class OBV:
    """On-Balance Volume (Granville, *New Key to Stock Market Profits*, 1963), O(1) per
    update: volume added on up closes, subtracted on down closes; starts at the first bar's
    volume and is defined from the first bar (TA-Lib)."""

    cdef ObvState _s

    def __cinit__(self):
        self.reset()

    def reset(self):
        """Forget every bar seen."""
        self._s.count = 0
        self._s.prev = 0.0
        self._s.value = NAN

    @property
    def count(self):
        return self._s.count

    @property
    def value(self):
        return self._s.value

    @property
    def ready(self):
        return self._s.count > 0

    def update(self, double close, double volume):
        """Add one bar; return OBV."""
        if not isfinite(close):
            check_finite("close", close)
        check_volume("volume", volume)
        return obv_step(&self._s, close, volume)


cdef double obv_into(const double* c, const double* v, Py_ssize_t n, double* out) noexcept nogil:
    """Batch OBV (``OBV.update``'s operations); returns the check sum (0 unless NaN/inf or a
    negative volume)."""
    cdef Py_ssize_t i
    cdef double vc, vv, chk = 0.0
    cdef ObvState s
    s.count = 0
    s.prev = 0.0
    s.value = NAN
    for i in range(n):
        vc = c[i]
        vv = v[i]
        chk += (vc - vc) + (vv - vv) + (-vv if vv < 0.0 else 0.0)
        out[i] = obv_step(&s, vc, vv)
    return chk


def obv(close, volume):
    """Batch On-Balance Volume (TA-Lib conventions: defined from the first point)."""
    c_arr = as_array("close", close)
    cdef Py_ssize_t n = c_arr.shape[0], i
    v_arr = array_like("volume", volume, n)
    cdef const double[::1] c = c_arr, v = v_arr
    cdef double chk
    out_arr = np.empty(n, dtype=np.float64)
    cdef double[::1] out = out_arr
    with nogil:
        chk = obv_into(&c[0], &v[0], n, &out[0])
    if chk != 0.0:
        check_series("close", c_arr)
        check_series("volume", v_arr)
        for i in range(n):
            if v[i] < 0.0:
                raise ValueError(f"volume: must be >= 0, got {v[i]!r} at index {i}")
    return out_arr
