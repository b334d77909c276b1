"""How messages travel once a session is keyed: legacy AEAD envelopes, or a Noise transport.

A link turns one HiveMessage into the websocket messages that carry it and back. It is pure
computation on keys the handshake produced; the session decides what to do with its errors.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from typing import Any, Protocol

from hivemind_client.errors import (
    AuthenticationFailed,
    InvalidArgument,
    InvalidPayload,
    MetadataTooLarge,
    PayloadTooLarge,
)
from hivemind_client.security.aead import (
    nonce_size,
    open_binary,
    open_json_with_nonce,
    seal_binary,
    seal_json_with_nonce,
)
from hivemind_client.security.hivemind_noise import NoiseTransport
from hivemind_client.wire.codec import (
    DEFAULT_MAX_DECODED_ITEMS,
    decode_binary,
    decode_json,
    encode_binary,
)
from hivemind_client.wire.frame import DEFAULT_MAX_INFLATED_SIZE
from hivemind_client.wire.message import HiveMessage, parse_json_object
from hivemind_client.wire.message_types import HiveMessageType

__all__ = [
    "DEFAULT_NONCE_WINDOW",
    "TEXT_ONLY_TYPES",
    "LegacyLink",
    "Link",
    "NoiseLink",
    "NonceWindow",
]

DEFAULT_NONCE_WINDOW = 4096
"""Nonces a v1 link remembers in each direction (0.35 MB each when full, measured)."""

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


class NonceWindow:
    """The last ``size`` nonces seen, in O(1) per nonce (a set for lookups, a deque for age)."""

    __slots__ = ("_order", "_seen", "size")

    def __init__(self, size: int) -> None:
        self.size = size
        self._seen: set[bytes] = set()
        self._order: deque[bytes] = deque()

    def __contains__(self, nonce: bytes) -> bool:
        return nonce in self._seen

    def __len__(self) -> int:
        return len(self._seen)

    def add(self, nonce: bytes) -> None:
        """Remember ``nonce``, forgetting the oldest one beyond ``size``."""
        if self.size <= 0 or nonce in self._seen:
            return
        if len(self._order) >= self.size:
            self._seen.discard(self._order.popleft())
        self._order.append(nonce)
        self._seen.add(nonce)


class _Framing:
    """What both links decide alike: which messages travel as binary frames, and the bounds
    every received message is decoded under."""

    def __init__(
        self,
        *,
        binarize: bool,
        compress: bool | None,
        max_inflated_size: int,
        max_decoded_items: int,
    ) -> None:
        self.binarize = binarize
        self.compress = compress
        self.max_inflated_size = max_inflated_size
        self.max_decoded_items = max_decoded_items

    def _binary_frame(self, message: HiveMessage) -> bytes | None:
        """The binary frame for BINARY (and for everything but HELLO/HANDSHAKE/INTERCOM when
        binarized); None: the message travels as JSON text."""
        msg_type = message.msg_type
        if msg_type is HiveMessageType.BINARY:
            return encode_binary(message, compress=self.compress)  # no text form: may raise
        if self.binarize and msg_type not in TEXT_ONLY_TYPES:
            try:
                return encode_binary(message, compress=self.compress)
            except MetadataTooLarge:
                # the frame's metadata field holds 255 bytes even compressed; the text frame
                # has no such limit (the wire spec's last remedy, as the reference does)
                return None
        return None

    def _decode_frame(self, frame: bytes) -> HiveMessage:
        return decode_binary(
            frame,
            max_inflated_size=self.max_inflated_size,
            max_decoded_items=self.max_decoded_items,
        )

    def _decode_text(self, text: str | bytes) -> HiveMessage:
        return decode_json(text, max_decoded_items=self.max_decoded_items)


class LegacyLink(_Framing):
    """Protocol v1 traffic: JSON text or binary frames, each sealed with a fresh random nonce.

    Every frame stands alone, so a bad one is dropped and the link goes on (``failed`` stays
    False).

    v1 has no sequence numbers and one key serves both directions, so a recorded hub frame
    would open again, and a frame of ours bounced back would open as the hub's. The link
    remembers the last ``nonce_window`` nonces it accepted and the last ``nonce_window`` it
    sent (random, so a repeat means a copy) and refuses an exact replay or a reflection with
    AuthenticationFailed; the session drops that frame and goes on. What remains: a replay
    older than the window, frames reordered or deleted in transit, and any of that across
    connections of the same key (a password link's key is new per connection, a pre-shared
    key's is not). Protocol v3 (:class:`NoiseLink`) has none of these problems.
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
        max_decoded_items: int = DEFAULT_MAX_DECODED_ITEMS,
        nonce_window: int = DEFAULT_NONCE_WINDOW,
    ) -> None:
        super().__init__(
            binarize=binarize,
            compress=compress,
            max_inflated_size=max_inflated_size,
            max_decoded_items=max_decoded_items,
        )
        self.key = key
        self.cipher = cipher
        self.encoding = encoding
        self.received_nonces = NonceWindow(nonce_window)
        self.sent_nonces = NonceWindow(nonce_window)

    def outgoing(self, message: HiveMessage) -> list[str | bytes]:
        """Binary frames for BINARY (and everything but HELLO/HANDSHAKE/INTERCOM when binarized)."""
        frame = self._binary_frame(message)
        if frame is not None:
            if not self.key:
                return [frame]
            blob = seal_binary(frame, self.key, cipher=self.cipher)
            self.sent_nonces.add(blob[: nonce_size(self.cipher)])
            return [blob]
        text = message.serialize()
        if not self.key:
            return [text]
        sealed, nonce = seal_json_with_nonce(
            text, self.key, cipher=self.cipher, encoding=self.encoding
        )
        self.sent_nonces.add(nonce)
        return [sealed]

    def incoming(self, data: str | bytes) -> HiveMessage:
        """Open and decode one websocket message."""
        if isinstance(data, bytes):
            if not self.key:
                return self._decode_frame(data)
            frame = open_binary(data, self.key, cipher=self.cipher)
            # open_binary reads the nonce from the same leading bytes
            self._check_nonce(data[: nonce_size(self.cipher)])
            return self._decode_frame(frame)
        if self.key and data.startswith('{"ciphertext": "'):
            # what seal_json writes: open_json reads it without a JSON pass over the ciphertext
            return self._open_json(data, self.key)
        envelope = parse_json_object(data, "text frame", max_items=self.max_decoded_items)
        if "ciphertext" not in envelope:
            if self.key:
                raise InvalidPayload("cleartext message after the link was keyed")
            return self._decode_text(data)
        if not self.key:
            raise InvalidPayload("encrypted message on an unkeyed link")
        return self._open_json(envelope, self.key)

    def _open_json(self, envelope: str | Mapping[str, Any], key: bytes) -> HiveMessage:
        text, nonce = open_json_with_nonce(
            envelope, key, cipher=self.cipher, encoding=self.encoding
        )
        self._check_nonce(nonce)
        return self._decode_text(text)

    def _check_nonce(self, nonce: bytes) -> None:
        """Refuse an authenticated frame whose nonce we saw or sent (see the class docstring).

        Only frames that authenticate are remembered, so forged garbage cannot push real
        nonces out of the window.
        """
        if nonce in self.sent_nonces:
            raise AuthenticationFailed(
                "reflected frame: its nonce is one we sent (a frame of ours bounced back)"
            )
        if nonce in self.received_nonces:
            raise AuthenticationFailed("replayed frame: its nonce was seen before on this link")
        self.received_nonces.add(nonce)


class NoiseLink(_Framing):
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
        max_decoded_items: int = DEFAULT_MAX_DECODED_ITEMS,
    ) -> None:
        super().__init__(
            binarize=binarize,
            compress=compress,
            max_inflated_size=max_inflated_size,
            max_decoded_items=max_decoded_items,
        )
        self.transport = transport
        self._failed = False

    @property
    def failed(self) -> bool:
        """True after a transport-level error: the Noise receive state is gone."""
        return self._failed

    def outgoing(self, message: HiveMessage) -> list[str | bytes]:
        """Binary frames for BINARY (and everything but HELLO/HANDSHAKE/INTERCOM when binarized)."""
        frame = self._binary_frame(message)
        if frame is not None:
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
            return self._decode_frame(plaintext)
        return self._decode_text(plaintext)
