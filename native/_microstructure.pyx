# cython: language_level=3, always_allow_keywords=False
"""Order-flow microstructure: cumulative volume delta, order-flow imbalance (Cont, Kukanov &
Stoikov) and VPIN (Easley, Lopez de Prado & O'Hara). Cython twin of
``native/reference/microstructure.py``; streaming and batch share one inline step each."""

cimport cython
from libc.math cimport NAN, erfc, floor, isfinite, sqrt

import numpy as np

from native._args cimport check_length, series_like, to_number, to_period
from native._checks cimport check_finite, check_series
from native._window cimport (Moments, RollingSum, moments_clear, moments_init, moments_push,
                             moments_variance, ring_free, rsum_clear, rsum_init, rsum_push)


cdef int check_size(str name, double v) except -1:
    if not isfinite(v) or v < 0.0:
        raise ValueError(f"{name}: must be finite and >= 0, got {v!r}")
    return 0


cdef int check_sizes(str name, const double[::1] v) except -1:
    cdef Py_ssize_t i
    for i in range(v.shape[0]):
        if v[i] < 0.0:
            raise ValueError(f"{name}: must be >= 0, got {v[i]!r} at index {i}")
    return 0


# ---- cumulative volume delta ------------------------------------------------------------------

cdef int check_side(str name, double side) except -1:
    if side != 1.0 and side != -1.0:
        raise ValueError(f"{name}: must be +1 (buyer aggressor) or -1 (seller aggressor), got {side!r}")
    return 0


@cython.final
cdef class CumulativeVolumeDelta:
    """Cumulative volume delta: running sum of ``side * size`` over trades, where ``side`` is
    the aggressor (+1 the taker bought, -1 the taker sold; on Binance ``m = true`` means -1).
    Net market-order pressure (Lee & Ready, "Inferring trade direction from intraday data",
    Journal of Finance 1991, for the signed-volume idea; here the venue reports the side)."""

    cdef readonly double value
    cdef readonly long count

    def __cinit__(self):
        self.reset()

    def reset(self):
        """Start again from zero (e.g. at a session boundary)."""
        self.value = 0.0
        self.count = 0

    @property
    def ready(self):
        return self.count > 0

    def update(self, double size, double side):
        """Add one trade; return the cumulative delta."""
        check_size("size", size)
        check_side("side", side)
        self.count += 1
        self.value += side * size
        return self.value


def cvd(size, side):
    """Batch cumulative volume delta of trades (``side`` +1 / -1 per trade)."""
    cdef const double[::1] q = check_series("size", size)
    cdef Py_ssize_t n = q.shape[0], i
    cdef const double[::1] sd = series_like("side", side, n)
    check_sizes("size", q)
    for i in range(n):
        if sd[i] != 1.0 and sd[i] != -1.0:
            raise ValueError(f"side: must be +1 or -1, got {sd[i]!r} at index {i}")
    out_arr = np.empty(n, dtype=np.float64)
    cdef double[::1] out = out_arr
    cdef double acc = 0.0
    with nogil:
        for i in range(n):
            acc += sd[i] * q[i]
            out[i] = acc
    return out_arr


# ---- order-flow imbalance ---------------------------------------------------------------------

cdef struct OfiState:
    RollingSum window
    long count
    double bid
    double bid_size
    double ask
    double ask_size
    double last
    double value


cdef inline void ofi_clear(OfiState* s) noexcept nogil:
    rsum_clear(&s.window)
    s.count = 0
    s.bid = 0.0
    s.bid_size = 0.0
    s.ask = 0.0
    s.ask_size = 0.0
    s.last = NAN
    s.value = NAN


cdef inline double ofi_step(OfiState* s, double bid, double bid_size, double ask,
                            double ask_size) noexcept nogil:
    cdef double e = 0.0, total
    s.count += 1
    if s.count > 1:
        if bid >= s.bid:
            e += bid_size
        if bid <= s.bid:
            e -= s.bid_size
        if ask <= s.ask:
            e -= ask_size
        if ask >= s.ask:
            e += s.ask_size
        s.last = e
        total = rsum_push(&s.window, e)
        if s.window.ring.count >= s.window.ring.size:
            s.value = total
    s.bid = bid
    s.bid_size = bid_size
    s.ask = ask
    s.ask_size = ask_size
    return s.value


