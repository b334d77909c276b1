"""One satellite-to-hub connection as a sans-I/O state machine, in the style of h11.

The driver feeds it whole websocket messages, the close of the socket, the time and the
results of the side effects it asked for; it takes back events, websocket messages to send,
its next timer and side-effect requests. It never reads a clock, a socket or a file::

    session = ClientSession(config, now=clock())
    session.receive_message(data, now=clock())      # str for text frames, bytes for binary
    for request in session.requests(): ...          # DerivePsk -> session.receive_psk(...)
    for event in session.events(): ...              # HelloReceived, HandshakeCompleted, ...
    for data in session.messages_to_send(): ws.send(data)
    if (deadline := session.next_timer()) is not None: ...  session.handle_timer(clock())

States, and what moves them (``_TRANSITIONS`` is the table):

    AWAITING_HELLO --HELLO--> AWAITING_OFFER --offer--> AWAITING_HANDSHAKE --answer--> READY
    (a hub may send its offer first); for v3 the offer leads to AWAITING_PSK until the driver
    answers the DerivePsk request, and an XXpsk2 answer to a hub that already pinned a key for
    our access key leads to AWAITING_CONFIRMATION first. Any state -> CLOSED.

Hostile input never raises out of ``receive_message``: a bad frame after the handshake becomes
``MessageDropped``; anything that makes the session unusable becomes ``SessionFailed``, whose
``retry_now``/``avoid_kk`` fields say what the next attempt should do differently.

Two key exchanges, chosen from the hub's offer:

- protocol v1/v2 (hivemind-core <= 4.x): the password envelope handshake (or a pre-shared
  key), then AEAD envelopes with random nonces (:class:`~hivemind_client.core.links.LegacyLink`);
- protocol v3 (hivemind-core 5.x, optional on 4.7-4.15): the Noise handshake of
  :mod:`hivemind_client.security.hivemind_noise` carried in HANDSHAKE payloads, then one Noise
  transport message per binary websocket message (:class:`~hivemind_client.core.links.NoiseLink`).
  Used whenever the hub offers it, we have the password and a pattern and suite are mutual.

v3 keeps state across connections in the driver's key store: the hub's pinned static key comes
in through the config (``pinned_hub_key``); the PSK through :meth:`ClientSession.receive_psk`;
pins and PSKs to remember leave as requests. Pins are trust on first use: a hub whose key
contradicts the pin is refused.

AWAITING_CONFIRMATION exists because a v3 hub checks *our* static key against its own pin only
after the last handshake message and says nothing when it agrees: after an XXpsk2 handshake
with a hub that already pinned a key for our access key (it offered KKpsk0), the session waits
``v3_refusal_window`` seconds (or for the first message from the hub) before it reports
HandshakeCompleted, so a refusal is a clear HandshakeFailed and not a dropped session.
"""

from __future__ import annotations

import secrets
import uuid
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, TypeVar

from hivemind_client.core.events import (
    ConnectionClosed,
    Event,
    HandshakeCompleted,
    HelloReceived,
    MessageDropped,
    MessageReceived,
    SessionFailed,
)
from hivemind_client.core.links import DEFAULT_NONCE_WINDOW, LegacyLink, Link, NoiseLink
from hivemind_client.core.requests import (
    CachePsk,
    DeriveLinkKey,
    DerivePsk,
    ForgetPsk,
    PinHubKey,
    Request,
)
from hivemind_client.errors import (
    ConnectionFailed,
    HandshakeFailed,
    HiveMindError,
    InvalidArgument,
    InvalidPayload,
    NotConnected,
    PayloadTooLarge,
    UnsupportedVersion,
)
from hivemind_client.security.aead import Cipher, preferred_ciphers
from hivemind_client.security.encodings import TextEncoding
from hivemind_client.security.hivemind_noise import (
    DEFAULT_MAX_REASSEMBLY,
    PATTERN_KK,
    PROTOCOL_VERSION,
    NoiseClientHandshake,
    select_noise_options,
)
from hivemind_client.security.legacy_handshake import (
    Negotiation,
    PasswordHandshake,
    RsaHandshake,
    client_handshake_payload,
)
from hivemind_client.wire.codec import DEFAULT_MAX_DECODED_ITEMS, decode_json
from hivemind_client.wire.frame import DEFAULT_MAX_INFLATED_SIZE
from hivemind_client.wire.message import HiveMessage
from hivemind_client.wire.message_types import HiveMessageType

