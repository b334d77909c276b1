"""The JavaScript frame adapter (conformance/adapters/js) against the frame vectors.

It is a second, independent implementation of the binary frame in another language: passing
the same vectors as our library shows the conformance kit is language-neutral. The tests
run the real runner as a subprocess, as a third party would.
"""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conformance.adapter import ProcessImplementation
from hivemind_client.frame import encode_frame

ROOT = Path(__file__).resolve().parents[2]
VECTORS = ROOT / "conformance" / "vectors"
ADAPTER = "conformance/adapters/js/hivemind-frame-adapter.js"
FRAME_FILES = ["frame.json", "frame-invalid.json", "frame-large.json", "frame-limits.json"]
OPERATIONS = {"decode_frame", "encode_frame", "decode_message_frame"}

pytestmark = pytest.mark.skipif(
    shutil.which("node") is None, reason="node is not on PATH (the JS adapter needs Node.js)"
)


def run_runner(*paths: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "conformance",
            "run",
            "--adapter",
            f"js=node {ADAPTER}",
            *map(str, paths),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        timeout=600,
        check=False,
    )


def table(stdout: str) -> dict[str, tuple[int, int, int, int]]:
    """The runner's suite rows for a single implementation: pass, fail, known, unsupported."""
    rows = {}
    for line in stdout.splitlines():
        match = re.fullmatch(r"(\S+)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)", line.strip())
        if match:
            rows[match[1]] = tuple(int(n) for n in match.groups()[1:])
    return rows  # type: ignore[return-value]


def test_js_adapter_passes_every_frame_vector() -> None:
    result = run_runner(*(VECTORS / name for name in FRAME_FILES))
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    last = result.stdout.strip().splitlines()[-1]
    match = re.fullmatch(r"(\d+) passed, 0 failed", last)
    assert match and int(match[1]) > 0, last
    rows = table(result.stdout)
    for suite in ("frame", "frame-invalid"):
        passed, failed, known, unsupported = rows[suite]
        assert passed > 0 and failed == 0 and known == 0 and unsupported == 0, (suite, rows)
    vectors = sum(len(json.loads((VECTORS / n).read_text())["vectors"]) for n in FRAME_FILES)
    assert int(match[1]) == vectors  # every vector ran and passed, none was skipped


def test_js_adapter_claims_its_operations() -> None:
    impl = ProcessImplementation("js", ["node", ADAPTER], cwd=str(ROOT))
    try:
        assert impl.operations == OPERATIONS
        assert impl.description.startswith("hivemind-frame-js")
    finally:
        impl.close()


def test_a_wrong_encoding_is_caught() -> None:
    """The adapter flips one bit of every frame it encodes: the runner must fail them."""
    result = run_runner(VECTORS / "frame.json", env={"HIVEMIND_JS_ADAPTER_TAMPER": "1"})
    assert result.returncode == 1, result.stdout[-2000:]
    assert "FAIL frame.json example-bus-test: encode: frame differs" in result.stdout
    assert table(result.stdout)["frame"][1] > 0
    assert re.fullmatch(r"\d+ passed, [1-9]\d* failed", result.stdout.strip().splitlines()[-1])


def test_a_tampered_vector_is_caught(tmp_path: Path) -> None:
    """Vectors whose expectations were altered fail against the (correct) adapter."""
    invalid = json.loads((VECTORS / "frame-invalid.json").read_text())
    by_id = {v["id"]: v for v in invalid["vectors"]}
    by_id["unknown-type-13"]["error"] = "truncated-frame"  # the right code is unknown-message-type
    (tmp_path / "frame-invalid.json").write_text(json.dumps(invalid))
    frame = json.loads((VECTORS / "frame.json").read_text())
    example = next(v for v in frame["vectors"] if v["id"] == "example-bus-test")
    example["frame_hex"] = example["frame_hex"][:-2] + "7e"  # last byte } -> ~
    (tmp_path / "frame.json").write_text(json.dumps(frame))
    result = run_runner(tmp_path)
    assert result.returncode == 1, result.stdout[-2000:]
    assert (
        "FAIL frame-invalid.json unknown-type-13: decode_message_frame failed with" in result.stdout
    )
    assert "FAIL frame.json example-bus-test:" in result.stdout
    rows = table(result.stdout)
    assert rows["frame"][1] == 1 and rows["frame-invalid"][1] == 1, rows


def test_js_deflate_matches_python_zlib_on_random_text() -> None:
    """Compressed frames from the adapter equal our library's (Python zlib, level 6).

    Text of mixed entropy and size exercises stored, fixed and dynamic blocks, block splits
    at 16383 symbols, and the window slide past 64 KiB.
    """
    rng = random.Random(17)
    alphabets = [
        "ab",
        "hive mind ",
        "".join(map(chr, range(32, 127))),
        "".join(map(chr, range(160, 4000))),
    ]
    impl = ProcessImplementation("js", ["node", ADAPTER], cwd=str(ROOT))
    try:
        for size in [0, 1, 2, 3, 10, 300, 5000, 40000, 70000, 200000]:
            alphabet = rng.choice(alphabets)
            text = "".join(rng.choice(alphabet) for _ in range(size))
            metadata = json.dumps({"n": size})
            fields = {
                "msg_type": "3rdparty",
                "compressed": True,
                "versioned": False,
                "metadata_json": metadata,
                "payload_json": text,
            }
            got = impl.call("encode_frame", fields)["frame_hex"]
            want = encode_frame("3rdparty", metadata.encode(), text.encode(), compressed=True)
            assert got == want.hex(), (size, alphabet[:10])
    finally:
        impl.close()
