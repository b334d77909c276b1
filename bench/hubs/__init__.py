"""Client benchmarks through real hubs (tests/e2e/hubs.py), ours and the reference."""
