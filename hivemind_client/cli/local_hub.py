"""A real hivemind-core 4.0.0 hub on loopback, for ``hivemind-client demo``.

The hub is not a dependency of this library: it is installed on first use into its own
virtual environment, ``$XDG_CACHE_HOME/hivemind-client/hub-4.0`` (``~/.cache/...`` when the
variable is unset; the environment variable ``HIVEMIND_CLIENT_CACHE_DIR`` replaces
``$XDG_CACHE_HOME/hivemind-client``), with pip, from :data:`HUB_REQUIREMENTS` (the same pinned
list the project's end-to-end tests build from, so pointing the cache at the project's
``.venvs`` reuses that environment). A stamp file holds the list's SHA-256; a changed list
rebuilds the environment.

:class:`LocalHub` then runs, for one session, three processes from that environment: the OVOS
messagebus, a tiny responder on that bus that answers every utterance with ``speak`` ("echo:
..."), and the hub, all bound to 127.0.0.1 on free ports, with HOME and the XDG directories in
a temporary directory (nothing touches the user's own configuration, and the hub's lock files
go to a TMPDIR inside it). The satellite's credentials reach ``hivemind-core add-client``
on its standard input (:data:`ADD_CLIENT`), never on a command line, which every local user can
read in the process list. Each child runs in its
own process group under coreutils ``timeout`` (a hard lifetime) with a parent-death signal on
Linux; :meth:`LocalHub.close` (also run at interpreter exit) kills the groups and removes the
temporary directory. The helper programs are written into that directory from the
:data:`ECHO_RESPONDER`, :data:`MESSAGEBUS_LAUNCHER` and :data:`ADD_CLIENT` texts, so the
installed package needs no data files.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
import venv
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any, NoReturn

from hivemind_client.cli.processes import (
    CloseAtExit,
    die_with_parent,
    free_port,
    hub_environment,
    kill_group,
    port_open,
)
from hivemind_client.cli.support import CliError

__all__ = [
    "ADD_CLIENT",
    "CACHE_DIR_VARIABLE",
    "ECHO_RESPONDER",
    "HOST",
    "HUB_ENV_NAME",
    "HUB_REQUIREMENTS",
    "MESSAGEBUS_LAUNCHER",
    "LocalHub",
    "add_client_command",
    "cache_dir",
    "ensure_hub_env",
    "free_port",
    "hub_env_dir",
    "requirements_digest",
]

HOST = "127.0.0.1"
"""Every server of the demo hub listens here only."""

HUB_ENV_NAME = "hub-4.0"
"""Name of the hub's environment inside the cache directory."""

CACHE_DIR_VARIABLE = "HIVEMIND_CLIENT_CACHE_DIR"
"""Environment variable naming the cache directory (default: ``$XDG_CACHE_HOME/hivemind-client``)."""

HUB_REQUIREMENTS = """\
# hivemind-core 4.0.0 (protocol v1) with the combination verified to run here.
hivemind-core==4.0.0
hivemind-json-db-plugin==0.0.2
hivemind-ovos-agent-plugin==0.1.0
hivemind_bus_client==0.7.0a2
poorman-handshake==1.0.1
bitstring<5
ovos-messagebus==0.0.10
"""
"""The hub's requirement list; byte-identical to ``scripts/oracles/hub-4.0.txt`` (tested)."""

_STAMP = ".requirements-sha256"

MESSAGEBUS_LAUNCHER = '''\
"""ovos-messagebus with TCP_NODELAY on its sockets (tornado leaves Nagle on: +40 ms a message)."""
import contextlib

from ovos_messagebus.event_handler import MessageBusEventHandler

_open = MessageBusEventHandler.open


def _open_nodelay(self, *args, **kwargs):
    with contextlib.suppress(Exception):
        self.set_nodelay(True)
    return _open(self, *args, **kwargs)


MessageBusEventHandler.open = _open_nodelay

if __name__ == "__main__":
    from ovos_messagebus.__main__ import main

    main()
'''
"""Runs in the hub's environment: the messagebus, with Nagle's algorithm off."""

