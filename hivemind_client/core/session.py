"""The client session: a sans-I/O state machine in the style of h11.

The driver (a websocket transport, or a test) feeds it whole websocket messages and the time,
and takes back events and messages to send; the session never reads a clock or a socket::

    session = ClientSession(config, now=clock())
    session.receive_message(data, now=clock())      # str for text frames, bytes for binary
    for event in session.events(): ...              # HelloReceived, HandshakeCompleted, ...
    for data in session.messages_to_send(): ws.send(data)
    if (deadline := session.next_timer()) is not None: ...  session.handle_timer(clock())

States: AWAITING_HELLO -> AWAITING_OFFER -> AWAITING_HANDSHAKE [-> AWAITING_CONFIRMATION]
-> READY -> CLOSED.
Hostile input never raises out of ``receive_message``: a bad frame after the handshake becomes
``MessageDropped``; anything that makes the session unusable becomes ``ConnectionFailed``.

Two key exchanges, chosen from the hub's offer:

- protocol v1/v2 (hivemind-core <= 4.x): the password envelope handshake (or a pre-shared
  key), then AEAD envelopes with random nonces (:class:`LegacyLink`);
- protocol v3 (hivemind-core 5.x, optional on 4.7-4.15): the Noise handshake of
  :mod:`hivemind_client.security.hivemind_noise` carried in HANDSHAKE payloads, then one Noise transport
  message per binary websocket message (:class:`NoiseLink`). Used whenever the hub offers it,
  we have the password and a pattern and suite are mutual.

v3 keeps state across connections through a :class:`NoiseKeyStore` (the hub's pinned static
key, the derived PSK, so argon2id runs once per hub and not on every reconnect). Pins are trust
on first use: a hub whose key contradicts the pin is refused.

AWAITING_CONFIRMATION exists because a v3 hub checks *our* static key against its own pin only
after the last handshake message and says nothing when it agrees: after an XXpsk2 handshake
with a hub that already pinned a key for our access key (it offered KKpsk0), the session waits
``v3_refusal_window`` seconds (or for the first message from the hub) before it reports
HandshakeCompleted, so a refusal is a clear HandshakeFailed and not a dropped session.
"""

from __future__ import annotations

import secrets
import threading
import uuid
from collections import OrderedDict, deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Protocol

from hivemind_client.core.events import (
    ConnectionClosed,
    ConnectionFailed,
    Event,
    HandshakeCompleted,
    HelloReceived,
    MessageDropped,
    MessageReceived,
)
from hivemind_client.errors import (
    AuthenticationFailed,
    HandshakeFailed,
    HiveMindError,
    InvalidArgument,
    InvalidPayload,
    NotConnected,
    PayloadTooLarge,
    UnsupportedVersion,
)
from hivemind_client.errors import (
    ConnectionFailed as ConnectionFailedError,
)
from hivemind_client.security.aead import (
    Cipher,
    open_binary,
    open_json,
    preferred_ciphers,
    seal_binary,
    seal_json,
)
from hivemind_client.security.encodings import TextEncoding
from hivemind_client.security.hivemind_noise import (
    DEFAULT_MAX_REASSEMBLY,
    PATTERN_KK,
    PROTOCOL_VERSION,
    NoiseClientHandshake,
    NoiseTransport,
    derive_psk,
    select_noise_options,
)
from hivemind_client.wire.codec import decode_binary, decode_json, encode_binary
from hivemind_client.wire.frame import DEFAULT_MAX_INFLATED_SIZE
from hivemind_client.wire.message import HiveMessage, parse_json_object
from hivemind_client.wire.message_types import HiveMessageType