cdef int check_quote(double bid, double bid_size, double ask, double ask_size) except -1:
    if not isfinite(bid):
        check_finite("bid", bid)
    if not isfinite(ask):
        check_finite("ask", ask)
    check_size("bid_size", bid_size)
    check_size("ask_size", ask_size)
    return 0


@cython.final
cdef class OrderFlowImbalance:
    """Order-flow imbalance from best bid/ask updates, summed over the last ``window`` updates.

    Each quote change contributes ``e = 1{b >= b'} q_b - 1{b <= b'} q_b' - 1{a <= a'} q_a +
    1{a >= a'} q_a'`` (primes: the previous quote): Cont, Kukanov & Stoikov, "The price
    impact of order book events", Journal of Financial Econometrics 12(1), 2014, eq. (2).
    ``last`` is the latest ``e``; the value is NaN until ``window`` changes have been seen.
    """

    cdef OfiState _s

    def __cinit__(self, window=100):
        rsum_init(&self._s.window, to_period("window", window, -1))
        ofi_clear(&self._s)

    def __dealloc__(self):
        ring_free(&self._s.window.ring)

    def reset(self):
        """Forget every quote seen."""
        ofi_clear(&self._s)

    @property
    def window(self):
        return self._s.window.ring.size

    @property
    def count(self):
        return self._s.count

    @property
    def last(self):
        return self._s.last

    @property
    def value(self):
        return self._s.value

    @property
    def ready(self):
        return self._s.count > self._s.window.ring.size

    def update(self, double bid, double bid_size, double ask, double ask_size):
        """Add one top-of-book quote; return the OFI over the window (NaN during warm-up)."""
        check_quote(bid, bid_size, ask, ask_size)
        return ofi_step(&self._s, bid, bid_size, ask, ask_size)


def ofi(bid, bid_size, ask, ask_size, window=100):
    """Batch order-flow imbalance over a rolling ``window`` of quote updates; NaN for the first
    ``window`` points (the first quote has no predecessor)."""
    cdef const double[::1] b = check_series("bid", bid)
    cdef Py_ssize_t n = b.shape[0], i
    cdef const double[::1] bq = series_like("bid_size", bid_size, n)
    cdef const double[::1] a = series_like("ask", ask, n)
    cdef const double[::1] aq = series_like("ask_size", ask_size, n)
    check_sizes("bid_size", bq)
    check_sizes("ask_size", aq)
    cdef OfiState s
    cdef long w = to_period("window", window, n)
    check_length("bid", n, w + 1, "window + 1")
    rsum_init(&s.window, w)
    ofi_clear(&s)
    out_arr = np.empty(n, dtype=np.float64)
    cdef double[::1] out = out_arr
    try:
        with nogil:
            for i in range(n):
                out[i] = ofi_step(&s, b[i], bq[i], a[i], aq[i])
    finally:
        ring_free(&s.window.ring)
    return out_arr


# ---- VPIN -------------------------------------------------------------------------------------

cdef struct VpinState:
    Moments sigma        # rolling stdev of price changes (bulk volume classification)
    RollingSum imbalance # |sell - buy| of the last n buckets
    double bucket_volume
    long count
    long buckets
    double prev
    double filled
    double buy
    double sell
    double value


cdef inline void vpin_clear(VpinState* s) noexcept nogil:
    moments_clear(&s.sigma)
    rsum_clear(&s.imbalance)
    s.count = 0
    s.buckets = 0
    s.prev = 0.0
    s.filled = 0.0
    s.buy = 0.0
    s.sell = 0.0
    s.value = NAN


cdef inline void vpin_close_bucket(VpinState* s) noexcept nogil:
    cdef double imb = s.sell - s.buy
    if imb < 0.0:
        imb = -imb
    rsum_push(&s.imbalance, imb)
    s.buckets += 1
    s.buy = 0.0
    s.sell = 0.0
    s.filled = 0.0


