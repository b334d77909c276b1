"""The ``hivemind-client`` command line without a real hub.

Commands run as the real console script (``.venv/bin/hivemind-client``) in a subprocess, with
``--identity`` pointing into a temp dir; the help texts are checked in-process (fast). Commands
that need a hub talk to a small scripted hub (a websocket server in this process that speaks the
hub's side of the v1 password handshake and answers QUERY, CASCADE and PING as a 5.x hub
would). The end-to-end suite (tests/e2e/test_cli.py) runs the same commands against real hubs.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import stat
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from Crypto.PublicKey import RSA
from websockets.exceptions import ConnectionClosed
from websockets.sync.server import ServerConnection, serve

from hivemind_client.cli import build_parser, main
from hivemind_client.cli.local_hub import HUB_REQUIREMENTS, cache_dir, requirements_digest
from hivemind_client.identity import NodeIdentity
from hivemind_client.security.aead import open_json, seal_json
from hivemind_client.security.legacy_handshake import PasswordHandshake
from hivemind_client.wire.codec import decode_json
from hivemind_client.wire.message import HiveMessage, Message

ROOT = Path(__file__).resolve().parents[2]
CLI = Path(sys.executable).with_name("hivemind-client")
PASSWORD = "Scripted-Hub-Password-42"
KEY = "scripted-access-key"
HUB_PEM = RSA.generate(1024).public_key().export_key().decode()


def run(
    *args: str,
    identity: Path | None = None,
    stdin: str | None = None,
    env: dict[str, str] | None = None,
    timeout: float = 60,
) -> subprocess.CompletedProcess[str]:
    """The console script with ``args`` (``--identity`` first when given)."""
    argv = [str(CLI)]
    if identity is not None:
        argv += ["--identity", str(identity)]
    return subprocess.run(
        [*argv, *args],
        input=stdin if stdin is not None else "",
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
        check=False,
    )


def payload_of(message: HiveMessage) -> dict[str, Any]:
    """A JSON payload (every type but BINARY has one)."""
    payload = message.raw_payload
    assert isinstance(payload, dict)
    return payload


def one_error_line(result: subprocess.CompletedProcess[str]) -> str:
    """The single stderr line of a failed command (and no traceback anywhere)."""
    assert "Traceback" not in result.stderr + result.stdout
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("hivemind-client"), lines[0]
    return lines[0]


@pytest.fixture
def identity(tmp_path: Path) -> Path:
    return tmp_path / "config" / "hivemind" / "_identity.json"


def test_console_script_is_installed() -> None:
    assert CLI.exists(), f"{CLI} missing: run scripts/bootstrap"
    result = run("--version")
    assert result.returncode == 0
    assert result.stdout.startswith("hivemind-client ")


def _commands() -> list[tuple[str, ...]]:
    parser = build_parser()
    found: list[tuple[str, ...]] = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                found.append((name,))
                for inner in sub._actions:
                    if isinstance(inner, argparse._SubParsersAction):
                        found.extend((name, child) for child in inner.choices)
    return found


COMMANDS = _commands()


def test_every_documented_command_exists() -> None:
    names = {command[0] for command in COMMANDS}
    assert names == {
        "set-identity",
        "reset-pgp",
        "forget-server",
        "trust",
        "test-identity",
        "terminal",
        "send-mycroft",
        "escalate",
        "propagate",
        "query",
        "cascade",
        "ping",
        "demo",
        "load",
    }
    assert {("trust", "add"), ("trust", "remove"), ("trust", "list")} <= set(COMMANDS)


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_every_command_has_help_with_examples(
    command: tuple[str, ...], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([*command, "--help"]) == 0
    text = capsys.readouterr().out
    assert text.startswith(f"usage: hivemind-client {' '.join(command)}")
    assert "examples:" in text
    assert f"hivemind-client {command[0]}" in text.split("examples:")[1]
    assert "--identity" in text  # the global options are accepted after the command too


def test_top_level_help_lists_commands_and_exit_statuses() -> None:
    result = run("--help")
    assert result.returncode == 0
    for name in ("set-identity", "terminal", "ping", "demo", "trust"):
        assert name in result.stdout
    assert "3 no answer" in result.stdout


# -- identity commands ------------------------------------------------------------------------
def test_set_identity_writes_the_reference_fields_and_masks_secrets(identity: Path) -> None:
    result = run(
        "set-identity",
        "--key",
        "k-123456",
        "--password",
        PASSWORD,
        "--host",
        "192.168.1.10:5700",
        "--siteid",
        "kitchen",
        identity=identity,
    )
    assert result.returncode == 0, result.stderr
    data = json.loads(identity.read_text())
    assert data["access_key"] == "k-123456"
    assert data["password"] == PASSWORD
    assert data["site_id"] == "kitchen"
    assert data["default_master"] == "ws://192.168.1.10"  # a URL without port, as the reference
    assert data["default_port"] == 5700
    assert "BEGIN PUBLIC KEY" in data["public_key"]
    assert stat.S_IMODE(identity.stat().st_mode) == 0o600
    assert stat.S_IMODE(Path(data["secret_key"]).stat().st_mode) == 0o600
    assert "created a new RSA key pair" in result.stdout
    assert data["public_key"].strip() in result.stdout
    assert PASSWORD not in result.stdout + result.stderr
    assert "k-123456" not in result.stdout + result.stderr
    assert "******** (24 characters)" in result.stdout


def test_set_identity_keeps_unnamed_fields_and_the_key_pair(identity: Path) -> None:
    assert run("set-identity", "--key", "k1", "--host", "hub", identity=identity).returncode == 0
    first = json.loads(identity.read_text())
    result = run("set-identity", "--siteid", "office", identity=identity)
    assert result.returncode == 0
    second = json.loads(identity.read_text())
    assert second["access_key"] == "k1"
    assert second["default_master"] == "ws://hub"
    assert second["default_port"] == 5678
    assert second["site_id"] == "office"
    assert second["public_key"] == first["public_key"]
    assert "created a new RSA key pair" not in result.stdout


def test_set_identity_reads_the_password_from_stdin(identity: Path) -> None:
    result = run("set-identity", "--password", "-", identity=identity, stdin=PASSWORD + "\n")
    assert result.returncode == 0, result.stderr
    assert json.loads(identity.read_text())["password"] == PASSWORD
    assert PASSWORD not in result.stdout


def test_a_new_password_clears_the_cached_psks(identity: Path) -> None:
    """Every cached protocol v3 PSK was derived from the old password."""
    assert run("set-identity", "--password", PASSWORD, identity=identity).returncode == 0
    psk = bytes(range(32)).hex()
    assert NodeIdentity(identity).cache_psk("hub", None, psk)
    cache = NodeIdentity(identity).psk_cache_path
    assert run("set-identity", "--password", PASSWORD, identity=identity).returncode == 0
    assert cache.is_file()  # the same password: the PSKs still hold
    result = run("set-identity", "--password", PASSWORD + "-new", identity=identity)
    assert result.returncode == 0, result.stderr
    assert not cache.exists()


def test_set_identity_honours_xdg_config_home(tmp_path: Path) -> None:
    result = run("set-identity", "--key", "k1", env={"XDG_CONFIG_HOME": str(tmp_path / "xdg")})
    assert result.returncode == 0, result.stderr
    path = tmp_path / "xdg" / "hivemind" / "_identity.json"
    assert json.loads(path.read_text())["access_key"] == "k1"
    assert f"identity saved: {path}" in result.stdout


def test_set_identity_without_fields_is_a_usage_error(identity: Path) -> None:
    result = run("set-identity", identity=identity)
    assert result.returncode == 2
    assert "nothing to set" in one_error_line(result)
    assert not identity.exists()


def test_set_identity_refuses_a_key_that_cannot_travel_in_the_url(identity: Path) -> None:
    result = run("set-identity", "--key", "a:b", identity=identity)
    assert result.returncode == 2
    assert "--key" in one_error_line(result)


@pytest.mark.oracle
def test_identity_written_by_us_loads_in_the_reference_client(identity: Path) -> None:
    python = (
        subprocess.run(
            [sys.executable, str(ROOT / "scripts" / "oracles.py"), "ensure", "ref-1.2"],
            check=True,
            capture_output=True,
            text=True,
        )
        .stdout.strip()
        .splitlines()[-1]
    )
    assert (
        run(
            "set-identity",
            "--key",
            "k9",
            "--password",
            PASSWORD,
            "--host",
            "10.0.0.2",
            "--siteid",
            "attic",
            identity=identity,
        ).returncode
        == 0
    )
    script = (
        "import json, sys\n"
        "from hivemind_bus_client.identity import NodeIdentity\n"
        "i = NodeIdentity()\n"
        "print(json.dumps([i.access_key, i.password, i.site_id, i.default_master,"
        " i.default_port, i.public_key is not None, open(i.private_key).read()[:10]]))\n"
    )
    config_home = identity.parent.parent
    done = subprocess.run(
        [str(python), "-c", script],
        capture_output=True,
        text=True,
        env={**os.environ, "XDG_CONFIG_HOME": str(config_home), "HOME": str(config_home)},
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    fields = json.loads(done.stdout.strip().splitlines()[-1])
    assert fields == ["k9", PASSWORD, "attic", "ws://10.0.0.2", 5678, True, "-----BEGIN"]


def test_reset_pgp_replaces_the_key_pair(identity: Path) -> None:
    assert run("set-identity", "--key", "k1", identity=identity).returncode == 0
    before = json.loads(identity.read_text())["public_key"]
    result = run("reset-pgp", identity=identity)
    assert result.returncode == 0, result.stderr
    after = json.loads(identity.read_text())["public_key"]
    assert after != before
    assert after.strip() in result.stdout
    assert stat.S_IMODE(identity.with_name("HiveMindComs.pem").stat().st_mode) == 0o600


def _public_pem(path: Path) -> str:
    pem = RSA.generate(2048).public_key().export_key().decode()
    path.write_text(pem)
    return pem


def test_app_writes_its_own_identity_file(tmp_path: Path) -> None:
    # the reference's layout: $XDG_CONFIG_HOME/hivemind/<app>/_identity.json
    env = {"XDG_CONFIG_HOME": str(tmp_path / "xdg")}
    shared = tmp_path / "xdg" / "hivemind" / "_identity.json"
    assert run("set-identity", "--key", "shared-key", env=env).returncode == 0
    result = run("--app", "kitchen-radio", "set-identity", "--key", "app-key", env=env)
    assert result.returncode == 0, result.stderr
    own = tmp_path / "xdg" / "hivemind" / "kitchen-radio" / "_identity.json"
    assert NodeIdentity(own).access_key == "app-key"
    assert NodeIdentity(shared).access_key == "shared-key"  # never written through --app
    shared_key = NodeIdentity(shared).private_key_path
    before = shared_key.read_bytes() if shared_key.exists() else None
    # after the command name too, like the other global options; keys land beside its file
    result = run("reset-pgp", "--app", "kitchen-radio", env=env)
    assert result.returncode == 0, result.stderr
    assert NodeIdentity(own).private_key_path.parent == own.parent
    assert NodeIdentity(own).private_key_path.is_file()
    assert (shared_key.read_bytes() if shared_key.exists() else None) == before


def test_app_without_a_file_reads_the_shared_one(tmp_path: Path) -> None:
    env = {"XDG_CONFIG_HOME": str(tmp_path / "xdg")}
    shared = tmp_path / "xdg" / "hivemind" / "_identity.json"
    peer = tmp_path / "peer.pem"
    _public_pem(peer)
    assert run("trust", "add", str(peer), "--alias", "hub", env=env).returncode == 0
    listed = run("--app", "radio", "trust", "list", env=env)
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.split()[0] == "hub"
    assert "'radio' has no identity file" in listed.stderr
    assert str(shared) in listed.stderr
    assert not (shared.parent / "radio").exists()


@pytest.mark.parametrize("name", ["..", "a/b", "-x", "", "x" * 65])
def test_app_name_is_one_plain_path_segment(tmp_path: Path, name: str) -> None:
    env = {"XDG_CONFIG_HOME": str(tmp_path / "xdg")}
    result = run("--app", name, "set-identity", "--key", "k", env=env)
    assert result.returncode == 2
    assert "--app" in one_error_line(result)
    assert not (tmp_path / "xdg").exists()


def test_app_and_identity_exclude_each_other(identity: Path) -> None:
    result = run("--app", "radio", "set-identity", "--key", "k", identity=identity)
    assert result.returncode == 2
    assert "not both" in one_error_line(result)


def test_trust_add_list_remove(identity: Path, tmp_path: Path) -> None:
    pem = _public_pem(tmp_path / "peer.pem")
    result = run(
        "trust", "add", str(tmp_path / "peer.pem"), "--alias", "kitchen", identity=identity
    )
    assert result.returncode == 0, result.stderr
    assert "as 'kitchen'" in result.stdout
    assert NodeIdentity(identity).is_trusted(pem)

    listed = run("trust", "list", identity=identity)
    assert listed.returncode == 0
    assert listed.stdout.split()[0] == "kitchen"
    assert "BEGIN PUBLIC KEY" not in listed.stdout
    assert "BEGIN PUBLIC KEY" in run("trust", "list", "--pem", identity=identity).stdout

    from_stdin = run("trust", "add", "-", "--alias", "again", identity=identity, stdin=pem)
    assert from_stdin.returncode == 0  # the same key: renamed
    assert list(NodeIdentity(identity).trusted_keys) == ["again"]

    assert run("trust", "remove", str(tmp_path / "peer.pem"), identity=identity).returncode == 0
    assert NodeIdentity(identity).trusted_keys == {}
    missing = run("trust", "remove", "again", identity=identity)
    assert missing.returncode == 3
    assert "nothing removed" in missing.stdout


def test_trust_add_refuses_what_is_not_a_public_key(identity: Path, tmp_path: Path) -> None:
    private = tmp_path / "private.pem"
    private.write_bytes(RSA.generate(2048).export_key())
    result = run("trust", "add", str(private), identity=identity)
    assert result.returncode == 1
    assert "private key" in one_error_line(result)
    (tmp_path / "junk.pem").write_text("hello")
    junk = run("trust", "add", str(tmp_path / "junk.pem"), identity=identity)
    assert junk.returncode == 1
    assert "no PEM" in one_error_line(junk)


def test_forget_server_drops_one_pin(identity: Path) -> None:
    node = NodeIdentity(identity)
    node.default_master = "ws://hub.lan"
    node.default_port = 5678
    node.save()
    node.pin_hub("hub.lan:5678", "ab" * 32)
    node.pin_hub("other:1", "cd" * 32)
    result = run("forget-server", identity=identity)  # the identity's default hub
    assert result.returncode == 0, result.stderr
    assert "hub.lan:5678" in result.stdout
    assert NodeIdentity(identity).pinned_hubs == {"other:1": "cd" * 32}
    again = run("forget-server", "ws://hub.lan:5678", identity=identity)
    assert again.returncode == 3
    assert "pinned hubs: other:1" in again.stdout
    assert run("forget-server", "other:1", identity=identity).returncode == 0


def test_forget_server_says_when_the_pin_is_in_the_shared_file(tmp_path: Path) -> None:
    # an application without a file of its own reads (and here writes) the shared identity:
    # dropping a pin there changes it for every application, and the command says so
    env = {"XDG_CONFIG_HOME": str(tmp_path / "xdg")}
    shared = NodeIdentity(tmp_path / "xdg" / "hivemind" / "_identity.json")
    shared.pin_hub("hub.lan:5678", "ab" * 32)
    result = run("--app", "radio", "forget-server", "hub.lan:5678", env=env)
    assert result.returncode == 0, result.stderr
    assert "radio has no identity file of its own" in result.stdout
    assert "checked by every application on this box" in result.stdout
    assert "forgot pinned key for hub.lan:5678" in result.stdout
    assert NodeIdentity(shared.path).pinned_hubs == {}

    own = NodeIdentity(tmp_path / "xdg" / "hivemind" / "radio" / "_identity.json")
    own.pin_hub("hub.lan:5678", "cd" * 32)
    result = run("--app", "radio", "forget-server", "hub.lan:5678", env=env)
    assert result.returncode == 0, result.stderr
    assert "shared" not in result.stdout
    assert NodeIdentity(own.path).pinned_hubs == {}


def test_forget_server_needs_a_hub(identity: Path) -> None:
    result = run("forget-server", identity=identity)
    assert result.returncode == 2
    assert "HOST:PORT" in one_error_line(result)


# -- errors are one line, secrets never shown -------------------------------------------------
def test_connecting_without_credentials_says_what_to_do(identity: Path) -> None:
    result = run("test-identity", identity=identity)
    assert result.returncode == 1
    line = one_error_line(result)
    assert "no hub address and no access key" in line
    assert "set-identity" in line


def test_corrupt_identity_file_is_one_line(identity: Path) -> None:
    identity.parent.mkdir(parents=True)
    identity.write_text("{not json")
    result = run("test-identity", identity=identity)
    assert result.returncode == 1
    assert "identity-error" in one_error_line(result)


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["send-mycroft", "--msg", "x", "--payload", "{nope"], "not valid JSON"),
        (["send-mycroft", "--msg", "x", "--payload", "[1]"], "JSON object"),
        (["ping", "--timeout", "-1"], "out of range"),
        (["--port", "70000", "ping"], "not a TCP port"),
        (["send-mycroft"], "--msg"),
        (["nonsense"], "invalid choice"),
        (["query"], "what should be asked"),
    ],
)
def test_usage_errors_are_one_line(args: list[str], expected: str, identity: Path) -> None:
    result = run(*args, "--host", "127.0.0.1", "--port", "9", "--key", "k", identity=identity)
    assert result.returncode == 2
    assert expected in one_error_line(result)


def test_refused_connection_is_one_line_and_masks_secrets(identity: Path) -> None:
    port = _closed_port()
    result = run(
        "-vv",
        "test-identity",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--key",
        "secret-access-key",
        "--password",
        PASSWORD,
        identity=identity,
    )
    assert result.returncode == 1
    assert "cannot connect" in result.stderr.strip().splitlines()[-1]
    assert "Traceback" not in result.stderr
    for secret in (PASSWORD, "secret-access-key", "c2VjcmV0LWFjY2Vzcy1rZXk"):
        assert secret not in result.stdout + result.stderr
    # the identity may now hold this node's keys, never the overrides
    written = identity.read_text() if identity.exists() else ""
    assert PASSWORD not in written
    assert "secret-access-key" not in written


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


# -- a scripted hub ---------------------------------------------------------------------------
class ScriptedWebsocketHub:
    """A websocket server speaking the hub side of the v1 password handshake, then scripted.

    ``on_message(message, reply, close)`` decides what the hub does with each message from the
    satellite after its HELLO; the default echoes utterances with ``speak``.
    """

    def __init__(self, on_message: Callable[..., None] | None = None, refuse: bool = False):
        self.on_message = on_message or echo_utterances
        self.refuse = refuse
        self.received: list[HiveMessage] = []
        self._server = serve(self._handle, "127.0.0.1", 0)
        self.port: int = self._server.socket.getsockname()[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._server.shutdown()
        self._thread.join(5)

    def _handle(self, ws: ServerConnection) -> None:
        hello = {"pubkey": HUB_PEM, "peer": "scripted::1::sat::s", "node_id": "scripted-hub"}
        ws.send(HiveMessage("hello", hello).serialize())
        if self.refuse:
            ws.close(1008, "this node requires the v3 Noise handshake")
            return
        offer = {
            "handshake": False,
            "min_protocol_version": 0,
            "max_protocol_version": 1,
            "binarize": False,
            "preshared_key": False,
            "password": True,
            "crypto_required": True,
            "encodings": ["JSON-B64"],
            "ciphers": ["CHACHA20-POLY1305"],
        }
        ws.send(HiveMessage("shake", offer).serialize())
        request = decode_json(str(ws.recv()))
        mine = PasswordHandshake(PASSWORD)
        key = mine.derive_key(payload_of(request)["envelope"])
        answer = {"envelope": mine.envelope, "encoding": "JSON-B64", "cipher": "CHACHA20-POLY1305"}
        ws.send(HiveMessage("shake", answer).serialize())

        def reply(message: HiveMessage) -> None:
            ws.send(
                seal_json(message.serialize(), key, cipher="CHACHA20-POLY1305", encoding="JSON-B64")
            )

        def close(code: int, reason: str) -> None:
            ws.close(code, reason)

        try:
            while True:
                data = ws.recv()
                plain = open_json(
                    json.loads(data), key, cipher="CHACHA20-POLY1305", encoding="JSON-B64"
                )
                if json.loads(plain).get("msg_type") == "hello":
                    continue  # (without a key pair our HELLO carries "pubkey": null)
                message = decode_json(plain)
                self.received.append(message)
                self.on_message(message, reply, close)
        except ConnectionClosed:
            pass


def echo_utterances(message: HiveMessage, reply: Callable[..., None], close: Any) -> None:
    payload = payload_of(message)
    if message.msg_type.value == "bus" and payload.get("type") == "recognizer_loop:utterance":
        text = payload["data"]["utterances"][0]
        reply(HiveMessage("bus", Message("speak", {"utterance": f"echo: {text}"})))


def answer_like_a_5x_hub(message: HiveMessage, reply: Callable[..., None], close: Any) -> None:
    kind = message.msg_type.value
    if kind in ("query", "cascade"):
        query_id = message.metadata["query_id"]
        responders = ["hub-key-peer"] if kind == "query" else ["node-a", "node-b"]
        for number, responder in enumerate(responders):
            metadata = {"query_id": query_id, "responder_peer": responder, "is_response": True}
            speak = Message("speak", {"utterance": f"answer {number + 1} from {responder}"})
            reply(HiveMessage(kind, HiveMessage("bus", speak), metadata=metadata))
            done = Message("hive.query.complete", {"query_id": query_id})
            reply(HiveMessage(kind, HiveMessage("bus", done), metadata=metadata))
    elif kind == "propagate" and payload_of(message).get("msg_type") == "ping":
        flood = payload_of(message)["payload"]["flood_id"]
        for peer, site, route in (
            ("hub-node", "hall", [{"source": "hub-node", "targets": ["sat"]}]),
            (
                "far-sat",
                "attic",
                [
                    {"source": "far-sat", "targets": ["hub-node"]},
                    {"source": "hub-node", "targets": ["sat"]},
                ],
            ),
        ):
            ping = {"flood_id": flood, "peer": peer, "site_id": site, "timestamp": 1.0}
            reply(HiveMessage("propagate", HiveMessage("ping", ping), route=route))
    elif kind == "bus" and payload_of(message).get("type") == "forbidden.type":
        close(4003, "not allowed for this client")


@pytest.fixture
def scripted_hub(request: pytest.FixtureRequest) -> Iterator[ScriptedWebsocketHub]:
    behaviour = getattr(request, "param", None)
    hub = ScriptedWebsocketHub(behaviour)
    yield hub
    hub.close()


def hub_args(hub: ScriptedWebsocketHub) -> list[str]:
    return ["--host", "127.0.0.1", "--port", str(hub.port), "--key", KEY, "--password", PASSWORD]


def test_test_identity_reports_the_negotiation(
    scripted_hub: ScriptedWebsocketHub, identity: Path
) -> None:
    result = run("test-identity", *hub_args(scripted_hub), "--siteid", "den", identity=identity)
    assert result.returncode == 0, result.stderr
    assert "protocol   v1 (password handshake)" in result.stdout
    assert "cipher     CHACHA20-POLY1305" in result.stdout
    assert "encoding   JSON-B64" in result.stdout
    assert "as site 'den'" in result.stdout
    assert PASSWORD not in result.stdout + result.stderr


def test_test_identity_reports_a_refusal_exactly(identity: Path) -> None:
    hub = ScriptedWebsocketHub(refuse=True)
    try:
        result = run("test-identity", *hub_args(hub), identity=identity)
    finally:
        hub.close()
    assert result.returncode == 1
    line = one_error_line(result)
    assert "connection-failed" in line
    assert "1008" in line
    assert "v3 Noise handshake" in line


def test_send_mycroft_delivers_one_message(
    scripted_hub: ScriptedWebsocketHub, identity: Path
) -> None:
    result = run(
        "send-mycroft",
        *hub_args(scripted_hub),
        "--msg",
        "my.event",
        "--payload",
        '{"n": 1}',
        identity=identity,
    )
    assert result.returncode == 0, result.stderr
    sent = [m for m in scripted_hub.received if m.msg_type.value == "bus"]
    assert [(payload_of(m)["type"], payload_of(m)["data"]) for m in sent] == [
        ("my.event", {"n": 1})
    ]


@pytest.mark.parametrize("scripted_hub", [answer_like_a_5x_hub], indirect=True)
def test_send_reports_the_hub_dropping_the_link(
    scripted_hub: ScriptedWebsocketHub, identity: Path
) -> None:
    result = run(
        "send-mycroft", *hub_args(scripted_hub), "--msg", "forbidden.type", identity=identity
    )
    assert result.returncode == 1
    line = one_error_line(result)
    assert "dropped the link" in line
    assert "4003" in line
    assert "not allowed for this client" in line


@pytest.mark.parametrize("kind", ["escalate", "propagate"])
def test_wrapped_messages_carry_the_target_site(
    kind: str, scripted_hub: ScriptedWebsocketHub, identity: Path
) -> None:
    result = run(
        kind,
        *hub_args(scripted_hub),
        "--siteid",
        "den",
        "--msg",
        "speak",
        "--payload",
        '{"utterance": "hi"}',
        "--target-site",
        "attic",
        identity=identity,
    )
    assert result.returncode == 0, result.stderr
    [message] = [m for m in scripted_hub.received if m.msg_type.value == kind]
    assert message.target_site_id == "attic"
    assert payload_of(message)["msg_type"] == "bus"
    assert payload_of(message)["payload"]["type"] == "speak"


@pytest.mark.parametrize("scripted_hub", [answer_like_a_5x_hub], indirect=True)
def test_query_prints_the_answer(scripted_hub: ScriptedWebsocketHub, identity: Path) -> None:
    result = run("query", *hub_args(scripted_hub), "what", "time", "is", "it", identity=identity)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "answer from hub-key-peer:",
        "  speak: answer 1 from hub-key-peer",
    ]
    [query] = [m for m in scripted_hub.received if m.msg_type.value == "query"]
    assert payload_of(query)["payload"]["data"]["utterances"] == ["what time is it"]


@pytest.mark.parametrize("scripted_hub", [answer_like_a_5x_hub], indirect=True)
def test_cascade_prints_every_answer_in_the_window(
    scripted_hub: ScriptedWebsocketHub, identity: Path
) -> None:
    result = run("cascade", *hub_args(scripted_hub), "--timeout", "1.5", "hi", identity=identity)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "answer from node-a:",
        "  speak: answer 1 from node-a",
        "answer from node-b:",
        "  speak: answer 2 from node-b",
    ]


def test_query_without_answer_exits_3(scripted_hub: ScriptedWebsocketHub, identity: Path) -> None:
    result = run("query", *hub_args(scripted_hub), "--timeout", "0.5", "hello", identity=identity)
    assert result.returncode == 3
    assert "no answer within 0.5 s" in result.stderr
    assert result.stdout == ""


@pytest.mark.parametrize("scripted_hub", [answer_like_a_5x_hub], indirect=True)
def test_ping_draws_the_hive_map(scripted_hub: ScriptedWebsocketHub, identity: Path) -> None:
    result = run("ping", *hub_args(scripted_hub), "--timeout", "1", identity=identity)
    assert result.returncode == 0, result.stderr
    assert "2 nodes answered" in result.stderr
    assert "answer 1: hub-node (site hall)" in result.stderr  # live, one line per new node
    tree = result.stdout.splitlines()
    assert tree[0].startswith("[self]")
    assert any("hub-node" in line for line in tree)
    far = next(line for line in tree if "far-sat" in line)
    near = next(line for line in tree if "hub-node" in line)
    assert far.index("── ") > near.index("── ")  # drawn under the relay that reached it


@pytest.mark.parametrize("scripted_hub", [answer_like_a_5x_hub], indirect=True)
def test_ping_json(scripted_hub: ScriptedWebsocketHub, identity: Path) -> None:
    result = run("ping", *hub_args(scripted_hub), "--timeout", "1", "--json", identity=identity)
    assert result.returncode == 0, result.stderr
    topology = json.loads(result.stdout)
    assert {node["peer"] for node in topology["nodes"]} == {"hub-node", "far-sat"}
    assert {"source": "far-sat", "target": "hub-node"} in topology["edges"]


def test_ping_without_answers_exits_3(scripted_hub: ScriptedWebsocketHub, identity: Path) -> None:
    result = run("ping", *hub_args(scripted_hub), "--timeout", "0.3", "--json", identity=identity)
    assert result.returncode == 3
    assert json.loads(result.stdout) == {"nodes": [], "edges": []}


def test_terminal_with_piped_input(scripted_hub: ScriptedWebsocketHub, identity: Path) -> None:
    result = run(
        "terminal", *hub_args(scripted_hub), identity=identity, stdin="hello\n\nsecond one\n"
    )
    assert result.returncode == 0, result.stderr
    assert "hub> echo: hello" in result.stdout
    assert "hub> echo: second one" in result.stdout
    assert result.stdout.rstrip().endswith("bye")


@pytest.mark.parametrize("scripted_hub", [answer_like_a_5x_hub], indirect=True)
def test_terminal_reports_missing_answers(
    scripted_hub: ScriptedWebsocketHub, identity: Path
) -> None:
    result = run(
        "terminal",
        *hub_args(scripted_hub),
        "--answer-timeout",
        "0.5",
        identity=identity,
        stdin="anyone there\n",
    )
    assert result.returncode == 1
    assert "1 answer(s) missing" in result.stdout


# -- demo -------------------------------------------------------------------------------------
def test_demo_offline() -> None:
    result = run("demo", "--offline")
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("round trip ok") == 5
    assert "part 2" not in result.stdout


def test_terminal_counts_an_answer_that_arrives_before_emit_returns(
    scripted_hub: ScriptedWebsocketHub,
    identity: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A fast hub can answer before ``emit`` returns: the answer must still pay what is owed.
    The client here is the real one, held in ``emit`` until its answer was handled (the worst
    case, made certain); the terminal counted the utterance after sending it, so that answer
    was lost and piped input ended with "1 answer(s) missing"."""
    import io

    from hivemind_client.cli.main import build_parser
    from hivemind_client.cli.support import Environment, default_environment
    from hivemind_client.cli.terminal import terminal
    from hivemind_client.sync.client import HiveMessageBusClient

    class AnswerFirst(HiveMessageBusClient):
        def emit(self, message: Any, binary_type: Any = None) -> None:
            answered = threading.Event()
            self.on_mycroft("speak", lambda _: answered.set())  # after the terminal's handler
            super().emit(message, binary_type)
            assert answered.wait(10)

    default = default_environment()
    environment = Environment(
        identity=default.identity, shared_owner=default.shared_owner, new_client=AnswerFirst
    )
    args = build_parser().parse_args(
        ["--identity", str(identity), "terminal", *hub_args(scripted_hub), "--answer-timeout", "2"]
    )
    monkeypatch.setattr("sys.stdin", io.StringIO("hello\nsecond one\n"))
    status = terminal(args, environment)
    out = capsys.readouterr().out
    assert "hub> echo: hello" in out and "hub> echo: second one" in out
    assert "missing" not in out and status == 0



