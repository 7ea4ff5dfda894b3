# Argument checks for the indicator kernels, inline; they mirror native/reference/_validate.py so
# the compiled module and its reference reject the same input with the same message.

from libc.math cimport isfinite

import numpy as np

from native._checks cimport check_period, check_series


cdef inline long to_period(str name, object value, Py_ssize_t n, long minimum=1) except? -1:
    """An int >= ``minimum`` and, when ``n`` >= 0, <= n; else ValueError naming ``name``."""
    if isinstance(value, bool):
        raise ValueError(f"{name}: expected an integer, got {value!r}")
    try:
        ok = int(value) == value
    except (TypeError, ValueError, OverflowError):
        ok = False
    if not ok:
        raise ValueError(f"{name}: expected an integer, got {value!r}")
    cdef long p = int(value)
    if p < minimum:
        raise ValueError(f"{name}: must be >= {minimum}, got {p}")
    check_period(name, p, n)
    return p


cdef inline double to_number(str name, object value, double low, double high,
                             bint low_open=False) except? -1.0:
    """A finite float in [low, high] (or (low, high] when ``low_open``)."""
    try:
        v = float(value)
    except (TypeError, ValueError, OverflowError):
        raise ValueError(f"{name}: expected a number, got {value!r}") from None
    cdef double x = v
    if not isfinite(x):
        raise ValueError(f"{name}: non-finite value {x!r}")
    if (x <= low if low_open else x < low) or x > high:
        lo = "(" if low_open else "["
        raise ValueError(f"{name}: {x!r} outside {lo}{low!r}, {high!r}]")
    return x


cdef inline object same_length(str name, object arr, Py_ssize_t n):
    """Check that ``arr`` (already a checked series) has the length of the first input."""
    if arr.shape[0] != n:
        raise ValueError(f"{name}: length {arr.shape[0]} differs from the first input ({n})")
    return arr


cdef inline object series_like(str name, object values, Py_ssize_t n):
    """A checked float64 series of length ``n``."""
    return same_length(name, check_series(name, values), n)


cdef inline object nan_array(Py_ssize_t n):
    return np.full(n, np.nan)


cdef inline int check_high_low(const double[::1] high, const double[::1] low) except -1:
    """Every bar must have ``low <= high``."""
    cdef Py_ssize_t i
    for i in range(high.shape[0]):
        if low[i] > high[i]:
            raise ValueError(f"low: {low[i]!r} above high {high[i]!r} at index {i}")
    return 0


cdef inline int check_bar(double high, double low) except -1:
    """One streaming bar: finite, ``low <= high``."""
    if not isfinite(high):
        raise ValueError(f"high: non-finite value {high!r}")
    if not isfinite(low):
        raise ValueError(f"low: non-finite value {low!r}")
    if low > high:
        raise ValueError(f"low: {low!r} above high {high!r}")
    return 0


cdef inline int check_length(str name, Py_ssize_t n, long need, str rule) except -1:
    """The data must cover the indicator's warm-up (``rule`` says how ``need`` is counted)."""
    if n < need:
        raise ValueError(f"{name}: {n} points, fewer than the {need} needed ({rule})")
    return 0


cdef inline object as_array(str name, object values):
    """``values`` as a contiguous 1-D float64 array, not empty; finiteness is left to the
    caller's loop (which falls back to ``check_series`` for the message)."""
    try:
        arr = np.ascontiguousarray(values, dtype=np.float64)
    except (TypeError, ValueError) as e:
        raise ValueError(f"{name}: expected a sequence of numbers ({e})") from None
    if arr.ndim != 1:
        raise ValueError(f"{name}: expected a 1-D array, got {arr.ndim} dimensions")
    if arr.shape[0] == 0:
        raise ValueError(f"{name}: empty array")
    return arr


cdef inline object array_like(str name, object values, Py_ssize_t n):
    """As ``as_array``, with the length of the first input."""
    try:
        arr = np.ascontiguousarray(values, dtype=np.float64)
    except (TypeError, ValueError) as e:
        raise ValueError(f"{name}: expected a sequence of numbers ({e})") from None
    if arr.ndim != 1:
        raise ValueError(f"{name}: expected a 1-D array, got {arr.ndim} dimensions")
    if arr.shape[0] != n:
        raise ValueError(f"{name}: length {arr.shape[0]} differs from the first input ({n})")
    return arr
