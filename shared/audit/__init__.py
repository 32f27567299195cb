"""Tamper evidence: hash-chained events, the sealed log chain, verification, signed checkpoints, bundles."""
