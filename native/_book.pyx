# cython: language_level=3
"""L2 order book in Cython; twin of ``native/reference/book.py`` (same API, same results).

Each side is two parallel C arrays of keys and sizes sorted ascending with the best level last
(bids keyed by price, asks by -price), so the frequent updates near the top move few elements.
Levels are found by binary search and inserted/removed with ``memmove``. Deltas arrive as the
``tuple[tuple[float, float], ...]`` the feed decoders produce and are read without creating any
Python object per level.
"""

from cpython.float cimport PyFloat_AS_DOUBLE, PyFloat_CheckExact
from cpython.mem cimport PyMem_Free, PyMem_Malloc, PyMem_Realloc
from cpython.object cimport PyObject
from cpython.tuple cimport PyTuple_CheckExact, PyTuple_GET_ITEM, PyTuple_GET_SIZE
from libc.math cimport NAN, isfinite
from libc.string cimport memmove

import numpy as np

BID = 0
ASK = 1


cdef struct Side:
    double* key
    double* size
    Py_ssize_t n
    Py_ssize_t cap
    double sign


cdef int _side_init(Side* s, double sign) except -1:
    s.cap = 64
    s.n = 0
    s.sign = sign
    s.key = <double*>PyMem_Malloc(s.cap * sizeof(double))
    s.size = <double*>PyMem_Malloc(s.cap * sizeof(double))
    if s.key == NULL or s.size == NULL:
        raise MemoryError()
    return 0


cdef void _side_free(Side* s) noexcept:
    PyMem_Free(s.key)
    PyMem_Free(s.size)
    s.key = NULL
    s.size = NULL
    s.n = 0


cdef int _side_grow(Side* s) except -1:
    cdef Py_ssize_t cap = s.cap * 2
    cdef double* k = <double*>PyMem_Realloc(s.key, cap * sizeof(double))
    if k == NULL:
        raise MemoryError()
    s.key = k
    cdef double* z = <double*>PyMem_Realloc(s.size, cap * sizeof(double))
    if z == NULL:
        raise MemoryError()
    s.size = z
    s.cap = cap
    return 0


cdef inline Py_ssize_t _lower_bound(Side* s, double key) noexcept nogil:
    cdef Py_ssize_t lo = 0, hi = s.n, mid
    while lo < hi:
        mid = (lo + hi) >> 1
        if s.key[mid] < key:
            lo = mid + 1
        else:
            hi = mid
    return lo


cdef int _side_set(Side* s, double price, double size) except -1:
    cdef double key = price * s.sign
    cdef Py_ssize_t i = _lower_bound(s, key)
    cdef bint found = i < s.n and s.key[i] == key
    if size == 0.0:
        if found:
            memmove(&s.key[i], &s.key[i + 1], (s.n - i - 1) * sizeof(double))
            memmove(&s.size[i], &s.size[i + 1], (s.n - i - 1) * sizeof(double))
            s.n -= 1
        return 0
    if found:
        s.size[i] = size
        return 0
    if s.n == s.cap:
        _side_grow(s)
    memmove(&s.key[i + 1], &s.key[i], (s.n - i) * sizeof(double))
    memmove(&s.size[i + 1], &s.size[i], (s.n - i) * sizeof(double))
    s.key[i] = key
    s.size[i] = size
    s.n += 1
    return 0


cdef int _check_level(str name, Py_ssize_t i, double price, double size) except -1:
    if not (isfinite(price) and price > 0.0):
        raise ValueError(f"{name}[{i}]: price must be finite and > 0, got {price!r}")
    if not (isfinite(size) and size >= 0.0):
        raise ValueError(f"{name}[{i}]: size must be finite and >= 0, got {size!r}")
    return 0


cdef inline double _as_double(object x):
    if PyFloat_CheckExact(x):
        return PyFloat_AS_DOUBLE(x)
    return float(x)


cdef int _check_side(int side) except -1:
    if side != 0 and side != 1:
        raise ValueError(f"side: expected 0 (bid) or 1 (ask), got {side!r}")
    return 0


