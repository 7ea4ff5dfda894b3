"""The synchronous core: events, codec, clock, bus, instruments, orders, state. No I/O."""
