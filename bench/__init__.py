"""Benchmarks (run as scripts, e.g. ``python -m bench.echo``; not part of the test suite)."""
