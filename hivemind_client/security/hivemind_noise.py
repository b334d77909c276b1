"""HiveMind protocol v3 on top of :mod:`hivemind_client.security.noise`: keys, prologue, handshake, framing.

Sans-I/O pieces the session layer wires together (no sockets here):

- :func:`derive_psk`: the Noise PSK, argon2id(password, salt = SHA-256(hub node_id)),
  t=3, m=64 MiB, p=1, 32 bytes (the full 32-byte digest is the salt, which is why libsodium's
  ``crypto_pwhash``, fixed at 16-byte salts, cannot compute it; argon2-cffi can).
- :func:`build_prologue`: canonical JSON of the hub's cleartext HELLO payload, then of its
  HANDSHAKE offer payload, then the protocol name, concatenated.
- :class:`NoiseClientHandshake`: chooses pattern and suite from the hub's offer and runs the
  initiator side; its messages travel hex-encoded in HANDSHAKE payloads ``{"noise": {...}}``.
- :class:`NoiseTransport`: after the handshake every websocket message is one Noise transport
  message whose first plaintext byte says what follows (JSON, binary frame, or a chunk of a
  message too large for one Noise message).

Wire details were read from hivemind-core 5.3.10a1 (``protocol.py``) and the code it imports,
hivemind_bus_client 1.2.12a1 (``noise.py``, ``protocol.py``) and poorman_handshake 2.0.3a1
(``noise/__init__.py``).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import Any

from hivemind_client.errors import (
    AuthenticationFailed,
    HandshakeFailed,
    InvalidArgument,
    InvalidJSON,
    InvalidKeySize,
    InvalidPayload,
    PayloadTooLarge,
)
from hivemind_client.security.noise import (
    CipherState,
    HandshakePhase,
    HandshakeState,
)

__all__ = [
    "CHUNK_SIZE",
    "DEFAULT_ENCODINGS",
    "DEFAULT_MAX_REASSEMBLY",
    "MARKER_BINARY",
    "MARKER_FIRST_BINARY",
    "MARKER_FIRST_JSON",
    "MARKER_JSON",
    "MARKER_LAST",
    "MARKER_MIDDLE",
    "PATTERN_KK",
    "PATTERN_XX",
    "PROTOCOL_VERSION",
    "PSK_HASH_LENGTH",
    "PSK_MEMORY_KIB",
    "PSK_PARALLELISM",
    "PSK_TIME_COST",
    "SUITE_AESGCM",
    "SUITE_CHACHAPOLY",
    "SUITE_PREFERENCE",
    "NoiseClientHandshake",
    "NoiseTransport",
    "build_prologue",
    "canonical_json",
    "carries_noise_message",
    "derive_psk",
    "noise_message_of",
    "noise_protocol_name",
    "psk_salt",
    "select_noise_options",
]

PROTOCOL_VERSION = 3
"""The HiveMind protocol version that means "Noise handshake, always encrypted"."""

PATTERN_XX = "XXpsk2"
"""The general pattern: static keys travel (encrypted) in the handshake; TOFU-pinned after."""

PATTERN_KK = "KKpsk0"
"""Both static keys known in advance; the hub offers it only once it pinned our key."""

SUITE_CHACHAPOLY = "25519_ChaChaPoly_SHA256"
SUITE_AESGCM = "25519_AESGCM_SHA256"
SUITE_PREFERENCE = (SUITE_CHACHAPOLY, SUITE_AESGCM)
"""Our order of preference, whatever order the hub lists its suites in."""

PSK_TIME_COST = 3
PSK_MEMORY_KIB = 64 * 1024
PSK_PARALLELISM = 1
PSK_HASH_LENGTH = 32

DEFAULT_ENCODINGS = (
    "JSON-B64",
    "JSON-URLSAFE-B64",
    "JSON-HEX",
    "JSON-B32",
    "JSON-Z85B",
    "JSON-Z85P",
    "JSON-B91",
)
"""Encodings named in Noise message 1. Informative only in v3 (the hub takes the first and
answers with it; nothing is encoded with it), but the hub aborts on a name it does not know."""

MARKER_JSON = 0x00
"""A whole JSON HiveMessage (UTF-8) follows."""
MARKER_BINARY = 0x01
"""A whole binary frame follows."""
MARKER_FIRST_JSON = 0x02
"""First chunk of a JSON message larger than one Noise message."""
MARKER_FIRST_BINARY = 0x03
"""First chunk of a binary frame larger than one Noise message."""
MARKER_MIDDLE = 0x04
"""A middle chunk."""
MARKER_LAST = 0x05
"""The last chunk: the message is complete."""

CHUNK_SIZE = 65000
"""Body bytes per chunk (the hub's and the reference client's value)."""

DEFAULT_MAX_REASSEMBLY = 32 * 1024 * 1024
"""Largest chunked message we reassemble; one byte more is PayloadTooLarge."""


# --------------------------------------------------------------------------- pure functions


def canonical_json(value: Any) -> bytes:
    """JSON as the hub serializes it for the prologue: sorted keys, no spaces, UTF-8 as is."""
    try:
        text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return text.encode("utf-8")
    except (TypeError, ValueError) as exc:  # UnicodeEncodeError is a ValueError
        raise InvalidPayload(f"cannot serialize canonically: {exc}") from None


def noise_protocol_name(pattern: str, suite: str) -> str:
    """``Noise_<pattern>_<suite>``, e.g. ``Noise_XXpsk2_25519_ChaChaPoly_SHA256``."""
    return f"Noise_{pattern}_{suite}"


def select_noise_options(
    patterns: Sequence[Any], suites: Sequence[Any], *, hub_key_pinned: bool
) -> tuple[str, str] | None:
    """(pattern, suite) from the hub's offer, or None when nothing is mutual.

    The suite follows our preference (ChaChaPoly first); KKpsk0 only when we hold a pinned
    hub key and the hub offers it, else XXpsk2.
    """
    suite = next((s for s in SUITE_PREFERENCE if s in suites), None)
    if suite is None:
        return None
    if hub_key_pinned and PATTERN_KK in patterns:
        return PATTERN_KK, suite
    if PATTERN_XX in patterns:
        return PATTERN_XX, suite
    return None


def build_prologue(hello_payload: Any, handshake_payload: Any, protocol_name: str) -> bytes:
    """canonical_json(hub HELLO payload) || canonical_json(hub HANDSHAKE offer) || name.

    Any JSON value is taken, as hivemind_bus_client 1.2 takes it (both sides only need the
    same bytes); the hub's payloads are checked to be objects where they are received
    (:class:`NoiseClientHandshake`). A value JSON cannot carry raises InvalidPayload.
    """
    if not isinstance(protocol_name, str):
        raise InvalidArgument("the Noise protocol name must be text")
    if isinstance(hello_payload, Mapping):
        hello_payload = dict(hello_payload)
    if isinstance(handshake_payload, Mapping):
        handshake_payload = dict(handshake_payload)
    return (
        canonical_json(hello_payload)
        + canonical_json(handshake_payload)
        + protocol_name.encode("utf-8")
    )


def psk_salt(hub_node_id: str | bytes) -> bytes:
    """SHA-256 of the hub's node_id (UTF-8): all 32 bytes are the argon2id salt."""
    return hashlib.sha256(_utf8(hub_node_id, "the hub node_id")).digest()


