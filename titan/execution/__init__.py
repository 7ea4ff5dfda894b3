"""Orders out: execution clients (ccxt, simulated), rate limits, retry policy, reconciliation."""
