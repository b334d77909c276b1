"""How messages travel once a session is keyed: legacy AEAD envelopes, or a Noise transport.

A link turns one HiveMessage into the websocket messages that carry it and back. It is pure
computation on keys the handshake produced; the session decides what to do with its errors.
"""

from __future__ import annotations

from typing import Protocol

from hivemind_client.errors import (
    AuthenticationFailed,
    InvalidArgument,
    InvalidPayload,
    PayloadTooLarge,
)
from hivemind_client.security.aead import open_binary, open_json, seal_binary, seal_json
from hivemind_client.security.hivemind_noise import NoiseTransport
from hivemind_client.wire.codec import decode_binary, decode_json, encode_binary
from hivemind_client.wire.frame import DEFAULT_MAX_INFLATED_SIZE
from hivemind_client.wire.message import HiveMessage, parse_json_object
from hivemind_client.wire.message_types import HiveMessageType

__all__ = ["TEXT_ONLY_TYPES", "LegacyLink", "Link", "NoiseLink"]

TEXT_ONLY_TYPES = frozenset(
    {HiveMessageType.HELLO, HiveMessageType.HANDSHAKE, HiveMessageType.INTERCOM}
)
"""Never binarized: the hub reads these as JSON text (INTERCOM too, unlike the reference)."""


class Link(Protocol):
    """How messages travel once the session is keyed (legacy AEAD, or a Noise transport)."""

    @property
    def failed(self) -> bool:
        """True once the link can carry nothing more (a v3 transport error is fatal)."""
        ...

    def outgoing(self, message: HiveMessage) -> list[str | bytes]:
        """Websocket messages that carry ``message``."""
        ...

    def incoming(self, data: str | bytes) -> HiveMessage | None:
        """The message in one websocket message (None while a multi-part one is incomplete)."""
        ...


class LegacyLink:
    """Protocol v1 traffic: JSON text or binary frames, each sealed with a fresh random nonce.

    Every frame stands alone, so a bad one is dropped and the link goes on (``failed`` stays
    False).
    """

    failed = False

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
            self.binarize and msg_type not in TEXT_ONLY_TYPES
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
        if self.key and data.startswith('{"ciphertext": "'):
            # what seal_json writes: open_json reads it without a JSON pass over the ciphertext
            return decode_json(
                open_json(data, self.key, cipher=self.cipher, encoding=self.encoding)
            )
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


class NoiseLink:
    """Protocol v3 traffic: every message one or more Noise transport messages, binary frames.

    The first plaintext byte says what follows (JSON, binary frame, or a chunk of a message
    larger than one Noise message; :class:`~hivemind_client.security.hivemind_noise.NoiseTransport`
    chunks and reassembles, bounded by ``max_reassembly``). Nonces are sequential, so a
    replayed, reordered or tampered message, a text frame or a bad chunk sequence makes the
    link ``failed`` and the session ends; a message that decrypts but does not decode is only
    dropped.
    """

    def __init__(
        self,
        transport: NoiseTransport,
        *,
        binarize: bool,
        compress: bool | None,
        max_inflated_size: int = DEFAULT_MAX_INFLATED_SIZE,
    ) -> None:
        self.transport = transport
        self.binarize = binarize
        self.compress = compress
        self.max_inflated_size = max_inflated_size
        self._failed = False

    @property
    def failed(self) -> bool:
        """True after a transport-level error: the Noise receive state is gone."""
        return self._failed

    def outgoing(self, message: HiveMessage) -> list[str | bytes]:
        """Binary frames for BINARY (and everything but HELLO/HANDSHAKE/INTERCOM when binarized)."""
        msg_type = message.msg_type
        if msg_type is HiveMessageType.BINARY or (
            self.binarize and msg_type not in TEXT_ONLY_TYPES
        ):
            frame = encode_binary(message, compress=self.compress)
            return list(self.transport.encrypt_binary(frame))
        return list(self.transport.encrypt_json(message.serialize()))

    def incoming(self, data: str | bytes) -> HiveMessage | None:
        """Decrypt one Noise message; the message it completes, or None (chunk buffered)."""
        try:
            if not isinstance(data, bytes):
                raise InvalidPayload("a text frame on a protocol v3 session")
            plaintext = self.transport.decrypt(data)
        except AuthenticationFailed:
            self._failed = True
            raise AuthenticationFailed(
                "a v3 transport message did not authenticate (tampered, replayed or out of"
                " order): the Noise session cannot go on"
            ) from None
        except (InvalidPayload, PayloadTooLarge, InvalidArgument):
            self._failed = True
            raise
        if plaintext is None:
            return None
        if isinstance(plaintext, bytes):
            return decode_binary(plaintext, max_inflated_size=self.max_inflated_size)
        return decode_json(plaintext)
