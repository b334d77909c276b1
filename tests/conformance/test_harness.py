"""The conformance harness: adapters over pipes, known deviations, references, regeneration."""

from __future__ import annotations

import filecmp
import io
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from conformance.adapter import AdapterError, ProcessImplementation
from conformance.implementations.ours import OurImplementation
from conformance.runner import collect_files, load_deviations, run_files

ROOT = Path(__file__).resolve().parents[2]
VECTORS = ROOT / "conformance" / "vectors"


def _run(*args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "conformance", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=timeout,
        check=False,
    )


def test_our_library_behind_the_pipe_passes_everything() -> None:
    result = _run("run", "--impl", "ours-pipe", str(VECTORS))
    assert result.returncode == 0, result.stdout[-2000:]
    assert " 0 failed" in result.stdout.splitlines()[-1]


FOREIGN_ADAPTER = textwrap.dedent(
    """
    import json, sys
    for line in sys.stdin:
        request = json.loads(line)
        answer = {"id": request["id"]}
        if request["operation"] == "hello":
            answer["outputs"] = {"implementation": "toy 0.1", "operations": ["decode_message_frame"]}
        elif request["operation"] == "decode_message_frame":
            if request["inputs"]["frame_hex"] == "":
                answer["error"] = "truncated-frame"
            else:
                answer["outputs"] = {"msg_type": "bus"}
        else:
            answer["unsupported"] = True
        print(json.dumps(answer), flush=True)
    """
)


def test_a_foreign_adapter_is_judged_by_the_same_vectors(tmp_path: Path) -> None:
    adapter = tmp_path / "toy.py"
    adapter.write_text(FOREIGN_ADAPTER)
    result = _run(
        "run",
        "--adapter",
        f"toy={sys.executable} {adapter}",
        str(VECTORS / "frame-invalid.json"),
        str(VECTORS / "frame.json"),
    )
    assert result.returncode == 1
    table = result.stdout
    assert "toy" in table
    # it answers the empty frame right, accepts every other invalid frame, and lacks decode_frame
    assert "FAIL frame-invalid.json truncated-empty" not in table
    assert "FAIL frame-invalid.json unknown-type-13: decode_message_frame succeeded" in table
    frame_row = next(line for line in table.splitlines() if line.startswith("frame "))
    assert frame_row.split()[-1] == "89"  # every vector of frame.json unsupported


def test_an_adapter_that_dies_is_a_clear_error(tmp_path: Path) -> None:
    adapter = tmp_path / "dies.py"
    adapter.write_text(
        "import sys, json\nline = sys.stdin.readline()\nprint(json.dumps({'id': 0, 'outputs': {}}), flush=True)\nsys.exit(3)\n"
    )
    impl = ProcessImplementation("dies", [sys.executable, str(adapter)], timeout=10)
    with pytest.raises(AdapterError, match="exited|not running|cannot write"):
        impl.call("decode_frame", {"frame_hex": "00"})
    impl.close()


def test_an_adapter_that_hangs_times_out(tmp_path: Path) -> None:
    adapter = tmp_path / "hangs.py"
    adapter.write_text(
        "import sys, json, time\nsys.stdin.readline()\nprint(json.dumps({'id': 0, 'outputs': {}}), flush=True)\ntime.sleep(60)\n"
    )
    impl = ProcessImplementation("hangs", [sys.executable, str(adapter)], timeout=1)
    with pytest.raises(AdapterError, match="no answer"):
        impl.call("decode_frame", {"frame_hex": "00"})
    impl.close()


def test_known_deviations_must_name_real_vectors() -> None:
    report = run_files(
        [VECTORS / "frame-invalid.json"],
        OurImplementation(),
        io.StringIO(),
        {"frame-invalid/no-such-vector": "x"},
    )
    assert report.problems == ["known deviation frame-invalid/no-such-vector names no vector"]
    assert not report.ok