ECHO_RESPONDER = '''\
"""Answers every utterance on the OVOS bus with speak "echo: <utterance>"; exits at stdin EOF."""
import sys

from ovos_bus_client import MessageBusClient

host, port, ready = sys.argv[1], int(sys.argv[2]), sys.argv[3]
bus = MessageBusClient(host=host, port=port, route="/core", ssl=False)


def answer(message):
    utterances = message.data.get("utterances") or [message.data.get("utterance", "")]
    text = utterances[0] if utterances else ""
    lang = message.data.get("lang", "en-US")
    # reply() swaps source and destination: the hub routes the answer back to the satellite
    bus.emit(message.reply("speak", {"utterance": f"echo: {text}", "lang": lang}))


for kind in ("recognizer_loop:utterance", "ovos.utterance.handle"):
    bus.on(kind, answer)
bus.run_in_thread()
if not bus.connected_event.wait(30):
    sys.exit("echo responder: cannot reach the messagebus")
with open(ready, "w") as handle:
    handle.write("ready\\n")
sys.stdin.read()  # EOF: the parent closed the pipe or died
bus.close()
'''
"""Runs in the hub's environment: the bus-side echo that gives the demo its answers."""


ADD_CLIENT = '''\
"""hivemind-core add-client, with the credentials read from stdin instead of the command line.

stdin: one JSON object {"name", "access_key", "password"}; further arguments go to add-client
as they are. The exit status and the output are add-client's own.
"""
import json
import sys

from hivemind_core.scripts import hmcore_cmds

given = json.loads(sys.stdin.read())
hmcore_cmds.main(
    args=[
        "add-client",
        "--name", given["name"],
        "--access-key", given["access_key"],
        "--password", given["password"],
        *sys.argv[1:],
    ],
    prog_name="hivemind-core",
)
'''
"""Runs in the hub's environment: ``add-client`` with the secrets on stdin, out of ``ps``."""


def add_client_command(
    python: Path, script: Path, name: str, access_key: str, password: str
) -> tuple[list[str], str]:
    """The command line and the stdin text that register a client with :data:`ADD_CLIENT`.

    The access key and the password are in the stdin text only: ``/proc/<pid>/cmdline`` is
    readable by every local user.
    """
    secrets = {"name": name, "access_key": access_key, "password": password}
    return [str(python), str(script)], json.dumps(secrets)


def cache_dir() -> Path:
    """``$HIVEMIND_CLIENT_CACHE_DIR``, else ``$XDG_CACHE_HOME/hivemind-client`` (XDG rules)."""
    override = os.environ.get(CACHE_DIR_VARIABLE, "").strip()
    if override:
        return Path(override).expanduser().absolute()
    base = os.environ.get("XDG_CACHE_HOME", "")
    if not base or not os.path.isabs(base):
        base = str(Path.home() / ".cache")
    return Path(base) / "hivemind-client"


def hub_env_dir() -> Path:
    """Where the hub's virtual environment lives."""
    return cache_dir() / HUB_ENV_NAME


def requirements_digest() -> str:
    """SHA-256 of :data:`HUB_REQUIREMENTS`, as stored in the environment's stamp file."""
    return hashlib.sha256(HUB_REQUIREMENTS.encode()).hexdigest()


def _env_python(home: Path) -> Path:
    return home / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def _ready(home: Path) -> bool:
    stamp = home / _STAMP
    try:
        return _env_python(home).exists() and stamp.read_text().strip() == requirements_digest()
    except OSError:
        return False


