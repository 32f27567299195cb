"""Ombud's kernel: what every service shares (contracts, event store, bus, config, logs, clock)."""