cdef class L2Book:
    """A price-level order book: apply snapshots and deltas, query the top and the depth."""

    cdef Side _s[2]

    def __cinit__(self):
        _side_init(&self._s[0], 1.0)
        _side_init(&self._s[1], -1.0)

    def __dealloc__(self):
        _side_free(&self._s[0])
        _side_free(&self._s[1])

    # ---- updates ------------------------------------------------------------------------

    cpdef void clear(self):
        self._s[0].n = 0
        self._s[1].n = 0

    def set(self, int side, double price, double size):
        """Set one level (size 0 removes it)."""
        _check_side(side)
        _check_level("level", 0, price, size)
        _side_set(&self._s[side], price, size)

    cpdef Py_ssize_t apply(self, object bids, object asks) except -1:
        """Apply deltas given as sequences of ``(price, size)`` pairs; returns levels applied."""
        return self._apply_pairs(0, "bids", bids) + self._apply_pairs(1, "asks", asks)

    def load(self, bids, asks):
        """Replace the whole book with a snapshot."""
        self.clear()
        return self.apply(bids, asks)

    def apply_arrays(self, int side, prices, sizes):
        """Apply deltas to one side from two equal-length float arrays."""
        _check_side(side)
        p_arr = np.ascontiguousarray(prices, dtype=np.float64)
        q_arr = np.ascontiguousarray(sizes, dtype=np.float64)
        if p_arr.ndim != 1 or q_arr.ndim != 1 or p_arr.shape != q_arr.shape:
            raise ValueError(
                f"prices/sizes: expected two 1-D arrays of one length, got {p_arr.shape} and {q_arr.shape}"
            )
        cdef const double[::1] p = p_arr
        cdef const double[::1] q = q_arr
        cdef Py_ssize_t i, n = p.shape[0]
        cdef Side* s = &self._s[side]
        for i in range(n):
            _check_level("prices", i, p[i], q[i])
            _side_set(s, p[i], q[i])
        return n

    cdef Py_ssize_t _apply_pairs(self, int side, str name, object levels) except -1:
        cdef Side* s = &self._s[side]
        cdef Py_ssize_t i, n
        cdef object item
        cdef double price, size
        if PyTuple_CheckExact(levels):
            n = PyTuple_GET_SIZE(levels)
            for i in range(n):
                item = <object>PyTuple_GET_ITEM(levels, i)
                if PyTuple_CheckExact(item) and PyTuple_GET_SIZE(item) == 2:
                    price = _as_double(<object>PyTuple_GET_ITEM(item, 0))
                    size = _as_double(<object>PyTuple_GET_ITEM(item, 1))
                else:
                    price, size = self._unpack(name, i, item)
                _check_level(name, i, price, size)
                _side_set(s, price, size)
            return n
        i = 0
        for item in levels:
            price, size = self._unpack(name, i, item)
            _check_level(name, i, price, size)
            _side_set(s, price, size)
            i += 1
        return i

    cdef tuple _unpack(self, str name, Py_ssize_t i, object item):
        try:
            p, q = item
        except (TypeError, ValueError):
            raise ValueError(f"{name}[{i}]: expected a (price, size) pair, got {item!r}") from None
        return float(p), float(q)

    # ---- queries ------------------------------------------------------------------------

    @property
    def n_bids(self):
        return self._s[0].n

    @property
    def n_asks(self):
        return self._s[1].n

    cpdef double best_bid(self):
        cdef Side* s = &self._s[0]
        return s.key[s.n - 1] if s.n > 0 else NAN

    cpdef double best_ask(self):
        cdef Side* s = &self._s[1]
        return -s.key[s.n - 1] if s.n > 0 else NAN

    cpdef tuple top(self):
        """``(bid, bid_size, ask, ask_size)``; NaN prices and 0 sizes for an empty side."""
        cdef Side* b = &self._s[0]
        cdef Side* a = &self._s[1]
        return (
            b.key[b.n - 1] if b.n > 0 else NAN,
            b.size[b.n - 1] if b.n > 0 else 0.0,
            -a.key[a.n - 1] if a.n > 0 else NAN,
            a.size[a.n - 1] if a.n > 0 else 0.0,
        )

    def levels(self, int side, Py_ssize_t n=0):
        """The best ``n`` levels of a side (all if ``n`` <= 0), best first, as an (m, 2) array."""
        _check_side(side)
        cdef Side* s = &self._s[side]
        cdef Py_ssize_t m = s.n if n <= 0 or n > s.n else n, j
        out_arr = np.empty((m, 2), dtype=np.float64)
        cdef double[:, ::1] out = out_arr
        for j in range(m):
            out[j, 0] = s.key[s.n - 1 - j] * s.sign
            out[j, 1] = s.size[s.n - 1 - j]
        return out_arr

    cpdef double volume(self, int side, Py_ssize_t n=0) except? -1.0:
        """Total size of the best ``n`` levels of a side (all if ``n`` <= 0)."""
        _check_side(side)
        cdef Side* s = &self._s[side]
        cdef Py_ssize_t m = s.n if n <= 0 or n > s.n else n, j
        cdef double total = 0.0
        for j in range(m):
            total += s.size[s.n - 1 - j]
        return total

    cpdef double imbalance(self, Py_ssize_t n=1):
        """``(bid volume - ask volume) / total`` over the best ``n`` levels; NaN if both empty."""
        cdef double bv = self.volume(0, n), av = self.volume(1, n)
        cdef double total = bv + av
        return (bv - av) / total if total > 0.0 else NAN

    cpdef double price_for_size(self, int side, double size) except? -1.0:
        """Average price to take ``size`` from ``side`` (ASK for a buy); NaN if the book is too thin."""
        if not (isfinite(size) and size > 0.0):
            raise ValueError(f"size: must be finite and > 0, got {size!r}")
        _check_side(side)
        cdef Side* s = &self._s[side]
        cdef double remaining = size, notional = 0.0, take, avail
        cdef Py_ssize_t j
        for j in range(s.n - 1, -1, -1):
            avail = s.size[j]
            take = avail if avail < remaining else remaining
            notional += take * (s.key[j] * s.sign)
            remaining -= take
            if remaining <= 0.0:
                return notional / size
        return NAN

    cpdef bint crossed(self):
        """True when both sides exist and the best bid is at or above the best ask."""
        cdef Side* b = &self._s[0]
        cdef Side* a = &self._s[1]
        return b.n > 0 and a.n > 0 and b.key[b.n - 1] >= -a.key[a.n - 1]