def _utf8(value: str | bytes, what: str) -> bytes:
    if isinstance(value, bytes):
        return value
    if not isinstance(value, str):
        raise InvalidArgument(f"{what} must be text or bytes")
    try:
        return value.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidArgument(f"{what} is not encodable as UTF-8") from None


def derive_psk(password: str | bytes, hub_node_id: str | bytes) -> bytes:
    """The 32-byte Noise PSK: argon2id v1.3, t=3, m=64 MiB, p=1, salt = SHA-256(node_id).

    Deterministic for a (password, node_id) pair and deliberately slow (about 0.1-0.5 s):
    callers that reconnect should derive once and keep the result.
    """
    secret = _utf8(password, "the password")
    salt = psk_salt(hub_node_id)
    # argon2-cffi is a declared dependency; imported here so that modules which never derive
    # a key do not load the C library.
    from argon2.exceptions import Argon2Error
    from argon2.low_level import ARGON2_VERSION, Type, hash_secret_raw

    try:
        return hash_secret_raw(
            secret=secret,
            salt=salt,
            time_cost=PSK_TIME_COST,
            memory_cost=PSK_MEMORY_KIB,
            parallelism=PSK_PARALLELISM,
            hash_len=PSK_HASH_LENGTH,
            type=Type.ID,
            version=ARGON2_VERSION,
        )
    except Argon2Error as exc:
        raise InvalidArgument(f"argon2id refused the password: {exc}") from None


