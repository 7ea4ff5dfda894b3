# cython: language_level=3
"""Argument checks shared by every kernel: one clear ValueError that names the argument."""

from libc.math cimport isfinite

import numpy as np


cdef int check_period(str name, long period, Py_ssize_t n) except -1:
    if period < 1:
        raise ValueError(f"{name}: must be >= 1, got {period}")
    if n >= 0 and period > n:
        raise ValueError(f"{name}: {period} is longer than the data ({n} points)")
    return 0


cdef int check_finite(str name, double x) except -1:
    if not isfinite(x):
        raise ValueError(f"{name}: non-finite value {x!r}")
    return 0


cpdef object check_series(str name, object values, bint allow_empty=False):
    """Return ``values`` as a contiguous float64 array, or raise ValueError naming ``name``."""
    try:
        arr = np.ascontiguousarray(values, dtype=np.float64)
    except (TypeError, ValueError) as e:
        raise ValueError(f"{name}: expected a sequence of numbers ({e})") from None
    if arr.ndim != 1:
        raise ValueError(f"{name}: expected a 1-D array, got {arr.ndim} dimensions")
    cdef const double[::1] view = arr
    cdef Py_ssize_t i, n = view.shape[0]
    if n == 0 and not allow_empty:
        raise ValueError(f"{name}: empty array")
    for i in range(n):
        if not isfinite(view[i]):
            raise ValueError(f"{name}: non-finite value {view[i]!r} at index {i}")
    return arr
