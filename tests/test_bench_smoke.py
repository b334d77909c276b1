"""The bench scripts still run against the library (no timing here: bench/ owns timing).

bench/ is not part of the test command's timing goals, but its scripts call library internals
(``transport._build_frame``, the cases of ``bench/micro/micro.py``, the paths of
``bench/micro/profile_hot.py``); each case runs once here so a library change that breaks them
fails CI instead of the next bench run. Plain imports, not ``importorskip``: a bench module that
no longer imports (a moved file, a broken import) fails here too instead of being skipped.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repo root: bench.* imports

from bench.common import sizes
from bench.micro import micro, profile_hot


@pytest.mark.parametrize("op", micro.CODEC_OPS + micro.CRYPTO_OPS)
@pytest.mark.parametrize("cipher", sizes.CIPHERS)
def test_micro_cases_run(op: str, cipher: str) -> None:
    for size in (100, 1 << 16):
        assert micro.ours_case(op, size, cipher)() is not None
        assert micro.floor_case(op, size, cipher)() is not None


@pytest.mark.parametrize("cipher", sizes.CIPHERS)
def test_json_floor_chain_round_trips(cipher: str) -> None:
    encrypt, decrypt = micro.aead(cipher)
    text = sizes.message_text(5000)
    assert micro.json_open_chain(decrypt, micro.json_seal_chain(encrypt, text)) == text


def test_profile_paths_run() -> None:
    for name, path in profile_hot.paths(1024).items():
        path()  # raises if a path no longer fits the library
        assert name
