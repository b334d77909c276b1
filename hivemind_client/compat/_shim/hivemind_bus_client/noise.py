"""``hivemind_bus_client.noise``: :mod:`hivemind_client.security.hivemind_noise` and the Noise
framework of :mod:`hivemind_client.security.noise`.

``start_noise_handshake`` gives one side (initiator or responder) of our
:class:`~hivemind_client.security.noise.HandshakeState` with the reference's call shape, and
``NoiseTransport(handshake)`` wraps our transport framing with the reference's method names
(``encrypt_frame``, ``send_message``, ``decrypt_frame``). No Noise or framing logic lives here.
"""

from __future__ import annotations

import contextlib
import secrets
import threading
from binascii import hexlify
from collections.abc import Callable

from hivemind_client.errors import (
    AuthenticationFailed,
    HandshakeFailed,
    HiveMindError,
    InvalidArgument,
)
from hivemind_client.identity.node_identity import PskCache, noise_static_key
from hivemind_client.security import hivemind_noise as _hn
from hivemind_client.security.hivemind_noise import (
    CHUNK_SIZE,
    PATTERN_KK,
    PATTERN_XX,
    SUITE_AESGCM,
    SUITE_CHACHAPOLY,
    SUITE_PREFERENCE,
    build_prologue,
    canonical_json,
    noise_protocol_name,
)
from hivemind_client.security.noise import HandshakePhase, HandshakeState

__all__ = [
    "CHUNK_SIZE",
    "MAX_REASSEMBLY_BYTES",
    "NOISE_PATTERN_KK",
    "NOISE_PATTERN_XX",
    "NOISE_SUITES",
    "NOISE_SUITE_AESGCM",
    "NOISE_SUITE_CHACHA",
    "NOISE_SUPPORTED",
    "NoiseHandshakeFailed",
    "NoiseTransport",
    "NoiseTransportFailed",
    "PROTOCOL_V3",
    "build_prologue",
    "canonical_json",
    "clear_cached_psks",
    "forget_cached_psk",
    "load_cached_psk",
    "save_cached_psk",
    "derive_psk",
    "noise_protocol_name",
    "select_noise_options",
    "start_noise_handshake",
]

NOISE_PATTERN_XX = PATTERN_XX
NOISE_PATTERN_KK = PATTERN_KK
NOISE_SUITE_CHACHA = SUITE_CHACHAPOLY
NOISE_SUITE_AESGCM = SUITE_AESGCM
NOISE_SUITES = list(SUITE_PREFERENCE)
NOISE_SUPPORTED = True
PROTOCOL_V3 = _hn.PROTOCOL_VERSION
MAX_REASSEMBLY_BYTES = _hn.DEFAULT_MAX_REASSEMBLY
NoiseHandshakeFailed = HandshakeFailed
NoiseTransportFailed = AuthenticationFailed
# the reference's frame marker bytes
_FRAME_JSON = bytes([_hn.MARKER_JSON])
_FRAME_BINARY = bytes([_hn.MARKER_BINARY])
_FRAME_FIRST_JSON = bytes([_hn.MARKER_FIRST_JSON])
_FRAME_FIRST_BINARY = bytes([_hn.MARKER_FIRST_BINARY])
_FRAME_MORE = bytes([_hn.MARKER_MIDDLE])
_FRAME_LAST = bytes([_hn.MARKER_LAST])


def derive_psk(password: str | bytes, node_id: str | bytes) -> bytes:
    """The v3 PSK (argon2id of the password, salted by the hub's node id)."""
    return _hn.derive_psk(password, node_id)


def select_noise_options(
    server_patterns: list[str], server_suites: list[str], pinned_remote_key: str | None = None
) -> tuple[str, str] | None:
    """The pattern and suite to use from the hub's lists (KK when its key is pinned)."""
    return _hn.select_noise_options(
        server_patterns, server_suites, hub_key_pinned=bool(pinned_remote_key)
    )


NOISE_PSK_CACHE_SUFFIX = "_psks.json"
_MAX_NODE_ID_LENGTH = 512
_MAX_CACHE_ENTRIES = 32
_MAX_CACHE_BYTES = 1 << 20  # read on each call: a cache file larger than this is not read


def _cache_beside(key_path: str) -> PskCache:
    return PskCache.beside(key_path, max_bytes=_MAX_CACHE_BYTES)


def load_cached_psk(key_path: str | None, node_id: str, scope: str | None = None) -> bytes | None:
    """The PSK cached beside the static key at ``key_path`` for this hub (and access key)."""
    if not key_path:
        return None
    value = _cache_beside(key_path).get(node_id, scope)
    return bytes.fromhex(value) if value else None


def save_cached_psk(
    key_path: str | None, node_id: str, psk: bytes, scope: str | None = None
) -> None:
    """Cache ``psk`` beside the static key; best effort, as the reference's: a PSK that is not
    32 bytes is not cached (it could only make the next handshake fail)."""
    if not isinstance(psk, bytes | bytearray) or len(psk) != 32:
        return
    if key_path:
        _cache_beside(key_path).put(node_id, scope, bytes(psk).hex())


def forget_cached_psk(key_path: str | None, node_id: str, scope: str | None = None) -> None:
    """Drop the cached PSK for this hub (the hub refused it)."""
    if key_path:
        with contextlib.suppress(HiveMindError, OSError):
            _cache_beside(key_path).forget(node_id, scope)


def clear_cached_psks(key_path: str | None) -> None:
    """Drop every PSK cached beside the static key (the password changed)."""
    if key_path:
        _cache_beside(key_path).clear()


