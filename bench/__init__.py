"""Benchmarks (not part of the library). See bench/README.md.

Import scheme: every script here starts by putting the repository root on ``sys.path`` and
imports its neighbours as ``bench.<group>.<module>``; ``bench.common`` is stdlib only, so the
scripts that run under a reference's interpreter (``bench/reference/``, ``hubs/load_worker.py``)
import it the same way.
"""
