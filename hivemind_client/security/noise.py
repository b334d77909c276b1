"""The Noise Protocol Framework (revision 34): CipherState, SymmetricState, HandshakeState.

Our own implementation of the state machines of https://noiseprotocol.org/noise.html, limited
to what HiveMind protocol v3 needs and what the published test vectors exercise:

- DH ``25519`` (X25519 through libsodium), ciphers (OpenSSL) ``ChaChaPoly`` (IETF ChaCha20-Poly1305,
  nonce = 4 zero bytes || 64-bit little-endian counter) and ``AESGCM`` (AES-256-GCM,
  nonce = 4 zero bytes || 64-bit big-endian counter), hash ``SHA256`` with the spec's HMAC/HKDF.
- Base patterns ``NN``, ``KK`` and ``XX`` with any ``pskN`` modifiers (``XXpsk2`` and
  ``KKpsk0`` are the two HiveMind uses).

No I/O and no randomness unless an ephemeral key is left for us to generate: tests inject
ephemeral keys to reproduce transcripts byte for byte. Every failure is one of our errors:
a bad tag is :class:`~hivemind_client.errors.AuthenticationFailed`, a malformed handshake
message :class:`~hivemind_client.errors.HandshakeFailed`, calling out of turn or after the
handshake :class:`~hivemind_client.errors.InvalidArgument`.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum
from functools import lru_cache
from typing import NamedTuple

import nacl.bindings
import nacl.exceptions
import nacl.utils
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM as _CryptographyAESGCM
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305 as _CryptographyChaCha

from hivemind_client.errors import (
    AuthenticationFailed,
    HandshakeFailed,
    InvalidArgument,
    InvalidKeySize,
    PayloadTooLarge,
    UnknownCipher,
)

__all__ = [
    "DH_LENGTH",
    "HASH_LENGTH",
    "MAX_MESSAGE_LENGTH",
    "MAX_NONCE",
    "TAG_LENGTH",
    "AESGCM",
    "ChaChaPoly",
    "CipherFunctions",
    "CipherState",
    "HandshakePattern",
    "HandshakePhase",
    "HandshakeState",
    "NoiseProtocol",
    "SymmetricState",
    "TransportCiphers",
    "cipher_by_name",
    "hkdf",
    "parse_pattern",
    "parse_protocol_name",
    "x25519_public_key",
]

DH_LENGTH = 32
"""Bytes of an X25519 public key and of a DH output."""

HASH_LENGTH = 32
"""SHA-256 output size."""

TAG_LENGTH = 16
"""AEAD tag size of both ciphers."""

MAX_MESSAGE_LENGTH = 65535
"""Largest Noise message, handshake or transport (spec section 3)."""

MAX_NONCE = 2**64 - 1
"""Reserved nonce value: a CipherState whose counter reaches it refuses to go on (section 5.1)."""


# --------------------------------------------------------------------------- primitives


def x25519_public_key(private_key: bytes) -> bytes:
    """The X25519 public key of a 32-byte private key."""
    _check_key(private_key, "X25519 private key")
    return bytes(nacl.bindings.crypto_scalarmult_base(private_key))


def _dh(private_key: bytes, public_key: bytes) -> bytes:
    try:
        return bytes(nacl.bindings.crypto_scalarmult(private_key, public_key))
    except nacl.exceptions.CryptoError:
        # libsodium refuses an all-zero shared secret, i.e. a low-order public key.
        raise HandshakeFailed("the peer's X25519 public key is a low-order point") from None


def _hmac(key: bytes, data: bytes) -> bytes:
    return hmac.digest(key, data, "sha256")


def hkdf(chaining_key: bytes, input_key_material: bytes, outputs: int) -> tuple[bytes, ...]:
    """The spec's HKDF (section 4.3): two or three 32-byte outputs from HMAC-SHA256."""
    if outputs not in (2, 3):
        raise InvalidArgument("HKDF gives two or three outputs")
    temp_key = _hmac(chaining_key, input_key_material)
    first = _hmac(temp_key, b"\x01")
    second = _hmac(temp_key, first + b"\x02")
    if outputs == 2:
        return first, second
    return first, second, _hmac(temp_key, second + b"\x03")


