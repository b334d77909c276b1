"""``hivemind_bus_client.scripts``: the reference's ``hivemind-client`` click group.

The commands and their options have the reference's names (``hmclient_cmds``, ``identity_set``,
``forget_server``, ...); each one turns its options into arguments for the matching command of
:mod:`hivemind_client.cli` and runs it, so the logic exists once. The identity and the client
are looked up here at call time, through ``_node_identity``, ``NodeIdentity``,
``HiveMessageBusClient`` and ``clear_cached_psks`` of this module: code that replaces them
(as the reference's tests do) is obeyed.

Where the surface differs from this library's ``hivemind-client`` (argparse), the reference's is
kept here: "nothing found" (exit status 3 there) exits 0, and a bad command line raises a
``ValueError`` (``InvalidArgument``) as the reference's commands do. click is needed only by this
module (the reference depends on it; this library does not).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any

try:
    import click
except ImportError as _missing:  # pragma: no cover - click is installed wherever tests run
    raise ImportError(
        "hivemind_bus_client.scripts is a click command group and needs click "
        "('pip install click'); this library's own command line is 'hivemind-client'"
    ) from _missing

from hivemind_client.api.base import ClientBase
from hivemind_client.cli import identity_commands, main, message_commands
from hivemind_client.cli import terminal as terminal_command
from hivemind_client.cli.support import (
    EXIT_NO_ANSWER,
    EXIT_OK,
    EXIT_USAGE,
    SECRETS,
    CliError,
    Environment,
    IdentityLike,
)
from hivemind_client.errors import InvalidArgument, NotConnected
from hivemind_client.satellite.hivemap import HiveMapper
from hivemind_client.wire.message import HiveMessage, Message
from hivemind_client.wire.message_types import HiveMessageType

from .client import HiveMessageBusClient
from .identity import NodeIdentity
from .noise import clear_cached_psks

__all__ = [
    "HiveMapper",
    "HiveMessage",
    "HiveMessageBusClient",
    "HiveMessageType",
    "Message",
    "NodeIdentity",
    "clear_cached_psks",
    "escalate",
    "forget_server",
    "hmclient_cmds",
    "identity_set",
    "main",
    "ping",
    "propagate",
    "reset_keys",
    "send_mycroft",
    "terminal",
    "test_identity",
]


# -- the seams: identity and client, resolved through this module when a command runs ----------
def _node_identity(shared_fallback: bool = True) -> Any:
    """The identity the group's ``--app`` names (the shared one without it).

    A write passes ``shared_fallback=False``: it must land in the application's own file.
    """
    context = click.get_current_context(silent=True)
    app = context.find_root().params.get("app") if context is not None else None
    if not app:
        return NodeIdentity()
    return NodeIdentity(app_name=app, shared_fallback=shared_fallback)


class _ReferenceIdentity:
    """A reference-shaped identity (``IDENTITY_FILE``, ``create_keys``, ``noise_key``,
    ``forget_noise_key``, ...) as the command line's :class:`IdentityLike`."""

    def __init__(self, wrapped: Any) -> None:
        self.wrapped = wrapped

    @property
    def access_key(self) -> str | None:
        value: str | None = self.wrapped.access_key
        return value

    @access_key.setter
    def access_key(self, value: str | None) -> None:
        self.wrapped.access_key = value

    @property
    def password(self) -> str | None:
        value: str | None = self.wrapped.password
        return value

    @password.setter
    def password(self, value: str | None) -> None:
        self.wrapped.password = value

    @property
    def site_id(self) -> str | None:
        value: str | None = self.wrapped.site_id
        return value

    @site_id.setter
    def site_id(self, value: str | None) -> None:
        self.wrapped.site_id = value

    @property
    def default_master(self) -> str | None:
        value: str | None = self.wrapped.default_master
        return value

    @default_master.setter
    def default_master(self, value: str | None) -> None:
        self.wrapped.default_master = value

    @property
    def default_port(self) -> int | None:
        value: int | None = self.wrapped.default_port
        return value

    @default_port.setter
    def default_port(self, value: int | None) -> None:
        self.wrapped.default_port = value

    @property
    def path(self) -> Path:
        return Path(str(getattr(self.wrapped.IDENTITY_FILE, "path", "")))

    @property
    def has_keys(self) -> bool:
        return bool(self.wrapped.public_key)

    @property
    def private_key_path(self) -> Path:
        return Path(str(self.wrapped.private_key))

    @property
    def public_key_pem(self) -> str:
        return str(self.wrapped.public_key or "")

    @property
    def pinned_hubs(self) -> dict[str, str]:
        return dict(self.wrapped.pinned_noise_keys)

    def ensure_keys(self) -> str:
        if not self.wrapped.public_key:
            self.wrapped.create_keys()
        return self.public_key_pem

    def reset_keys(self) -> str:
        self.wrapped.create_keys()
        return self.public_key_pem

    def clear_psks(self) -> None:
        clear_cached_psks(self.wrapped.noise_key)

    def forget_hub(self, pin_id: str) -> bool:
        return bool(self.wrapped.forget_noise_key(pin_id))

    def save(self) -> None:
        self.wrapped.save()