def _static_key(key_path: str | None) -> bytes:
    """The static X25519 private key kept at ``key_path`` (created there, directory too, when
    absent); a fresh one when there is no path."""
    if not key_path:
        return secrets.token_bytes(32)
    return noise_static_key(key_path)[0]


class NoiseHandShake:
    """One side of a HiveMind Noise handshake: our HandshakeState with the reference's names."""

    def __init__(self, state: HandshakeState) -> None:
        self._state = state
        self._transport: _hn.NoiseTransport | None = None

    def write_message(self, payload: bytes = b"") -> bytes:
        """The next handshake message."""
        return self._state.write_message(payload)

    def read_message(self, message: bytes) -> bytes:
        """Read the peer's handshake message; its payload."""
        return self._state.read_message(message)

    @property
    def handshake_finished(self) -> bool:
        """Whether the handshake is complete."""
        return self._state.phase is HandshakePhase.COMPLETE

    @property
    def remote_pubkey(self) -> bytes | None:
        """The peer's static public key."""
        return self._state.remote_static

    @property
    def handshake_hash(self) -> bytes | None:
        """The transcript hash once complete."""
        return self._state.handshake_hash if self.handshake_finished else None

    def transport(self, max_reassembly: int) -> _hn.NoiseTransport:
        """Our transport framing over the split CipherStates (once)."""
        if self._transport is None:
            self._send, self._receive = self._state.split()
            self._transport = _hn.NoiseTransport(
                self._send, self._receive, max_reassembly=max_reassembly
            )
        return self._transport

    def encrypt(self, plaintext: bytes) -> bytes:
        """One raw transport message (no HiveMind marker added), as the reference's."""
        return self._send.encrypt(plaintext)

    def decrypt(self, message: bytes) -> bytes:
        """Open one raw transport message (the marker byte stays)."""
        return self._receive.decrypt(message)


def start_noise_handshake(
    initiator: bool,
    pattern: str,
    suite: str,
    password: str | bytes | None,
    node_id: str,
    prologue: bytes,
    key_path: str | None = None,
    remote_pubkey: str | None = None,
    *,
    psk: bytes | None = None,
    cache_scope: str | None = None,
) -> NoiseHandShake:
    """Start one side of a Noise handshake, the reference's way."""
    if psk is None and password is None:
        raise InvalidArgument("either 'password' or 'psk' is required")
    name = noise_protocol_name(pattern, suite)
    if psk is None and initiator and password is not None:
        # argon2id once per (password, hub): the initiator caches the PSK beside its key
        psk = load_cached_psk(key_path, node_id, cache_scope)
        if psk is None:
            psk = derive_psk(password, node_id)
            with contextlib.suppress(HiveMindError, OSError):
                save_cached_psk(key_path, node_id, psk, cache_scope)
    try:
        if psk is None:
            assert password is not None
            psk = derive_psk(password, node_id)
        remote = bytes.fromhex(remote_pubkey) if remote_pubkey and pattern == PATTERN_KK else None
        state = HandshakeState(
            name,
            initiator=initiator,
            prologue=prologue,
            static_private=_static_key(key_path),
            remote_static=remote,
            psks=[psk],
        )
    except (HiveMindError, ValueError, OSError) as exc:
        raise HandshakeFailed(f"failed to initialize {name}: {exc}") from exc
    return NoiseHandShake(state)


class NoiseTransport:
    """A completed v3 session with the reference's method names, on our transport framing."""

    def __init__(self, handshake: NoiseHandShake, max_reassembly_bytes: int = MAX_REASSEMBLY_BYTES):
        if not handshake.handshake_finished:
            raise HandshakeFailed("handshake not finished")
        self._hs = handshake
        self._send_lock = threading.Lock()
        try:
            self._transport = handshake.transport(max_reassembly_bytes)
        except InvalidArgument as exc:
            raise HandshakeFailed(str(exc)) from exc
        remote = handshake.remote_pubkey
        self.remote_static_key = hexlify(remote).decode() if remote else None
        self.handshake_hash = handshake.handshake_hash

    @property
    def _reasm(self) -> bytearray | None:
        """Whether a chunked message is open (the reference's buffer, None when not)."""
        return bytearray() if self._transport.reassembling else None

    def _chunks(self, payload: str | bytes) -> list[bytes]:
        try:
            if isinstance(payload, str):
                return self._transport.encrypt_json(payload)
            return self._transport.encrypt_binary(bytes(payload))
        except HiveMindError as exc:
            raise NoiseTransportFailed(str(exc)) from exc

    def encrypt_frame(self, payload: str | bytes) -> bytes:
        """One Noise message; a payload that needs chunking is refused (use send_message)."""
        size = len(payload.encode("utf-8")) if isinstance(payload, str) else len(payload)
        if size > CHUNK_SIZE:
            raise NoiseTransportFailed(f"a {size}-byte payload needs chunking; use send_message")
        with self._send_lock:
            return self._chunks(payload)[0]

    def send_message(self, payload: str | bytes, raw_send: Callable[[bytes], None]) -> None:
        """Encrypt ``payload`` (chunked when large) and hand each message to ``raw_send``."""
        with self._send_lock:  # the chunks of one message go out contiguous
            for chunk in self._chunks(payload):
                raw_send(chunk)

    def decrypt_frame(self, data: bytes) -> str | bytes | None:
        """The message ``data`` completes, or None while a chunked one is open."""
        try:
            return self._transport.decrypt(data)
        except HiveMindError as exc:
            raise NoiseTransportFailed(str(exc)) from exc
