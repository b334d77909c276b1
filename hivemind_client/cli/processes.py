"""Child processes that cannot outlive us: the demo's local hub and the test suite's hubs.

Standard library only, and importable by file path, so the e2e fixture can load it under another
project's interpreter (see tests/e2e/hubs.py) without importing the rest of hivemind_client.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import os
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Protocol

__all__ = [
    "CloseAtExit",
    "die_with_parent",
    "free_port",
    "hub_environment",
    "kill_group",
    "port_open",
]

_PR_SET_PDEATHSIG = 1  # linux/prctl.h


def hub_environment(
    home: Path, bin_dir: Path, extra: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The environment of a hub's child processes, isolated from the caller's.

    HOME and the XDG directories point under ``home`` (``.config``, ``.local/share``,
    ``.cache``, ``.local/state``), ``bin_dir`` leads PATH, and the caller's own XDG, virtualenv,
    Python and OVOS/Mycroft settings are left out; ``extra`` is applied last.
    """
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("XDG_", "VIRTUAL_ENV", "PYTHON", "OVOS_", "MYCROFT_"))
    }
    env.update(
        {
            "HOME": str(home),
            "XDG_CONFIG_HOME": str(home / ".config"),
            "XDG_DATA_HOME": str(home / ".local" / "share"),
            "XDG_CACHE_HOME": str(home / ".cache"),
            "XDG_STATE_HOME": str(home / ".local" / "state"),
            "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '/usr/bin:/bin')}",
            "PYTHONUNBUFFERED": "1",
            "PYTHONDONTWRITEBYTECODE": "1",
        }
    )
    env.update(extra or {})
    return env


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that was free on ``host`` a moment ago (bind to 0, read it, close)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        port: int = probe.getsockname()[1]
        return port


def port_open(host: str, port: int, timeout: float = 0.2) -> bool:
    """True when something accepts TCP connections on ``host:port``."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def die_with_parent() -> None:
    """``preexec_fn`` for children: a process group of their own, SIGTERM when we die (Linux).

    Runs between fork and exec, so it only calls setsid and prctl (no locks, no allocation).
    """
    os.setsid()
    if sys.platform.startswith("linux"):
        with contextlib.suppress(Exception):
            ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)


def kill_group(
    process: subprocess.Popen[bytes] | subprocess.Popen[str] | None,
    grace: float = 5.0,
    sig: int = signal.SIGTERM,
) -> None:
    """Signal ``process``'s whole group (``sig``, then SIGKILL after ``grace``) and reap it."""
    if process is None:
        return
    try:
        group: int | None = os.getpgid(process.pid)
    except ProcessLookupError:
        group = None
    if group is not None and process.poll() is None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(group, sig)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(grace)
    if group is not None:  # the group may hold more than its leader: nothing of it survives
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(group, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(grace)


class _Closable(Protocol):
    def close(self) -> None: ...


class CloseAtExit:
    """Objects whose ``close()`` runs at interpreter exit if their owner never called it."""

    def __init__(self) -> None:
        self._live: set[_Closable] = set()
        self._lock = threading.Lock()
        atexit.register(self.close_all)

    def add(self, item: _Closable) -> None:
        """Close ``item`` at exit unless it is discarded first."""
        with self._lock:
            self._live.add(item)

    def discard(self, item: _Closable) -> None:
        """``item`` closed itself."""
        with self._lock:
            self._live.discard(item)

    def close_all(self) -> None:
        """Close everything still registered (errors are ignored: this runs at exit)."""
        with self._lock:
            items = list(self._live)
        for item in items:
            with contextlib.suppress(Exception):
                item.close()
