"""The commands' seams: an :class:`Environment` supplies the identity and the client, so another
front end (the compat ``hivemind_bus_client.scripts`` click group) runs the same commands."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import pytest

from hivemind_client.cli.identity_commands import forget_server, set_identity
from hivemind_client.cli.message_commands import escalate, send_mycroft
from hivemind_client.cli.support import (
    EXIT_NO_ANSWER,
    EXIT_OK,
    CliError,
    Environment,
    IdentityLike,
    default_environment,
    describe_info,
)
from hivemind_client.identity import NodeIdentity
from hivemind_client.wire.message import HiveMessage
from hivemind_client.wire.message_types import HiveMessageType


class _Client:
    """A client double: records what it was built with and what it sent."""

    def __init__(self, **options: Any) -> None:
        self.options = options
        self.sent: list[Any] = []
        self.closed = False

    def connect(self, timeout: float = 15.0) -> None:
        return None  # reports no negotiation details

    def on(self, event: str, handler: Any) -> None:
        pass

    def remove(self, event: str, handler: Any) -> None:
        pass

    def emit(self, message: Any) -> None:
        self.sent.append(message)

    def close(self) -> None:
        self.closed = True


class _Recorder:
    def __init__(self, identity: IdentityLike, owner: str | None = None) -> None:
        self.identity = identity
        self.owner = owner
        self.loads: list[bool] = []
        self.clients: list[_Client] = []

    def environment(self) -> Environment:
        def load(args: argparse.Namespace, for_writing: bool) -> IdentityLike:
            self.loads.append(for_writing)
            return self.identity

        def new_client(**options: Any) -> _Client:
            client = _Client(**options)
            self.clients.append(client)
            return client

        return Environment(
            identity=load, shared_owner=lambda args, identity: self.owner, new_client=new_client
        )


def _args(**given: Any) -> argparse.Namespace:
    options: dict[str, Any] = {
        "key": None,
        "password": None,
        "host": None,
        "port": None,
        "siteid": None,
    }
    options.update(given)
    return argparse.Namespace(**options)


@pytest.fixture
def node(tmp_path: Path) -> NodeIdentity:
    identity = NodeIdentity(tmp_path / "_identity.json")
    identity.access_key = "key"
    identity.password = "pw-pw-pw"
    identity.default_master = "ws://hub.lan"
    identity.default_port = 5678
    identity.site_id = "kitchen"
    identity.save()
    return identity


def test_a_routed_message_loads_the_identity_once_and_hands_it_to_the_client(
    node: NodeIdentity,
) -> None:
    recorder = _Recorder(node)
    args = _args(msg="speak", payload='{"utterance": "hi"}', target_site=None, wait=0.01)
    assert escalate(args, recorder.environment()) == EXIT_OK
    assert recorder.loads == [False]  # read, not written; and only once
    (client,) = recorder.clients
    assert client.options["identity"] is node
    assert client.options["key"] == "key" and client.options["port"] == 5678
    assert client.closed
    (sent,) = client.sent
    assert isinstance(sent, HiveMessage) and sent.msg_type is HiveMessageType.ESCALATE
    assert sent.target_site_id == "kitchen"
    inner = sent.payload
    assert isinstance(inner, HiveMessage) and inner.msg_type is HiveMessageType.BUS
    assert inner.target_site_id is None


def test_a_bus_message_through_a_client_that_reports_nothing(
    node: NodeIdentity, capsys: pytest.CaptureFixture[str]
) -> None:
    recorder = _Recorder(node)
    args = _args(msg="speak", payload="{}", wait=0.01)
    assert send_mycroft(args, recorder.environment()) == EXIT_OK
    assert "not reported" in capsys.readouterr().out
    assert describe_info(None) == "negotiated details not reported by this client"


def test_set_identity_asks_for_an_identity_to_write(node: NodeIdentity) -> None:
    recorder = _Recorder(node)
    assert set_identity(_args(siteid="hall"), recorder.environment()) == EXIT_OK
    assert recorder.loads == [True]
    assert NodeIdentity(node.path).site_id == "hall"


def test_forget_server_names_the_application_sharing_the_pin(
    node: NodeIdentity, capsys: pytest.CaptureFixture[str]
) -> None:
    node.pin_hub("hub.lan:5678", "ab" * 32)
    recorder = _Recorder(node, owner="radio")
    args = _args(server=None)
    assert forget_server(args, recorder.environment()) == EXIT_OK
    out = capsys.readouterr().out
    assert "radio has no identity file of its own" in out
    assert "forgot pinned key for hub.lan:5678" in out
    assert forget_server(args, recorder.environment()) == EXIT_NO_ANSWER


def test_the_default_environment_reads_identity_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    environment = default_environment()
    args = argparse.Namespace(identity=None, app="radio")
    identity = environment.identity(args, True)
    assert identity.path == tmp_path / "hivemind" / "radio" / "_identity.json"
    assert environment.shared_owner(args, identity) is None
    shared = NodeIdentity(tmp_path / "hivemind" / "_identity.json")
    shared.save()
    fallback = environment.identity(args, False)
    assert fallback.path == shared.path
    assert environment.shared_owner(args, fallback) == "radio"


def test_a_usage_error_still_comes_before_any_connection(node: NodeIdentity) -> None:
    recorder = _Recorder(node)
    with pytest.raises(CliError):
        send_mycroft(_args(msg="speak", payload="[1]", wait=0.01), recorder.environment())
    assert recorder.clients == []