__all__ = [
    "PREFERRED_ENCODINGS",
    "ClientSession",
    "LegacyLink",
    "Link",
    "MemoryNoiseStore",
    "NoiseKeyStore",
    "NoiseLink",
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
_POLICY_VIOLATION = 1008
# Offer fields that only a hub still speaking the legacy handshake sends (4.x, 3.x).
_LEGACY_OFFER_FIELDS = ("min_protocol_version", "password", "handshake")
_KEY_SIZE = 32


class SessionState(Enum):
    """Where the session is in its life."""

    AWAITING_HELLO = "awaiting-hello"
    AWAITING_OFFER = "awaiting-offer"
    AWAITING_HANDSHAKE = "awaiting-handshake"
    AWAITING_CONFIRMATION = "awaiting-confirmation"
    """v3 only: keyed and our HELLO sent, waiting briefly for a refusal of our static key."""
    READY = "ready"
    CLOSED = "closed"


class NoiseKeyStore(Protocol):
    """What protocol v3 remembers between connections: hub key pins and derived PSKs.

    One store belongs to one client (one access key): the PSK depends on the password and
    the hub's node_id, and a hub keeps one pin per access key. The client wires it to a
    :class:`~hivemind_client.identity.NodeIdentity` when it has one; otherwise a
    :class:`MemoryNoiseStore` lives as long as the client.
    """

    def pinned_hub_key(self, pin_id: str) -> bytes | None:
        """The hub static key pinned under ``pin_id`` ("host:port"), or None."""
        ...

    def pin_hub_key(self, pin_id: str, key: bytes) -> None:
        """Pin a hub's static key after its first authenticated handshake."""
        ...

    def cached_psk(self, hub_node_id: str) -> bytes | None:
        """The PSK derived earlier for this hub, or None."""
        ...

    def cache_psk(self, hub_node_id: str, psk: bytes) -> None:
        """Remember a PSK that a hub just accepted."""
        ...

    def forget_psk(self, hub_node_id: str) -> None:
        """Drop a PSK that failed (the password may have changed since)."""
        ...


class MemoryNoiseStore:
    """A :class:`NoiseKeyStore` in memory: pins and PSKs for as long as the object lives.

    PSKs are keyed by (hub node_id, access key); at most ``max_entries`` of each are kept.
    """

    def __init__(self, access_key: str | None = None, *, max_entries: int = 32) -> None:
        self.access_key = access_key
        self._max_entries = max_entries
        self._pins: OrderedDict[str, bytes] = OrderedDict()
        self._psks: OrderedDict[tuple[str, str | None], bytes] = OrderedDict()
        self._lock = threading.Lock()

    def pinned_hub_key(self, pin_id: str) -> bytes | None:
        """The pinned key, or None."""
        with self._lock:
            return self._pins.get(pin_id)

    def pin_hub_key(self, pin_id: str, key: bytes) -> None:
        """Pin ``key`` under ``pin_id``."""
        with self._lock:
            self._pins[pin_id] = bytes(key)
            _trim(self._pins, self._max_entries)

    def forget_hub(self, pin_id: str) -> bool:
        """Drop a pin; True when there was one."""
        with self._lock:
            return self._pins.pop(pin_id, None) is not None

    def cached_psk(self, hub_node_id: str) -> bytes | None:
        """The cached PSK, or None."""
        with self._lock:
            return self._psks.get((hub_node_id, self.access_key))

    def cache_psk(self, hub_node_id: str, psk: bytes) -> None:
        """Remember ``psk``."""
        with self._lock:
            self._psks[(hub_node_id, self.access_key)] = bytes(psk)
            _trim(self._psks, self._max_entries)

    def forget_psk(self, hub_node_id: str) -> None:
        """Drop the cached PSK."""
        with self._lock:
            self._psks.pop((hub_node_id, self.access_key), None)


def _trim(entries: OrderedDict[Any, bytes], limit: int) -> None:
    while len(entries) > max(limit, 1):
        entries.popitem(last=False)


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
    max_protocol_version: int = PROTOCOL_VERSION
    """3: use the Noise handshake when the hub offers it; 2: stay on the legacy handshake."""
    noise_static_key: bytes | None = None
    """Our X25519 static private key for v3. None: a fresh one for this session only, which a
    hub that pinned another key for our access key refuses: keep one per client or identity."""
    noise_store: NoiseKeyStore | None = None
    """Pins and PSK cache for v3 (None: a MemoryNoiseStore for this session only)."""
    hub_pin_id: str = "hub"
    """Name of the hub's pin in ``noise_store``: ``host:port``, as the reference client uses."""
    allow_kk: bool = True
    """Run KKpsk0 when the hub offers it and its key is pinned (False: XXpsk2 only)."""
    max_reassembly: int = DEFAULT_MAX_REASSEMBLY
    """Largest v3 message reassembled from chunks; more is a fatal PayloadTooLarge."""
    v3_refusal_window: float = 0.5
    """Seconds to wait for a hub's refusal of our static key (see AWAITING_CONFIRMATION)."""


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
            self.binarize and msg_type not in _TEXT_ONLY_TYPES
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
        self._now = now
        # protocol v3
        self._noise: NoiseClientHandshake | None = None
        self._noise_store: NoiseKeyStore = config.noise_store or MemoryNoiseStore()
        self._noise_pinned: bytes | None = None
        self._noise_psk: bytes = b""
        self._noise_psk_cached = False
        self._noise_hub_node_id = ""
        self._pending_completion: HandshakeCompleted | None = None
        self.kk_rejected = False
        """A KKpsk0 handshake was closed by the hub: the next attempt should run XXpsk2."""
        self.stale_psk_dropped = False
        """A cached PSK failed and was dropped: the next attempt derives it again."""

    # -- driver API ---------------------------------------------------------------------------
    def receive_message(self, data: str | bytes, now: float) -> None:
        """Feed one whole websocket message (text as str, binary as bytes)."""
        if self.state is SessionState.CLOSED:
            return
        self._now = now
        try:
            if self.state in (SessionState.READY, SessionState.AWAITING_CONFIRMATION):
                self._receive_ready(data)
            else:
                self._receive_handshake(data)
        except HiveMindError as error:
            keyed = self.state in (SessionState.READY, SessionState.AWAITING_CONFIRMATION)
            if keyed and self.link is not None and not self.link.failed:
                self._confirm()  # the hub sent a message on the new keys: it accepted us
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
        elif self.state is SessionState.AWAITING_CONFIRMATION:
            self._events.append(ConnectionFailed(self._refused_after_handshake(code, reason)))
        elif self._noise is not None:
            self._events.append(ConnectionFailed(self._noise_closed(code, reason)))
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
        """Fire due timers: the handshake deadline, the end of the v3 refusal window."""
        self._now = now
        if self._deadline is None or now < self._deadline:
            return
        if self.state is SessionState.AWAITING_CONFIRMATION:
            self._confirm()
        elif self.state is not SessionState.READY:
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
            and self._noise is not None
        ):
            self._on_noise_answer(message.raw_payload)  # type: ignore[arg-type]
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
        from hivemind_client.security.legacy_handshake import PasswordHandshake

        self.hub_offer = offer
        minimum = _version(offer.get("min_protocol_version"), 0)
        maximum = _version(offer.get("max_protocol_version"), 1)
        noise = offer.get("noise")
        hub_speaks_v3 = maximum >= PROTOCOL_VERSION and isinstance(noise, Mapping)
        # hivemind-core 5.x offers only Noise: none of the legacy fields, no floor to read
        requires_v3 = minimum >= PROTOCOL_VERSION or (
            hub_speaks_v3 and not any(name in offer for name in _LEGACY_OFFER_FIELDS)
        )
        we_speak = min(self.config.max_protocol_version, PROTOCOL_VERSION)
        if minimum > we_speak:
            raise UnsupportedVersion(
                f"the hub requires protocol version {minimum}; this session speaks up to"
                f" {we_speak}"
            )
        if hub_speaks_v3 and we_speak >= PROTOCOL_VERSION:
            if self.config.password:
                if self._start_noise(offer, required=requires_v3):
                    return
            elif requires_v3:
                raise HandshakeFailed(
                    "the hub requires protocol v3 (the Noise handshake), which needs the password"
                    " the hub registered for this access key: give password=... (or an identity"
                    " with one)"
                )
        elif requires_v3:
            raise UnsupportedVersion(
                "the hub requires protocol version 3 but its offer has no Noise parameters"
                if we_speak >= PROTOCOL_VERSION
                else f"the hub requires protocol version 3; this session speaks up to {we_speak}"
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

    # -- protocol v3 (Noise) ------------------------------------------------------------------
    def _start_noise(self, offer: dict[str, Any], *, required: bool) -> bool:
        """Send Noise message 1; False when nothing is mutual and the hub still speaks v1."""
        noise = offer.get("noise")
        patterns = noise.get("patterns") if isinstance(noise, Mapping) else None
        suites = noise.get("suites") if isinstance(noise, Mapping) else None
        patterns = patterns if isinstance(patterns, list) else []
        suites = suites if isinstance(suites, list) else []
        store = self._noise_store
        pinned = store.pinned_hub_key(self.config.hub_pin_id)
        if pinned is not None and len(pinned) != _KEY_SIZE:
            pinned = None
        use_kk = pinned is not None and self.config.allow_kk
        if select_noise_options(patterns, suites, hub_key_pinned=use_kk) is None:
            if not required:
                return False  # a 4.7-4.15 hub: the legacy handshake still works
            raise HandshakeFailed(
                f"no common Noise pattern and suite: the hub offers {patterns} / {suites}"
            )
        if not self.hub_hello:
            raise HandshakeFailed("the hub sent its v3 offer without a HELLO to bind it to")
        node_id = self.hub_hello.get("node_id")
        if not isinstance(node_id, str) or not node_id:
            raise HandshakeFailed("the hub's HELLO has no node_id (the v3 PSK is salted with it)")
        psk = store.cached_psk(node_id)
        self._noise_psk_cached = psk is not None and len(psk) == _KEY_SIZE
        if psk is None or not self._noise_psk_cached:
            password = self.config.password or ""
            psk = derive_psk(password, node_id)  # argon2id: ~0.15 s, 64 MiB
        static = self.config.noise_static_key or secrets.token_bytes(_KEY_SIZE)
        binarize = bool(offer.get("binarize")) and self.config.binarize
        self._noise = NoiseClientHandshake(
            self.hub_hello,
            offer,
            static_private=static,
            psk=psk,
            pinned_hub_key=pinned,
            binarize=binarize,
            encodings=[str(encoding) for encoding in self.config.encodings],
            allow_kk=self.config.allow_kk,
        )
        self._noise_pinned = pinned
        self._noise_psk = psk
        self._noise_hub_node_id = node_id
        self._send_cleartext(HiveMessage(HiveMessageType.HANDSHAKE, self._noise.first_message()))
        self.state = SessionState.AWAITING_HANDSHAKE
        return True

    def _on_noise_answer(self, answer: dict[str, Any]) -> None:
        handshake = self._noise
        if handshake is None:  # unreachable: the caller checked
            raise NotConnected("no Noise handshake in progress")
        pin_id = self.config.hub_pin_id
        try:
            reply = handshake.receive(answer)
        except AuthenticationFailed:
            raise self._wrong_psk() from None
        except HandshakeFailed:
            seen = handshake.hub_static_key
            if seen is not None and self._noise_pinned is not None and seen != self._noise_pinned:
                raise HandshakeFailed(
                    f"the hub's Noise static key ({seen.hex()}) does not match the key pinned"
                    f" for {pin_id} ({self._noise_pinned.hex()}). If the hub was reinstalled,"
                    f" forget the pin (NodeIdentity.forget_hub({pin_id!r})) and connect again;"
                    " otherwise another machine is answering at this address"
                ) from None
            raise
        hub_key = handshake.hub_static_key
        store = self._noise_store
        if self._noise_pinned is None and hub_key is not None:
            store.pin_hub_key(pin_id, hub_key)  # trust on first use
        if not self._noise_psk_cached:
            store.cache_psk(self._noise_hub_node_id, self._noise_psk)
        if reply is not None:
            self._send_cleartext(HiveMessage(HiveMessageType.HANDSHAKE, reply))
        binarize = bool(self.hub_offer.get("binarize")) and self.config.binarize
        link = NoiseLink(
            handshake.transport(max_reassembly=self.config.max_reassembly),
            binarize=binarize,
            compress=self.config.compress,
            max_inflated_size=self.config.max_inflated_size,
        )
        encoding = handshake.hub_selection.get("encoding")
        completed = HandshakeCompleted(
            PROTOCOL_VERSION,
            f"noise-{handshake.pattern}",
            handshake.suite,
            encoding if isinstance(encoding, str) else None,
            binarize,
        )
        hello = self._hello_payload()
        self.link = link
        self.protocol_version = PROTOCOL_VERSION
        self.handshake_kind = completed.handshake
        self._outgoing.extend(link.outgoing(HiveMessage(HiveMessageType.HELLO, hello)))
        hub_patterns = self.hub_offer.get("noise", {}).get("patterns") or []
        if handshake.pattern != PATTERN_KK and PATTERN_KK in hub_patterns:
            # The hub already pinned a key for our access key and checks ours against it only
            # now, after message 3, answering nothing when it agrees: give a refusal time to come.
            self.state = SessionState.AWAITING_CONFIRMATION
            self._pending_completion = completed
            self._deadline = self._now + self.config.v3_refusal_window
            return
        self._ready(completed)

    def _wrong_psk(self) -> HiveMindError:
        """The error for a Noise message 2 that does not authenticate with our PSK."""
        if self._noise_psk_cached:
            self._noise_store.forget_psk(self._noise_hub_node_id)
            self.stale_psk_dropped = True
            return ConnectionFailedError(
                "the hub's Noise handshake does not authenticate with the cached PSK (the"
                " password may have changed): the cached PSK was dropped, connect again to"
                " derive it from the password"
            )
        return HandshakeFailed(
            "wrong password: the hub's Noise handshake message does not authenticate with the"
            " key derived from our password (or the hub's HELLO or offer was altered in transit)"
        )

    def _noise_closed(self, code: int | None, reason: str) -> HiveMindError:
        """The hub closed the socket in the middle of the Noise handshake."""
        detail = f"code {code}" + (f", {reason!r}" if reason else "")
        handshake = self._noise
        if code != _POLICY_VIOLATION or handshake is None:
            return ConnectionFailedError(
                f"the connection closed during the Noise handshake ({detail})"
            )
        if handshake.pattern == PATTERN_KK:
            # A hub that cannot complete KKpsk0 closes without a word: a wrong password, a
            # changed hub key and a hub that lost our key all look the same from here. XXpsk2
            # tells them apart, so the next attempt runs it (the pin is still checked).
            self.kk_rejected = True
            if self._noise_psk_cached:
                self._noise_store.forget_psk(self._noise_hub_node_id)
                self.stale_psk_dropped = True
            return ConnectionFailedError(
                f"the hub closed the KKpsk0 handshake ({detail}): wrong password, a changed hub"
                " key, or a hub that no longer holds our key; the next attempt runs XXpsk2"
            )
        return HandshakeFailed(f"the hub refused the Noise handshake ({detail})")

    def _refused_after_handshake(self, code: int | None, reason: str) -> HiveMindError:
        """The hub closed right after the XXpsk2 handshake, before it sent anything."""
        detail = f"code {code}" + (f", {reason!r}" if reason else "")
        if code != _POLICY_VIOLATION:
            return ConnectionFailedError(
                f"the connection closed right after the Noise handshake ({detail})"
            )
        return HandshakeFailed(
            f"the hub refused our Noise static key ({detail}): it pinned another key for this"
            " access key at an earlier connection. Connect with the same identity (its"
            " noise key file) as before, or have the hub operator clear the pin"
            " ('hivemind-core reset-noise-pin <client id>')"
        )

    def _confirm(self) -> None:
        """End the refusal window: the session is ready."""
        completed, self._pending_completion = self._pending_completion, None
        if self.state is SessionState.AWAITING_CONFIRMATION and completed is not None:
            self._ready(completed)

    def _ready(self, completed: HandshakeCompleted) -> None:
        self.state = SessionState.READY
        self._deadline = None
        self._noise = None
        self._events.append(completed)

    # -- protocol v0-v2 ------------------------------------------------------------------------
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
        hello = self._hello_payload()
        self._outgoing.extend(self.link.outgoing(HiveMessage(HiveMessageType.HELLO, hello)))
        self._events.append(HandshakeCompleted(version, kind, str(cipher), str(encoding), binarize))

    def _hello_payload(self) -> dict[str, Any]:
        """Our HELLO: the public key only when we have one (null breaks the schema, and a v3 hub
        would pin "no key" for INTERCOM)."""
        hello: dict[str, Any] = {"session": self._session_data(), "site_id": self.config.site_id}
        if self.config.public_key_pem is not None:
            hello = {"pubkey": self.config.public_key_pem, **hello}
        return hello

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
        self._confirm()  # anything that decrypts proves the hub kept the session
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


def _version(value: Any, default: int) -> int:
    """A protocol version field from the offer (hubs send ints; anything else is the default)."""
    return value if isinstance(value, int) and not isinstance(value, bool) else default