@contextlib.contextmanager
def _install_lock(directory: Path) -> Iterator[None]:
    """One installer at a time (two demos started together must not build the same env)."""
    directory.mkdir(parents=True, exist_ok=True)
    with open(directory / f"{HUB_ENV_NAME}.lock", "a+b") as handle:
        try:
            import fcntl
        except ImportError:  # pragma: no cover - not POSIX: no lock, still correct alone
            yield
            return
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def ensure_hub_env(progress: Callable[[str], None]) -> tuple[Path, float | None]:
    """The hub environment's python, and the seconds spent installing it (None: cached)."""
    home = hub_env_dir()
    if _ready(home):
        return _env_python(home), None
    with _install_lock(home.parent):
        if _ready(home):  # another process finished it while we waited
            return _env_python(home), None
        started = time.monotonic()
        _install(home, progress)
        return _env_python(home), time.monotonic() - started


def _install(home: Path, progress: Callable[[str], None]) -> None:
    log_path = home.parent / f"{HUB_ENV_NAME}-install.log"
    progress(f"installing hivemind-core 4.0.0 into {home} (first use only; log: {log_path})")
    try:
        venv.EnvBuilder(clear=True, with_pip=True).create(home)
    except (OSError, subprocess.CalledProcessError) as exc:
        raise CliError(f"cannot create the hub environment {home}: {exc}") from None
    requirements = home / "requirements.txt"
    requirements.write_text(HUB_REQUIREMENTS, encoding="utf-8")
    pip = [str(_env_python(home)), "-m", "pip", "--disable-pip-version-check", "--no-input"]
    with open(log_path, "w", encoding="utf-8") as log:
        _pip(
            [*pip, "install", "--upgrade", "pip", "setuptools<70", "wheel"],
            log,
            log_path,
            lambda line: None,
        )
        counter = _PipProgress(progress)
        _pip(
            [*pip, "install", "--progress-bar", "off", "-r", str(requirements)],
            log,
            log_path,
            counter,
        )
    (home / _STAMP).write_text(requirements_digest())
    progress(f"hub environment ready ({counter.installed} packages installed)")


class _PipProgress:
    """Turns pip's output into a few progress lines."""

    def __init__(self, progress: Callable[[str], None]) -> None:
        self.progress = progress
        self.collected = 0
        self.installed = 0

    def __call__(self, line: str) -> None:
        if line.startswith("Successfully installed "):
            self.installed = len(line.split()) - 2
        elif line.startswith("Collecting "):
            self.collected += 1
            name = line.split()[1]
            if self.collected == 1 or self.collected % 10 == 0:
                self.progress(f"  resolving: {self.collected} packages so far ({name})")
        elif line.startswith("Installing collected packages"):
            self.progress(f"  installing {line.count(',') + 1} packages...")


def _pip(argv: list[str], log: IO[str], log_path: Path, on_line: Callable[[str], None]) -> None:
    log.write(f"$ {' '.join(argv)}\n")
    log.flush()
    process = subprocess.Popen(
        argv,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        encoding="utf-8",
        errors="replace",
    )
    try:
        assert process.stdout is not None
        for line in process.stdout:
            log.write(line)
            on_line(line.strip())
        status = process.wait()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    log.flush()
    if status != 0:
        raise CliError(f"installing the demo hub failed (pip exit status {status}); see {log_path}")


# -- running it ------------------------------------------------------------------------------


_LIVE = CloseAtExit()  # hubs the caller forgot to close still stop at exit


