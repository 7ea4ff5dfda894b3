# Shared argument checks for the Cython kernels (declared here, implemented in _checks.pyx).
cdef int check_period(str name, long period, Py_ssize_t n) except -1
cdef int check_finite(str name, double x) except -1
cpdef object check_series(str name, object values, bint allow_empty=*)
