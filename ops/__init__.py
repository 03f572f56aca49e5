"""Operational tooling of the Redis HTTP Gateway platform: one CLI, ``python -m ops <command>``."""