def test_the_packaged_hub_requirements_match_the_e2e_oracle() -> None:
    oracle = ROOT / "scripts" / "oracles" / "hub-4.0.txt"
    assert HUB_REQUIREMENTS.encode() == oracle.read_bytes()
    stamp = ROOT / ".venvs" / "hub-4.0" / ".requirements-sha256"
    if stamp.exists():
        assert stamp.read_text().strip() == requirements_digest()


def test_cache_dir_follows_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("HIVEMIND_CLIENT_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_dir() == tmp_path / "xdg" / "hivemind-client"
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/ignored")
    assert cache_dir() == Path.home() / ".cache" / "hivemind-client"
    monkeypatch.setenv("HIVEMIND_CLIENT_CACHE_DIR", str(tmp_path / "mine"))
    assert cache_dir() == tmp_path / "mine"


def test_demo_reports_a_broken_hub_environment(tmp_path: Path) -> None:
    """A hub env whose programs fail: one error line naming the kept logs, nothing left running."""
    env_dir = tmp_path / "cache" / "hub-4.0"
    (env_dir / "bin").mkdir(parents=True)
    for program in ("python", "hivemind-core"):
        script = env_dir / "bin" / program
        script.write_text("#!/bin/sh\necho broken >&2\nexit 7\n")
        script.chmod(0o755)
    (env_dir / ".requirements-sha256").write_text(requirements_digest())
    work = tmp_path / "tmp"
    work.mkdir()
    result = run(
        "demo",
        env={"HIVEMIND_CLIENT_CACHE_DIR": str(tmp_path / "cache"), "TMPDIR": str(work)},
    )
    assert result.returncode == 1
    line = one_error_line(result)
    assert "hivemind-core add-client failed with exit status 7" in line
    kept = Path(line.split("logs kept in ")[1])
    assert "broken" in (kept / "hub-cli.log").read_text()
    shutil.rmtree(kept.parent)
