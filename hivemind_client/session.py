"""The client session: a sans-I/O state machine in the style of h11.

The driver (a websocket transport, or a test) feeds it whole websocket messages and the time,
and takes back events and messages to send; the session never reads a clock or a socket::

    session = ClientSession(config, now=clock())
    session.receive_message(data, now=clock())      # str for text frames, bytes for binary
    for event in session.events(): ...              # HelloReceived, HandshakeCompleted, ...
    for data in session.messages_to_send(): ws.send(data)
    if (deadline := session.next_timer()) is not None: ...  session.handle_timer(clock())

States: AWAITING_HELLO -> AWAITING_OFFER -> AWAITING_HANDSHAKE -> READY -> CLOSED.
Hostile input never raises out of ``receive_message``: a bad frame after the handshake becomes
``MessageDropped``; anything that makes the session unusable becomes ``ConnectionFailed``.
"""

from __future__ import annotations

import uuid
from collections import deque
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Protocol

from hivemind_client.codec import decode_binary, decode_json, encode_binary
from hivemind_client.crypto import (
    Cipher,
    open_binary,
    open_json,
    preferred_ciphers,
    seal_binary,
    seal_json,
)
from hivemind_client.encodings import TextEncoding
from hivemind_client.errors import (
    ConnectionFailed as ConnectionFailedError,
)
from hivemind_client.errors import (
    HandshakeFailed,
    HiveMindError,
    InvalidPayload,
    NotConnected,
    UnsupportedVersion,
)
from hivemind_client.events import (
    ConnectionClosed,
    ConnectionFailed,
    Event,
    HandshakeCompleted,
    HelloReceived,
    MessageDropped,
    MessageReceived,
)
from hivemind_client.frame import DEFAULT_MAX_INFLATED_SIZE
from hivemind_client.message import HiveMessage, parse_json_object
from hivemind_client.message_types import HiveMessageType

__all__ = [
    "PREFERRED_ENCODINGS",
    "ClientSession",
    "LegacyLink",
    "Link",
    "SessionConfig",
    "SessionState",
]

PREFERRED_ENCODINGS: tuple[str, ...] = (
    TextEncoding.JSON_B64,
    TextEncoding.JSON_URLSAFE_B64,
    TextEncoding.JSON_HEX,
    TextEncoding.JSON_B32,
    TextEncoding.JSON_Z85P,
    TextEncoding.JSON_Z85B,
    TextEncoding.JSON_B91,
)
"""What we offer, best first. The hub takes the client's first allowed entry, and JSON-B91
first has broken real deployments, so B64 leads and B91 comes last."""

_CLEARTEXT_TYPES = frozenset({HiveMessageType.HELLO, HiveMessageType.HANDSHAKE})
_TEXT_ONLY_TYPES = frozenset(
    {HiveMessageType.HELLO, HiveMessageType.HANDSHAKE, HiveMessageType.INTERCOM}
)
# Close codes a hub uses to refuse a client before the session exists.
_REFUSALS = {1008: "the hub refused the connection"}


class SessionState(Enum):
    """Where the session is in its life."""

    AWAITING_HELLO = "awaiting-hello"
    AWAITING_OFFER = "awaiting-offer"
    AWAITING_HANDSHAKE = "awaiting-handshake"
    READY = "ready"
    CLOSED = "closed"


@dataclass
class SessionConfig:
    """What the session needs to know about us; the transport knows the rest."""

    password: str | None = None
    crypto_key: bytes | None = None
    site_id: str = "unknown"
    public_key_pem: str | None = None
    session_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    """Hubs disconnect non-admin clients that ask for the 'default' session: use our own id."""
    session_data: dict[str, Any] = field(default_factory=dict)
    binarize: bool = True
    compress: bool | None = None
    encodings: tuple[str, ...] = PREFERRED_ENCODINGS
    ciphers: tuple[str, ...] = field(default_factory=lambda: tuple(preferred_ciphers()))
    handshake_timeout: float = 10.0
    max_inflated_size: int = DEFAULT_MAX_INFLATED_SIZE


class Link(Protocol):
    """How messages travel once the session is keyed (legacy AEAD, or a Noise transport)."""

    def outgoing(self, message: HiveMessage) -> list[str | bytes]:
        """Websocket messages that carry ``message``."""
        ...

    def incoming(self, data: str | bytes) -> HiveMessage | None:
        """The message in one websocket message (None while a multi-part one is incomplete)."""
        ...


