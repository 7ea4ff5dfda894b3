"""Pure-Python/numpy reference twins of the native kernels (test oracles and fallback)."""