def _check_key(key: bytes, what: str, size: int = 32) -> None:
    if not isinstance(key, bytes | bytearray):
        raise InvalidArgument(f"{what} must be bytes, not {type(key).__name__}")
    if len(key) != size:
        raise InvalidKeySize(f"{what} must be {size} bytes, got {len(key)}")


class CipherFunctions:
    """One of the spec's cipher functions: ENCRYPT/DECRYPT keyed by a 64-bit counter nonce."""

    name = ""

    def nonce(self, counter: int) -> bytes:
        """The 96-bit AEAD nonce for a counter value."""
        raise NotImplementedError

    def encrypt(self, key: bytes, counter: int, ad: bytes, plaintext: bytes) -> bytes:
        """Ciphertext followed by the 16-byte tag."""
        raise NotImplementedError

    def decrypt(self, key: bytes, counter: int, ad: bytes, ciphertext: bytes) -> bytes:
        """The plaintext, or AuthenticationFailed when the tag does not verify."""
        raise NotImplementedError

    def rekey(self, key: bytes) -> bytes:
        """REKEY(k): the first 32 bytes of ENCRYPT(k, maxnonce, empty, 32 zero bytes)."""
        return self.encrypt(key, MAX_NONCE, b"", bytes(32))[:32]


class _OpenSslAead(CipherFunctions):
    """A Noise cipher on OpenSSL through the ``cryptography`` package, one AEAD object per key.

    About a quarter of libsodium's cost through PyNaCl for small messages, and every CPU gets
    the same code path (OpenSSL picks AES-NI or its constant-time software AES itself).
    """

    def encrypt(self, key: bytes, counter: int, ad: bytes, plaintext: bytes) -> bytes:
        """Ciphertext || tag."""
        return _aead(self.name, bytes(key)).encrypt(self.nonce(counter), plaintext, ad)

    def decrypt(self, key: bytes, counter: int, ad: bytes, ciphertext: bytes) -> bytes:
        """Plaintext; AuthenticationFailed on a bad tag."""
        if len(ciphertext) < TAG_LENGTH:
            raise AuthenticationFailed(f"{self.name} ciphertext shorter than its tag")
        aead = _aead(self.name, bytes(key))
        try:
            return aead.decrypt(self.nonce(counter), ciphertext, ad)
        except InvalidTag:
            raise AuthenticationFailed(f"{self.name} tag does not verify") from None


@lru_cache(maxsize=64)
def _aead(name: str, key: bytes) -> _CryptographyAESGCM | _CryptographyChaCha:
    return _CryptographyAESGCM(key) if name == "AESGCM" else _CryptographyChaCha(key)


class ChaChaPoly(_OpenSslAead):
    """ChaCha20-Poly1305 (RFC 8439) with a little-endian counter nonce."""

    name = "ChaChaPoly"

    def nonce(self, counter: int) -> bytes:
        """4 zero bytes, then the counter as 8 little-endian bytes."""
        return b"\x00\x00\x00\x00" + counter.to_bytes(8, "little")


class AESGCM(_OpenSslAead):
    """AES-256-GCM with a big-endian counter nonce."""

    name = "AESGCM"

    def nonce(self, counter: int) -> bytes:
        """4 zero bytes, then the counter as 8 big-endian bytes."""
        return b"\x00\x00\x00\x00" + counter.to_bytes(8, "big")


_CIPHERS: dict[str, type[CipherFunctions]] = {"ChaChaPoly": ChaChaPoly, "AESGCM": AESGCM}


def cipher_by_name(name: str) -> CipherFunctions:
    """The cipher functions for a Noise cipher name (``ChaChaPoly`` or ``AESGCM``)."""
    try:
        return _CIPHERS[name]()
    except KeyError:
        raise UnknownCipher(f"Noise cipher {name!r} is not implemented") from None


# --------------------------------------------------------------------------- CipherState


