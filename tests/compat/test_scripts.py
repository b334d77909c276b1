"""``hivemind_bus_client.scripts``: the reference's click group running this library's commands
(identity and client looked up in the module when a command runs, as the reference's are)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from unittest.mock import patch

import pytest

from hivemind_client import compat
from hivemind_client.errors import InvalidArgument
from hivemind_client.identity import NodeIdentity as OurIdentity

click_testing = pytest.importorskip("click.testing")


@pytest.fixture
def scripts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("HOME", str(tmp_path))
    assert compat.install() is True
    from hivemind_bus_client import scripts as module

    yield module
    compat.uninstall()


def _invoke(command: Any, args: list[str]) -> Any:
    return click_testing.CliRunner().invoke(command, args)


def test_the_group_has_the_reference_commands(scripts: Any) -> None:
    assert set(scripts.hmclient_cmds.commands) == {
        "set-identity",
        "reset-pgp",
        "forget-server",
        "test-identity",
        "terminal",
        "send-mycroft",
        "escalate",
        "propagate",
        "ping",
    }
    assert scripts.identity_set.name == "set-identity"
    assert scripts.reset_keys.name == "reset-pgp"


def test_set_identity_with_app_writes_the_application_file(scripts: Any, tmp_path: Path) -> None:
    result = _invoke(scripts.hmclient_cmds, ["--app", "radio", "set-identity", "--host", "hub.lan"])
    assert result.exit_code == 0, result.output
    own = tmp_path / "config" / "hivemind" / "radio" / "_identity.json"
    assert f"identity saved: {own}" in result.output
    saved = OurIdentity(own)
    assert saved.default_master == "ws://hub.lan"
    assert saved.default_port == 5678
    assert saved.has_keys
    assert not (tmp_path / "config" / "hivemind" / "_identity.json").exists()


def test_a_bad_command_line_raises_as_the_reference_does(scripts: Any) -> None:
    result = _invoke(scripts.hmclient_cmds, ["set-identity"])
    assert result.exit_code != 0
    assert isinstance(result.exception, InvalidArgument)
    assert isinstance(result.exception, ValueError)


def test_forget_server_exits_0_when_nothing_was_pinned(scripts: Any) -> None:
    # the reference's status; hivemind-client exits 3 ("nothing to do") here
    result = _invoke(scripts.forget_server, ["--host", "nowhere", "--port", "1"])
    assert result.exit_code == 0, result.output
    assert "no pinned key for nowhere:1" in result.output


def test_a_replaced_node_identity_is_used(scripts: Any, tmp_path: Path) -> None:
    identity = scripts.NodeIdentity(identity_file=str(tmp_path / "id.json"))
    identity.pin_noise_key("hub.lan:5678", "ab" * 32)
    identity.save()
    with patch.object(scripts, "NodeIdentity", return_value=identity) as made:
        result = _invoke(scripts.hmclient_cmds, ["forget-server", "--host", "ws://hub.lan"])
    assert result.exit_code == 0, result.output
    made.assert_called_once_with()
    assert "forgot pinned key for hub.lan:5678" in result.output
    assert OurIdentity(tmp_path / "id.json").pinned_hubs == {}


def test_a_replaced_client_gets_the_identity_and_the_envelope(
    scripts: Any, tmp_path: Path
) -> None:
    sent: list[Any] = []
    built: list[dict[str, Any]] = []

    class _Client:  # the reference's surface only: no event hooks, no negotiation details
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            built.append(kwargs)

        class connected_event:  # the reference's attribute name
            @staticmethod
            def wait(timeout: float | None = None) -> bool:
                return True

        def connect(self, *args: Any, **kwargs: Any) -> None:
            pass

        def emit(self, message: Any) -> None:
            sent.append(message)

        def close(self) -> None:
            pass

    identity = scripts.NodeIdentity(identity_file=str(tmp_path / "id.json"))
    identity.access_key, identity.password = "key", "pw-pw-pw"
    identity.default_master = "ws://hub.lan"
    with (
        patch.object(scripts, "_node_identity", return_value=identity),
        patch.object(scripts, "HiveMessageBusClient", _Client),
    ):
        result = _invoke(
            scripts.propagate, ["--msg", "speak", "--payload", "{}", "--siteid", "hall"]
        )
    assert result.exit_code == 0, result.output
    assert built[0]["identity"] is identity
    (outer,) = sent
    assert outer.msg_type == scripts.HiveMessageType.PROPAGATE
    assert outer.target_site_id == "hall"
    assert outer.payload.msg_type == scripts.HiveMessageType.BUS


def test_a_client_that_never_connects_is_a_click_error(scripts: Any, tmp_path: Path) -> None:
    class _Client:
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            pass

        class connected_event:
            @staticmethod
            def wait(timeout: float | None = None) -> bool:
                return False

        def connect(self, *args: Any, **kwargs: Any) -> None:
            pass

        def close(self) -> None:
            pass

    identity = scripts.NodeIdentity(identity_file=str(tmp_path / "id.json"))
    identity.access_key, identity.password = "key", "pw-pw-pw"
    with (
        patch.object(scripts, "NodeIdentity", return_value=identity),
        patch.object(scripts, "HiveMessageBusClient", _Client),
    ):
        result = _invoke(
            scripts.hmclient_cmds, ["send-mycroft", "--host", "hub.lan", "--msg", "speak"]
        )
    assert result.exit_code == 1
    assert "not connected" in result.output


def test_the_identity_file_view_copies_as_a_dict(scripts: Any, tmp_path: Path) -> None:
    identity = scripts.NodeIdentity(identity_file=str(tmp_path / "id.json"))
    identity.site_id = "hall"
    fields = dict(identity.IDENTITY_FILE)
    assert fields["site_id"] == "hall"
    assert len(identity.IDENTITY_FILE) == len(fields)