class LocalHub:
    """hivemind-core 4.0.0, its OVOS messagebus and the echo responder, on 127.0.0.1.

    ``python`` is the hub environment's interpreter (:func:`ensure_hub_env`). Use as a context
    manager, or call :meth:`close`; everything started is stopped, exception or not.
    """

    def __init__(
        self,
        python: Path,
        *,
        binarize: bool = False,
        lifetime: float = 900.0,
        start_timeout: float = 60.0,
    ) -> None:
        self.python = python
        self.bin_dir = python.parent
        self.binarize = binarize
        self.lifetime = lifetime
        self.start_timeout = start_timeout
        self.work = Path(tempfile.mkdtemp(prefix="hivemind-demo-"))
        self.home = self.work / "home"
        self.logs = self.work / "logs"
        self.port = free_port()
        self.bus_port = free_port()
        self.timings: dict[str, float] = {}
        self.keep_logs = False
        self._processes: dict[str, subprocess.Popen[bytes]] = {}
        self._log_files: list[IO[bytes]] = []
        self._closed = False
        _LIVE.add(self)

    @property
    def url(self) -> str:
        """``ws://127.0.0.1:PORT``."""
        return f"ws://{HOST}:{self.port}"

    @property
    def env(self) -> dict[str, str]:
        """The children's environment: HOME and XDG directories inside the work directory."""
        # the hub's lock files go with the rest
        return hub_environment(self.home, self.bin_dir, {"TMPDIR": str(self.work / "tmp")})

    def __enter__(self) -> LocalHub:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- start ----------------------------------------------------------------------------------
    def start(self, progress: Callable[[str], None], client: tuple[str, str, str]) -> str:
        """Start everything with one satellite ``(name, access key, password)``; its node id.

        The messagebus starts first; the client is registered and the hub configured while
        it comes up; then the echo responder and the hub start side by side.
        """
        self._prepare()
        launcher = self.work / "run_messagebus.py"
        echo = self.work / "echo_responder.py"
        started = time.monotonic()
        bus = self._spawn("messagebus", [str(self.python), str(launcher)])
        # every hub command writes the default server.json first: one command does both
        node_id = self._add_client(*client)
        self._configure()
        self.timings["configure"] = time.monotonic() - started
        self._wait_port(self.bus_port, bus, "the OVOS messagebus")
        self.timings["messagebus"] = time.monotonic() - started
        progress(f"OVOS messagebus on ws://{HOST}:{self.bus_port}/core")
        ready = self.work / "echo.ready"
        self._spawn(
            "echo",
            [str(self.python), str(echo), HOST, str(self.bus_port), str(ready)],
            stdin=subprocess.PIPE,
        )
        hub_started = time.monotonic()
        hub = self._spawn(
            "hub",
            [
                str(self.python),
                "-m",
                "hivemind_core",
                "--log-level",
                "INFO",
                "--log-path",
                "stdout",
            ],
        )
        deadline = time.monotonic() + self.start_timeout
        while not ready.exists():
            self._check_alive("echo", "the echo responder")
            if time.monotonic() > deadline:
                self._fail(f"the echo responder was not ready within {self.start_timeout:g} s")
            time.sleep(0.05)
        progress("echo responder on the bus: it answers every utterance with speak")
        self._wait_port(self.port, hub, "hivemind-core")
        self.timings["hub"] = time.monotonic() - hub_started
        self.timings["total"] = time.monotonic() - started
        progress(f"hivemind-core 4.0.0 listening on {self.url}")
        return node_id

    def _prepare(self) -> None:
        """The work directory's layout, helper programs and the bus configuration."""
        for directory in (self.home / ".config" / "mycroft", self.logs, self.work / "tmp"):
            directory.mkdir(parents=True, exist_ok=True)
        for name, text in (
            ("run_messagebus.py", MESSAGEBUS_LAUNCHER),
            ("echo_responder.py", ECHO_RESPONDER),
            ("add_client.py", ADD_CLIENT),
        ):
            (self.work / name).write_text(text, encoding="utf-8")
        (self.home / ".config" / "mycroft" / "mycroft.conf").write_text(
            json.dumps(
                {"websocket": {"host": HOST, "port": self.bus_port, "route": "/core", "ssl": False}}
            )
        )

    def _spawn(
        self, name: str, argv: list[str], stdin: int = subprocess.DEVNULL
    ) -> subprocess.Popen[bytes]:
        log = open(self.logs / f"{name}.log", "ab", buffering=0)  # noqa: SIM115 (closed in close())
        self._log_files.append(log)
        timeout = shutil.which("timeout")
        if timeout:  # a hard lifetime, even if everything else fails
            argv = [timeout, "-k", "5", str(int(self.lifetime)), *argv]
        process = subprocess.Popen(
            argv,
            stdin=stdin,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=self.env,
            cwd=self.work,
            preexec_fn=die_with_parent,  # noqa: PLW1509 (setsid and prctl only)
        )
        self._processes[name] = process
        return process

    def _hub_cli(
        self, what: str, argv: list[str], stdin: str = "", hide: tuple[str, ...] = ()
    ) -> str:
        """Run a hub command to completion; its stdout. ``hide``: texts kept out of the log."""
        try:
            done = subprocess.run(
                argv,
                env=self.env,
                cwd=self.work,
                input=stdin,
                capture_output=True,
                text=True,
                timeout=self.start_timeout,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            self._fail(f"hivemind-core {what} did not run: {exc}")
        output = done.stdout + done.stderr
        for text in hide:
            if text:
                output = output.replace(text, "<hidden>")
        with open(self.logs / "hub-cli.log", "a", encoding="utf-8") as log:
            log.write(f"$ hivemind-core {what} -> {done.returncode}\n{output}")
        if done.returncode != 0:
            self._fail(f"hivemind-core {what} failed with exit status {done.returncode}")
        return done.stdout

    def _configure(self) -> None:
        path = self.home / ".config" / "hivemind-core" / "server.json"
        try:
            config: dict[str, Any] = json.loads(path.read_text())
        except (OSError, ValueError):
            self._fail(f"hivemind-core did not write its default configuration {path}")
        network = config.setdefault("network_protocol", {})
        network.pop("hivemind-http-plugin", None)  # would listen on 0.0.0.0
        network.setdefault("hivemind-websocket-plugin", {}).update(
            {"host": HOST, "port": self.port, "ssl": False}
        )
        agent = config.setdefault("agent_protocol", {})
        agent.setdefault("module", "hivemind-ovos-agent-plugin")
        agent.setdefault("hivemind-ovos-agent-plugin", {}).update(
            {"host": HOST, "port": self.bus_port}
        )
        config["binarize"] = self.binarize
        path.write_text(json.dumps(config, indent=2))

    def _add_client(self, name: str, key: str, password: str) -> str:
        argv, secrets = add_client_command(
            self.python, self.work / "add_client.py", name, key, password
        )
        out = self._hub_cli("add-client", argv, stdin=secrets, hide=(password, key))
        found = re.search(r"Node ID:\s*(\S+)", out)
        if not found:
            self._fail("hivemind-core add-client printed no node id")
        return found.group(1)

    def _check_alive(self, name: str, what: str) -> None:
        process = self._processes.get(name)
        if process is not None and process.poll() is not None:
            self._fail(f"{what} exited with status {process.returncode}")

    def _wait_port(self, port: int, process: subprocess.Popen[bytes], what: str) -> None:
        deadline = time.monotonic() + self.start_timeout
        while not port_open(HOST, port):
            if process.poll() is not None:
                self._fail(f"{what} exited with status {process.returncode} before listening")
            if time.monotonic() > deadline:
                self._fail(
                    f"{what} did not listen on {HOST}:{port} within {self.start_timeout:g} s"
                )
            time.sleep(0.05)

    def _fail(self, message: str) -> NoReturn:
        self.keep_logs = True
        raise CliError(f"{message}; logs kept in {self.logs}")

    # -- stop -----------------------------------------------------------------------------------
    def running(self) -> list[str]:
        """Names of the processes still alive (empty after :meth:`close`)."""
        return [name for name, process in self._processes.items() if process.poll() is None]

    def close(self) -> None:
        """Stop the hub, the echo responder and the messagebus; remove the work directory."""
        if self._closed:
            return
        self._closed = True
        try:
            kill_group(self._processes.get("hub"), 5.0)
            echo = self._processes.get("echo")
            if echo is not None and echo.stdin is not None:
                with contextlib.suppress(OSError):
                    echo.stdin.close()  # EOF: it leaves by itself
            kill_group(echo, 3.0)
            kill_group(self._processes.get("messagebus"), 5.0)
        finally:
            for log in self._log_files:
                with contextlib.suppress(OSError):
                    log.close()
            _LIVE.discard(self)
            if not self.keep_logs:
                shutil.rmtree(self.work, ignore_errors=True)