def carries_noise_message(payload: Any) -> bool:
    """Whether a HANDSHAKE payload carries a Noise message (``noise.msg``), not an offer."""
    return (
        isinstance(payload, Mapping)
        and isinstance(payload.get("noise"), Mapping)
        and "msg" in payload["noise"]
    )


def noise_message_of(payload: Any) -> bytes:
    """The Noise message bytes in a HANDSHAKE payload ``{"noise": {"msg": "<hex>"}}``."""
    noise = payload.get("noise") if isinstance(payload, Mapping) else None
    text = noise.get("msg") if isinstance(noise, Mapping) else None
    if not isinstance(text, str):
        raise HandshakeFailed("HANDSHAKE payload without a noise.msg string")
    try:
        return bytes.fromhex(text)
    except ValueError:
        raise HandshakeFailed("noise.msg is not hex") from None


# --------------------------------------------------------------------------- handshake


class NoiseClientHandshake:
    """The client (initiator) side of the v3 handshake, from the hub's HELLO and offer.

    1. :meth:`first_message` gives the HANDSHAKE payload to send
       (``{"noise": {"pattern", "suite", "msg"}}``; msg 1 carries our binarize flag and
       encodings as canonical JSON).
    2. :meth:`receive` takes the hub's HANDSHAKE payload (``{"noise": {"msg"}}``) and returns
       the payload of Noise message 3 for XXpsk2 (empty Noise payload), or None for KKpsk0.
    3. :meth:`transport` gives the :class:`NoiseTransport`; the first message to send through
       it is our HELLO.

    A wrong password or a tampered offer makes :meth:`receive` raise AuthenticationFailed;
    a hub whose static key contradicts ``pinned_hub_key`` raises HandshakeFailed.
    ``allow_kk=False`` runs XXpsk2 even with a pinned key (the retry after a KKpsk0 the hub
    closed: the pin is still checked, after the hub's key arrived in message 2).
    """

    def __init__(
        self,
        hello_payload: Mapping[str, Any],
        offer_payload: Mapping[str, Any],
        *,
        static_private: bytes,
        psk: bytes | None = None,
        password: str | bytes | None = None,
        pinned_hub_key: bytes | None = None,
        binarize: bool | None = None,
        encodings: Sequence[str] = DEFAULT_ENCODINGS,
        ephemeral_private: bytes | None = None,
        allow_kk: bool = True,
    ) -> None:
        if not isinstance(hello_payload, Mapping) or not isinstance(offer_payload, Mapping):
            raise InvalidPayload("the hub's HELLO and HANDSHAKE payloads must be JSON objects")
        version = offer_payload.get("max_protocol_version", 1)
        if isinstance(version, bool) or not isinstance(version, int) or version < PROTOCOL_VERSION:
            raise HandshakeFailed("the hub does not offer protocol v3 (Noise)")
        noise = offer_payload.get("noise")
        if not isinstance(noise, Mapping):
            raise HandshakeFailed("the hub's offer has no noise parameters")
        patterns, suites = noise.get("patterns"), noise.get("suites")
        selection = select_noise_options(
            patterns if isinstance(patterns, list) else [],
            suites if isinstance(suites, list) else [],
            hub_key_pinned=pinned_hub_key is not None and allow_kk,
        )
        if selection is None:
            raise HandshakeFailed(f"no common Noise pattern and suite in {patterns}/{suites}")
        self._pattern, self._suite = selection
        self._protocol_name = noise_protocol_name(*selection)
        if (psk is None) == (password is None):
            raise InvalidArgument("give exactly one of psk and password")
        if psk is None:
            node_id = hello_payload.get("node_id", "")
            if not isinstance(node_id, str):
                raise InvalidPayload("the hub's HELLO node_id is not a string")
            if password is None:  # unreachable: exactly one of the two was checked above
                raise InvalidArgument("give exactly one of psk and password")
            psk = derive_psk(password, node_id)
        if pinned_hub_key is not None and (
            not isinstance(pinned_hub_key, bytes) or len(pinned_hub_key) != 32
        ):
            raise InvalidKeySize("a pinned hub key is 32 bytes")
        self._pinned = pinned_hub_key
        self._prologue = build_prologue(hello_payload, offer_payload, self._protocol_name)
        self._state = HandshakeState(
            self._protocol_name,
            initiator=True,
            prologue=self._prologue,
            static_private=static_private,
            ephemeral_private=ephemeral_private,
            remote_static=self._pinned if self._pattern == PATTERN_KK else None,
            psks=[psk],
        )
        if binarize is None:
            binarize = offer_payload.get("binarize") is True
        self._first_payload = canonical_json(
            {"binarize": bool(binarize), "encodings": list(encodings)}
        )
        self._hub_selection: dict[str, Any] = {}

    @property
    def pattern(self) -> str:
        """``XXpsk2`` or ``KKpsk0``."""
        return self._pattern

    @property
    def suite(self) -> str:
        """The chosen cipher suite."""
        return self._suite

    @property
    def protocol_name(self) -> str:
        """The full Noise protocol name."""
        return self._protocol_name

    @property
    def prologue(self) -> bytes:
        """The prologue bound into the handshake."""
        return self._prologue

    @property
    def phase(self) -> HandshakePhase:
        """The Noise handshake's phase."""
        return self._state.phase

    @property
    def complete(self) -> bool:
        """Whether the handshake finished (and the hub's key matched any pin)."""
        return self._state.complete

    @property
    def hub_static_key(self) -> bytes | None:
        """The hub's X25519 static public key (to pin after a first XXpsk2 handshake)."""
        return self._state.remote_static

    @property
    def handshake_hash(self) -> bytes:
        """The Noise handshake hash, for channel binding."""
        return self._state.handshake_hash

    @property
    def hub_selection(self) -> dict[str, Any]:
        """The hub's message-2 payload as JSON (``{"encoding": ...}``), or {} if not JSON."""
        return dict(self._hub_selection)

    def first_message(self) -> dict[str, Any]:
        """The HANDSHAKE payload carrying Noise message 1."""
        message = self._state.write_message(self._first_payload)
        return {"noise": {"pattern": self._pattern, "suite": self._suite, "msg": message.hex()}}

    def receive(self, payload: Mapping[str, Any]) -> dict[str, Any] | None:
        """Take the hub's message 2; the HANDSHAKE payload of message 3 for XXpsk2, else None."""
        if self._state.phase is not HandshakePhase.READ:
            raise InvalidArgument("receive() is only allowed after first_message()")
        message = noise_message_of(payload)
        hub_payload = self._state.read_message(message)
        try:
            selection = json.loads(hub_payload.decode("utf-8")) if hub_payload else {}
        except ValueError:  # informative only: the reference ignores it too
            selection = {}
        self._hub_selection = selection if isinstance(selection, dict) else {}
        reply = None
        if not self._state.complete:  # XXpsk2: our static key goes in message 3
            reply = {"noise": {"msg": self._state.write_message(b"").hex()}}
        if self._pinned is not None and self._state.remote_static != self._pinned:
            raise HandshakeFailed("the hub's Noise static key does not match the pinned key")
        return reply

    def transport(self, *, max_reassembly: int = DEFAULT_MAX_REASSEMBLY) -> NoiseTransport:
        """The transport for the finished session (only once)."""
        if self._pinned is not None and self._state.remote_static != self._pinned:
            raise HandshakeFailed("the hub's Noise static key does not match the pinned key")
        ciphers = self._state.split()
        return NoiseTransport(ciphers.send, ciphers.receive, max_reassembly=max_reassembly)


