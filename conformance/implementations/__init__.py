"""Implementations the runner drives in-process; one package each (``ours``).

Other implementations plug in as adapter processes (``conformance/adapters/``).
"""