class CipherState:
    """A key and a strictly sequential 64-bit nonce counter (spec section 5.1).

    Without a key it passes data through, as the spec requires during the first handshake
    steps. A failed decryption leaves the counter where it was. Once the counter reaches
    2^64-1 every call fails: the session must be rekeyed or replaced.
    """

    __slots__ = ("_cipher", "_key", "_nonce")

    def __init__(self, cipher: CipherFunctions, key: bytes | None = None) -> None:
        self._cipher = cipher
        self._key: bytes | None = None
        self._nonce = 0
        if key is not None:
            self.initialize_key(key)

    @property
    def cipher(self) -> CipherFunctions:
        """The cipher functions this state uses."""
        return self._cipher

    @property
    def nonce(self) -> int:
        """The counter the next message will use."""
        return self._nonce

    def initialize_key(self, key: bytes | None) -> None:
        """InitializeKey(k): set (or clear) the key and reset the counter."""
        if key is not None:
            _check_key(key, "cipher key")
            key = bytes(key)
        self._key = key
        self._nonce = 0

    def has_key(self) -> bool:
        """HasKey(): whether a key is set."""
        return self._key is not None

    def set_nonce(self, nonce: int) -> None:
        """SetNonce(n): for tests and for protocols that carry explicit nonces."""
        if not 0 <= nonce <= MAX_NONCE:
            raise InvalidArgument(f"nonce {nonce} is outside 0..2^64-1")
        self._nonce = nonce

    def encrypt_with_ad(self, ad: bytes, plaintext: bytes) -> bytes:
        """EncryptWithAd(ad, plaintext): ciphertext || tag, and the counter moves on."""
        if self._key is None:
            return bytes(plaintext)
        if self._nonce >= MAX_NONCE:
            raise InvalidArgument("the send nonce is exhausted: rekey or start a new session")
        ciphertext = self._cipher.encrypt(self._key, self._nonce, bytes(ad), bytes(plaintext))
        self._nonce += 1
        return ciphertext

    def decrypt_with_ad(self, ad: bytes, ciphertext: bytes) -> bytes:
        """DecryptWithAd(ad, ciphertext): the plaintext; AuthenticationFailed leaves n as is."""
        if self._key is None:
            return bytes(ciphertext)
        if self._nonce >= MAX_NONCE:
            raise AuthenticationFailed("the receive nonce is exhausted: no message can follow")
        plaintext = self._cipher.decrypt(self._key, self._nonce, bytes(ad), bytes(ciphertext))
        self._nonce += 1
        return plaintext

    def encrypt(self, plaintext: bytes) -> bytes:
        """One transport message: no associated data, at most 65535 bytes on the wire."""
        if len(plaintext) > MAX_MESSAGE_LENGTH - TAG_LENGTH:
            raise PayloadTooLarge(
                f"{len(plaintext)} bytes do not fit one Noise transport message"
                f" (at most {MAX_MESSAGE_LENGTH - TAG_LENGTH})"
            )
        return self.encrypt_with_ad(b"", plaintext)

    def decrypt(self, message: bytes) -> bytes:
        """Open one transport message (replayed or reordered ones fail their tag)."""
        if len(message) > MAX_MESSAGE_LENGTH:
            raise PayloadTooLarge(f"a Noise message of {len(message)} bytes exceeds 65535")
        return self.decrypt_with_ad(b"", message)

    def rekey(self) -> None:
        """Rekey(): replace the key by REKEY(k), keeping the counter."""
        if self._key is None:
            raise InvalidArgument("cannot rekey a CipherState without a key")
        self._key = self._cipher.rekey(self._key)


# --------------------------------------------------------------------------- SymmetricState