class LegacyLink:
    """Protocol v1 traffic: JSON text or binary frames, each sealed with a fresh random nonce."""

    def __init__(
        self,
        key: bytes | None,
        cipher: str,
        encoding: str,
        *,
        binarize: bool,
        compress: bool | None,
        max_inflated_size: int = DEFAULT_MAX_INFLATED_SIZE,
    ) -> None:
        self.key = key
        self.cipher = cipher
        self.encoding = encoding
        self.binarize = binarize
        self.compress = compress
        self.max_inflated_size = max_inflated_size

    def outgoing(self, message: HiveMessage) -> list[str | bytes]:
        """Binary frames for BINARY (and everything but HELLO/HANDSHAKE/INTERCOM when binarized)."""
        msg_type = message.msg_type
        if msg_type is HiveMessageType.BINARY or (
            self.binarize and msg_type not in _TEXT_ONLY_TYPES
        ):
            frame = encode_binary(message, compress=self.compress)
            return [seal_binary(frame, self.key, cipher=self.cipher) if self.key else frame]
        text = message.serialize()
        return [
            seal_json(text, self.key, cipher=self.cipher, encoding=self.encoding)
            if self.key
            else text
        ]

    def incoming(self, data: str | bytes) -> HiveMessage:
        """Open and decode one websocket message."""
        if isinstance(data, bytes):
            frame = open_binary(data, self.key, cipher=self.cipher) if self.key else data
            return decode_binary(frame, max_inflated_size=self.max_inflated_size)
        envelope = parse_json_object(data, "text frame")
        if "ciphertext" not in envelope:
            if self.key:
                raise InvalidPayload("cleartext message after the link was keyed")
            return decode_json(data)
        if not self.key:
            raise InvalidPayload("encrypted message on an unkeyed link")
        return decode_json(
            open_json(envelope, self.key, cipher=self.cipher, encoding=self.encoding)
        )


