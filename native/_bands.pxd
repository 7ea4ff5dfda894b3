# Bollinger Bands step shared by native/_volatility.pyx and native/_squeeze.pyx: inline C.

from libc.math cimport NAN, sqrt

from native._window cimport Moments, moments_clear, moments_push, moments_variance


cdef struct BandsState:
    Moments m
    double nbdev_up
    double nbdev_dn
    double middle
    double upper
    double lower
    double bandwidth


cdef inline void bands_clear(BandsState* s) noexcept nogil:
    moments_clear(&s.m)
    s.middle = NAN
    s.upper = NAN
    s.lower = NAN
    s.bandwidth = NAN


cdef inline void bands_step(BandsState* s, double x) noexcept nogil:
    cdef double sd
    moments_push(&s.m, x)
    if s.m.ring.count < s.m.ring.size:
        return
    sd = sqrt(moments_variance(&s.m))
    s.middle = s.m.mean
    s.upper = s.middle + s.nbdev_up * sd
    s.lower = s.middle - s.nbdev_dn * sd
    s.bandwidth = (s.upper - s.lower) / s.middle if s.middle != 0.0 else NAN
