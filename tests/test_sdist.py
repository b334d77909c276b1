"""The sdist is the whole project: build one, unpack it, check its contents and run tests in it."""

from __future__ import annotations

import filecmp
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# One file or directory per part of the project the sdist must carry.
EXPECTED = [
    "LICENSE",
    "CHANGELOG.md",
    "README.md",
    "MANIFEST.in",
    "pyproject.toml",
    "package.json",
    "package-lock.json",
    "schema/hivemind_frame.ksy",
    "schema/hive_message.schema.json",
    "codegen/__main__.py",
    "codegen/kaitai_compile.cjs",
    "generated/hivemind_frame_reader.py",
    "generated/hive_message_validator.pyi",
    "hivemind_client/py.typed",
    "hivemind_client/_generated/hivemind_frame_reader.py",
    "docs/protocol.md",
    "docs/conformance.md",
    "tests/conftest.py",
    "tests/data/noise_vectors.json",
    "tests/wire/test_frame.py",
    "tests/e2e/README.md",
    "conformance/vectors/frame.json",
    "conformance/deviations/reference-1.2.json",
    "conformance/adapters/reference.py",
    "conformance/adapters/js/hivemind-frame-adapter.js",
    "conformance/generators/frames.py",
    "scripts/bootstrap",
    "scripts/test-pythons",
    "scripts/oracles/ref-1.2.txt",
    "bench/suite.py",
    "bench/README.md",
    ".ci/run",
]


@pytest.fixture(scope="module")
def unpacked(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("sdist")
    result = subprocess.run(
        [sys.executable, "-m", "build", "--sdist", "--outdir", str(out), str(ROOT)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    (archive,) = out.glob("hivemind_client-*.tar.gz")
    with tarfile.open(archive) as tar:
        if hasattr(tarfile, "data_filter"):  # 3.10.12+, 3.11.4+
            tar.extractall(out / "x", filter="data")
        else:
            tar.extractall(out / "x")
    (tree,) = (out / "x").iterdir()
    return tree


def test_sdist_carries_the_whole_project(unpacked: Path) -> None:
    missing = [name for name in EXPECTED if not (unpacked / name).exists()]
    assert missing == []
    if not (ROOT / ".git").exists():
        return  # running inside an unpacked sdist: no git to compare with
    tracked = subprocess.run(
        ["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    left_out = [
        name
        for name in tracked
        if name not in {".gitignore", "hivemind_client/_generated"}
        and not (unpacked / name).exists()
    ]
    assert left_out == []
    assert not list(unpacked.rglob("__pycache__"))


def test_generated_symlink_becomes_a_copy(unpacked: Path) -> None:
    # hivemind_client/_generated is a symlink to generated/ in git; the sdist holds real files
    copy, source = unpacked / "hivemind_client" / "_generated", unpacked / "generated"
    assert copy.is_dir()
    names = sorted(p.name for p in source.iterdir() if p.is_file())
    match, mismatch, errors = filecmp.cmpfiles(source, copy, names, shallow=False)
    assert (mismatch, errors) == ([], [])


def test_tests_run_in_the_unpacked_tree(unpacked: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(unpacked), "PYTHONDONTWRITEBYTECODE": "1"}
    where = subprocess.run(
        [sys.executable, "-c", "import hivemind_client; print(hivemind_client.__file__)"],
        cwd=unpacked,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert Path(where).is_relative_to(unpacked), where  # the unpacked copy, not this checkout
    result = _pytest_in(unpacked, "tests/wire", "tests/test_compat.py", "-q", "-x")
    assert " passed" in result.stdout


def test_every_test_collects_in_the_unpacked_tree(unpacked: Path) -> None:
    """The whole suite (e2e included) is importable from the sdist: no missing data or module."""
    result = _pytest_in(unpacked, "--collect-only", "-q")
    assert "error" not in result.stdout.splitlines()[-1].lower(), result.stdout[-500:]
    collected = int(result.stdout.splitlines()[-1].split()[0])
    assert collected > 2000


def _pytest_in(unpacked: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """pytest run inside the unpacked sdist, importing its own copy of the package."""
    env = {**os.environ, "PYTHONPATH": str(unpacked), "PYTHONDONTWRITEBYTECODE": "1"}
    result = subprocess.run(
        [sys.executable, "-m", "pytest", *args, "-p", "no:cacheprovider"],
        cwd=unpacked,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    return result
