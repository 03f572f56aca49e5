"""Reusable ComponentResources of the Redis HTTP Gateway platform, one per module."""