class _ReferenceClient:
    """A client from a replaced ``HiveMessageBusClient`` (not this library's), connected the
    reference's way: ``connect(site_id=...)`` then ``connected_event``. It reports no
    negotiation details, and its event hooks are used only when it has them."""

    def __init__(self, client: Any, site_id: str | None) -> None:
        self._client = client
        self._site_id = site_id

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def connect(self, timeout: float = 15.0) -> None:
        self._client.connect(site_id=self._site_id)
        event = getattr(self._client, "connected_event", None)
        if event is not None and not event.wait(timeout):
            raise NotConnected(f"not connected within {timeout:g} s")

    def on(self, event: str, handler: Callable[..., Any]) -> None:
        hook = getattr(self._client, "on", None)
        if hook is not None:
            hook(event, handler)

    def remove(self, event: str, handler: Callable[..., Any]) -> None:
        hook = getattr(self._client, "remove", None)
        if hook is not None:
            hook(event, handler)


def _identity(args: argparse.Namespace, for_writing: bool) -> IdentityLike:
    return _ReferenceIdentity(_node_identity(shared_fallback=not for_writing))


def _shared_owner(args: argparse.Namespace, identity: IdentityLike) -> str | None:
    wrapped = identity.wrapped if isinstance(identity, _ReferenceIdentity) else identity
    if getattr(wrapped, "uses_shared_fallback", False):
        return str(getattr(wrapped, "app_name", None) or "this application")
    return None


def _new_client(**options: Any) -> Any:
    identity = options.pop("identity", None)
    if isinstance(identity, _ReferenceIdentity):
        identity = identity.wrapped  # the client gets the object the caller's code made
    key = options.pop("key", None)
    client = HiveMessageBusClient(key, identity=identity, **options)
    if isinstance(client, ClientBase):
        return client
    return _ReferenceClient(client, options.get("site_id"))


_ENVIRONMENT = Environment(identity=_identity, shared_owner=_shared_owner, new_client=_new_client)


def _run(command: Callable[[argparse.Namespace, Environment], int], **options: Any) -> None:
    """Run one of this library's commands with the click options as its arguments."""
    try:
        status = command(argparse.Namespace(**options), _ENVIRONMENT)
    except CliError as exc:
        message = SECRETS.scrub(str(exc))
        if exc.status == EXIT_USAGE:
            raise InvalidArgument(message) from None  # the reference raises ValueError here
        raise click.ClickException(message) from None
    if status not in (EXIT_OK, EXIT_NO_ANSWER):  # "nothing found" is not a failure here
        raise click.exceptions.Exit(status)


