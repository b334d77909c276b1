"""PskCache: the derived-PSK file beside a static key, usable without an identity file (the
compat layer's ``load_cached_psk(key_path, ...)`` goes through it)."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from hivemind_client.errors import InvalidArgument
from hivemind_client.identity import NodeIdentity, PskCache

PSK = bytes(range(32)).hex()


def test_the_cache_sits_beside_its_key_and_is_scoped(tmp_path: Path) -> None:
    cache = PskCache.beside(tmp_path / "voice_noise.key")
    assert cache.path == tmp_path / "voice_noise_psks.json"
    assert cache.put("hub", "key-A", PSK)
    assert cache.get("hub", "key-A") == PSK
    assert cache.get("hub", None) is None
    assert "key-A" not in cache.path.read_text()  # a digest of the access key, not the key
    if os.name == "posix":
        assert stat.S_IMODE(cache.path.stat().st_mode) == 0o600


def test_forgetting_a_missing_entry_leaves_the_file_alone(tmp_path: Path) -> None:
    cache = PskCache.beside(tmp_path / "k")
    cache.put("hub", None, PSK)
    before = cache.path.stat().st_mtime_ns
    assert cache.forget("other", None) is False
    assert cache.path.stat().st_mtime_ns == before
    assert cache.forget("hub", None) is True
    assert json.loads(cache.path.read_text()) == {}
    cache.clear()
    assert not cache.path.exists()


def test_bad_values(tmp_path: Path) -> None:
    cache = PskCache.beside(tmp_path / "k")
    with pytest.raises(InvalidArgument):
        cache.put("hub", None, "00")
    assert cache.put("x" * 513, None, PSK) is False  # a hub's HELLO cannot grow the file


def test_the_identity_uses_the_same_file(tmp_path: Path) -> None:
    identity = NodeIdentity(tmp_path / "_identity.json")
    identity.cache_psk("hub", "key", PSK)
    assert PskCache.beside(identity.noise_key_path).get("hub", "key") == PSK


def test_a_cache_file_over_max_bytes_is_read_as_empty(tmp_path: Path) -> None:
    cache = PskCache.beside(tmp_path / "k")
    assert cache.max_bytes == 1 << 20
    cache.put("hub", None, PSK)
    small = PskCache.beside(tmp_path / "k", max_bytes=16)
    assert small.get("hub", None) is None
    assert small.put("other", None, PSK)  # rewritten from empty, not from the big file
    assert PskCache.beside(tmp_path / "k").get("hub", None) is None
    for bad in (-1, True, 1.5):
        with pytest.raises(InvalidArgument):
            PskCache(tmp_path / "x", max_bytes=bad)  # type: ignore[arg-type]


def test_a_failed_write_leaves_neither_file_nor_temporary_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def full_disk(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", full_disk)
    cache = PskCache.beside(tmp_path / "k")
    assert cache.put("hub", None, PSK) is False  # best effort: no exception
    assert list(tmp_path.iterdir()) == []
