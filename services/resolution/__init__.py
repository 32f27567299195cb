"""The resolution service."""
