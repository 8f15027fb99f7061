"""Benchmarks: retrieval, zero-shot, traits, speed (the benchmarks issue)."""
