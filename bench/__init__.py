"""Benchmarks for torsion (scripts, not tests): ``python -m bench.echo``; see bench/README.md."""
