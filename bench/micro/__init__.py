"""Codec, crypto and Noise microbenchmarks and profiles (no hub)."""
