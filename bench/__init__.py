"""Benchmarks for oplguard (not part of the installed package)."""
