"""Events the session core hands to its driver: frozen facts, named as what happened."""

from __future__ import annotations

from dataclasses import dataclass

from hivemind_client.errors import HiveMindError
from hivemind_client.wire.message import HiveMessage

__all__ = [
    "ConnectionClosed",
    "ConnectionFailed",
    "Event",
    "HandshakeCompleted",
    "HelloReceived",
    "MessageDropped",
    "MessageReceived",
    "SessionFailed",
]


@dataclass(frozen=True, slots=True)
class HelloReceived:
    """The hub introduced itself (cleartext HELLO)."""

    node_id: str | None
    peer: str | None
    public_key: str | None


@dataclass(frozen=True, slots=True)
class HandshakeCompleted:
    """The link is keyed and our HELLO is sent: messages may flow."""

    protocol_version: int
    handshake: str
    cipher: str | None
    encoding: str | None
    binarize: bool


@dataclass(frozen=True, slots=True)
class MessageReceived:
    """A message arrived, decrypted and validated."""

    message: HiveMessage


@dataclass(frozen=True, slots=True)
class MessageDropped:
    """A frame from the hub was refused and dropped; the connection stays up."""

    error: HiveMindError


@dataclass(frozen=True, slots=True)
class SessionFailed:
    """The session cannot go on; the driver must close the socket. ``error.code`` says why.

    ``close_code`` is the hub's close code when its close ended the session. ``retry_now``
    says an immediate second attempt can succeed where this one failed (a stale cached PSK
    was dropped, or the hub closed KKpsk0); ``avoid_kk`` that it should run XXpsk2.
    """

    error: HiveMindError
    close_code: int | None = None
    retry_now: bool = False
    avoid_kk: bool = False


ConnectionFailed = SessionFailed
"""The old name of :class:`SessionFailed` (it clashed with the exception of that name)."""


@dataclass(frozen=True, slots=True)
class ConnectionClosed:
    """The connection ended (after the session was established, or by us)."""

    code: int | None
    reason: str


Event = (
    HelloReceived
    | HandshakeCompleted
    | MessageReceived
    | MessageDropped
    | SessionFailed
    | ConnectionClosed
)
