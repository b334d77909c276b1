"""The legacy (protocol v1/v2) key exchange, as objects with explicit states; no I/O.

A v1 hub opens with a cleartext HELLO (its RSA public key) and a HANDSHAKE offer listing the
ciphers and encodings it allows. The client answers with its own HANDSHAKE
(:func:`client_handshake_payload`): its ordered preferences (:func:`negotiate`) plus either a
password envelope (:class:`PasswordHandshake`) or its RSA public key (:class:`RsaHandshake`).
The hub replies with its envelope and its choice of cipher and encoding
(:meth:`Negotiation.accept`); both sides then hold the same 32-byte key.

Password exchange: each side draws an 8-byte IV and sends
``hex(iv || SHA-256(iv || UTF-8 password))[:48]``; each checks the other's envelope against the
password, then derives ``PBKDF2-HMAC-SHA256(password, iv_self XOR iv_peer, 100000, 32)``.

RSA exchange: the hub draws 32 bytes S, encrypts them to the client's key with RSA-OAEP
(SHA-1, MGF1-SHA-1), signs that ciphertext C with RSA-PSS (SHA-256, MGF1-SHA-256, 32-byte salt)
and sends ``hex(signature || C)``; the client checks the signature against the hub's HELLO key,
decrypts S and XORs it into its secret, which starts as 32 zero bytes, so the key is S.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from Crypto.Cipher import PKCS1_OAEP
from Crypto.Hash import SHA256
from Crypto.PublicKey import RSA
from Crypto.Signature import pss

from hivemind_client._compat import StrEnum
from hivemind_client.errors import HandshakeFailed, InvalidArgument
from hivemind_client.security.aead import (
    DEFAULT_CIPHER,
    DEFAULT_ENCODING,
    Cipher,
    preferred_ciphers,
)
from hivemind_client.security.encodings import ENCODINGS, TextEncoding
from hivemind_client.security.keys import import_rsa_key

__all__ = [
    "IV_SIZE",
    "KEY_SIZE",
    "PBKDF2_ITERATIONS",
    "HandshakeState",
    "Negotiation",
    "PasswordHandshake",
    "RsaHandshake",
    "client_handshake_payload",
    "link_key",
    "negotiate",
]

IV_SIZE: Final = 8
KEY_SIZE: Final = 32
PBKDF2_ITERATIONS: Final = 100_000
RSA_KEY_BITS: Final = 2048
_ENVELOPE_LENGTH = 48  # hex digits sent: the IV and the first 16 bytes of the hash
_ENVELOPE = re.compile(r"[0-9a-f]{48,80}")
_LEGACY_KEY_SIZE = 16  # hivemind-core <= 3.0.x: AES-128 with the first half of the key


class HandshakeState(StrEnum):
    """Where a key exchange stands."""

    STARTED = "started"  # our half is ready to send; the peer's half has not been accepted
    COMPLETE = "complete"  # the peer's half checked out; the key is available
    FAILED = "failed"  # the peer's half was refused; the object cannot be used again


# --------------------------------------------------------------------------------------------
# Password


class PasswordHandshake:
    """One side of the password key exchange (the hub's side works the same way)."""

    def __init__(self, password: str, *, iv: bytes | None = None) -> None:
        if not isinstance(password, str) or not password:
            raise InvalidArgument("the password must be a non-empty str")
        try:
            self._password = password.encode("utf-8")
        except UnicodeEncodeError:
            raise InvalidArgument("the password is not encodable as UTF-8") from None
        if iv is None:
            iv = os.urandom(IV_SIZE)
        if not isinstance(iv, bytes) or len(iv) != IV_SIZE:
            raise InvalidArgument(f"the IV must be {IV_SIZE} bytes")
        self._iv = iv
        self._full_hex = _hashed_subject(self._password, iv)
        self._state = HandshakeState.STARTED
        self._key: bytes | None = None

    @property
    def state(self) -> HandshakeState:
        """STARTED until :meth:`derive_key` succeeds (COMPLETE) or a check fails (FAILED)."""
        return self._state

    @property
    def iv(self) -> bytes:
        """Our 8-byte IV."""
        return self._iv

    @property
    def envelope(self) -> str:
        """What we send: 48 lowercase hex digits, our IV then the start of the hash."""
        return self._full_hex[:_ENVELOPE_LENGTH]

    @property
    def key(self) -> bytes:
        """The derived 32-byte key; HandshakeFailed before the exchange is complete."""
        if self._key is None:
            raise HandshakeFailed("the password handshake is not complete")
        return self._key

    def verify(self, peer_envelope: object) -> None:
        """Check the peer's envelope against our password; HandshakeFailed if it does not match.

        Accepts 48 to 80 lowercase hex digits (a longer envelope carries more of the hash).
        An envelope with our own IV is refused: it is either our own envelope reflected back,
        which proves nothing, or a peer IV that would make the salt zero.
        """
        if self._state is HandshakeState.FAILED:
            raise HandshakeFailed("this handshake already failed")
        if not isinstance(peer_envelope, str) or not _ENVELOPE.fullmatch(peer_envelope):
            self._state = HandshakeState.FAILED
            raise HandshakeFailed("the peer's password envelope is not 48 to 80 hex digits")
        peer_iv = bytes.fromhex(peer_envelope[: 2 * IV_SIZE])
        if peer_iv == self._iv:
            self._state = HandshakeState.FAILED
            raise HandshakeFailed("the peer's password envelope carries our own IV")
        expected = _hashed_subject(self._password, peer_iv)[: len(peer_envelope)]
        if not hmac.compare_digest(expected, peer_envelope):
            self._state = HandshakeState.FAILED
            raise HandshakeFailed("wrong password: the peer's envelope does not match")

    def derive_key(self, peer_envelope: object) -> bytes:
        """Verify the peer's envelope, then derive the 32-byte session key from both IVs."""
        return self.accept_key(link_key(self._password, self.key_salt(peer_envelope)))

    def key_salt(self, peer_envelope: object) -> bytes:
        """Verify the peer's envelope; the salt of the session key (both IVs XORed).

        For a caller that runs the slow :func:`link_key` elsewhere, then :meth:`accept_key`."""
        self.verify(peer_envelope)
        assert isinstance(peer_envelope, str)  # verify() checked it
        peer_iv = bytes.fromhex(peer_envelope[: 2 * IV_SIZE])
        return bytes(mine ^ theirs for mine, theirs in zip(self._iv, peer_iv, strict=True))

    @property
    def password(self) -> bytes:
        """The password, UTF-8 (what :func:`link_key` needs)."""
        return self._password

    def accept_key(self, key: bytes) -> bytes:
        """Complete the exchange with the key :func:`link_key` derived from :meth:`key_salt`."""
        if self._state is not HandshakeState.STARTED:
            raise HandshakeFailed(f"the password handshake is {self._state.value}")
        if not isinstance(key, bytes) or len(key) != KEY_SIZE:
            raise HandshakeFailed(f"the session key must be {KEY_SIZE} bytes")
        self._key = key
        self._state = HandshakeState.COMPLETE
        return key


def link_key(password: bytes, salt: bytes) -> bytes:
    """The v1 session key: PBKDF2-SHA256 of the password, 100,000 rounds (~35 ms of CPU, so an
    event-loop driver runs it in an executor)."""
    return hashlib.pbkdf2_hmac("sha256", password, salt, PBKDF2_ITERATIONS, dklen=KEY_SIZE)


def _hashed_subject(password: bytes, iv: bytes) -> str:
    """All 80 hex digits of iv || SHA-256(iv || password)."""
    return (iv + hashlib.sha256(iv + password).digest()).hex()


# --------------------------------------------------------------------------------------------
# RSA


class RsaHandshake:
    """The RSA key exchange with our identity key.

    Client side: send :attr:`public_pem`, then pass the hub's envelope and the hub's HELLO key
    to :meth:`receive`. :meth:`offer` is the hub's side (for tests and loopback hubs).
    """

    def __init__(self, private_pem: str | bytes | None = None) -> None:
        if private_pem is None:
            self._private = RSA.generate(RSA_KEY_BITS)
        else:
            self._private = import_rsa_key(private_pem, private=True)
        self._secret = bytes(KEY_SIZE)
        self._state = HandshakeState.STARTED

    @property
    def state(self) -> HandshakeState:
        """STARTED until :meth:`receive` succeeds (COMPLETE) or refuses the envelope (FAILED)."""
        return self._state

    @property
    def public_pem(self) -> str:
        """Our public key, PEM (what the client sends as ``pubkey``)."""
        return self._private.public_key().export_key(format="PEM").decode("ascii")

    @property
    def private_pem(self) -> str:
        """Our private key, PEM."""
        return self._private.export_key(format="PEM").decode("ascii")

    @property
    def key(self) -> bytes:
        """The 32-byte session key; HandshakeFailed before the exchange is complete."""
        if self._state is not HandshakeState.COMPLETE:
            raise HandshakeFailed("the RSA handshake is not complete")
        return self._secret

    def receive(self, envelope: object, hub_public_pem: str | bytes) -> bytes:
        """Check and open the hub's envelope; return the session key.

        HandshakeFailed if the envelope is not hex, its signature does not verify with the hub's
        HELLO key, or it does not decrypt to 32 bytes with our key.
        """
        if self._state is not HandshakeState.STARTED:
            raise HandshakeFailed(f"the RSA handshake is {self._state}")
        hub_key = import_rsa_key(hub_public_pem, private=False)
        try:
            if not isinstance(envelope, str):
                raise HandshakeFailed("the hub's RSA envelope is not a string")
            try:
                blob = bytes.fromhex(envelope)
            except ValueError:
                raise HandshakeFailed("the hub's RSA envelope is not hex") from None
            if blob.hex() != envelope.lower():
                raise HandshakeFailed("the hub's RSA envelope is not plain hex")
            # signature with the hub's key, then ciphertext with ours
            signature_size = hub_key.size_in_bytes()
            ciphertext_size = self._private.size_in_bytes()
            if len(blob) != signature_size + ciphertext_size:
                raise HandshakeFailed("the hub's RSA envelope has the wrong length")
            signature, ciphertext = blob[:signature_size], blob[signature_size:]
            try:
                pss.new(hub_key).verify(SHA256.new(ciphertext), signature)
            except (ValueError, TypeError):
                raise HandshakeFailed("the hub's RSA envelope is not signed by its key") from None
            try:
                shared = PKCS1_OAEP.new(self._private).decrypt(ciphertext)
            except (ValueError, TypeError):
                raise HandshakeFailed(
                    "the hub's RSA envelope does not decrypt with our key"
                ) from None
            if len(shared) != KEY_SIZE:
                raise HandshakeFailed("the hub's RSA secret is not 32 bytes")
        except HandshakeFailed:
            self._state = HandshakeState.FAILED
            raise
        self._secret = bytes(
            mine ^ theirs for mine, theirs in zip(self._secret, shared, strict=True)
        )
        self._state = HandshakeState.COMPLETE
        return self._secret

    def offer(
        self, peer_public_pem: str | bytes, *, secret: bytes | None = None
    ) -> tuple[str, bytes]:
        """The hub's side: (envelope for the peer, the secret it carries)."""
        peer_key = import_rsa_key(peer_public_pem, private=False)
        if secret is None:
            secret = os.urandom(KEY_SIZE)
        if not isinstance(secret, bytes) or len(secret) != KEY_SIZE:
            raise InvalidArgument(f"the secret must be {KEY_SIZE} bytes")
        ciphertext = PKCS1_OAEP.new(peer_key).encrypt(secret)
        signature = pss.new(self._private).sign(SHA256.new(ciphertext))
        return (signature + ciphertext).hex(), secret


# --------------------------------------------------------------------------------------------
# Negotiation


@dataclass(frozen=True)
class Negotiation:
    """What we offer the hub, best first; the hub takes our first item that it allows.

    ``key_size`` is how much of the 32-byte handshake key the link cipher uses: 16 for hubs
    whose offer has no cipher or encoding lists (hivemind-core up to 3.0.x, whose bus client
    truncated every key to AES-128), else 32.
    """

    ciphers: tuple[Cipher, ...]
    encodings: tuple[TextEncoding, ...]
    key_size: int = KEY_SIZE

    def accept(self, answer: Mapping[str, Any]) -> tuple[Cipher, TextEncoding]:
        """The cipher and encoding named in the hub's HANDSHAKE answer.

        The one acceptance rule of the legacy handshakes: a missing field means the protocol
        default (AES-GCM, JSON-HEX), the choice of hubs that do not negotiate (the RSA
        exchange, Core 3.0.x); named or defaulted, the result must be something we offered, so
        a hub (or a man in the middle) cannot steer the link to what we chose not to speak.
        """
        if not isinstance(answer, Mapping):
            raise HandshakeFailed("the hub's HANDSHAKE answer is not an object")
        cipher_name = answer.get("cipher") or DEFAULT_CIPHER
        encoding_name = answer.get("encoding") or DEFAULT_ENCODING
        if not isinstance(cipher_name, str) or cipher_name not in _CIPHER_NAMES:
            raise HandshakeFailed(
                f"the hub chose cipher {cipher_name!r}, which we do not implement"
            )
        if not isinstance(encoding_name, str) or encoding_name not in _ENCODING_NAMES:
            raise HandshakeFailed(
                f"the hub chose encoding {encoding_name!r}, which we do not implement"
            )
        cipher, encoding = _CIPHER_NAMES[cipher_name], _ENCODING_NAMES[encoding_name]
        if cipher not in self.ciphers or encoding not in self.encodings:
            raise HandshakeFailed(f"the hub chose {cipher} with {encoding}, which we did not offer")
        return cipher, encoding


_CIPHER_NAMES: Final = {cipher.value: cipher for cipher in Cipher}
_ENCODING_NAMES: Final = {encoding.value: encoding for encoding in TextEncoding}


def negotiate(
    offered_ciphers: Iterable[object] | None,
    offered_encodings: Iterable[object] | None,
    *,
    aes_hardware: bool | None = None,
) -> Negotiation:
    """Order what the hub allows by our preference.

    ``offered_*`` are the lists of the hub's HANDSHAKE offer (None when absent: such hubs know
    only AES-GCM and JSON-HEX, with a 16-byte key). Names we do not implement are ignored. Ciphers: AES-GCM first
    when the CPU has AES instructions, else ChaCha20-Poly1305. Encodings: JSON-B64 first,
    JSON-B91 last (a hub takes our first choice, and B91 has broken real deployments).
    HandshakeFailed if nothing is left of either list.
    """
    hub_ciphers = _names(offered_ciphers, (DEFAULT_CIPHER,))
    hub_encodings = _names(offered_encodings, (DEFAULT_ENCODING,))
    ciphers = tuple(c for c in preferred_ciphers(aes_hardware=aes_hardware) if c in hub_ciphers)
    encodings = tuple(e for e in ENCODINGS if e in hub_encodings)
    if not ciphers:
        raise HandshakeFailed("the hub allows no cipher we implement")
    if not encodings:
        raise HandshakeFailed("the hub allows no encoding we implement")
    legacy = offered_ciphers is None and offered_encodings is None
    return Negotiation(ciphers, encodings, _LEGACY_KEY_SIZE if legacy else KEY_SIZE)


def _names(offered: Iterable[object] | None, default: tuple[str, ...]) -> frozenset[str]:
    if offered is None:
        return frozenset(default)
    if isinstance(offered, str | bytes) or not isinstance(offered, Iterable):
        raise HandshakeFailed("the hub's offer lists are not lists")
    return frozenset(name for name in offered if isinstance(name, str))


def client_handshake_payload(
    negotiation: Negotiation,
    *,
    binarize: bool,
    envelope: str | None = None,
    pubkey: str | None = None,
) -> dict[str, Any]:
    """The payload of the client's HANDSHAKE: preferences plus a password envelope or RSA key.

    ``binarize`` asks the hub for binary frames (send True only if the hub's offer allowed it).
    """
    if (envelope is None) == (pubkey is None):
        raise InvalidArgument("give exactly one of envelope (password) and pubkey (RSA)")
    payload: dict[str, Any] = {
        "binarize": bool(binarize),
        "encodings": [encoding.value for encoding in negotiation.encodings],
        "ciphers": [cipher.value for cipher in negotiation.ciphers],
    }
    if envelope is not None:
        payload["envelope"] = envelope
    else:
        payload["pubkey"] = pubkey
    return payload
