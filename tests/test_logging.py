"""The library is silent unless the application configures logging (a NullHandler on the
package logger), and every module logs under its own name."""

from __future__ import annotations

import ast
import logging
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import hivemind_client

PACKAGE = Path(hivemind_client.__file__).parent

# A library warning (a private key file others can read) and a failed connect(), in a fresh
# interpreter; CONFIGURE is replaced by a logging setup, or by nothing.
SCRIPT = textwrap.dedent(
    """
    import logging, os, sys
    CONFIGURE
    from hivemind_client.errors import HiveMindError
    from hivemind_client.identity import NodeIdentity
    from hivemind_client.sync.client import HiveMessageBusClient

    path = os.path.join(sys.argv[1], "_identity.json")
    identity = NodeIdentity(path)
    identity.ensure_keys()
    os.chmod(identity.private_key_path, 0o644)
    NodeIdentity(path).private_key_pem  # reading it tightens the mode, with a warning
    client = HiveMessageBusClient(key="k", password="p", host="127.0.0.1", port=int(sys.argv[2]))
    try:
        client.connect(timeout=2)
    except HiveMindError as error:
        print("connect failed:", error.code)
    """
)


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _run(tmp_path: Path, configure: str) -> subprocess.CompletedProcess[str]:
    script = SCRIPT.replace("CONFIGURE", configure)
    return subprocess.run(
        [sys.executable, "-c", script, str(tmp_path), str(_closed_port())],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )


def test_no_logging_configured_prints_nothing(tmp_path: Path) -> None:
    result = _run(tmp_path, "")
    assert result.stdout.startswith("connect failed: connection-failed"), result.stdout
    assert result.stderr == ""


def test_configured_logging_shows_the_warning(tmp_path: Path) -> None:
    # the control: the same run does emit a library warning once logging is configured
    result = _run(tmp_path, "logging.basicConfig(level=logging.WARNING)")
    assert "WARNING:hivemind_client.identity.node_identity:" in result.stderr
    assert "readable by other users" in result.stderr


def test_package_logger_has_a_null_handler() -> None:
    handlers = logging.getLogger("hivemind_client").handlers
    assert any(isinstance(handler, logging.NullHandler) for handler in handlers)


# Being rewritten elsewhere; they keep the logger names they have.
def _logs(tree: ast.Module) -> bool:
    """Whether a module emits log records (LOG.warning(...), logging.info(...), ...)."""
    levels = {"debug", "info", "warning", "error", "exception", "critical", "log"}
    return any(
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in levels
        and isinstance(node.func.value, ast.Name)
        and node.func.value.id in {"LOG", "_log", "logging", "logger"}
        for node in ast.walk(tree)
    )


def test_modules_log_under_their_own_name() -> None:
    """Every module that logs has its own logger, named after it (the CLI configures the
    package's and the websocket library's loggers by name, on purpose; the HTTP driver takes
    httpx's logger only to filter the access key out of it)."""
    missing = []
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE).as_posix()
        if relative.startswith(("_generated/", "cli/support.py")):
            continue
        text = path.read_text()
        tree = ast.parse(text)
        named = [
            node
            for node in ast.walk(tree)
            if isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "getLogger"
        ]
        third_party = {"logging.getLogger('httpx')"}
        named = [call for call in named if ast.unparse(call) not in third_party]
        if any(ast.unparse(call) != "logging.getLogger(__name__)" for call in named):
            missing.append(f"{relative}: a logger not named __name__")
        if _logs(tree) and not named:
            missing.append(f"{relative}: logs without a logger of its own")
    assert missing == []


def test_version_comes_from_the_metadata() -> None:
    from importlib.metadata import version

    assert hivemind_client.__version__ == version("hivemind-client")


def test_version_without_metadata(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.metadata

    def missing(name: str) -> str:
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(importlib.metadata, "version", missing)
    assert hivemind_client._installed_version() == "0+unknown"
