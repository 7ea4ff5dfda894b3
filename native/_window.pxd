# Rolling-window building blocks shared by the indicator kernels: inline C, no module of its own.
#
# Every kernel's batch function and its streaming class call the same inline step, so the two
# do the same floating-point operations in the same order and agree to the last bit. The
# reference twins in native/reference/_window.py mirror these operations one for one.

from libc.stdlib cimport free, malloc
from libc.math cimport NAN


cdef inline double* alloc_doubles(Py_ssize_t n) except NULL:
    cdef double* p = <double*> malloc((n if n > 0 else 1) * sizeof(double))
    if p == NULL:
        raise MemoryError()
    return p


cdef inline long* alloc_longs(Py_ssize_t n) except NULL:
    cdef long* p = <long*> malloc((n if n > 0 else 1) * sizeof(long))
    if p == NULL:
        raise MemoryError()
    return p


# ---- ring: the last `size` values ---------------------------------------------------------------

cdef struct Ring:
    double* data
    Py_ssize_t size
    Py_ssize_t pos       # next slot to write
    long count           # values ever pushed


cdef inline int ring_init(Ring* r, Py_ssize_t size) except -1:
    r.data = alloc_doubles(size)
    r.size = size
    r.pos = 0
    r.count = 0
    return 0


cdef inline void ring_free(Ring* r) noexcept nogil:
    free(r.data)
    r.data = NULL


cdef inline void ring_clear(Ring* r) noexcept nogil:
    r.pos = 0
    r.count = 0


cdef inline double ring_oldest(Ring* r) noexcept nogil:
    """The value that the next push evicts (valid once the ring is full)."""
    return r.data[r.pos]


cdef inline void ring_push(Ring* r, double x) noexcept nogil:
    r.data[r.pos] = x
    r.pos += 1
    if r.pos == r.size:
        r.pos = 0
    r.count += 1


# ---- monotonic deque: rolling max or min in O(1) amortised -------------------------------------

cdef struct Extremum:
    double* vals
    long* idx
    Py_ssize_t cap       # window length
    Py_ssize_t head      # slot of the front (the extremum)
    Py_ssize_t length
    long seen            # values pushed so far (the index of the next one)
    bint is_max


cdef inline int extremum_init(Extremum* d, Py_ssize_t window, bint is_max) except -1:
    d.vals = alloc_doubles(window)
    d.idx = alloc_longs(window)
    d.cap = window
    d.is_max = is_max
    d.head = 0
    d.length = 0
    d.seen = 0
    return 0


cdef inline void extremum_free(Extremum* d) noexcept nogil:
    free(d.vals)
    free(d.idx)
    d.vals = NULL
    d.idx = NULL


cdef inline void extremum_clear(Extremum* d) noexcept nogil:
    d.head = 0
    d.length = 0
    d.seen = 0


cdef inline double extremum_push(Extremum* d, double x) noexcept nogil:
    """Add ``x``; return the max (or min) of the last ``cap`` values, ``x`` included."""
    cdef Py_ssize_t back
    cdef long i = d.seen
    # drop the front once it leaves the window
    if d.length > 0 and d.idx[d.head] <= i - d.cap:
        d.head += 1
        if d.head == d.cap:
            d.head = 0
        d.length -= 1
    # drop dominated values from the back (ties: the newer one stays, it lives longer)
    while d.length > 0:
        back = d.head + d.length - 1
        if back >= d.cap:
            back -= d.cap
        if (d.vals[back] <= x) if d.is_max else (d.vals[back] >= x):
            d.length -= 1
        else:
            break
    back = d.head + d.length
    if back >= d.cap:
        back -= d.cap
    d.vals[back] = x
    d.idx[back] = i
    d.length += 1
    d.seen = i + 1
    return d.vals[d.head]


# ---- rolling sum, re-summed exactly every ~1024 values ------------------------------------------