cdef inline double vpin_step(VpinState* s, double price, double volume) noexcept nogil:
    cdef double dp, sd, frac, b, space, total, wq
    cdef long whole, j, n = s.imbalance.ring.size
    s.count += 1
    if s.count == 1:
        s.prev = price
        return s.value
    dp = price - s.prev
    s.prev = price
    moments_push(&s.sigma, dp)
    if s.sigma.ring.count < s.sigma.ring.size:
        return s.value
    sd = sqrt(moments_variance(&s.sigma))
    if sd > 0.0:
        frac = 0.5 * erfc(-(dp / sd) * 0.7071067811865476)
    else:
        frac = 1.0 if dp > 0.0 else (0.0 if dp < 0.0 else 0.5)
    b = s.bucket_volume
    space = b - s.filled
    if volume >= space:
        # complete the open bucket
        s.buy += space * frac
        s.sell += space - space * frac
        vpin_close_bucket(s)
        volume -= space
        # whole buckets at this bar's split: only the last n can stay in the window
        wq = floor(volume / b)
        volume -= wq * b
        if volume < 0.0:
            volume = 0.0
        while volume >= b:
            wq += 1.0
            volume -= b
        whole = <long> (wq if wq < 1e18 else 1e18)
        for j in range(whole if whole < n else n):
            s.buy = b * frac
            s.sell = b - b * frac
            vpin_close_bucket(s)
        s.buckets += whole - (whole if whole < n else n)
    if volume > 0.0:
        s.buy += volume * frac
        s.sell += volume - volume * frac
        s.filled += volume
    if s.buckets >= n:
        total = s.imbalance.total
        s.value = (total if total > 0.0 else 0.0) / (n * b)
    return s.value


@cython.final
cdef class VPIN:
    """Volume-synchronised probability of informed trading, per bar (or trade).

    Easley, Lopez de Prado & O'Hara, "Flow toxicity and liquidity in a high-frequency world",
    Review of Financial Studies 25(5), 2012: volume is poured into buckets of
    ``bucket_volume``; each bar's volume is split buy/sell by bulk volume classification,
    ``buy share = Phi(dP / sigma)`` with ``sigma`` the stdev of the last ``sigma_window``
    price changes; VPIN = sum of |sell - buy| over the last ``n_buckets`` full buckets /
    (``n_buckets * bucket_volume``), in [0, 1]. NaN until ``sigma_window + 1`` prices and
    ``n_buckets`` buckets. Cost per update grows with ``volume / bucket_volume`` only up to
    ``n_buckets`` (older buckets would leave the window anyway).
    """

    cdef VpinState _s

    def __cinit__(self, bucket_volume, n_buckets=50, sigma_window=50):
        self._s.bucket_volume = to_number("bucket_volume", bucket_volume, 0.0, 1e300, True)
        rsum_init(&self._s.imbalance, to_period("n_buckets", n_buckets, -1))
        moments_init(&self._s.sigma, to_period("sigma_window", sigma_window, -1))
        vpin_clear(&self._s)

    def __dealloc__(self):
        ring_free(&self._s.imbalance.ring)
        ring_free(&self._s.sigma.ring)

    def reset(self):
        """Forget every bar seen."""
        vpin_clear(&self._s)

    @property
    def count(self):
        return self._s.count

    @property
    def buckets(self):
        return self._s.buckets

    @property
    def value(self):
        return self._s.value

    @property
    def ready(self):
        return self._s.buckets >= self._s.imbalance.ring.size

    def update(self, double price, double volume):
        """Add one bar (close price, volume); return VPIN (NaN during warm-up)."""
        if not isfinite(price):
            check_finite("price", price)
        check_size("volume", volume)
        return vpin_step(&self._s, price, volume)


def vpin(price, volume, bucket_volume, n_buckets=50, sigma_window=50):
    """Batch VPIN of bars (close ``price``, ``volume``); the value after each bar, NaN until
    ``n_buckets`` buckets are full."""
    cdef const double[::1] p = check_series("price", price)
    cdef Py_ssize_t n = p.shape[0], i
    cdef const double[::1] v = series_like("volume", volume, n)
    check_sizes("volume", v)
    cdef VpinState s
    s.bucket_volume = to_number("bucket_volume", bucket_volume, 0.0, 1e300, True)
    cdef long nb = to_period("n_buckets", n_buckets, -1)
    cdef long sw = to_period("sigma_window", sigma_window, n)
    check_length("price", n, sw + 1, "sigma_window + 1")
    rsum_init(&s.imbalance, nb)
    moments_init(&s.sigma, sw)
    vpin_clear(&s)
    out_arr = np.empty(n, dtype=np.float64)
    cdef double[::1] out = out_arr
    try:
        with nogil:
            for i in range(n):
                out[i] = vpin_step(&s, p[i], v[i])
    finally:
        ring_free(&s.imbalance.ring)
        ring_free(&s.sigma.ring)
    return out_arr
