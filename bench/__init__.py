"""Benchmarks that print figures against a baseline run in the same command."""