class ClientSession:
    """One satellite-to-hub session, from the hub's HELLO to the close."""

    def __init__(self, config: SessionConfig, *, now: float) -> None:
        self.config = config
        self.state = SessionState.AWAITING_HELLO
        self.hub_hello: dict[str, Any] = {}
        self.hub_offer: dict[str, Any] = {}
        self.protocol_version: int | None = None
        self.handshake_kind: str | None = None
        self.link: Link | None = None
        self._events: deque[Event] = deque()
        self._outgoing: deque[str | bytes] = deque()
        self._deadline: float | None = now + config.handshake_timeout
        self._password_handshake: Any = None

    # -- driver API ---------------------------------------------------------------------------
    def receive_message(self, data: str | bytes, now: float) -> None:
        """Feed one whole websocket message (text as str, binary as bytes)."""
        if self.state is SessionState.CLOSED:
            return
        try:
            if self.state is SessionState.READY:
                self._receive_ready(data)
            else:
                self._receive_handshake(data)
        except HiveMindError as error:
            if self.state is SessionState.READY:
                self._events.append(MessageDropped(error))
            else:
                self._fail(error)

    def send(self, message: HiveMessage) -> None:
        """Queue a message for the hub; raises NotConnected before the handshake completes."""
        if self.state is not SessionState.READY or self.link is None:
            raise NotConnected(f"session is {self.state.value}, not ready")
        self._outgoing.extend(self.link.outgoing(message))

    def connection_lost(self, code: int | None, reason: str, now: float) -> None:
        """The transport saw the websocket close (or the TCP connection drop)."""
        if self.state is SessionState.CLOSED:
            return
        if self.state is SessionState.READY:
            self._events.append(ConnectionClosed(code, reason))
        else:
            why = _REFUSALS.get(code or 0, "the hub closed the connection")
            detail = f" ({reason})" if reason else ""
            self._events.append(
                ConnectionFailed(
                    ConnectionFailedError(f"{why} during the handshake: code {code}{detail}")
                )
            )
        self._close()

    def next_event(self) -> Event | None:
        """The oldest pending event, or None."""
        return self._events.popleft() if self._events else None

    def events(self) -> list[Event]:
        """Every pending event, oldest first."""
        out = list(self._events)
        self._events.clear()
        return out

    def messages_to_send(self) -> list[str | bytes]:
        """Every websocket message the driver must send now, in order."""
        out = list(self._outgoing)
        self._outgoing.clear()
        return out

    def next_timer(self) -> float | None:
        """When ``handle_timer`` must run next (None: no timer)."""
        return self._deadline

    def handle_timer(self, now: float) -> None:
        """Fire due timers: the handshake deadline."""
        if (
            self._deadline is not None
            and now >= self._deadline
            and self.state is not SessionState.READY
        ):
            self._fail(
                HandshakeFailed(
                    f"the hub did not complete the handshake within {self.config.handshake_timeout:g} s"
                )
            )

    @property
    def ready(self) -> bool:
        """True once messages may be sent."""
        return self.state is SessionState.READY

    # -- handshake ----------------------------------------------------------------------------
    def _receive_handshake(self, data: str | bytes) -> None:
        if isinstance(data, bytes):
            raise InvalidPayload("binary frame before the handshake completed")
        message = decode_json(data)
        if message.msg_type is HiveMessageType.HELLO and self.state is SessionState.AWAITING_HELLO:
            self._on_hello(message.raw_payload)  # type: ignore[arg-type]
        elif (
            message.msg_type is HiveMessageType.HANDSHAKE
            and self.state is SessionState.AWAITING_OFFER
        ):
            self._on_offer(message.raw_payload)  # type: ignore[arg-type]
        elif (
            message.msg_type is HiveMessageType.HANDSHAKE
            and self.state is SessionState.AWAITING_HANDSHAKE
        ):
            self._on_handshake_answer(message.raw_payload)  # type: ignore[arg-type]
        elif (
            message.msg_type is HiveMessageType.HANDSHAKE
            and self.state is SessionState.AWAITING_HELLO
        ):
            # Some hubs send the offer first; accept it without a HELLO.
            self._on_offer(message.raw_payload)  # type: ignore[arg-type]
        else:
            raise InvalidPayload(f"{message.msg_type.value} message while {self.state.value}")

    def _on_hello(self, payload: dict[str, Any]) -> None:
        self.hub_hello = payload
        self.state = SessionState.AWAITING_OFFER
        self._events.append(
            HelloReceived(payload.get("node_id"), payload.get("peer"), payload.get("pubkey"))
        )

    def _on_offer(self, offer: dict[str, Any]) -> None:
        from hivemind_client.handshake import PasswordHandshake

        self.hub_offer = offer
        minimum = int(offer.get("min_protocol_version", 0) or 0)
        if minimum > 2:
            raise UnsupportedVersion(
                f"the hub requires protocol version {minimum}; this session speaks up to 2"
            )
        if self.config.password:
            self._password_handshake = PasswordHandshake(self.config.password)
            request = {
                "binarize": self.config.binarize,
                "encodings": list(self.config.encodings),
                "ciphers": list(self.config.ciphers),
                "envelope": self._password_handshake.envelope,
            }
            self._send_cleartext(HiveMessage(HiveMessageType.HANDSHAKE, request))
            self.state = SessionState.AWAITING_HANDSHAKE
            return
        if self.config.crypto_key:
            # Protocol v0: the pre-shared key is the link key from the start (AES-GCM, hex).
            self._complete(
                self.config.crypto_key, Cipher.AES_GCM, TextEncoding.JSON_HEX, 0, "pre-shared-key"
            )
            return
        raise HandshakeFailed("no password and no pre-shared key: the hub cannot key this link")

    def _on_handshake_answer(self, answer: dict[str, Any]) -> None:
        envelope = answer.get("envelope")
        if not isinstance(envelope, str):
            raise HandshakeFailed("the hub's handshake answer has no envelope")
        try:
            self._password_handshake.verify(envelope)
        except HandshakeFailed as exc:
            raise HandshakeFailed(
                f"wrong password: the hub's envelope does not match ({exc})"
            ) from None
        key = self._password_handshake.derive_key(envelope)
        cipher = answer.get("cipher") or Cipher.AES_GCM
        encoding = answer.get("encoding") or TextEncoding.JSON_HEX
        if cipher not in self.config.ciphers or encoding not in self.config.encodings:
            raise HandshakeFailed(f"the hub chose {cipher} with {encoding}, which we did not offer")
        version = 2 if self.hub_offer.get("binarize") else 1
        self._complete(key, cipher, encoding, version, "password")

    def _complete(self, key: bytes, cipher: str, encoding: str, version: int, kind: str) -> None:
        binarize = bool(self.hub_offer.get("binarize")) and self.config.binarize
        self.link = LegacyLink(
            key,
            cipher,
            encoding,
            binarize=binarize,
            compress=self.config.compress,
            max_inflated_size=self.config.max_inflated_size,
        )
        self.protocol_version = version
        self.handshake_kind = kind
        self.state = SessionState.READY
        self._deadline = None
        hello = {
            "pubkey": self.config.public_key_pem,
            "session": self._session_data(),
            "site_id": self.config.site_id,
        }
        self._outgoing.extend(self.link.outgoing(HiveMessage(HiveMessageType.HELLO, hello)))
        self._events.append(HandshakeCompleted(version, kind, str(cipher), str(encoding), binarize))

    def _session_data(self) -> dict[str, Any]:
        data = {"session_id": self.config.session_id, "site_id": self.config.site_id}
        data.update(self.config.session_data)
        return data

    def _send_cleartext(self, message: HiveMessage) -> None:
        self._outgoing.append(message.serialize())

    # -- established session ------------------------------------------------------------------
    def _receive_ready(self, data: str | bytes) -> None:
        if self.link is None:  # READY always has a link; guard against misuse all the same
            raise NotConnected("session has no link")
        message = self.link.incoming(data)
        if message is None:
            return
        if message.msg_type in _CLEARTEXT_TYPES and message.msg_type is HiveMessageType.HANDSHAKE:
            raise InvalidPayload("handshake message after the handshake completed")
        self._events.append(MessageReceived(message))

    def _fail(self, error: HiveMindError) -> None:
        self._events.append(ConnectionFailed(error))
        self._close()

    def _close(self) -> None:
        self.state = SessionState.CLOSED
        self._deadline = None
        self._outgoing.clear()
