"""The Brain: phases propose, the Brain alone decides (``titan.brain.brain.Brain``).

Allocation (``allocator``), one risk gate for every order (``risk``), the circuit breaker
(``breaker``), drawdown rules (``drawdown``), emergency controls (``emergency``), netting
(``netting``) and the running risk sums they read (``book``). Synchronous, no I/O.
"""