def _link_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """``--key --password --host --port --siteid``: override the identity file."""
    for option in reversed(
        (
            click.option("--key", type=str, default="", help="access key (default: identity)"),
            click.option("--password", type=str, default="", help="password (default: identity)"),
            click.option("--host", type=str, default="", help="hub address (default: identity)"),
            click.option("--port", type=int, required=False, help="hub port (default 5678)"),
            click.option("--siteid", type=str, default="", help="site id (default: identity)"),
        )
    ):
        command = option(command)
    return command


def _overrides(key: str, password: str, host: str, port: int | None, siteid: str) -> Any:
    return {
        "key": key or None,
        "password": password or None,
        "host": host or None,
        "port": port,
        "siteid": siteid or None,
    }


# -- the group and its commands ----------------------------------------------------------------
@click.group()
@click.option(
    "--app",
    type=str,
    default=None,
    help="application name: its own identity in $XDG_CONFIG_HOME/hivemind/APP/",
)
def hmclient_cmds(app: str | None) -> None:
    """HiveMind satellite tools (hivemind_client's commands, the reference's options)."""


@hmclient_cmds.command(name="set-identity", help="save credentials and the default hub")
@_link_options
def identity_set(key: str, password: str, host: str, port: int | None, siteid: str) -> None:
    _run(identity_commands.set_identity, **_overrides(key, password, host, port, siteid))


@hmclient_cmds.command(name="reset-pgp", help="replace this node's RSA key pair")
def reset_keys() -> None:
    _run(identity_commands.reset_pgp)


@hmclient_cmds.command(name="forget-server", help="drop the pinned key of a protocol v3 hub")
@click.option("--host", type=str, default="", help="the hub (default: identity's hub)")
@click.option("--port", type=int, required=False, help="its port (default: identity's port)")
def forget_server(host: str, port: int | None) -> None:
    _run(identity_commands.forget_server, server=None, host=host or None, port=port)


@hmclient_cmds.command(name="test-identity", help="connect once with the identity and report")
@click.option("--timeout", type=float, default=30.0, help="seconds for the handshake")
def test_identity(timeout: float) -> None:
    _run(message_commands.test_identity, timeout=timeout)


@hmclient_cmds.command(name="terminal", help="type utterances, read the hub's answers")
@_link_options
def terminal(key: str, password: str, host: str, port: int | None, siteid: str) -> None:
    _run(
        terminal_command.terminal,
        **_overrides(key, password, host, port, siteid),
        lang="en-US",
        timeout=15.0,
        answer_timeout=10.0,
    )


def _sender(
    name: str, summary: str, command: Callable[[argparse.Namespace, Environment], int]
) -> Any:
    @hmclient_cmds.command(name=name, help=summary)
    @_link_options
    @click.option("--msg", type=str, required=True, help="OVOS message type")
    @click.option("--payload", type=str, default="{}", help="message data (JSON object)")
    def send(
        key: str,
        password: str,
        host: str,
        port: int | None,
        siteid: str,
        msg: str,
        payload: str,
    ) -> None:
        _run(
            command,
            **_overrides(key, password, host, port, siteid),
            msg=msg,
            payload=payload,
            target_site=None,  # --siteid is the target, as in the reference
            wait=0.5,
        )

    return send


send_mycroft = _sender("send-mycroft", "send one OVOS message", message_commands.send_mycroft)
escalate = _sender("escalate", "send one OVOS message in ESCALATE", message_commands.escalate)
propagate = _sender("propagate", "send one OVOS message in PROPAGATE", message_commands.propagate)


@hmclient_cmds.command(name="ping", help="flood a PING and draw the hive map")
@_link_options
@click.option("--timeout", type=float, default=5.0, help="seconds to collect answers")
@click.option("--json", "output_json", is_flag=True, default=False, help="the map as JSON")
def ping(
    key: str,
    password: str,
    host: str,
    port: int | None,
    siteid: str,
    timeout: float,
    output_json: bool,
) -> None:
    _run(
        message_commands.ping,
        **_overrides(key, password, host, port, siteid),
        timeout=timeout,
        json=output_json,
    )


if __name__ == "__main__":
    hmclient_cmds()
