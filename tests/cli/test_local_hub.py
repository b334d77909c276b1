"""The demo hub keeps the satellite's credentials off every command line.

``/proc/<pid>/cmdline`` (what ``ps`` shows) is readable by every local user: a password passed
as ``--password`` to ``hivemind-core add-client`` leaks for as long as the command runs.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hivemind_client.cli import local_hub
from hivemind_client.cli.local_hub import ADD_CLIENT, LocalHub, add_client_command

ROOT = Path(__file__).resolve().parents[2]
HUB_PYTHON = ROOT / ".venvs" / "hub-4.0" / "bin" / "python"
NAME = "demo-satellite"
KEY = "demo-access-key-5f0c2a"
PASSWORD = "Demo-Password-9b1e77d4"


def _never_in(argv: list[str], *secrets: str) -> None:
    for secret in secrets:
        assert all(secret not in part for part in argv), argv


def test_add_client_command_puts_the_secrets_on_stdin_only(tmp_path: Path) -> None:
    argv, stdin = add_client_command(
        Path("/hub/bin/python"), tmp_path / "add_client.py", NAME, KEY, PASSWORD
    )
    assert argv == ["/hub/bin/python", str(tmp_path / "add_client.py")]
    _never_in(argv, KEY, PASSWORD)
    assert json.loads(stdin) == {"name": NAME, "access_key": KEY, "password": PASSWORD}


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[LocalHub]:
    python = HUB_PYTHON if HUB_PYTHON.exists() else tmp_path / "no-hub" / "python"
    hub = LocalHub(python, start_timeout=60.0)
    try:
        hub._prepare()
        yield hub
    finally:
        hub.close()


def test_registering_the_satellite_runs_no_command_with_a_secret(
    hub: LocalHub, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every subprocess the registration starts, recorded; the hub's answer is faked."""
    seen: list[tuple[list[str], Any]] = []

    def run(argv: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
        seen.append((list(argv), kwargs.get("input")))
        return subprocess.CompletedProcess(argv, 0, f"Node ID: 7\nPassword: {PASSWORD}\n", "")

    def popen(argv: list[str], **_kwargs: Any) -> None:
        seen.append((list(argv), None))
        raise AssertionError("registration starts no long-running process")

    monkeypatch.setattr(local_hub.subprocess, "run", run)
    monkeypatch.setattr(local_hub.subprocess, "Popen", popen)
    assert hub._add_client(NAME, KEY, PASSWORD) == "7"
    assert len(seen) == 1
    argv, stdin = seen[0]
    _never_in(argv, KEY, PASSWORD)
    assert json.loads(stdin)["password"] == PASSWORD
    logged = (hub.logs / "hub-cli.log").read_text()
    assert PASSWORD not in logged and KEY not in logged and "Node ID: 7" in logged


@pytest.fixture(scope="module")
def hub_oracle() -> Path:
    """The real hivemind-core 4.0 venv, built by scripts/oracles.py if this run has none yet."""
    subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "oracles.py"), "ensure", "hub-4.0"],
        check=True,
        capture_output=True,
        timeout=900,
    )
    assert HUB_PYTHON.exists()
    return HUB_PYTHON


@pytest.mark.e2e
@pytest.mark.oracle
def test_the_real_hub_registers_the_client_from_stdin(
    hub_oracle: Path, hub: LocalHub, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The script against the real hivemind-core 4.0: the client lands in the hub's database."""
    argvs: list[list[str]] = []
    real_run = subprocess.run

    def run(argv: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
        argvs.append(list(argv))
        done: subprocess.CompletedProcess[str] = real_run(argv, **kwargs)
        return done

    monkeypatch.setattr(local_hub.subprocess, "run", run)
    node_id = hub._add_client(NAME, KEY, PASSWORD)
    assert node_id.isdigit()
    assert argvs and all(PASSWORD not in part for argv in argvs for part in argv)
    assert all(KEY not in part for argv in argvs for part in argv)
    stored = [
        entry
        for path in hub.home.rglob("*.json")
        for entry in _records(path)
        if entry.get("api_key") == KEY
    ]
    assert stored and stored[0]["password"] == PASSWORD and stored[0]["name"] == NAME
    assert PASSWORD not in (hub.logs / "hub-cli.log").read_text()


def _records(path: Path) -> list[dict[str, Any]]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return []
    values = data.values() if isinstance(data, dict) else data if isinstance(data, list) else []
    return [value for value in values if isinstance(value, dict)]


def test_the_add_client_script_reads_every_secret_from_stdin() -> None:
    """The helper program itself: nothing secret comes from sys.argv."""
    assert "json.loads(sys.stdin.read())" in ADD_CLIENT
    assert '"--password", given["password"]' in ADD_CLIENT
    assert '"--access-key", given["access_key"]' in ADD_CLIENT
    compile(ADD_CLIENT, "add_client.py", "exec")