class SymmetricState:
    """Chaining key ``ck``, handshake hash ``h`` and a CipherState (spec section 5.2)."""

    __slots__ = ("_chaining_key", "_cipher_state", "_hash")

    def __init__(self, protocol_name: str, cipher: CipherFunctions) -> None:
        name = protocol_name.encode("ascii")
        self._hash = name.ljust(HASH_LENGTH, b"\x00") if len(name) <= HASH_LENGTH else _sha256(name)
        self._chaining_key = self._hash
        self._cipher_state = CipherState(cipher)

    @property
    def handshake_hash(self) -> bytes:
        """The current ``h``."""
        return self._hash

    @property
    def cipher_state(self) -> CipherState:
        """The handshake CipherState."""
        return self._cipher_state

    def mix_key(self, input_key_material: bytes) -> None:
        """MixKey: new ``ck`` and a fresh cipher key from HKDF."""
        self._chaining_key, temp_key = hkdf(self._chaining_key, input_key_material, 2)
        self._cipher_state.initialize_key(temp_key)

    def mix_hash(self, data: bytes) -> None:
        """MixHash: ``h = SHA256(h || data)``."""
        self._hash = _sha256(self._hash + data)

    def mix_key_and_hash(self, input_key_material: bytes) -> None:
        """MixKeyAndHash: what a ``psk`` token does."""
        self._chaining_key, temp_hash, temp_key = hkdf(self._chaining_key, input_key_material, 3)
        self.mix_hash(temp_hash)
        self._cipher_state.initialize_key(temp_key)

    def encrypt_and_hash(self, plaintext: bytes) -> bytes:
        """EncryptAndHash: encrypt with ``h`` as associated data, then mix the ciphertext."""
        ciphertext = self._cipher_state.encrypt_with_ad(self._hash, plaintext)
        self.mix_hash(ciphertext)
        return ciphertext

    def decrypt_and_hash(self, ciphertext: bytes) -> bytes:
        """DecryptAndHash: the inverse of encrypt_and_hash."""
        plaintext = self._cipher_state.decrypt_with_ad(self._hash, ciphertext)
        self.mix_hash(ciphertext)
        return plaintext

    def split(self) -> tuple[CipherState, CipherState]:
        """Split(): (initiator-to-responder, responder-to-initiator) CipherStates."""
        first, second = hkdf(self._chaining_key, b"", 2)
        cipher = self._cipher_state.cipher
        return CipherState(cipher, first), CipherState(cipher, second)


def _sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


# --------------------------------------------------------------------------- patterns

# name: (initiator pre-message, responder pre-message, messages) -- spec section 7.
_BASE_PATTERNS: dict[str, tuple[tuple[str, ...], tuple[str, ...], tuple[tuple[str, ...], ...]]] = {
    "NN": ((), (), (("e",), ("e", "ee"))),
    "KK": (("s",), ("s",), (("e", "es", "ss"), ("e", "ee", "se"))),
    "XX": ((), (), (("e",), ("e", "ee", "s", "es"), ("s", "se"))),
}


@dataclass(frozen=True, slots=True)
class HandshakePattern:
    """A handshake pattern with its modifiers applied: pre-messages and message tokens."""

    name: str
    initiator_premessage: tuple[str, ...]
    responder_premessage: tuple[str, ...]
    messages: tuple[tuple[str, ...], ...]

    @property
    def psk_count(self) -> int:
        """How many ``psk`` tokens the pattern has (each consumes one PSK)."""
        return sum(tokens.count("psk") for tokens in self.messages)

    def sends(self, initiator: bool, token: str) -> bool:
        """Whether the given side writes ``token`` in some message or pre-message."""
        premessage = self.initiator_premessage if initiator else self.responder_premessage
        if token in premessage:
            return True
        start = 0 if initiator else 1
        return any(token in tokens for tokens in self.messages[start::2])


def parse_pattern(name: str) -> HandshakePattern:
    """``XX``, ``XXpsk2``, ``KKpsk0+psk2``...: a base pattern with psk modifiers applied."""
    match = re.fullmatch(r"([A-Z]+)((?:psk\d+)(?:\+psk\d+)*)?", name)
    if match is None or match.group(1) not in _BASE_PATTERNS:
        raise InvalidArgument(f"unsupported Noise handshake pattern {name!r}")
    initiator_pre, responder_pre, base = _BASE_PATTERNS[match.group(1)]
    messages = [list(tokens) for tokens in base]
    for modifier in match.group(2).split("+") if match.group(2) else []:
        position = int(modifier[3:])
        if position == 0:
            messages[0].insert(0, "psk")
        elif position <= len(messages):
            messages[position - 1].append("psk")
        else:
            raise InvalidArgument(f"{name!r}: the pattern has no message {position}")
    return HandshakePattern(
        name, initiator_pre, responder_pre, tuple(tuple(tokens) for tokens in messages)
    )


