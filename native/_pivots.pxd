# Swing-point (pivot) detection shared by native/_swings.pyx and native/_zones.pyx: inline C.
# Twin: native/reference/_pivots.py.
#
# A swing high is a bar whose high is strictly above the highs of the ``left`` bars before it
# and the ``right`` bars after it (a swing low: low strictly below); it is confirmed ``right``
# bars later, on the bar that completes the pattern. Bill Williams' fractal is left = right = 2.

from libc.math cimport NAN

from native._window cimport Ring, ring_clear, ring_free, ring_init, ring_push


cdef struct PivotState:
    Ring highs
    Ring lows
    long left
    long right
    long count
    double new_high          # the swing high confirmed on this bar, NaN if none
    double new_low
    long new_high_index      # its bar index (count of bars before it)
    long new_low_index


cdef inline int pivot_init(PivotState* s, long left, long right) except -1:
    ring_init(&s.highs, left + right + 1)
    ring_init(&s.lows, left + right + 1)
    s.left = left
    s.right = right
    pivot_clear(s)
    return 0


cdef inline void pivot_clear(PivotState* s) noexcept nogil:
    ring_clear(&s.highs)
    ring_clear(&s.lows)
    s.count = 0
    s.new_high = NAN
    s.new_low = NAN
    s.new_high_index = -1
    s.new_low_index = -1


cdef inline void pivot_free(PivotState* s) noexcept nogil:
    ring_free(&s.highs)
    ring_free(&s.lows)


cdef inline void pivot_step(PivotState* s, double high, double low) noexcept nogil:
    cdef Py_ssize_t size = s.highs.size, j, k, mid
    cdef double h, l
    cdef bint is_high = True, is_low = True
    ring_push(&s.highs, high)
    ring_push(&s.lows, low)
    s.count += 1
    s.new_high = NAN
    s.new_low = NAN
    if s.count < size:
        return
    # after a push into a full ring, data[pos] is the oldest bar of the window
    mid = s.highs.pos + s.left
    if mid >= size:
        mid -= size
    h = s.highs.data[mid]
    l = s.lows.data[mid]
    for j in range(size):
        if j == mid:
            continue
        if s.highs.data[j] >= h:
            is_high = False
        if s.lows.data[j] <= l:
            is_low = False
    if is_high:
        s.new_high = h
        s.new_high_index = s.count - 1 - s.right
    if is_low:
        s.new_low = l
        s.new_low_index = s.count - 1 - s.right
