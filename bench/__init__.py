"""Benchmarks that run a reference program and ours in the same run and print the ratio."""