def test_every_recorded_deviation_names_a_shipped_vector() -> None:
    shipped = set()
    for path in collect_files([str(VECTORS)]):
        for vector in json.loads(path.read_text())["vectors"]:
            shipped.add(f"{path.stem}/{vector['id']}")
    for name in ("reference-0.7", "reference-1.2"):
        deviations = load_deviations(name, ROOT / "conformance" / "deviations")
        assert deviations, name
        assert set(deviations) <= shipped, name


@pytest.mark.oracle
def test_references_run_and_print_the_comparison_table() -> None:
    result = _run(
        "run", "--impl", "ours", "--impl", "reference-0.7", "--impl", "reference-1.2", str(VECTORS)
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    header = next(line for line in result.stdout.splitlines() if line.startswith("suite"))
    assert "reference-0.7" in header
    assert "reference-1.2" in header


@pytest.mark.oracle
def test_regenerating_twice_gives_the_committed_files(tmp_path: Path) -> None:
    first, second = tmp_path / "a", tmp_path / "b"
    for out in (first, second):
        result = _run("generate", "--out", str(out))
        assert result.returncode == 0, result.stderr[-2000:]
    produced = sorted(p.name for p in first.glob("*.json"))
    assert produced, "generators produced nothing"
    match, mismatch, errors = filecmp.cmpfiles(first, second, produced, shallow=False)
    assert mismatch == [] and errors == []
    match, mismatch, errors = filecmp.cmpfiles(first, VECTORS, produced, shallow=False)
    assert (
        mismatch == [] and errors == []
    ), "committed vectors are stale: run python -m conformance generate"


def test_a_broken_adapter_ends_the_run_with_one_clear_line(tmp_path: Path) -> None:
    adapter = tmp_path / "silent.py"
    adapter.write_text("import sys\nsys.exit(0)\n")
    result = _run(
        "run",
        "--adapter",
        f"silent={sys.executable} {adapter}",
        str(VECTORS / "frame-invalid.json"),
    )
    assert result.returncode == 1
    assert "ERROR silent: silent: adapter exited" in result.stdout
    assert "Traceback" not in result.stderr


@pytest.mark.oracle
def test_a_foreign_vector_file_runs_under_every_adapter(tmp_path: Path) -> None:
    # A frame this project never produced (a SHARED_BUS with a nested list in its metadata).
    meta, payload = b'{"seen": [false]}', b'{"type": "mirror.me", "data": {"n": 7}, "context": {}}'
    frame = bytes([0x84, len(meta)]) + meta + payload
    vectors = [
        {
            "id": "foreign-shared-bus",
            "msg_type": "shared_bus",
            "compressed": False,
            "versioned": False,
            "metadata_json": meta.decode(),
            "payload_json": payload.decode(),
            "frame_hex": frame.hex(),
        },
        {"id": "foreign-bad-version", "frame_hex": "c0c2027b7d7b7d"},
    ]
    good = tmp_path / "foreign.json"
    good.write_text(
        json.dumps({"format": "hivemind-conformance/1", "suite": "frame", "vectors": vectors[:1]})
    )
    bad = tmp_path / "foreign-invalid.json"
    vectors[1]["error"] = "unsupported-version"
    bad.write_text(
        json.dumps(
            {"format": "hivemind-conformance/1", "suite": "frame-invalid", "vectors": vectors[1:]}
        )
    )
    result = _run(
        "run",
        "--impl",
        "ours",
        "--impl",
        "ours-pipe",
        "--impl",
        "reference-0.7",
        "--impl",
        "reference-1.2",
        str(good),
        str(bad),
    )
    assert result.returncode == 0, result.stdout[-2000:]
    for name in ("ours", "ours-pipe", "reference-0.7", "reference-1.2"):
        assert f"== {name}:" in result.stdout
    # every implementation decodes the unseen frame and refuses the unseen version: 4 x 2 passes
    assert result.stdout.rstrip().endswith("8 passed, 0 failed")
