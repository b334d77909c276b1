"""Run a REAL hivemind-core hub on loopback for end-to-end tests.

Standard library only: no pytest, nothing from the hubs. The hub, its OVOS messagebus and the
bus-side echo helper (bus_echo.py) run as separate processes from the hub's isolated oracle
environment (.venvs/hub-4.0 or .venvs/hub-5.3; .venvs/hub-4.0-http or .venvs/hub-5.3-http with
``http=True``; built by ``scripts/oracles.py ensure``).

    from hubs import RunningHub

    with RunningHub("4.0", tmp_dir, binarize=True, start=False) as hub:
        node_id = hub.add_client("sat", "sat-access-key", hub.DEFAULT_PASSWORD)
        hub.start()                       # (start=True, the default: add clients after; the hub
                                          #  re-reads its client database on every connect)
        # connect a satellite to hub.url / hub.host:hub.port with key + password
        # send recognizer_loop:utterance "hi" -> the satellite receives speak "echo: hi"
        hub.wait_bus_message("recognizer_loop:utterance")
        hub.restart()                     # same port, same client database
        hub.kill()                        # abrupt death of the hub process only
    # everything is stopped here, exception or not

Process hygiene: every child runs in its own session/process group under coreutils
``timeout`` (a hard lifetime, ``max_lifetime`` seconds), with PR_SET_PDEATHSIG so it gets SIGTERM
if the thread that started it dies; ``close()`` runs on ``__exit__`` and at interpreter exit and
kills whole process groups (SIGTERM, then SIGKILL). Servers bind 127.0.0.1 only.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
VENVS = ROOT / ".venvs"
HERE = Path(__file__).resolve().parent
BUS_ECHO = HERE / "bus_echo.py"
RUN_MESSAGEBUS = HERE / "run_messagebus.py"

HOST = "127.0.0.1"
SUPPORTED_VERSIONS = ("4.0", "5.3")

#: Message types every client added by ``add_client`` may send unless told otherwise.
DEFAULT_ALLOWED = ("recognizer_loop:utterance", "ovos.utterance.handle")

#: A password hub 5.3 accepts: it refuses low-entropy ones at ``add-client`` (zxcvbn score under
#: ``min_password_bits`` = 40 bits; "password", "test", "secret123", "Password1!" are refused) and
#: checks again at handshake time. Any 4-5 random words or 32 hex characters pass.
DEFAULT_PASSWORD = "Ecru-Tapir-93-Quill-Marzipan"


class HubError(RuntimeError):
    """The hub (or its messagebus / helper) failed to start or a hub CLI command failed."""


# --------------------------------------------------------------------------------------------
# small helpers: the process helpers are the package's own (hivemind_client/cli/processes.py),
# loaded by file path so this module still runs under the reference's interpreter.
def _load_processes() -> Any:
    path = ROOT / "hivemind_client" / "cli" / "processes.py"
    spec = importlib.util.spec_from_file_location("_hivemind_processes", path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_processes = _load_processes()
free_port = _processes.free_port
port_open = _processes.port_open
kill_group = _processes.kill_group
die_with_parent = _processes.die_with_parent
CloseAtExit = _processes.CloseAtExit
hub_environment = _processes.hub_environment


def wait_port(
    host: str,
    port: int,
    timeout: float,
    proc: subprocess.Popen | None = None,
    what: str = "server",
    log: Path | None = None,
) -> float:
    """Wait until ``host:port`` accepts TCP; return the seconds waited. Fails fast if ``proc`` exits."""
    t0 = time.monotonic()
    deadline = t0 + timeout
    while time.monotonic() < deadline:
        if port_open(host, port):
            return time.monotonic() - t0
        if proc is not None and proc.poll() is not None:
            raise HubError(
                f"{what} exited with code {proc.returncode} before listening on "
                f"{host}:{port}{_tail(log)}"
            )
        time.sleep(0.05)
    raise HubError(f"{what} did not listen on {host}:{port} within {timeout}s{_tail(log)}")


def _tail(log: Path | None, n: int = 40) -> str:
    if not log or not log.exists():
        return ""
    lines = log.read_text(errors="replace").splitlines()[-n:]
    return f"\n--- last lines of {log} ---\n" + "\n".join(lines)


_LIVE = CloseAtExit()  # hubs the caller forgot to close still stop at exit


# --------------------------------------------------------------------------------------------
# the fixture


class RunningHub:
    """A hivemind-core hub of ``version`` ("4.0" or "5.3") with its own OVOS messagebus, on loopback.

    Parameters
      version            "4.0" (protocol v1) or "5.3" (protocol v3, Noise only)
      tmp_dir            where HOME/XDG dirs, config, database and logs go (a new temp dir if None;
                         that one is deleted on close unless keep_tmp=True)
      binarize           server.json "binarize" (hub offers binary frames)
      allowed_encodings  server.json "allowed_encodings" (None: keep the hub's default list)
      allowed_ciphers    server.json "allowed_ciphers" (None: keep the hub's default list)
      echo               start bus_echo.py (records the bus, answers utterances with speak)
      bus_nodelay        run the messagebus through run_messagebus.py, which only turns on
                         TCP_NODELAY (tornado leaves Nagle on; back-to-back bus traffic then costs
                         ~40 ms per message); False runs the plain `ovos-messagebus` command
      echo_handled       the echo also sends ovos.utterance.handled after each speak (as ovos-core
                         does). Off by default: two back-to-back frames from the hub to a satellite
                         make the next answer wait for the satellite's delayed ACK (~40 ms; the
                         hub's tornado socket keeps Nagle on), which skews round-trip timings
      start              start the hub in __enter__ (False: call hub.start() after add_client)
      log_level          hub log level (DEBUG is very chatty but is what you want on a failure)
      password_strength_check  5.3 only: False sets runtime_password_strength_check=false so a
                         client added with allow_weak_password=True can also complete a handshake
      config_overrides   extra top-level server.json keys, applied last (dict merge one level deep)
      max_lifetime       hard limit in seconds for every child process (coreutils timeout)
      start_timeout      seconds to wait for each component to come up
      http               serve satellites with the HTTP polling plugin (hivemind-http-protocol)
                         on ``port`` instead of the websocket one; the hub then runs from the
                         oracle env hub-VERSION-http, and ``url`` is http://
      ensure_env         build the oracle env with scripts/oracles.py when it is missing
      rendezvous         5.x only: run from the oracle env hub-VERSION-rendezvous (with the
                         hivemind-rendezvous mailbox) and enable it in server.json
    """

    DEFAULT_PASSWORD = DEFAULT_PASSWORD
    DEFAULT_ALLOWED = DEFAULT_ALLOWED

    def __init__(
        self,
        version: str = "4.0",
        tmp_dir: str | os.PathLike[str] | None = None,
        *,
        binarize: bool = False,
        allowed_encodings: Iterable[str] | None = None,
        allowed_ciphers: Iterable[str] | None = None,
        echo: bool = True,
        echo_handled: bool = False,
        bus_nodelay: bool = True,
        start: bool = True,
        log_level: str = "DEBUG",
        password_strength_check: bool = True,
        config_overrides: dict | None = None,
        max_lifetime: float = 1800.0,
        start_timeout: float = 60.0,
        ensure_env: bool = True,
        keep_tmp: bool = False,
        http: bool = False,
        rendezvous: bool = False,
    ) -> None:
        if version not in SUPPORTED_VERSIONS:
            raise ValueError(f"version must be one of {SUPPORTED_VERSIONS}, not {version!r}")
        self.version = version
        self.http = http
        if rendezvous and (http or version == "4.0"):
            raise ValueError("rendezvous needs a 5.x hub over websockets")
        self.env_name = (
            f"hub-{version}-http"
            if http
            else f"hub-{version}-rendezvous"
            if rendezvous
            else f"hub-{version}"
        )
        if rendezvous:
            config_overrides = {"rendezvous": {"enabled": True}, **(config_overrides or {})}
        self.venv = VENVS / self.env_name
        self.binarize = bool(binarize)
        self.allowed_encodings = list(allowed_encodings) if allowed_encodings is not None else None
        self.allowed_ciphers = list(allowed_ciphers) if allowed_ciphers is not None else None
        self.echo = echo
        self.echo_handled = echo_handled
        self.bus_nodelay = bus_nodelay
        self.autostart = start
        self.log_level = log_level
        self.password_strength_check = password_strength_check
        self.config_overrides = dict(config_overrides or {})
        self.max_lifetime = max_lifetime
        self.start_timeout = start_timeout
        self.ensure_env = ensure_env

        self._own_tmp = tmp_dir is None
        self.keep_tmp = keep_tmp
        base = (
            Path(tempfile.mkdtemp(prefix=f"hub-{version}-")) if tmp_dir is None else Path(tmp_dir)
        )
        self.tmp_dir = base.resolve()
        self.home = self.tmp_dir / "home"
        self.config_home = self.home / ".config"
        self.data_home = self.home / ".local" / "share"
        self.cache_home = self.home / ".cache"
        self.state_home = self.home / ".local" / "state"
        self.log_dir = self.tmp_dir / "logs"

        #: log files (appended to across restarts)
        self.hub_log = self.log_dir / "hub.log"
        self.bus_log = self.log_dir / "messagebus.log"
        self.echo_log = self.log_dir / "bus_echo.log"
        #: every message the echo helper saw on the OVOS bus, one JSON object a line
        self.bus_record = self.log_dir / "bus_messages.jsonl"
        #: server.json the hub reads (created by `hivemind-core print-config`)
        self.config_path = self.config_home / "hivemind-core" / "server.json"
        self.mycroft_conf = self.config_home / "mycroft" / "mycroft.conf"

        self.host = HOST
        self.port: int | None = None
        self.bus_port: int | None = None
        self.clients: dict[str, dict[str, Any]] = {}  # access_key -> {name, node_id, password}
        self.timings: dict[str, float] = {}

        self._bus_proc: subprocess.Popen | None = None
        self._echo_proc: subprocess.Popen | None = None
        self._hub_proc: subprocess.Popen | None = None
        self._log_files: list = []
        self._prepared = False
        self._closed = False

    # ---- properties -------------------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"{'http' if self.http else 'ws'}://{self.host}:{self.port}"

    @property
    def python(self) -> Path:
        return self.venv / "bin" / "python"

    @property
    def running(self) -> bool:
        return self._hub_proc is not None and self._hub_proc.poll() is None

    @property
    def hub_pid(self) -> int | None:
        return self._hub_proc.pid if self._hub_proc else None

    @property
    def env(self) -> dict[str, str]:
        """Environment every child gets: HOME and the XDG dirs point into tmp_dir."""
        return hub_environment(self.home, self.venv / "bin")

    # ---- context manager ---------------------------------------------------------------------

    def __enter__(self) -> RunningHub:
        try:
            self.prepare()
            if self.autostart:
                self.start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ---- setup ------------------------------------------------------------------------------

    def prepare(self) -> None:
        """Create the env dirs, start messagebus (+ echo helper), write mycroft.conf and server.json."""
        if self._prepared:
            return
        _LIVE.add(self)
        self._ensure_venv()
        for d in (
            self.home,
            self.config_home,
            self.data_home,
            self.cache_home,
            self.state_home,
            self.log_dir,
        ):
            d.mkdir(parents=True, exist_ok=True)
        t0 = time.monotonic()
        self._start_messagebus()
        self.timings["messagebus_start"] = time.monotonic() - t0
        if self.echo:
            t1 = time.monotonic()
            self._start_echo()
            self.timings["echo_start"] = time.monotonic() - t1
        t2 = time.monotonic()
        self._write_server_config()
        self.timings["configure"] = time.monotonic() - t2
        self._prepared = True

    def _ensure_venv(self) -> None:
        if self.python.exists() and (self.venv / ".requirements-sha256").exists():
            return
        if not self.ensure_env:
            raise HubError(
                f"{self.venv} is missing: run python3 scripts/oracles.py ensure {self.env_name}"
            )
        t0 = time.monotonic()
        subprocess.run(
            [sys.executable, str(ROOT / "scripts" / "oracles.py"), "ensure", self.env_name],
            check=True,
            cwd=ROOT,
        )
        self.timings["venv_build"] = time.monotonic() - t0

    def _spawn(self, argv: list[str], log: Path, stdin=subprocess.DEVNULL) -> subprocess.Popen:
        f = open(log, "ab", buffering=0)  # noqa: SIM115 (the child writes to it; closed in close())
        self._log_files.append(f)
        f.write(f"\n=== {time.strftime('%H:%M:%S')} start: {' '.join(argv)}\n".encode())
        # timeout: hard lifetime; -k: SIGKILL if SIGTERM is ignored; the child gets
        # SIGTERM from the kernel when our thread dies (PDEATHSIG is kept across exec)
        cmd = ["timeout", "-k", "5", str(int(self.max_lifetime)), *argv]
        return subprocess.Popen(
            cmd,
            stdin=stdin,
            stdout=f,
            stderr=subprocess.STDOUT,
            env=self.env,
            cwd=self.tmp_dir,
            preexec_fn=die_with_parent,  # noqa: PLW1509 (only setsid + prctl, no locks taken)
        )

    def _start_messagebus(self) -> None:
        self.bus_port = free_port()
        self.mycroft_conf.parent.mkdir(parents=True, exist_ok=True)
        # ovos-messagebus reads Configuration()["websocket"]; the user layer of ovos-config is
        # $XDG_CONFIG_HOME/mycroft/mycroft.conf (its own log goes to $XDG_STATE_HOME/mycroft/bus.log
        # as well as to our messagebus.log).
        conf = {
            "websocket": {"host": self.host, "port": self.bus_port, "route": "/core", "ssl": False}
        }
        self.mycroft_conf.write_text(json.dumps(conf, indent=2))
        argv = (
            [str(self.python), str(RUN_MESSAGEBUS)]
            if self.bus_nodelay
            else [str(self.venv / "bin" / "ovos-messagebus")]
        )
        self._bus_proc = self._spawn(argv, self.bus_log)
        wait_port(
            self.host,
            self.bus_port,
            self.start_timeout,
            self._bus_proc,
            "ovos-messagebus",
            self.bus_log,
        )

    def _start_echo(self) -> None:
        ready = self.log_dir / "bus_echo.ready"
        ready.unlink(missing_ok=True)
        self._echo_proc = self._spawn(
            [
                str(self.python),
                str(BUS_ECHO),
                "--host",
                self.host,
                "--port",
                str(self.bus_port),
                "--record",
                str(self.bus_record),
                "--ready",
                str(ready),
                *(["--handled"] if self.echo_handled else []),
            ],
            self.echo_log,
            stdin=subprocess.PIPE,
        )
        deadline = time.monotonic() + self.start_timeout
        while not ready.exists():
            if self._echo_proc.poll() is not None:
                raise HubError(
                    f"bus_echo exited with {self._echo_proc.returncode}{_tail(self.echo_log)}"
                )
            if time.monotonic() > deadline:
                raise HubError(
                    f"bus_echo not ready after {self.start_timeout}s{_tail(self.echo_log)}"
                )
            time.sleep(0.05)

    def cli(
        self, *args: str, check: bool = True, timeout: float = 60.0
    ) -> subprocess.CompletedProcess:
        """Run ``hivemind-core ARGS`` in the hub env (same HOME/XDG dirs); return the completed process."""
        argv = [str(self.venv / "bin" / "hivemind-core"), *args]
        p = subprocess.run(
            argv,
            env=self.env,
            cwd=self.tmp_dir,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        with open(self.log_dir / "cli.log", "a", encoding="utf-8") as f:
            f.write(f"\n$ hivemind-core {' '.join(args)}  -> {p.returncode}\n{p.stdout}{p.stderr}")
        if check and p.returncode != 0:
            raise HubError(
                f"hivemind-core {' '.join(args)} failed ({p.returncode}):\n{p.stdout}\n{p.stderr}"
            )
        return p

    def read_config(self) -> dict:
        return json.loads(self.config_path.read_text())

    def _write_server_config(self) -> None:
        self.port = self.port or free_port()
        # `print-config` writes the defaults to $XDG_CONFIG_HOME/hivemind-core/server.json
        self.cli("print-config")
        if not self.config_path.exists():
            raise HubError(f"print-config did not create {self.config_path}")
        cfg = self.read_config()
        net = cfg.setdefault("network_protocol", {})
        listener = {"host": self.host, "port": self.port, "ssl": False}
        if self.http:  # one listener: the HTTP plugin takes the port the websocket one had
            net.clear()
            net["hivemind-http-plugin"] = listener
        else:
            net.pop("hivemind-http-plugin", None)
            net.setdefault("hivemind-websocket-plugin", {}).update(listener)
        agent = cfg.setdefault("agent_protocol", {})
        agent.setdefault("module", "hivemind-ovos-agent-plugin")
        agent.setdefault("hivemind-ovos-agent-plugin", {}).update(
            {"host": self.host, "port": self.bus_port}
        )
        cfg["binarize"] = self.binarize
        if self.allowed_encodings is not None:
            cfg["allowed_encodings"] = self.allowed_encodings
        if self.allowed_ciphers is not None:
            cfg["allowed_ciphers"] = self.allowed_ciphers
        if self.version != "4.0":
            cfg["presence"] = {
                **cfg.get("presence", {}),
                "enabled": False,
                "zeroconf": False,
                "upnp": False,
            }
            cfg.setdefault("upstream", {})["enabled"] = False
            cfg["runtime_password_strength_check"] = bool(self.password_strength_check)
        for k, v in self.config_overrides.items():
            if isinstance(v, dict) and isinstance(cfg.get(k), dict):
                cfg[k] = {**cfg[k], **v}
            else:
                cfg[k] = v
        self.config_path.write_text(json.dumps(cfg, indent=2))

    def update_config(self, **changes: Any) -> None:
        """Change top-level server.json keys (takes effect at the next start/restart)."""
        cfg = self.read_config()
        cfg.update(changes)
        self.config_path.write_text(json.dumps(cfg, indent=2))

    # ---- clients ----------------------------------------------------------------------------

    def add_client(
        self,
        name: str,
        access_key: str,
        password: str = DEFAULT_PASSWORD,
        *,
        allow: Iterable[str] = DEFAULT_ALLOWED,
        admin: bool = False,
        allow_weak_password: bool = False,
    ) -> str:
        """``hivemind-core add-client``; then allow each type in ``allow``. Returns the node id.

        Works before or after start(): the hub re-reads its client database on every connect.
        4.0 node ids are small integers, 5.3 ones are strings; both are returned as str.
        """
        self.prepare()
        args = ["add-client", "--name", name, "--access-key", access_key, "--password", password]
        if admin:
            args += ["--admin", "true"]
        allow = list(allow)
        if self.version != "4.0":
            if allow_weak_password:
                args.append("--allow-weak-password")
            for t in allow:
                args += ["--allow", t]
        out = self.cli(*args).stdout
        m = re.search(r"Node ID:\s*(\S+)", out)
        if not m:
            raise HubError(f"no Node ID in add-client output:\n{out}")
        node_id = m.group(1)
        if self.version == "4.0":
            for t in allow:
                self.allow_msg(t, node_id)
        self.clients[access_key] = {"name": name, "node_id": node_id, "password": password}
        return node_id

    def add_keyless_client(
        self, name: str, access_key: str, *, allow: Iterable[str] = DEFAULT_ALLOWED
    ) -> str:
        """4.0 only: a client record with neither a password nor a pre-shared key.

        ``add-client`` always sets both, so this writes the record through the hub's own
        database class. For such a client a 4.0 hub offers its RSA handshake
        (``"handshake": true, "password": false``). Returns the node id.
        """
        if self.version != "4.0":
            raise HubError("only hivemind-core 4.0 keys a link without a password (RSA)")
        self.prepare()
        script = (
            "import json, sys\n"
            "from hivemind_core.database import ClientDatabase\n"
            "name, key, allow = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])\n"
            "with ClientDatabase() as db:\n"
            "    db.add_client(name, key, allowed_types=allow)\n"
            "    print(db.get_client_by_api_key(key).client_id)\n"
        )
        p = subprocess.run(
            [str(self.python), "-c", script, name, access_key, json.dumps(list(allow))],
            env=self.env,
            cwd=self.tmp_dir,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        lines = p.stdout.strip().splitlines()
        if p.returncode != 0 or not lines:
            raise HubError(f"adding a keyless client failed ({p.returncode}):\n{p.stderr}")
        node_id = lines[-1].strip()
        self.clients[access_key] = {"name": name, "node_id": node_id, "password": None}
        return node_id

    def allow_msg(self, msg_type: str, node_id: str | int) -> None:
        """``hivemind-core allow-msg TYPE NODE_ID`` (a no-op if the type is already allowed)."""
        self.cli("allow-msg", msg_type, str(node_id))

    def blacklist_msg(self, msg_type: str, node_id: str | int) -> None:
        """``hivemind-core blacklist-msg TYPE NODE_ID``: the hub stops sending TYPE to that client."""
        self.cli("blacklist-msg", msg_type, str(node_id))

    def list_clients(self) -> str:
        return self.cli("list-clients").stdout

    # ---- hub process ------------------------------------------------------------------------

    def start(self) -> float:
        """Start the hub; wait until its websocket port accepts TCP. Returns the seconds it took."""
        self.prepare()
        if self.running:
            return 0.0
        if port_open(self.host, self.port):
            raise HubError(f"port {self.port} is already taken by something else")
        t0 = time.monotonic()
        # `python -m hivemind_core` is `hivemind-core listen` plus log level/path options
        self._hub_proc = self._spawn(
            [
                str(self.python),
                "-m",
                "hivemind_core",
                "--log-level",
                self.log_level,
                "--log-path",
                "stdout",
            ],
            self.hub_log,
        )
        waited = wait_port(
            self.host,
            self.port,
            self.start_timeout,
            self._hub_proc,
            f"hivemind-core {self.version}",
            self.hub_log,
        )
        self.timings["hub_start"] = waited
        self.timings.setdefault("hub_first_start", time.monotonic() - t0)
        return waited

    def stop(self, grace: float = 10.0) -> None:
        """Stop the hub process gracefully (SIGTERM, SIGKILL after ``grace``). Bus and helper stay up."""
        kill_group(self._hub_proc, grace, signal.SIGTERM)
        self._hub_proc = None
        self._wait_port_closed()

    def kill(self) -> None:
        """Kill the hub process at once (SIGKILL): satellites see the connection drop."""
        kill_group(self._hub_proc, 5.0, signal.SIGKILL)
        self._hub_proc = None
        self._wait_port_closed()

    def restart(self, grace: float = 10.0) -> float:
        """stop() then start() on the same port with the same database and identity."""
        self.stop(grace)
        return self.start()

    def _wait_port_closed(self, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while self.port and port_open(self.host, self.port) and time.monotonic() < deadline:
            time.sleep(0.05)

    # ---- OVOS bus side ----------------------------------------------------------------------

    def bus_emit(
        self, msg_type: str, data: dict | None = None, context: dict | None = None
    ) -> None:
        """Emit a message on the hub's OVOS messagebus (through the echo helper).

        To reach a satellite put its peer id in ``context["destination"]`` and do not put a
        connected peer id in ``context["source"]``; see ``last_peer()``.
        """
        if not self._echo_proc or self._echo_proc.poll() is not None or not self._echo_proc.stdin:
            raise HubError("the bus echo helper is not running (echo=False?)")
        line = json.dumps({"type": msg_type, "data": data or {}, "context": context or {}})
        self._echo_proc.stdin.write(line.encode() + b"\n")
        self._echo_proc.stdin.flush()

    def bus_messages(self, msg_type: str | None = None) -> list[dict]:
        """Messages recorded on the OVOS bus so far: [{"t", "type", "data", "context"}, ...]."""
        if not self.bus_record.exists():
            return []
        out = []
        for line in self.bus_record.read_text(encoding="utf-8").splitlines():
            try:
                m = json.loads(line)
            except ValueError:
                continue
            if msg_type is None or m.get("type") == msg_type:
                out.append(m)
        return out

    def wait_bus_message(
        self,
        msg_type: str,
        timeout: float = 10.0,
        predicate: Callable[[dict], bool] | None = None,
        since: float = 0.0,
    ) -> dict:
        """Wait until a message of ``msg_type`` (recorded at or after ``since``, a time.time())
        satisfying ``predicate`` shows up on the OVOS bus; return it, or raise TimeoutError."""
        deadline = time.monotonic() + timeout
        while True:
            for m in self.bus_messages(msg_type):
                if m.get("t", 0) >= since and (predicate is None or predicate(m)):
                    return m
            if time.monotonic() > deadline:
                raise TimeoutError(f"no {msg_type!r} on the OVOS bus within {timeout}s")
            time.sleep(0.02)

    def last_peer(self) -> str | None:
        """The peer id ("name::session") the hub stamped on the newest satellite message seen."""
        for m in reversed(self.bus_messages()):
            ctx = m.get("context") or {}
            if ctx.get("peer") and ctx.get("source") == ctx.get("peer"):
                return ctx["peer"]
        return None

    # ---- teardown ---------------------------------------------------------------------------

    def close(self) -> None:
        """Stop hub, echo helper and messagebus (process groups), close logs. Idempotent."""
        if self._closed:
            return
        self._closed = True
        try:
            kill_group(self._hub_proc, 5.0)
            if self._echo_proc is not None and self._echo_proc.stdin:
                with contextlib.suppress(OSError):
                    self._echo_proc.stdin.close()  # EOF: the helper exits by itself
            kill_group(self._echo_proc, 3.0)
            kill_group(self._bus_proc, 5.0)
        finally:
            self._hub_proc = self._echo_proc = self._bus_proc = None
            for f in self._log_files:
                with contextlib.suppress(OSError):
                    f.close()
            _LIVE.discard(self)
            if self._own_tmp and not self.keep_tmp:
                shutil.rmtree(self.tmp_dir, ignore_errors=True)

    def describe(self) -> str:
        return (
            f"hivemind-core {self.version} at {self.url} (pid {self.hub_pid}), OVOS bus "
            f"ws://{self.host}:{self.bus_port}/core; logs in {self.log_dir}"
        )


# --------------------------------------------------------------------------------------------
# manual use: python3 tests/e2e/hubs.py 4.0  -> runs a hub until Ctrl+C


def _main(argv: list[str]) -> int:
    import argparse

    ap = argparse.ArgumentParser(description="Run a real hivemind-core hub on loopback.")
    ap.add_argument("version", choices=SUPPORTED_VERSIONS)
    ap.add_argument("--binarize", action="store_true")
    ap.add_argument("--http", action="store_true", help="the HTTP polling plugin, not websockets")
    ap.add_argument("--key", default="e2e-access-key")
    ap.add_argument("--password", default=DEFAULT_PASSWORD)
    ap.add_argument("--tmp-dir")
    ap.add_argument("--seconds", type=float, default=600.0, help="stop after this long")
    a = ap.parse_args(argv)
    with RunningHub(
        a.version, a.tmp_dir, binarize=a.binarize, keep_tmp=bool(a.tmp_dir), http=a.http
    ) as hub:
        node = hub.add_client("e2e", a.key, a.password)
        print(hub.describe(), flush=True)
        print(f"client node_id={node} key={a.key} password={a.password}", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            time.sleep(a.seconds)
    return 0


if __name__ == "__main__":
    raise SystemExit(_main(sys.argv[1:]))
