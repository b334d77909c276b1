"""Conformance: every shipped vector through the `ours` implementation, and the runner itself."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from conformance.impl import Unsupported
from conformance.implementations.ours import OurImplementation
from conformance.runner import load_file
from conformance.suites import SUITES

ROOT = Path(__file__).resolve().parents[2]
VECTOR_FILES = sorted((ROOT / "conformance" / "vectors").rglob("*.json"))


def _vectors() -> list[Any]:
    cases = []
    for path in VECTOR_FILES:
        document = load_file(path)
        for vector in document["vectors"]:
            cases.append(pytest.param(document["suite"], vector, id=f"{path.stem}:{vector['id']}"))
    return cases


def test_vectors_are_shipped() -> None:
    suites = {load_file(p)["suite"] for p in VECTOR_FILES}
    assert {"frame", "frame-invalid"} <= suites


@pytest.mark.parametrize(("suite", "vector"), _vectors())
def test_vector(suite: str, vector: dict[str, Any]) -> None:
    try:
        SUITES[suite](vector, OurImplementation())
    except Unsupported as exc:  # pragma: no cover - a missing operation is a failure for ours
        pytest.fail(f"ours does not support {exc}")


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "conformance", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
        check=False,
    )


def _write(path: Path, suite: str, vectors: list[dict[str, Any]]) -> Path:
    path.write_text(
        json.dumps(
            {
                "format": "hivemind-conformance/1",
                "suite": suite,
                "generator": "test",
                "vectors": vectors,
            }
        )
    )
    return path


def test_foreign_vector_file_from_another_directory(tmp_path: Path) -> None:
    # Frames this project never produced: a SHARED_BUS frame with odd metadata, and a
    # versioned compressed PING built by hand from the layout.
    import zlib

    meta, payload = b'{"x": [1, 2]}', b'{"type": "mirror", "data": {}, "context": {}}'
    shared = bytes([0x84, len(meta)]) + meta + payload
    zmeta, zpayload = zlib.compress(b"{}", 1), zlib.compress(b'{"flood_id": "abc"}', 1)
    ping = bytes([0xC0, 0x53, len(zmeta)]) + zmeta + zpayload  # 1 1 00000001 01001(PING) 1
    good = _write(
        tmp_path / "mine.json",
        "frame",
        [
            {
                "id": "shared",
                "msg_type": "shared_bus",
                "compressed": False,
                "versioned": False,
                "metadata_json": meta.decode(),
                "payload_json": payload.decode(),
                "frame_hex": shared.hex(),
            },
        ],
    )
    result = _run("run", str(good))
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.rstrip().endswith("1 passed, 0 failed")
    # zlib level 1 output is not what encode produces, so the encode half must fail loudly
    other = _write(
        tmp_path / "level1.json",
        "frame",
        [
            {
                "id": "ping",
                "msg_type": "ping",
                "compressed": True,
                "versioned": True,
                "metadata_json": "{}",
                "payload_json": '{"flood_id": "abc"}',
                "frame_hex": ping.hex(),
            },
        ],
    )
    result = _run("run", str(other))
    assert result.returncode == 1
    assert "FAIL level1.json ping: encode" in result.stdout


def test_negative_vectors_need_the_right_code(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "neg.json",
        "frame-invalid",
        [
            {"id": "right", "frame_hex": "9a027b7d7b7d", "error": "unknown-message-type"},
            {"id": "wrong", "frame_hex": "9a027b7d7b7d", "error": "truncated-frame"},
            {
                "id": "valid",
                "frame_hex": "82027b7d7b2274797065223a2274657374227d",
                "error": "truncated-frame",
            },
        ],
    )
    result = _run("run", str(path))
    assert result.returncode == 1
    assert (
        "FAIL neg.json wrong: decode_message_frame failed with unknown-message-type"
        in result.stdout
    )
    assert "FAIL neg.json valid: decode_message_frame succeeded" in result.stdout
    assert result.stdout.rstrip().endswith("1 passed, 2 failed")


def test_unknown_suite_and_unreadable_files_fail(tmp_path: Path) -> None:
    unknown = _write(tmp_path / "u.json", "telepathy", [{"id": "a"}])
    broken = tmp_path / "b.json"
    broken.write_text("{nope")
    result = _run("run", str(unknown), str(broken))
    assert result.returncode == 1
    assert "unknown suite 'telepathy'" in result.stdout
    assert "unreadable" in result.stdout


def test_duplicate_ids_are_refused(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "d.json",
        "frame-invalid",
        [
            {"id": "a", "frame_hex": "", "error": "truncated-frame"},
            {"id": "a", "frame_hex": "00", "error": "truncated-frame"},
        ],
    )
    result = _run("run", str(path))
    assert result.returncode == 1
    assert "duplicate vector ids" in result.stdout


def test_no_vectors_found_is_an_error(tmp_path: Path) -> None:
    assert _run("run", str(tmp_path)).returncode != 0
