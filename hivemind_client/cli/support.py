"""What every ``hivemind-client`` command shares: settings, errors, masking, connecting, output.

Settings come from the identity file (``--identity PATH``, else the XDG default) and are
overridden by the global options ``--host``, ``--port``, ``--key``, ``--password`` and
``--siteid``. Secrets never reach the terminal: :func:`mask` shows that a value is set without
showing it, and :class:`SecretFilter` scrubs the password, the access key and the URL's
authorization token from every log line.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import logging
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TextIO
from urllib.parse import urlsplit

if TYPE_CHECKING:  # imported lazily: `--help` should not pay for the crypto stack
    from hivemind_client.identity import NodeIdentity
    from hivemind_client.sync.client import ConnectionInfo, HiveMessageBusClient
    from hivemind_client.sync.driver import ReconnectPolicy
    from hivemind_client.wire.message import HiveMessage, Message

__all__ = [
    "DEFAULT_PORT",
    "EXIT_ERROR",
    "EXIT_INTERRUPTED",
    "EXIT_NO_ANSWER",
    "EXIT_OK",
    "EXIT_USAGE",
    "PROG",
    "SECRETS",
    "CliError",
    "Environment",
    "IdentityLike",
    "SecretFilter",
    "Settings",
    "connect",
    "default_environment",
    "describe_info",
    "load_identity",
    "mask",
    "parse_json_object",
    "read_password",
    "resolve_settings",
    "say",
    "send",
    "setup_logging",
    "shorten",
    "summary",
    "split_host",
    "watch_link",
]

PROG = "hivemind-client"
DEFAULT_PORT = 5678

EXIT_OK = 0
"""The command did what it was asked."""
EXIT_ERROR = 1
"""Something failed: connection, handshake, identity file, bad input."""
EXIT_USAGE = 2
"""The command line itself is wrong (argparse's convention)."""
EXIT_NO_ANSWER = 3
"""Nothing to report: no answer in the window, no node answered, nothing to remove."""
EXIT_INTERRUPTED = 130
"""Interrupted by Ctrl-C (128 + SIGINT), except where Ctrl-C is the normal way out."""

LOG = logging.getLogger(__name__)


class CliError(Exception):
    """A failure the command line reports as one line on stderr, with ``status`` as exit code."""

    def __init__(self, message: str, status: int = EXIT_ERROR) -> None:
        super().__init__(message)
        self.status = status


def say(text: str = "", *, stream: TextIO | None = None) -> None:
    """Print one line and flush it (output is read live by people and by tests)."""
    target = stream if stream is not None else sys.stdout
    target.write(text + "\n")
    target.flush()


def mask(value: str | None) -> str:
    """How a secret is shown: whether it is set and how long, never what it is."""
    if not value:
        return "(not set)"
    return f"******** ({len(value)} characters)"


def shorten(text: str, limit: int = 200) -> str:
    """One line, at most ``limit`` characters (long payloads in verbose logs)."""
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def read_password(value: str | None) -> str | None:
    """``-`` means: read the password from stdin (a prompt on a terminal), off the command line."""
    if value != "-":
        return value
    if sys.stdin.isatty():
        import getpass

        entered = getpass.getpass("password: ")
    else:
        entered = sys.stdin.readline().rstrip("\r\n")
    if not entered:
        raise CliError("no password was given on stdin")
    return entered


def parse_json_object(text: str | None, what: str = "--payload") -> dict[str, Any]:
    """A JSON object from the command line; ``None`` or empty gives ``{}``."""
    if text is None or not text.strip():
        return {}
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise CliError(f"{what} is not valid JSON: {exc}", EXIT_USAGE) from None
    if not isinstance(value, dict):
        raise CliError(f'{what} must be a JSON object, like \'{{"key": "value"}}\'', EXIT_USAGE)
    return value


def split_host(host: str) -> tuple[str, str, int | None]:
    """``(scheme, hostname, port or None)`` from ``host``, ``ws://host``, ``host:port`` ..."""
    text = host.strip()
    if "://" not in text:
        text = "ws://" + text
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError as exc:
        raise CliError(f"cannot read the hub address {host!r}: {exc}", EXIT_USAGE) from None
    if parts.scheme not in ("ws", "wss"):
        raise CliError(f"unsupported scheme in {host!r}: use ws:// or wss://", EXIT_USAGE)
    if not parts.hostname:
        raise CliError(f"no host name in {host!r}", EXIT_USAGE)
    return parts.scheme, parts.hostname, port


@dataclass(frozen=True)
class Settings:
    """Where to connect and as whom: the identity file overridden by the command line."""

    identity_path: Path
    host: str | None
    port: int
    key: str | None = field(repr=False)
    password: str | None = field(repr=False)
    site_id: str | None
    verbose: bool = False
    identity_exists: bool = False

    @property
    def scheme(self) -> str:
        """``ws`` or ``wss``."""
        return split_host(self.host)[0] if self.host else "ws"

    @property
    def hostname(self) -> str:
        """The hub's host name, without scheme or port."""
        return split_host(self.host)[1] if self.host else ""

    @property
    def address(self) -> str:
        """``ws://host:port`` (no credentials), for messages."""
        host = self.hostname
        if ":" in host:
            host = f"[{host}]"
        return f"{self.scheme}://{host}:{self.port}"

    def secrets(self) -> list[str]:
        """Every string that must never be printed: password, key and the URL token."""
        found = [value for value in (self.password, self.key) if value and len(value) >= 3]
        if self.key:
            from hivemind_client.sync.client import DEFAULT_USERAGENT

            token = base64.b64encode(f"{DEFAULT_USERAGENT}:{self.key}".encode()).decode()
            found.append(token)
        return found

    def require_hub(self) -> None:
        """Fail with a helpful line unless a hub address and an access key are known."""
        missing = [
            (option, what)
            for option, what, value in (
                ("--host", "hub address", self.host),
                ("--key", "access key", self.key),
            )
            if not value
        ]
        if missing:
            where = (
                f"not in the identity file {self.identity_path}"
                if self.identity_exists
                else f"no identity file at {self.identity_path}"
            )
            raise CliError(
                f"no {' and no '.join(what for _, what in missing)} to connect with ({where}): "
                f"pass {' '.join(option for option, _ in missing)} or run '{PROG} set-identity'"
            )


def _identity_path(args: argparse.Namespace, *, for_writing: bool) -> Path:
    given = getattr(args, "identity", None)
    app: str | None = getattr(args, "app", None)
    if given and app is not None:
        raise CliError("pass --identity or --app, not both", EXIT_USAGE)
    if given:
        return Path(given).expanduser()
    from hivemind_client.errors import InvalidArgument
    from hivemind_client.identity.node_identity import locate_identity

    try:
        path, own = locate_identity(app, shared_fallback=not for_writing)
    except InvalidArgument:
        raise CliError(
            f"--app must be letters, digits, '.', '_' or '-', starting with a letter or "
            f"digit, at most 64 characters: {app!r}",
            EXIT_USAGE,
        ) from None
    if own is not None:  # as the reference does: no file of its own yet reads the shared one
        print(
            f"{PROG}: warning: {app!r} has no identity file at {own} and reads the shared "
            f"{path}; run '{PROG} --app {app} set-identity ...' to give it one",
            file=sys.stderr,
        )
    return path


def load_identity(args: argparse.Namespace, *, for_writing: bool = False) -> NodeIdentity:
    """The identity named by ``--identity`` or ``--app`` (or the default one).

    ``--app NAME`` is ``$XDG_CONFIG_HOME/hivemind/NAME/_identity.json``, the reference's
    per-application identity. Reading falls back to the shared file while the application has
    none; ``for_writing`` (set-identity, reset-pgp) always names the application's own file.
    A missing file is an empty identity.
    """
    from hivemind_client.identity import NodeIdentity

    return NodeIdentity(_identity_path(args, for_writing=for_writing))


class IdentityLike(Protocol):
    """What the commands use of an identity.

    :class:`~hivemind_client.identity.NodeIdentity` is one; :mod:`hivemind_client.compat`
    adapts the reference's identity object to it, so both command lines share the commands.
    """

    access_key: str | None
    password: str | None
    site_id: str | None
    default_master: str | None
    default_port: int | None

    @property
    def path(self) -> Path:
        """The identity file."""

    @property
    def has_keys(self) -> bool:
        """Whether the RSA key pair exists."""

    @property
    def private_key_path(self) -> Path:
        """Where the RSA private key is."""

    @property
    def public_key_pem(self) -> str:
        """The RSA public key (PEM)."""

    @property
    def pinned_hubs(self) -> dict[str, str]:
        """Pinned protocol v3 hub keys: ``host:port`` to hex."""

    def ensure_keys(self) -> str:
        """Create the RSA key pair when missing; the public key."""

    def reset_keys(self) -> str:
        """Replace the RSA key pair; the new public key."""

    def clear_psks(self) -> None:
        """Drop every cached protocol v3 PSK."""

    def forget_hub(self, pin_id: str) -> bool:
        """Drop one hub's pinned key; whether there was one."""

    def save(self) -> None:
        """Write the identity file."""


def _shared_owner(args: argparse.Namespace, identity: IdentityLike) -> str | None:
    app: str | None = getattr(args, "app", None)
    if app is None or getattr(args, "identity", None):
        return None
    from hivemind_client.identity import default_identity_path

    return app if identity.path == default_identity_path() else None


def _new_client(**options: Any) -> Any:
    from hivemind_client.sync.client import HiveMessageBusClient

    return HiveMessageBusClient(**options)


@dataclass(frozen=True)
class Environment:
    """Where the commands get an identity and a client (the seams another front end fills).

    ``hivemind-client`` uses :func:`default_environment`; the compat ``hivemind_bus_client``
    command group passes its own, so one implementation of each command serves both.
    """

    identity: Callable[[argparse.Namespace, bool], IdentityLike]
    """``(args, for_writing)``: the identity a command works on (for_writing: never a shared
    fallback, see :func:`load_identity`)."""
    shared_owner: Callable[[argparse.Namespace, IdentityLike], str | None]
    """The application whose identity is the shared file it fell back to, else None."""
    new_client: Callable[..., Any]
    """Builds an unconnected client from :class:`HiveMessageBusClient`'s keyword arguments."""


def default_environment() -> Environment:
    """The ``hivemind-client`` command line's: identity files, this library's threaded client."""
    return Environment(
        identity=lambda args, for_writing: load_identity(args, for_writing=for_writing),
        shared_owner=_shared_owner,
        new_client=_new_client,
    )


def resolve_settings(args: argparse.Namespace, identity: IdentityLike) -> Settings:
    """Merge the identity with the global options (the options win)."""
    host = getattr(args, "host", None) or identity.default_master
    port = getattr(args, "port", None)
    if port is None and host:
        port = split_host(host)[2]
    if port is None:
        port = identity.default_port or DEFAULT_PORT
    password = read_password(getattr(args, "password", None)) or identity.password
    return Settings(
        identity_path=identity.path,
        host=host,
        port=port,
        key=getattr(args, "key", None) or identity.access_key,
        password=password,
        site_id=getattr(args, "siteid", None) or identity.site_id,
        verbose=bool(getattr(args, "verbose", 0)),
        identity_exists=identity.path.is_file(),
    )


class SecretFilter(logging.Filter):
    """Replaces every known secret in a log record's final text with ``****``."""

    def __init__(self) -> None:
        super().__init__()
        self._secrets: list[str] = []
        self._lock = threading.Lock()

    def add(self, secrets: Sequence[str]) -> None:
        """Scrub these strings from now on (longest first, so tokens win over keys)."""
        with self._lock:
            self._secrets = sorted({*self._secrets, *secrets}, key=len, reverse=True)

    def scrub(self, text: str) -> str:
        """``text`` with every secret replaced."""
        for secret in self._secrets:
            text = text.replace(secret, "****")
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        if self._secrets:
            message = self.scrub(record.getMessage())
            record.msg, record.args = message, None
            if record.exc_info:
                import traceback

                record.msg = (
                    message
                    + "\n"
                    + self.scrub("".join(traceback.format_exception(*record.exc_info)).rstrip())
                )
                record.exc_info = None
                record.exc_text = None
        return True


SECRETS = SecretFilter()
"""The process-wide filter: commands register the secrets they load."""


def setup_logging(verbosity: int) -> None:
    """``-v``: protocol events; ``-vv``: the library's debug logs too. Otherwise quiet.

    Without ``-v`` only identity warnings (a key file others could read) are shown, as one
    line each; connection problems are reported once, by the command itself.
    """
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(SECRETS)
    library = logging.getLogger("hivemind_client")
    library.handlers.clear()
    library.propagate = False
    logging.getLogger("websocket").addHandler(logging.NullHandler())
    if verbosity:
        handler.setFormatter(
            logging.Formatter("%(asctime)s.%(msecs)03d %(name)s %(message)s", "%H:%M:%S")
        )
        library.addHandler(handler)
        library.setLevel(logging.DEBUG if verbosity > 1 else logging.INFO)
        LOG.setLevel(logging.DEBUG)
    else:
        handler.setFormatter(logging.Formatter(f"{PROG}: warning: %(message)s"))
        library.addHandler(logging.NullHandler())
        identity_log = logging.getLogger("hivemind_client.identity")
        identity_log.addHandler(handler)
        identity_log.setLevel(logging.WARNING)
        identity_log.propagate = False


def describe_info(info: ConnectionInfo | None) -> str:
    """``protocol v1 (password handshake), cipher AES-GCM, encoding JSON-B64, binary frames off``
    (None: the client did not say)."""
    if info is None:
        return "negotiated details not reported by this client"
    return (
        f"protocol v{info.protocol_version} ({info.handshake} handshake), "
        f"cipher {info.cipher or 'none'}, encoding {info.encoding or 'none'}, "
        f"binary frames {'on' if info.binarize else 'off'}"
    )


def connect(
    settings: Settings,
    identity: IdentityLike | None,
    *,
    timeout: float = 15.0,
    reconnect: ReconnectPolicy | None = None,
    binarize: bool = True,
    environment: Environment | None = None,
) -> tuple[HiveMessageBusClient, ConnectionInfo | None]:
    """A connected client, or a CliError with the error's code and message (client closed).

    ``identity`` gives the client our keys, trust store and protocol v3 pins (the library
    creates missing keys in it on first use); None connects with throw-away keys, fit only for
    a hub that will never see this node again (the demo's own hub). The client comes from
    ``environment`` (default: this library's threaded client); the info is None when that
    client does not report what was negotiated.
    """
    settings.require_hub()
    SECRETS.add(settings.secrets())
    new_client = (environment or default_environment()).new_client

    assert settings.host is not None and settings.key is not None  # require_hub checked
    client: HiveMessageBusClient = new_client(
        key=settings.key,
        password=settings.password,
        host=f"{settings.scheme}://{settings.hostname}",
        port=settings.port,
        identity=identity,
        site_id=settings.site_id,
        reconnect=reconnect,
        binarize=binarize,
    )
    if settings.verbose:
        client.on("message", lambda message: LOG.info("<- %s", summary(message)))
        client.on("disconnected", lambda event: LOG.info("link closed: %s", event))
        client.on("failed", lambda error: LOG.info("link failed: %s", error))
    LOG.info("connecting to %s as site %r", settings.address, settings.site_id or "unknown")
    from hivemind_client.errors import HiveMindError

    try:
        info: ConnectionInfo | None = client.connect(timeout=timeout)
    except HiveMindError as exc:
        client.close()
        raise CliError(f"{exc.code}: {exc}{_hint(exc)}") from None
    except BaseException:
        client.close()
        raise
    LOG.info("connected: %s", describe_info(info))
    return client, info


def _hint(error: Exception) -> str:
    """A next step for the failures people meet most, appended to the error line."""
    text, code = str(error), getattr(error, "code", "")
    if code == "handshake-failed" and "wrong password" in text:
        return " -- check the password ('hivemind-client set-identity --password -')"
    if "during the handshake: code None" in text:
        return " -- is this access key registered on the hub? ('hivemind-core list-clients')"
    if "cannot connect" in text:
        return " -- is the hub running and listening on that host and port?"
    return ""


def send(client: HiveMessageBusClient, message: HiveMessage | Message) -> None:
    """Emit ``message`` (a BUS message for a plain OVOS one), logged in verbose mode."""
    from hivemind_client.wire.message import HiveMessage as _HiveMessage

    if LOG.isEnabledFor(logging.INFO):
        shown = message if isinstance(message, _HiveMessage) else _HiveMessage("bus", message)
        LOG.info("-> %s", summary(shown))
    client.emit(message)


def summary(message: HiveMessage) -> str:
    """One line about a message: its type chain, the OVOS type and data, its metadata."""
    from hivemind_client.wire.message_types import HiveMessageType

    parts = [message.msg_type.value]
    raw = message.raw_payload
    inner: Any = raw
    while isinstance(inner, dict) and isinstance(inner.get("msg_type"), str):
        parts.append(inner["msg_type"])
        inner = inner.get("payload")
    if isinstance(inner, dict) and isinstance(inner.get("type"), str):
        parts.append(inner["type"])
        data = inner.get("data")
        if data:
            parts.append(shorten(json.dumps(data, ensure_ascii=False), 160))
    elif message.msg_type is HiveMessageType.BINARY and isinstance(raw, bytes):
        parts.append(f"{len(raw)} bytes")
    if message.metadata:
        parts.append("metadata=" + shorten(json.dumps(message.metadata), 120))
    return " ".join(parts)


@contextlib.contextmanager
def watch_link(client: HiveMessageBusClient) -> Iterator[list[str]]:
    """Collect why the hub dropped the link while the block runs (empty list: it did not).

    Our own ``close()`` is not a drop: register before sending, read before closing.
    """
    drops: list[str] = []

    def on_closed(event: Any) -> None:
        code = getattr(event, "code", None)
        reason = getattr(event, "reason", "") or "no reason given"
        if code != 1000 or reason != "closed by the client":
            drops.append(f"code {code} ({reason})" if code is not None else reason)

    def on_failed(error: Any) -> None:
        drops.append(f"{getattr(error, 'code', 'error')}: {error}")

    client.on("disconnected", on_closed)
    client.on("failed", on_failed)
    try:
        yield drops
    finally:
        client.remove("disconnected", on_closed)
        client.remove("failed", on_failed)