cdef inline long resum_every(long window) noexcept nogil:
    """The smallest multiple of ``window`` >= 1024: how often carried sums are recomputed.

    Add-and-subtract sums drift by rounding; recomputing them from the window (when the ring
    is in time order) bounds the error to ~1024 updates' worth while costing < 1 add per value.
    """
    return window * ((1023 + window) // window)


cdef struct RollingSum:
    Ring ring
    double total
    long every
    long until


cdef inline int rsum_init(RollingSum* s, Py_ssize_t window) except -1:
    ring_init(&s.ring, window)
    s.every = resum_every(window)
    rsum_clear(s)
    return 0


cdef inline void rsum_clear(RollingSum* s) noexcept nogil:
    ring_clear(&s.ring)
    s.total = 0.0
    s.until = s.every


cdef inline double rsum_push(RollingSum* s, double x) noexcept nogil:
    """Add ``x`` (dropping the value ``window`` pushes ago); return the sum of the window."""
    cdef Ring* r = &s.ring
    cdef Py_ssize_t j
    if r.count >= r.size:
        s.total += x - ring_oldest(r)
    else:
        s.total += x
    ring_push(r, x)
    s.until -= 1
    if s.until == 0:
        s.until = s.every
        s.total = 0.0
        for j in range(r.size):
            s.total += r.data[j]
    return s.total


# ---- rolling mean and variance from shifted sums ------------------------------------------------

cdef struct Moments:
    Ring ring
    double inv           # 1 / window
    double total         # sum of the window (the SMA's running sum)
    double mean          # SMA of the window (NaN until full)
    double shift         # K: the sums below are of (x - K); K = the first value, then the mean
    double s1            # sum of (x - K) over the window
    double s2            # sum of (x - K)^2 over the window
    long every
    long until


cdef inline int moments_init(Moments* m, Py_ssize_t window) except -1:
    ring_init(&m.ring, window)
    m.inv = 1.0 / window
    m.every = resum_every(window)
    moments_clear(m)
    return 0


cdef inline void moments_clear(Moments* m) noexcept nogil:
    ring_clear(&m.ring)
    m.total = 0.0
    m.mean = NAN
    m.shift = 0.0
    m.s1 = 0.0
    m.s2 = 0.0
    m.until = m.every


cdef inline void moments_push(Moments* m, double x) noexcept nogil:
    """Add ``x`` to the window (dropping the oldest once full); update ``mean``.

    The variance comes from sums of ``x - K`` with ``K`` near the data, which avoids the
    cancellation of ``E[x^2] - E[x]^2`` (TA-Lib's method) at high price levels. ``K`` starts
    as the first value; every ~1024 values it moves to the window mean and all sums are
    recomputed (two-pass), which also bounds the add/subtract drift.
    """
    cdef Ring* r = &m.ring
    cdef double d, old
    cdef Py_ssize_t j, n = r.size
    if r.count == 0:
        m.shift = x
    d = x - m.shift
    if r.count >= n:
        old = ring_oldest(r)
        m.total += x - old
        old = old - m.shift
        m.s1 += d - old
        m.s2 += d * d - old * old
    else:
        m.total += x
        m.s1 += d
        m.s2 += d * d
    ring_push(r, x)
    m.until -= 1
    if m.until == 0:
        m.until = m.every
        m.total = 0.0
        for j in range(n):
            m.total += r.data[j]
        m.shift = m.total * m.inv
        m.s1 = 0.0
        m.s2 = 0.0
        for j in range(n):
            d = r.data[j] - m.shift
            m.s1 += d
            m.s2 += d * d
    if r.count >= n:
        m.mean = m.total * m.inv


cdef inline double moments_variance(Moments* m) noexcept nogil:
    """Population variance of the full window (callers check the window is full)."""
    cdef double mean_d = m.s1 * m.inv
    cdef double var = m.s2 * m.inv - mean_d * mean_d
    return var if var > 0.0 else 0.0


# ---- EMA and SMA steps (the arithmetic of native._average, for kernels that chain them) ------

cdef struct EmaState:
    double value
    double seed_sum
    double alpha
    double keep          # 1 - alpha
    long period
    long count


cdef inline void ema_init(EmaState* e, long period) noexcept nogil:
    e.period = period
    e.alpha = 2.0 / (period + 1.0)
    e.keep = 1.0 - e.alpha
    e.value = NAN
    e.seed_sum = 0.0
    e.count = 0


cdef inline double ema_step(EmaState* e, double x) noexcept nogil:
    """TA-Lib EMA: NaN until ``period`` values, seeded with their mean; then
    ``ema = ema * (1 - alpha) + x * alpha`` (one multiply-add on the dependency chain)."""
    e.count += 1
    if e.count > e.period:
        e.value = e.value * e.keep + x * e.alpha
    else:
        e.seed_sum += x
        if e.count == e.period:
            e.value = e.seed_sum / e.period
    return e.value


cdef struct SmaState:
    Ring ring
    double inv
    double total
    double value
    long every
    long until


cdef inline int sma_init(SmaState* s, long period) except -1:
    ring_init(&s.ring, period)
    s.inv = 1.0 / period
    s.every = resum_every(period)
    sma_clear(s)
    return 0


cdef inline void sma_clear(SmaState* s) noexcept nogil:
    ring_clear(&s.ring)
    s.total = 0.0
    s.value = NAN
    s.until = s.every


cdef inline double sma_step(SmaState* s, double x) noexcept nogil:
    """Running-sum SMA re-summed every ~1024 values (as ``native._average.SMA``)."""
    cdef Ring* r = &s.ring
    cdef Py_ssize_t j
    if r.count >= r.size:
        s.total += x - ring_oldest(r)
    else:
        s.total += x
    ring_push(r, x)
    s.until -= 1
    if s.until == 0:
        s.until = s.every
        s.total = 0.0
        for j in range(r.size):
            s.total += r.data[j]
    if r.count >= r.size:
        s.value = s.total * s.inv
    return s.value


# ---- batch rolling max / min (van Herk / Gil-Werman: exact, branch-free) ----------------------

cdef inline void rolling_range_into(const double* high, const double* low, Py_ssize_t n,
                                    Py_ssize_t p, double* hh, double* ll,
                                    double* tmp) noexcept nogil:
    """``hh[i]`` = max of ``high[i-p+1 .. i]`` and ``ll[i]`` = min of ``low[...]`` for
    ``i >= p - 1`` (earlier slots hold partial values). ``tmp`` holds ``2 * p`` doubles.

    van Herk (1992) / Gil & Werman (1993): within blocks of ``p`` the prefix extremes run
    forward and the suffix extremes backward; a window spans at most two blocks, so its
    extreme is one comparison of a suffix and a prefix. Three max/min per value and no
    data-dependent branch (a new high on prices is a coin flip for the branch predictor).
    The streaming classes keep a monotonic deque instead; both give the same exact values.
    """
    cdef Py_ssize_t b = 0, i, end, stop
    cdef double mh, ml, v
    cdef double* th = tmp
    cdef double* tl = tmp + p
    while b < n:
        end = b + p if b + p < n else n
        mh = high[b]
        ml = low[b]
        hh[b] = mh
        ll[b] = ml
        for i in range(b + 1, end):
            v = high[i]
            mh = v if v > mh else mh
            hh[i] = mh
            v = low[i]
            ml = v if v < ml else ml
            ll[i] = ml
        if b > 0:
            # windows ending in this block start in the previous one: its suffix extremes
            stop = b + p - 1 if b + p - 1 < end else end
            for i in range(b, stop):
                v = th[i - b + 1]
                hh[i] = v if v > hh[i] else hh[i]
                v = tl[i - b + 1]
                ll[i] = v if v < ll[i] else ll[i]
        if end - b == p:
            mh = high[end - 1]
            ml = low[end - 1]
            th[p - 1] = mh
            tl[p - 1] = ml
            for i in range(end - 2, b - 1, -1):
                v = high[i]
                mh = v if v > mh else mh
                th[i - b] = mh
                v = low[i]
                ml = v if v < ml else ml
                tl[i - b] = ml
        b = end
