"""The conformance kit works from ``pip install hivemind-client``, far from this repository.

Once per session: copy the source tree (what git tracks, plus untracked files that are not
ignored) to a scratch directory, build the wheel there (``pip wheel --no-deps``: no stale
``build/`` of the checkout can leak into it), install it into a fresh venv outside the
repository (dependencies from the package index, through pip's cache), then run
``hivemind-conformance`` from a directory outside the repository, as a third party would.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
VECTORS = ROOT / "conformance" / "vectors"
BIN = "Scripts" if os.name == "nt" else "bin"
IGNORED = shutil.ignore_patterns(
    ".git", ".venv", ".venvs", "node_modules", "build", "dist", "*.egg-info", "__pycache__",
    ".*_cache", ".hypothesis", "tmp",
)  # fmt: skip


@dataclass
class Installed:
    wheel: Path
    venv: Path
    cwd: Path  # outside the repository, and not the venv

    def run(self, *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
        env["PATH"] = f"{self.venv / BIN}{os.pathsep}{env.get('PATH', '')}"
        return subprocess.run(
            [str(self.venv / BIN / "hivemind-conformance"), *args],
            capture_output=True,
            text=True,
            cwd=self.cwd,
            env=env,
            timeout=timeout,
            check=False,
        )

    def path(self, name: str) -> Path:
        result = self.run("path", name)
        assert result.returncode == 0, result.stderr
        return Path(result.stdout.strip())


def _copy_sources(destination: Path) -> None:
    """The files a clone would have (plus untracked, unignored work), symlinks kept as links."""
    try:
        listed = subprocess.run(
            ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
            cwd=ROOT,
            capture_output=True,
            check=True,
        ).stdout.decode()
    except (OSError, subprocess.CalledProcessError):  # not a git checkout (e.g. an sdist)
        shutil.copytree(ROOT, destination, symlinks=True, ignore=IGNORED)
        return
    for name in filter(None, listed.split("\0")):
        source = ROOT / name
        if name.split("/")[0] in (".venv", ".venvs") or not (
            source.exists() or source.is_symlink()
        ):
            continue  # the shared oracle venvs link, and files deleted but not yet committed
        target = destination / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_symlink():
            target.symlink_to(os.readlink(source))
        elif source.is_file():
            shutil.copy2(source, target)


def _check(command: list[str], timeout: float) -> None:
    result = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
    assert result.returncode == 0, f"{command}\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Installed]:
    base = tmp_path_factory.mktemp("wheel")
    assert not base.resolve().is_relative_to(ROOT), "scratch directory inside the repository"
    source, wheels, venv, cwd = base / "src", base / "wheels", base / "venv", base / "elsewhere"
    cwd.mkdir()
    _copy_sources(source)
    pip = ["-m", "pip", "--disable-pip-version-check", "-q"]
    _check([sys.executable, *pip, "wheel", str(source), "--no-deps", "-w", str(wheels)], 300)
    (wheel,) = wheels.glob("hivemind_client-*.whl")
    _check([sys.executable, "-m", "venv", str(venv)], 120)
    _check([str(venv / BIN / "python"), *pip, "install", str(wheel)], 300)
    yield Installed(wheel, venv, cwd)


def _vector_count(files: list[Path]) -> int:
    return sum(len(json.loads(p.read_text())["vectors"]) for p in files)


def _last_line(result: subprocess.CompletedProcess[str]) -> str:
    lines = result.stdout.strip().splitlines()
    return lines[-1] if lines else ""


def test_help_names_the_console_script(installed: Installed) -> None:
    result = installed.run("--help")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage: hivemind-conformance ")


def test_the_shipped_files_are_installed(installed: Installed) -> None:
    site = installed.venv.resolve()
    shipped = installed.path("vectors")
    assert shipped.resolve().is_relative_to(site)
    assert sorted(p.name for p in shipped.glob("*.json")) == sorted(
        p.name for p in VECTORS.glob("*.json")
    )
    deviations = installed.path("deviations")
    assert sorted(p.name for p in deviations.glob("*.json")) == sorted(
        p.name for p in (ROOT / "conformance" / "deviations").glob("*.json")
    )
    spec = installed.path("spec")
    assert not spec.is_symlink()
    assert spec.read_text() == (ROOT / "docs" / "conformance.md").read_text()
    schema = installed.path("schema") / "hive_message.schema.json"
    assert schema.read_text() == (ROOT / "schema" / "hive_message.schema.json").read_text()
    for name in ("js-adapter", "reference-adapter"):
        assert installed.path(name).resolve().is_relative_to(site), name
    assert not any(installed.path("vectors").parent.glob("ours*.py"))  # the old flat layout


def test_run_without_a_path_runs_every_shipped_vector(installed: Installed) -> None:
    result = installed.run("run")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    expected = _vector_count(sorted(VECTORS.glob("*.json")))
    assert _last_line(result) == f"{expected} passed, 0 failed"


def test_ours_behind_the_pipe_runs_from_the_wheel(installed: Installed) -> None:
    result = installed.run("run", "--impl", "ours-pipe")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert _last_line(result).endswith(" 0 failed")
    assert "== ours-pipe: hivemind-client " in result.stdout


def test_the_shipped_js_adapter_runs_from_the_wheel(installed: Installed) -> None:
    if shutil.which("node") is None:
        pytest.skip("node is not on PATH (the JS adapter needs Node.js)")
    frames = sorted(installed.path("vectors").glob("frame*.json"))
    assert len(frames) == 4
    adapter = installed.path("js-adapter")
    result = installed.run("run", "--adapter", f"js=node {adapter}", *map(str, frames))
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert _last_line(result) == f"{_vector_count(frames)} passed, 0 failed"


def _one_clear_line(result: subprocess.CompletedProcess[str], *words: str) -> None:
    assert result.returncode not in (0, None)
    assert "Traceback" not in result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("hivemind-conformance: error: ")
    for word in words:
        assert word in lines[0]


def test_a_reference_says_it_needs_a_checkout(installed: Installed) -> None:
    result = installed.run("run", "--impl", "reference-0.7")
    _one_clear_line(result, "reference-0.7", "source checkout", "scripts/oracles.py")
    assert result.stdout == ""  # refused before anything ran


def test_generate_fails_loudly_outside_a_checkout(installed: Installed) -> None:
    result = installed.run("generate", "--out", "gen")
    _one_clear_line(result, "generate", "source checkout")
    assert not (installed.cwd / "gen").exists()


def test_the_license_ships_in_the_dist_info(installed: Installed) -> None:
    import zipfile

    names = zipfile.ZipFile(installed.wheel).namelist()
    assert any(
        n.split("/")[0].endswith(".dist-info") and n.rsplit("/", 1)[-1].startswith("LICENSE")
        for n in names
    ), names
