#!/usr/bin/env python3
"""atheris fuzzer: tests/fuzz/targets.py crypto_target (see tests/fuzz/README.md)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.fuzz._atheris_main import main

if __name__ == "__main__":
    main("crypto")