# --------------------------------------------------------------------------- transport


class NoiseTransport:
    """v3 transport framing over a pair of transport CipherStates.

    Outgoing: :meth:`encrypt_json` / :meth:`encrypt_binary` give one Noise message, or a
    FIRST / MIDDLE... / LAST chain of 65000-byte chunks when the body is larger; send them in
    order, without interleaving another message's. Incoming: :meth:`decrypt` takes one Noise
    message and returns the JSON text (str) or binary frame (bytes) it completes, or None while
    a chunked message is still open. Nonces are sequential, so a replayed, reordered or
    tampered message fails with AuthenticationFailed; a bad chunk sequence is InvalidPayload;
    more than ``max_reassembly`` bytes is PayloadTooLarge. Each of those ends the receiving
    side: later calls raise InvalidArgument.
    """

    def __init__(
        self,
        send: CipherState,
        receive: CipherState,
        *,
        max_reassembly: int = DEFAULT_MAX_REASSEMBLY,
    ) -> None:
        if isinstance(max_reassembly, bool) or not isinstance(max_reassembly, int):
            raise InvalidArgument("max_reassembly must be an int")
        if max_reassembly < 1:
            raise InvalidArgument("max_reassembly must be positive")
        if not send.has_key() or not receive.has_key():
            raise InvalidArgument("transport CipherStates must be keyed")
        self._send = send
        self._receive = receive
        self._max_reassembly = max_reassembly
        self._buffer: bytearray | None = None
        self._buffer_is_json = False
        self._broken: str | None = None

    @property
    def max_reassembly(self) -> int:
        """The reassembly cap in bytes."""
        return self._max_reassembly

    @property
    def reassembling(self) -> bool:
        """Whether a chunked message is open."""
        return self._buffer is not None

    def encrypt_json(self, text: str) -> list[bytes]:
        """Noise messages carrying one JSON HiveMessage text."""
        if not isinstance(text, str):
            raise InvalidArgument("encrypt_json takes str")
        try:
            body = text.encode("utf-8")
        except UnicodeEncodeError:
            raise InvalidArgument("the JSON text is not encodable as UTF-8") from None
        return self._encrypt(body, MARKER_JSON, MARKER_FIRST_JSON)

    def encrypt_binary(self, frame: bytes) -> list[bytes]:
        """Noise messages carrying one binary frame."""
        if not isinstance(frame, bytes | bytearray | memoryview):
            raise InvalidArgument("encrypt_binary takes bytes")
        return self._encrypt(bytes(frame), MARKER_BINARY, MARKER_FIRST_BINARY)

    def _encrypt(self, body: bytes, single: int, first: int) -> list[bytes]:
        if len(body) <= CHUNK_SIZE:
            return [self._send.encrypt(bytes((single,)) + body)]
        view = memoryview(body)
        messages = []
        for offset in range(0, len(body), CHUNK_SIZE):
            if offset == 0:
                marker = first
            elif offset + CHUNK_SIZE >= len(body):
                marker = MARKER_LAST
            else:
                marker = MARKER_MIDDLE
            chunk = view[offset : offset + CHUNK_SIZE]
            messages.append(self._send.encrypt(bytes((marker,)) + chunk))
        return messages

    def decrypt(self, message: bytes) -> str | bytes | None:
        """Open one Noise transport message; the completed message or None (chunk buffered)."""
        if not isinstance(message, bytes | bytearray | memoryview):
            raise InvalidArgument("decrypt takes bytes")
        if self._broken is not None:
            raise InvalidArgument(f"the transport failed earlier ({self._broken})")
        try:
            return self._decrypt(bytes(message))
        except (AuthenticationFailed, InvalidPayload, PayloadTooLarge) as exc:
            self._broken = exc.code
            self._buffer = None
            raise

    def _decrypt(self, message: bytes) -> str | bytes | None:
        plaintext = self._receive.decrypt(message)
        if not plaintext:
            raise InvalidPayload("a v3 transport message without its marker byte")
        marker, body = plaintext[0], plaintext[1:]
        if marker in (MARKER_JSON, MARKER_BINARY):
            if self._buffer is not None:
                raise InvalidPayload("a whole message arrived while a chunked one is still buffered")
            return _decode_json(body) if marker == MARKER_JSON else body
        if marker in (MARKER_FIRST_JSON, MARKER_FIRST_BINARY):
            if self._buffer is not None:
                raise InvalidPayload("a new chunked message started while the previous one was open")
            self._buffer = bytearray()
            self._buffer_is_json = marker == MARKER_FIRST_JSON
            self._append(body)
            return None
        if marker in (MARKER_MIDDLE, MARKER_LAST):
            if self._buffer is None:
                name = "MORE" if marker == MARKER_MIDDLE else "LAST"
                raise InvalidPayload(f"a {name} chunk arrived with no chunked message open")
            self._append(body)
            if marker == MARKER_MIDDLE:
                return None
            whole, self._buffer = bytes(self._buffer), None
            return _decode_json(whole) if self._buffer_is_json else whole
        raise InvalidPayload(f"unknown v3 transport marker 0x{marker:02x}")

    def _append(self, body: bytes) -> None:
        if self._buffer is None:  # unreachable: callers open the buffer first
            raise InvalidPayload("a chunk arrived with no chunked message open")
        if len(self._buffer) + len(body) > self._max_reassembly:
            raise PayloadTooLarge(
                f"a chunked message exceeds the {self._max_reassembly}-byte reassembly cap"
            )
        self._buffer += body


def _decode_json(body: bytes) -> str:
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidJSON("a v3 JSON message is not UTF-8") from None
