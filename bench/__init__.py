"""Benchmarks: each measures distillwatch beside a simple baseline in the same run."""