class NoiseProtocol(NamedTuple):
    """The parts of a full protocol name such as ``Noise_XXpsk2_25519_ChaChaPoly_SHA256``."""

    name: str
    pattern: HandshakePattern
    dh: str
    cipher: str
    hash: str


def parse_protocol_name(name: str) -> NoiseProtocol:
    """Split and check a protocol name; only 25519 / ChaChaPoly or AESGCM / SHA256 are known."""
    parts = name.split("_") if isinstance(name, str) else []
    if len(parts) != 5 or parts[0] != "Noise":
        raise InvalidArgument(f"not a Noise protocol name: {name!r}")
    _, pattern, dh, cipher, hash_name = parts
    if dh != "25519":
        raise InvalidArgument(f"{name}: only the 25519 DH functions are implemented")
    if cipher not in _CIPHERS:
        raise UnknownCipher(f"{name}: Noise cipher {cipher!r} is not implemented")
    if hash_name != "SHA256":
        raise InvalidArgument(f"{name}: only the SHA256 hash functions are implemented")
    return NoiseProtocol(name, parse_pattern(pattern), dh, cipher, hash_name)


# --------------------------------------------------------------------------- HandshakeState


class HandshakePhase(Enum):
    """Where a handshake stands, from this side's point of view."""

    WRITE = "write"
    """This side sends the next handshake message."""
    READ = "read"
    """This side waits for the peer's next handshake message."""
    COMPLETE = "complete"
    """Every message went through: split() hands over the transport CipherStates."""
    FAILED = "failed"
    """A message did not verify or was malformed; the handshake is dead."""


class TransportCiphers(NamedTuple):
    """The transport CipherStates from this side's point of view."""

    send: CipherState
    receive: CipherState