__all__ = [
    "DEFAULT_MAX_HANDSHAKE_MESSAGE",
    "PREFERRED_ENCODINGS",
    "ClientSession",
    "LegacyLink",
    "Link",
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

DEFAULT_MAX_HANDSHAKE_MESSAGE = 64 * 1024
"""Largest message accepted before the link is keyed. A 5.3 hub's HELLO, the largest, is
under 2 KB (an RSA public key PEM of 450 bytes and its node id, a key PEM too)."""

# Close codes a hub uses to refuse a client before the session exists.
_REFUSALS = {1008: "the hub refused the connection"}
_POLICY_VIOLATION = 1008
# Offer fields that only a hub still speaking the legacy handshake sends (4.x, 3.x).
_LEGACY_OFFER_FIELDS = ("min_protocol_version", "password", "handshake")
_KEY_SIZE = 32
_MAX_EARLY_MESSAGES = 64


class SessionState(Enum):
    """Where the session is in its life."""

    AWAITING_HELLO = "awaiting-hello"
    AWAITING_OFFER = "awaiting-offer"
    AWAITING_PSK = "awaiting-psk"
    """v3 only: the driver is deriving (or looking up) the PSK we asked for."""
    AWAITING_HANDSHAKE = "awaiting-handshake"
    AWAITING_KEY = "awaiting-key"
    """v1 with ``defer_link_key``: the driver is deriving the session key we asked for."""
    AWAITING_CONFIRMATION = "awaiting-confirmation"
    """v3 only: keyed and our HELLO sent, waiting briefly for a refusal of our static key."""
    READY = "ready"
    CLOSED = "closed"


_KEYED = frozenset({SessionState.READY, SessionState.AWAITING_CONFIRMATION})


@dataclass
class SessionConfig:
    """What the session needs to know about us; the driver knows the rest."""

    password: str | None = None
    crypto_key: bytes | None = None
    site_id: str = "unknown"
    public_key_pem: str | None = None
    private_key_pem: str | None = None
    """Our RSA private key: with no password, the hub's RSA handshake (if it offers one) keys
    the link with it."""
    session_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    """Hubs disconnect non-admin clients that ask for the 'default' session: use our own id."""
    session_data: dict[str, Any] = field(default_factory=dict)
    binarize: bool = True
    compress: bool | None = None
    encodings: tuple[str, ...] = PREFERRED_ENCODINGS
    ciphers: tuple[str, ...] = field(default_factory=lambda: tuple(preferred_ciphers()))
    handshake_timeout: float = 10.0
    """Seconds from the session's creation to a keyed link; trickled bytes do not extend it."""
    max_inflated_size: int = DEFAULT_MAX_INFLATED_SIZE
    max_decoded_items: int = DEFAULT_MAX_DECODED_ITEMS
    """JSON values one decoded message may hold (beyond: payload-too-large, dropped)."""
    max_handshake_message: int = DEFAULT_MAX_HANDSHAKE_MESSAGE
    """Largest websocket message (UTF-8 bytes) taken before the link is keyed: anything sent
    before that is cleartext from whoever answers, so more is a fatal PayloadTooLarge."""
    max_protocol_version: int = PROTOCOL_VERSION
    """3: use the Noise handshake when the hub offers it; 2: stay on the legacy handshake."""
    min_protocol_version: int = 0
    """Refuse (UnsupportedVersion, before sending anything keyed by the password) a hub that
    would be spoken to below this: 0 allows a pre-shared key, 1 the password handshake of
    hivemind-core 4.0, 3 only Noise. A pinned hub key requires 3 regardless."""
    nonce_window: int = DEFAULT_NONCE_WINDOW
    """Protocol v1: nonces remembered each way to refuse replays and reflections (0: none)."""
    noise_static_key: bytes | None = None
    """Our X25519 static private key for v3. None: a fresh one for this session only, which a
    hub that pinned another key for our access key refuses: keep one per client or identity."""
    pinned_hub_key: bytes | None = None
    """The hub's v3 static key pinned at an earlier connection (the driver reads its store).
    A session with a pin never speaks below v3: a hub posing as this one with only the password
    handshake would get the password envelope, which falls to an offline guess."""
    hub_pin_id: str = "hub"
    """Name of the hub's pin in the driver's store: ``host:port``, as the reference client uses."""
    allow_kk: bool = True
    """Run KKpsk0 when the hub offers it and its key is pinned (False: XXpsk2 only)."""
    max_reassembly: int = DEFAULT_MAX_REASSEMBLY
    """Largest v3 message reassembled from chunks; more is a fatal PayloadTooLarge."""
    v3_refusal_window: float = 0.5
    defer_link_key: bool = False
    """v1: ask the driver for the PBKDF2 session key (DeriveLinkKey) instead of deriving it
    inline; an event-loop driver sets it, so 35 ms of CPU never block its loop."""
    """Seconds to wait for a hub's refusal of our static key (see AWAITING_CONFIRMATION)."""


@dataclass
class _NoiseAttempt:
    """What a v3 handshake carries from the offer to the hub's answer."""

    offer: dict[str, Any]
    node_id: str
    pinned: bytes | None
    psk: bytes = b""
    psk_cached: bool = False
    handshake: NoiseClientHandshake | None = None


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
        self._requests: deque[Request] = deque()
        self._outgoing: deque[str | bytes] = deque()
        self._deadline: float | None = now + config.handshake_timeout
        self._now = now
        self._password: tuple[PasswordHandshake, Negotiation] | None = None
        self._rsa: tuple[RsaHandshake, Negotiation] | None = None
        self._noise: _NoiseAttempt | None = None
        self._pending_completion: HandshakeCompleted | None = None
        self._awaiting_key: tuple[PasswordHandshake, str, str, int] | None = None
        self._early: list[str | bytes] = []  # what the hub sent while we derived the key
        self._retry_now = False  # the next attempt can succeed at once (PSK or pattern changed)
        self._avoid_kk = False  # the hub closed our KKpsk0: run XXpsk2 next time

    # -- driver API ---------------------------------------------------------------------------
    def receive_message(self, data: str | bytes, now: float) -> None:
        """Feed one whole websocket message (text as str, binary as bytes)."""
        if self.state is SessionState.CLOSED:
            return
        self._now = now
        if self.state is SessionState.AWAITING_KEY:
            if len(self._early) >= _MAX_EARLY_MESSAGES:
                self._fail(InvalidPayload("the hub sent too much before the handshake completed"))
            else:
                self._early.append(data)
            return
        try:
            if self.state in _KEYED:
                self._receive_keyed(data)
            else:
                self._receive_handshake(data)
        except HiveMindError as error:
            if self.state in _KEYED and self.link is not None and not self.link.failed:
                self._confirm()  # the hub sent a message on the new keys: it accepted us
                self._events.append(MessageDropped(error))
            else:
                self._fail(error)

    def receive_psk(self, psk: bytes, *, cached: bool, now: float) -> None:
        """The answer to a :class:`DerivePsk` request: the PSK, and whether the cache had it."""
        attempt = self._noise
        if self.state is not SessionState.AWAITING_PSK or attempt is None:
            return  # closed meanwhile (a timeout, the hub went away): nothing to do
        self._now = now
        attempt.psk = bytes(psk)
        attempt.psk_cached = cached
        try:
            self._send_noise_first_message(attempt)
        except HiveMindError as error:
            self._fail(error)

    def receive_link_key(self, key: bytes, *, now: float) -> None:
        """The answer to a :class:`DeriveLinkKey` request: the v1 session key."""
        pending = self._awaiting_key
        if self.state is not SessionState.AWAITING_KEY or pending is None:
            return  # closed meanwhile: nothing to do
        self._now = now
        self._awaiting_key = None
        exchange, cipher, encoding, version = pending
        try:
            self._complete(exchange.accept_key(key), cipher, encoding, version, "password")
        except HiveMindError as error:
            self._fail(error)
            return
        early, self._early = self._early, []
        for data in early:
            self.receive_message(data, now)

    def send(self, message: HiveMessage) -> None:
        """Queue a message for the hub; raises NotConnected before the handshake completes."""
        if self.state is not SessionState.READY or self.link is None:
            raise NotConnected(f"session is {self.state.value}, not ready")
        self._outgoing.extend(self.link.outgoing(message))

    def connection_lost(self, code: int | None, reason: str, now: float) -> None:
        """The driver saw the websocket close (or the TCP connection drop)."""
        if self.state is SessionState.CLOSED:
            return
        self._now = now
        if self.state is SessionState.READY:
            self._events.append(ConnectionClosed(code, reason))
        elif self.state is SessionState.AWAITING_CONFIRMATION:
            self._events.append(self._failure(self._refused_after_handshake(code, reason), code))
        elif self._noise is not None and self._noise.handshake is not None:
            self._events.append(self._failure(self._noise_closed(code, reason), code))
        else:
            why = _REFUSALS.get(code or 0, "the hub closed the connection")
            detail = f" ({reason})" if reason else ""
            error = ConnectionFailed(f"{why} during the handshake: code {code}{detail}")
            self._events.append(self._failure(error, code))
        self._close()

    def next_event(self) -> Event | None:
        """The oldest pending event, or None."""
        return self._events.popleft() if self._events else None

    def events(self) -> list[Event]:
        """Every pending event, oldest first."""
        out = list(self._events)
        self._events.clear()
        return out

    def requests(self) -> list[Request]:
        """Every pending side-effect request, oldest first (see :mod:`.requests`)."""
        out = list(self._requests)
        self._requests.clear()
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
            timeout = self.config.handshake_timeout
            self._fail(
                HandshakeFailed(f"the hub did not complete the handshake within {timeout:g} s")
            )

    @property
    def ready(self) -> bool:
        """True once messages may be sent."""
        return self.state is SessionState.READY

    @property
    def closed(self) -> bool:
        """True once the session has ended, for whatever reason."""
        return self.state is SessionState.CLOSED

    # -- handshake ----------------------------------------------------------------------------
    def _receive_handshake(self, data: str | bytes) -> None:
        limit = self.config.max_handshake_message
        if len(data) > limit or (
            isinstance(data, str)
            and not data.isascii()
            and len(data.encode("utf-8", "surrogatepass")) > limit
        ):
            raise PayloadTooLarge(
                f"a handshake message over {limit} bytes (max_handshake_message): a hub's"
                " HELLO, offer and answer are a few KB"
            )
        if isinstance(data, bytes):
            raise InvalidPayload("binary frame before the handshake completed")
        message = decode_json(data)
        step = _TRANSITIONS.get((self.state, message.msg_type))
        if step is None:
            raise InvalidPayload(f"{message.msg_type.value} message while {self.state.value}")
        step(self, message.raw_payload)  # type: ignore[arg-type]

    def _on_hello(self, payload: dict[str, Any]) -> None:
        self.hub_hello = payload
        self.state = SessionState.AWAITING_OFFER
        self._events.append(
            HelloReceived(payload.get("node_id"), payload.get("peer"), payload.get("pubkey"))
        )

    def _on_offer(self, offer: dict[str, Any]) -> None:
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
        why_not_v3 = "offers only the legacy password handshake (no Noise)"
        if hub_speaks_v3 and we_speak >= PROTOCOL_VERSION:
            if self.config.password:
                if self._start_noise(offer, required=requires_v3):
                    return
                why_not_v3 = "offers no Noise pattern and suite we share"
            elif requires_v3:
                raise HandshakeFailed(
                    "the hub requires protocol v3 (the Noise handshake), which needs the password"
                    " the hub registered for this access key: give password=... (or an identity"
                    " with one)"
                )
            else:
                why_not_v3 = "offers Noise, which needs the password, and this session has none"
        elif requires_v3:
            raise UnsupportedVersion(
                "the hub requires protocol version 3 but its offer has no Noise parameters"
                if we_speak >= PROTOCOL_VERSION
                else f"the hub requires protocol version 3; this session speaks up to {we_speak}"
            )
        elif hub_speaks_v3:
            why_not_v3 = f"offers Noise but this session has max_protocol_version={we_speak}"
        self._refuse_below_v3(why_not_v3)
        if self.config.password:
            self._start_password(self.config.password)
            return
        if self.config.crypto_key:
            # Protocol v0: the pre-shared key is the link key from the start (AES-GCM, hex).
            self._complete(
                self.config.crypto_key, Cipher.AES_GCM, TextEncoding.JSON_HEX, 0, "pre-shared-key"
            )
            return
        if self._rsa_possible():
            self._start_rsa(str(self.config.private_key_pem))
            return
        raise HandshakeFailed(
            "no password, no pre-shared key and no RSA handshake (the hub offers none, or we have"
            " no RSA key): the hub cannot key this link"
        )

    def _rsa_possible(self) -> bool:
        """No password: a hub that offers its RSA handshake keys the link with our RSA key."""
        return bool(
            self.hub_offer.get("handshake")
            and self.config.private_key_pem
            and isinstance(self.hub_hello.get("pubkey"), str)
        )

    def _refuse_below_v3(self, why: str) -> None:
        """The downgrade rule, checked before anything derived from the password is sent."""
        pinned = self.config.pinned_hub_key
        if pinned is not None:
            pin_id = self.config.hub_pin_id
            raise HandshakeFailed(
                f"refusing a downgrade: the hub's v3 key is pinned for {pin_id}, but this hub"
                f" {why}. A server posing as the hub would get the password envelope and guess"
                " the password offline. If the hub really went back to hivemind-core 4.x,"
                f" forget the pin (NodeIdentity.forget_hub({pin_id!r})) and connect again"
            )
        if self.config.password:
            version = 2 if self.hub_offer.get("binarize") else 1
        elif self.config.crypto_key:
            version = 0
        elif self._rsa_possible():
            version = 2 if self.hub_offer.get("binarize") else 1
        else:
            return  # nothing to send: _on_offer refuses the offer with its own error
        floor = self.config.min_protocol_version
        if version < floor:
            raise UnsupportedVersion(
                f"the hub {why}: this session would speak protocol v{version}, below"
                f" min_protocol_version={floor}"
            )

    def _on_answer(self, answer: dict[str, Any]) -> None:
        if self._noise is not None:
            self._on_noise_answer(self._noise, answer)
        elif self._password is not None:
            self._on_password_answer(*self._password, answer)
        elif self._rsa is not None:
            self._on_rsa_answer(*self._rsa, answer)
        else:  # unreachable: AWAITING_HANDSHAKE is entered with one of the two
            raise NotConnected("no handshake in progress")

    # -- protocol v1/v2: the password handshake --------------------------------------------------
    def _start_password(self, password: str) -> None:
        exchange = PasswordHandshake(password)
        negotiation = Negotiation(
            _names(Cipher, self.config.ciphers, "cipher"),
            _names(TextEncoding, self.config.encodings, "encoding"),
        )
        self._password = (exchange, negotiation)
        request = client_handshake_payload(
            negotiation, binarize=self.config.binarize, envelope=exchange.envelope
        )
        self._send_cleartext(HiveMessage(HiveMessageType.HANDSHAKE, request))
        self.state = SessionState.AWAITING_HANDSHAKE

    def _on_password_answer(
        self, exchange: PasswordHandshake, negotiation: Negotiation, answer: dict[str, Any]
    ) -> None:
        envelope = answer.get("envelope")
        if not isinstance(envelope, str):
            raise HandshakeFailed("the hub's handshake answer has no envelope")
        try:
            exchange.verify(envelope)
        except HandshakeFailed as exc:
            raise HandshakeFailed(
                f"wrong password: the hub's envelope does not match ({exc})"
            ) from None
        cipher, encoding = negotiation.accept(answer)
        version = 2 if self.hub_offer.get("binarize") else 1
        if self.config.defer_link_key:
            salt = exchange.key_salt(envelope)
            self._awaiting_key = (exchange, cipher, encoding, version)
            self.state = SessionState.AWAITING_KEY
            self._requests.append(DeriveLinkKey(exchange.password, salt))
            return
        self._complete(exchange.derive_key(envelope), cipher, encoding, version, "password")

    # -- protocol v1/v2 without a password: the RSA handshake ------------------------------------
    def _start_rsa(self, private_pem: str) -> None:
        exchange = RsaHandshake(private_pem)
        negotiation = Negotiation(
            _names(Cipher, self.config.ciphers, "cipher"),
            _names(TextEncoding, self.config.encodings, "encoding"),
        )
        self._rsa = (exchange, negotiation)
        request = client_handshake_payload(
            negotiation, binarize=self.config.binarize, pubkey=exchange.public_pem
        )
        self._send_cleartext(HiveMessage(HiveMessageType.HANDSHAKE, request))
        self.state = SessionState.AWAITING_HANDSHAKE

    def _on_rsa_answer(
        self, exchange: RsaHandshake, negotiation: Negotiation, answer: dict[str, Any]
    ) -> None:
        hub_key = self.hub_hello.get("pubkey")
        if not isinstance(hub_key, str):  # unreachable: _rsa_possible checked it
            raise HandshakeFailed("the hub's HELLO has no RSA key to check its envelope with")
        key = exchange.receive(answer.get("envelope"), hub_key)
        cipher, encoding = negotiation.accept(answer)
        version = 2 if self.hub_offer.get("binarize") else 1
        self._complete(key, cipher, encoding, version, "rsa")

    def _complete(self, key: bytes, cipher: str, encoding: str, version: int, kind: str) -> None:
        binarize = bool(self.hub_offer.get("binarize")) and self.config.binarize
        self.link = LegacyLink(
            key,
            cipher,
            encoding,
            binarize=binarize,
            compress=self.config.compress,
            max_inflated_size=self.config.max_inflated_size,
            max_decoded_items=self.config.max_decoded_items,
            nonce_window=self.config.nonce_window,
        )
        self.protocol_version = version
        self.handshake_kind = kind
        self.state = SessionState.READY
        self._deadline = None
        self._outgoing.extend(self.link.outgoing(self._hello_message()))
        self._events.append(HandshakeCompleted(version, kind, str(cipher), str(encoding), binarize))

    # -- protocol v3: Noise ----------------------------------------------------------------------
    def _start_noise(self, offer: dict[str, Any], *, required: bool) -> bool:
        """Ask for the PSK; False when nothing is mutual and the hub still speaks v1."""
        noise = offer.get("noise")
        patterns = noise.get("patterns") if isinstance(noise, Mapping) else None
        suites = noise.get("suites") if isinstance(noise, Mapping) else None
        patterns = patterns if isinstance(patterns, list) else []
        suites = suites if isinstance(suites, list) else []
        pinned = self.config.pinned_hub_key
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
        self._noise = _NoiseAttempt(offer, node_id, pinned)
        self.state = SessionState.AWAITING_PSK
        self._requests.append(DerivePsk(node_id, self.config.password or ""))
        return True

    def _send_noise_first_message(self, attempt: _NoiseAttempt) -> None:
        if len(attempt.psk) != _KEY_SIZE:
            raise HandshakeFailed(f"the PSK for the hub is {len(attempt.psk)} bytes, not 32")
        static = self.config.noise_static_key or secrets.token_bytes(_KEY_SIZE)
        attempt.handshake = NoiseClientHandshake(
            self.hub_hello,
            attempt.offer,
            static_private=static,
            psk=attempt.psk,
            pinned_hub_key=attempt.pinned,
            binarize=bool(attempt.offer.get("binarize")) and self.config.binarize,
            encodings=[str(encoding) for encoding in self.config.encodings],
            allow_kk=self.config.allow_kk,
        )
        first = attempt.handshake.first_message()
        self._send_cleartext(HiveMessage(HiveMessageType.HANDSHAKE, first))
        self.state = SessionState.AWAITING_HANDSHAKE

    def _on_noise_answer(self, attempt: _NoiseAttempt, answer: dict[str, Any]) -> None:
        handshake = attempt.handshake
        if handshake is None:  # unreachable: AWAITING_HANDSHAKE comes after the first message
            raise NotConnected("no Noise handshake in progress")
        pin_id = self.config.hub_pin_id
        try:
            reply = handshake.receive(answer)
        except HiveMindError as error:
            raise self._noise_refusal(attempt, handshake, error) from None
        hub_key = handshake.hub_static_key
        if attempt.pinned is None and hub_key is not None:
            self._requests.append(PinHubKey(pin_id, hub_key))  # trust on first use
        if not attempt.psk_cached:
            self._requests.append(CachePsk(attempt.node_id, attempt.psk))
        if reply is not None:
            self._send_cleartext(HiveMessage(HiveMessageType.HANDSHAKE, reply))
        binarize = bool(self.hub_offer.get("binarize")) and self.config.binarize
        link = NoiseLink(
            handshake.transport(max_reassembly=self.config.max_reassembly),
            binarize=binarize,
            compress=self.config.compress,
            max_inflated_size=self.config.max_inflated_size,
            max_decoded_items=self.config.max_decoded_items,
        )
        encoding = handshake.hub_selection.get("encoding")
        completed = HandshakeCompleted(
            PROTOCOL_VERSION,
            f"noise-{handshake.pattern}",
            handshake.suite,
            encoding if isinstance(encoding, str) else None,
            binarize,
        )
        self.link = link
        self.protocol_version = PROTOCOL_VERSION
        self.handshake_kind = completed.handshake
        self._outgoing.extend(link.outgoing(self._hello_message()))
        hub_patterns = self.hub_offer.get("noise", {}).get("patterns") or []
        if handshake.pattern != PATTERN_KK and PATTERN_KK in hub_patterns:
            # The hub already pinned a key for our access key and checks ours against it only
            # now, after message 3, answering nothing when it agrees: give a refusal time to come.
            self.state = SessionState.AWAITING_CONFIRMATION
            self._pending_completion = completed
            self._deadline = self._now + self.config.v3_refusal_window
            return
        self._ready(completed)

    def _noise_refusal(
        self, attempt: _NoiseAttempt, handshake: NoiseClientHandshake, error: HiveMindError
    ) -> HiveMindError:
        """What a Noise message 2 that we cannot accept means, in words a user can act on."""
        if error.code == "authentication-failed":
            if attempt.psk_cached:
                self._requests.append(ForgetPsk(attempt.node_id))
                self._retry_now = True
                return ConnectionFailed(
                    "the hub's Noise handshake does not authenticate with the cached PSK (the"
                    " password may have changed): the cached PSK was dropped, connect again to"
                    " derive it from the password"
                )
            return HandshakeFailed(
                "wrong password: the hub's Noise handshake message does not authenticate with"
                " the key derived from our password (or the hub's HELLO or offer was altered in"
                " transit)"
            )
        seen, pinned = handshake.hub_static_key, attempt.pinned
        if (
            error.code == "handshake-failed"
            and seen is not None
            and pinned is not None
            and seen != pinned
        ):
            pin_id = self.config.hub_pin_id
            return HandshakeFailed(
                f"the hub's Noise static key ({seen.hex()}) does not match the key pinned"
                f" for {pin_id} ({pinned.hex()}). If the hub was reinstalled, forget the pin"
                f" (NodeIdentity.forget_hub({pin_id!r})) and connect again; otherwise"
                " another machine is answering at this address"
            )
        return error

    def _noise_closed(self, code: int | None, reason: str) -> HiveMindError:
        """The hub closed the socket in the middle of the Noise handshake."""
        detail = f"code {code}" + (f", {reason!r}" if reason else "")
        attempt = self._noise
        handshake = attempt.handshake if attempt is not None else None
        if code != _POLICY_VIOLATION or attempt is None or handshake is None:
            return ConnectionFailed(f"the connection closed during the Noise handshake ({detail})")
        if handshake.pattern == PATTERN_KK:
            # A hub that cannot complete KKpsk0 closes without a word: a wrong password, a
            # changed hub key and a hub that lost our key all look the same from here. XXpsk2
            # tells them apart, so the next attempt runs it (the pin is still checked).
            self._avoid_kk = self._retry_now = True
            if attempt.psk_cached:
                self._requests.append(ForgetPsk(attempt.node_id))
            return ConnectionFailed(
                f"the hub closed the KKpsk0 handshake ({detail}): wrong password, a changed hub"
                " key, or a hub that no longer holds our key; the next attempt runs XXpsk2"
            )
        return HandshakeFailed(f"the hub refused the Noise handshake ({detail})")

    def _refused_after_handshake(self, code: int | None, reason: str) -> HiveMindError:
        """The hub closed right after the XXpsk2 handshake, before it sent anything."""
        detail = f"code {code}" + (f", {reason!r}" if reason else "")
        if code != _POLICY_VIOLATION:
            return ConnectionFailed(
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

    # -- both ---------------------------------------------------------------------------------
    def _hello_message(self) -> HiveMessage:
        """Our HELLO: the public key only when we have one (null breaks the schema, and a v3 hub
        would pin "no key" for INTERCOM)."""
        session = {"session_id": self.config.session_id, "site_id": self.config.site_id}
        session.update(self.config.session_data)
        hello: dict[str, Any] = {"session": session, "site_id": self.config.site_id}
        if self.config.public_key_pem is not None:
            hello = {"pubkey": self.config.public_key_pem, **hello}
        return HiveMessage(HiveMessageType.HELLO, hello)

    def _send_cleartext(self, message: HiveMessage) -> None:
        self._outgoing.append(message.serialize())

    def _receive_keyed(self, data: str | bytes) -> None:
        if self.link is None:  # keyed states always have a link; guard against misuse all the same
            raise NotConnected("session has no link")
        message = self.link.incoming(data)
        self._confirm()  # anything that decrypts proves the hub kept the session
        if message is None:
            return
        if message.msg_type is HiveMessageType.HANDSHAKE:
            raise InvalidPayload("handshake message after the handshake completed")
        self._events.append(MessageReceived(message))

    def _failure(self, error: HiveMindError, close_code: int | None = None) -> SessionFailed:
        return SessionFailed(
            error, close_code=close_code, retry_now=self._retry_now, avoid_kk=self._avoid_kk
        )

    def _fail(self, error: HiveMindError) -> None:
        self._events.append(self._failure(error))
        self._close()

    def _close(self) -> None:
        self.state = SessionState.CLOSED
        self._deadline = None
        self._outgoing.clear()


_Step = Callable[[ClientSession, dict[str, Any]], None]
_TRANSITIONS: dict[tuple[SessionState, HiveMessageType], _Step] = {
    (SessionState.AWAITING_HELLO, HiveMessageType.HELLO): ClientSession._on_hello,
    # some hubs send the offer first; accept it without a HELLO
    (SessionState.AWAITING_HELLO, HiveMessageType.HANDSHAKE): ClientSession._on_offer,
    (SessionState.AWAITING_OFFER, HiveMessageType.HANDSHAKE): ClientSession._on_offer,
    (SessionState.AWAITING_HANDSHAKE, HiveMessageType.HANDSHAKE): ClientSession._on_answer,
}
"""The handshake, as (state, message type the hub sent) -> step. Anything else is refused."""


_Name = TypeVar("_Name", Cipher, TextEncoding)


def _names(kind: type[_Name], names: tuple[str, ...], what: str) -> tuple[_Name, ...]:
    """Our configured preferences as enum members; an unknown name is the caller's mistake."""
    try:
        return tuple(kind(name) for name in names)
    except ValueError:
        raise InvalidArgument(f"unknown {what} in {list(names)}") from None


def _version(value: Any, default: int) -> int:
    """A protocol version field from the offer (hubs send ints; anything else is the default)."""
    return value if isinstance(value, int) and not isinstance(value, bool) else default
