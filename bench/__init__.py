"""Benchmarks that run a reference program and ours in the same run (`python -m bench.<name>`)."""