class HandshakeState:
    """One side of a Noise handshake (spec section 5.3), as an explicit state machine.

    Give it the protocol name, the role, the prologue and the keys the pattern needs; then
    alternate :meth:`write_message` and :meth:`read_message` as :attr:`phase` says. When the
    phase is COMPLETE, :meth:`split` gives the transport CipherStates (once) and
    :attr:`handshake_hash` the transcript hash. ``ephemeral_private`` exists so that tests
    can reproduce known transcripts; leave it out in real use.
    """

    def __init__(
        self,
        protocol_name: str,
        *,
        initiator: bool,
        prologue: bytes = b"",
        static_private: bytes | None = None,
        ephemeral_private: bytes | None = None,
        remote_static: bytes | None = None,
        psks: Sequence[bytes] = (),
    ) -> None:
        self._protocol = parse_protocol_name(protocol_name)
        pattern = self._protocol.pattern
        self._initiator = bool(initiator)
        for psk in psks:
            _check_key(psk, "pre-shared key")
        self._psks = [bytes(psk) for psk in psks]
        if len(self._psks) != pattern.psk_count:
            raise InvalidArgument(
                f"{protocol_name} needs {pattern.psk_count} pre-shared key(s), got {len(self._psks)}"
            )
        self._psk_mode = pattern.psk_count > 0
        self._static_private: bytes | None = None
        self._static_public: bytes | None = None
        if static_private is not None:
            self._static_public = x25519_public_key(static_private)
            self._static_private = bytes(static_private)
        elif pattern.sends(self._initiator, "s"):
            raise InvalidArgument(f"{protocol_name} needs this side's static key")
        self._ephemeral_private: bytes | None = None
        self._ephemeral_public: bytes | None = None
        if ephemeral_private is not None:
            self._ephemeral_public = x25519_public_key(ephemeral_private)
            self._ephemeral_private = bytes(ephemeral_private)
        remote_pre = (
            pattern.responder_premessage if self._initiator else pattern.initiator_premessage
        )
        self._remote_static: bytes | None = None
        if remote_static is not None:
            if "s" not in remote_pre:
                raise InvalidArgument(
                    f"{protocol_name} transmits the peer's static key: compare it after the"
                    " handshake instead of passing it in"
                )
            _check_key(remote_static, "remote static key")
            self._remote_static = bytes(remote_static)
        elif "s" in remote_pre:
            raise InvalidArgument(f"{protocol_name} needs the peer's static public key")
        self._remote_ephemeral: bytes | None = None

        self._symmetric = SymmetricState(protocol_name, cipher_by_name(self._protocol.cipher))
        if not isinstance(prologue, bytes | bytearray):
            raise InvalidArgument(f"the prologue must be bytes, not {type(prologue).__name__}")
        self._symmetric.mix_hash(bytes(prologue))
        for owner_is_initiator, premessage in (
            (True, pattern.initiator_premessage),
            (False, pattern.responder_premessage),
        ):
            for token in premessage:  # only "s" in the supported patterns
                mine = owner_is_initiator == self._initiator
                key = self._static_public if mine else self._remote_static
                assert token == "s" and key is not None
                self._symmetric.mix_hash(key)
        self._index = 0
        self._failed = False
        self._split_done = False
        self._transport: tuple[CipherState, CipherState] | None = None

    # ------------------------------------------------------------------ state

    @property
    def protocol_name(self) -> str:
        """The full Noise protocol name."""
        return self._protocol.name

    @property
    def pattern(self) -> HandshakePattern:
        """The handshake pattern, modifiers applied."""
        return self._protocol.pattern

    @property
    def initiator(self) -> bool:
        """Whether this side initiates."""
        return self._initiator

    @property
    def phase(self) -> HandshakePhase:
        """What this side may do next."""
        if self._failed:
            return HandshakePhase.FAILED
        if self._index >= len(self._protocol.pattern.messages):
            return HandshakePhase.COMPLETE
        initiator_turn = self._index % 2 == 0
        return HandshakePhase.WRITE if initiator_turn == self._initiator else HandshakePhase.READ

    @property
    def complete(self) -> bool:
        """Whether the handshake finished."""
        return self.phase is HandshakePhase.COMPLETE

    @property
    def message_index(self) -> int:
        """How many handshake messages went through so far."""
        return self._index

    @property
    def static_public(self) -> bytes | None:
        """This side's static public key, if it has one."""
        return self._static_public

    @property
    def ephemeral_public(self) -> bytes | None:
        """This side's ephemeral public key once chosen."""
        return self._ephemeral_public

    @property
    def remote_static(self) -> bytes | None:
        """The peer's static public key: given (KK) or learned during the handshake (XX)."""
        return self._remote_static

    @property
    def handshake_hash(self) -> bytes:
        """GetHandshakeHash(): ``h`` after the handshake, for channel binding."""
        self._require(HandshakePhase.COMPLETE, "the handshake hash")
        return self._symmetric.handshake_hash

    def split(self) -> TransportCiphers:
        """The transport CipherStates as (send, receive) for this side; only once.

        The spec's Split() gives (c1, c2) where c1 encrypts initiator-to-responder; here they
        come oriented for this side. A second call would hand out the same keys at nonce 0
        again, so it is refused.
        """
        self._require(HandshakePhase.COMPLETE, "split()")
        if self._split_done or self._transport is None:
            raise InvalidArgument("split() was already called: the transport keys are handed out")
        self._split_done = True
        first, second = self._transport
        self._transport = None
        return (
            TransportCiphers(first, second) if self._initiator else TransportCiphers(second, first)
        )

    # ------------------------------------------------------------------ messages

    def write_message(self, payload: bytes = b"") -> bytes:
        """WriteMessage(payload): the next handshake message, when it is this side's turn."""
        self._require(HandshakePhase.WRITE, "write_message()")
        tokens = self._protocol.pattern.messages[self._index]
        size = self._planned_size(tokens, len(payload))
        if size > MAX_MESSAGE_LENGTH:
            raise PayloadTooLarge(f"the handshake message would be {size} bytes (at most 65535)")
        symmetric = self._symmetric
        out = bytearray()
        try:
            for token in tokens:
                if token == "e":
                    if self._ephemeral_private is None:
                        self._ephemeral_private = bytes(nacl.utils.random(DH_LENGTH))
                        self._ephemeral_public = x25519_public_key(self._ephemeral_private)
                    assert self._ephemeral_public is not None
                    out += self._ephemeral_public
                    symmetric.mix_hash(self._ephemeral_public)
                    if self._psk_mode:
                        symmetric.mix_key(self._ephemeral_public)
                elif token == "s":
                    assert self._static_public is not None
                    out += symmetric.encrypt_and_hash(self._static_public)
                else:
                    self._mix_token(token)
            out += symmetric.encrypt_and_hash(bytes(payload))
        except BaseException:
            self._failed = True
            raise
        self._advance()
        return bytes(out)

    def read_message(self, message: bytes) -> bytes:
        """ReadMessage(message): the peer's payload; any failure kills the handshake."""
        self._require(HandshakePhase.READ, "read_message()")
        if not isinstance(message, bytes | bytearray | memoryview):
            raise InvalidArgument(f"a handshake message is bytes, not {type(message).__name__}")
        message = bytes(message)
        try:
            if len(message) > MAX_MESSAGE_LENGTH:
                raise PayloadTooLarge(f"a handshake message of {len(message)} bytes exceeds 65535")
            payload = self._read(message)
        except BaseException:
            self._failed = True
            raise
        self._advance()
        return payload

    def _read(self, message: bytes) -> bytes:
        symmetric = self._symmetric
        offset = 0
        for token in self._protocol.pattern.messages[self._index]:
            if token == "e":
                self._remote_ephemeral = message[offset : offset + DH_LENGTH]
                if len(self._remote_ephemeral) != DH_LENGTH:
                    raise HandshakeFailed(
                        "handshake message too short for the peer's ephemeral key"
                    )
                offset += DH_LENGTH
                symmetric.mix_hash(self._remote_ephemeral)
                if self._psk_mode:
                    symmetric.mix_key(self._remote_ephemeral)
            elif token == "s":
                size = DH_LENGTH + (TAG_LENGTH if symmetric.cipher_state.has_key() else 0)
                sealed = message[offset : offset + size]
                if len(sealed) != size:
                    raise HandshakeFailed("handshake message too short for the peer's static key")
                offset += size
                self._remote_static = symmetric.decrypt_and_hash(sealed)
            else:
                self._mix_token(token)
        rest = message[offset:]
        if symmetric.cipher_state.has_key() and len(rest) < TAG_LENGTH:
            raise HandshakeFailed("handshake message too short for its authentication tag")
        return symmetric.decrypt_and_hash(rest)

    # ------------------------------------------------------------------ internals

    def _mix_token(self, token: str) -> None:
        symmetric = self._symmetric
        if token == "psk":
            symmetric.mix_key_and_hash(self._psks.pop(0))
            return
        # "es": initiator's ephemeral with responder's static; "se" the other way round.
        local_first, remote_second = token[0], token[1]
        if not self._initiator:
            local_first, remote_second = remote_second, local_first
        private = self._ephemeral_private if local_first == "e" else self._static_private
        public = self._remote_ephemeral if remote_second == "e" else self._remote_static
        if private is None or public is None:
            raise HandshakeFailed(f"token {token!r} needs a key this side does not have")
        symmetric.mix_key(_dh(private, public))

    def _planned_size(self, tokens: tuple[str, ...], payload_length: int) -> int:
        keyed = self._symmetric.cipher_state.has_key()
        size = 0
        for token in tokens:
            if token == "e":
                size += DH_LENGTH
                keyed = keyed or self._psk_mode
            elif token == "s":
                size += DH_LENGTH + (TAG_LENGTH if keyed else 0)
            else:
                keyed = True
        return size + payload_length + (TAG_LENGTH if keyed else 0)

    def _advance(self) -> None:
        self._index += 1
        if self._index == len(self._protocol.pattern.messages):
            self._transport = self._symmetric.split()

    def _require(self, phase: HandshakePhase, what: str) -> None:
        current = self.phase
        if current is phase:
            return
        reasons = {
            HandshakePhase.FAILED: "the handshake already failed",
            HandshakePhase.COMPLETE: "the handshake is complete: use the transport CipherStates",
            HandshakePhase.WRITE: "it is this side's turn to write",
            HandshakePhase.READ: "it is the peer's turn to write",
        }
        raise InvalidArgument(f"{what} is not allowed now: {reasons[current]}")
