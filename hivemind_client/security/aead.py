"""Authenticated encryption of protocol v1 frames (after a legacy handshake).

Two AEAD ciphers, no associated data, a fresh random nonce per message:

``AES-GCM``            key of 16, 24 or 32 bytes; 16-byte nonce; 16-byte tag.
``CHACHA20-POLY1305``  RFC 8439 (IETF) construction; 32-byte key; 12-byte nonce; 16-byte tag.

Two envelopes:

* text frames: :func:`seal_json` gives ``{"ciphertext": E(ct), "tag": E(tag), "nonce": E(nonce)}``
  (that key order, ``json.dumps`` default separators, non-ASCII escaped), each field written in
  the negotiated :mod:`~hivemind_client.security.encodings` encoding; :func:`open_json` also accepts an
  envelope without ``tag`` whose ciphertext ends with the tag (Web Crypto style).
* binary frames: :func:`seal_binary` gives ``nonce || ciphertext || tag``.

Errors: an unknown cipher name raises UnknownCipher, a key of the wrong size InvalidKeySize, an
unknown encoding or badly encoded field InvalidEncoding, an envelope that is not JSON InvalidJSON,
one that lacks fields InvalidPayload, and a wrong key, a tampered message or a nonce of the
wrong size AuthenticationFailed. Nothing else escapes.

Speed: both ciphers run in OpenSSL through the ``cryptography`` package. For AES-GCM,
PyCryptodome's public API builds a GCM object per message (about 50 microseconds), which alone
missed the 2x goal against the reference (measured 1.0x); for ChaCha20-Poly1305, libsodium via
PyNaCl costs about 4x OpenSSL's call at 100 bytes. Engines for the 32 most recently used keys
are cached, so a session's key object is built once.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Mapping
from functools import cache, lru_cache
from json.encoder import encode_basestring_ascii
from typing import Any, Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM, ChaCha20Poly1305

from hivemind_client._compat import StrEnum
from hivemind_client.errors import (
    AuthenticationFailed,
    InvalidArgument,
    InvalidEncoding,
    InvalidJSON,
    InvalidKeySize,
    InvalidPayload,
    UnknownCipher,
)
from hivemind_client.security.encodings import _DECODERS, _ENCODERS, TextEncoding

__all__ = [
    "AES_KEY_SIZES",
    "CHACHA20_KEY_SIZE",
    "CIPHERS",
    "DEFAULT_CIPHER",
    "DEFAULT_ENCODING",
    "TAG_SIZE",
    "Cipher",
    "cpu_has_aes",
    "nonce_size",
    "open_binary",
    "open_json",
    "open_json_with_nonce",
    "preferred_ciphers",
    "seal_binary",
    "seal_binary_with_nonce",
    "seal_json",
    "seal_json_with_nonce",
]


class Cipher(StrEnum):
    """Wire names of the AEAD ciphers."""

    AES_GCM = "AES-GCM"
    CHACHA20_POLY1305 = "CHACHA20-POLY1305"


CIPHERS: tuple[Cipher, ...] = (Cipher.AES_GCM, Cipher.CHACHA20_POLY1305)
#: What a v1 session uses when the hub's HANDSHAKE names no cipher or encoding (reference 0.7.0a2
#: ``handle_handshake``; also what hubs use after an RSA key exchange).
DEFAULT_CIPHER: Final = Cipher.AES_GCM
DEFAULT_ENCODING: Final = TextEncoding.JSON_HEX
AES_KEY_SIZES: Final = (16, 24, 32)
CHACHA20_KEY_SIZE: Final = 32
TAG_SIZE: Final = 16
_NONCE_SIZES: Final[dict[str, int]] = {Cipher.AES_GCM: 16, Cipher.CHACHA20_POLY1305: 12}

_Bytes = bytes | bytearray | memoryview


def nonce_size(cipher: str) -> int:
    """Bytes of nonce that :func:`seal_json` / :func:`seal_binary` draw for ``cipher``."""
    try:
        return _NONCE_SIZES[cipher]
    except (KeyError, TypeError):
        raise UnknownCipher(f"unknown cipher {cipher!r}") from None


@cache
def cpu_has_aes() -> bool:
    """Whether /proc/cpuinfo lists the ``aes`` CPU flag (False where it cannot be read)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as info:
            return _lists_aes(info)
    except OSError:
        return False


def _lists_aes(lines: Iterable[str]) -> bool:
    """Whether a ``flags`` (x86) or ``Features`` (ARM) line of cpuinfo names ``aes``."""
    for line in lines:
        name, _, value = line.partition(":")
        if name.strip().lower() in ("flags", "features") and "aes" in value.split():
            return True
    return False


def preferred_ciphers(*, aes_hardware: bool | None = None) -> tuple[Cipher, ...]:
    """Both ciphers, fastest first: AES-GCM when the CPU has AES instructions, else ChaCha.

    ``aes_hardware`` overrides the CPU check (for tests and for peers that know better).
    """
    if aes_hardware is None:
        aes_hardware = cpu_has_aes()
    if aes_hardware:
        return (Cipher.AES_GCM, Cipher.CHACHA20_POLY1305)
    return (Cipher.CHACHA20_POLY1305, Cipher.AES_GCM)


# --------------------------------------------------------------------------------------------
# Public envelopes

_ENVELOPE = '{"ciphertext": %s, "tag": %s, "nonce": %s}'
# encodings whose alphabet needs no JSON escaping (Z85P starts with a control character and
# basE91 uses '"')
_PLAIN_JSON = frozenset(
    {
        TextEncoding.JSON_HEX,
        TextEncoding.JSON_B64,
        TextEncoding.JSON_URLSAFE_B64,
        TextEncoding.JSON_B32,
        TextEncoding.JSON_Z85B,
    }
)

# encoders and decoders that take a memoryview as they take bytes (no copy of a large field)
_BUFFER_ENCODERS = frozenset(
    {TextEncoding.JSON_HEX, TextEncoding.JSON_B64, TextEncoding.JSON_URLSAFE_B64}
)
_BUFFER_DECODERS = frozenset({TextEncoding.JSON_HEX, TextEncoding.JSON_B64})


def seal_json(
    plaintext: str | _Bytes,
    key: _Bytes,
    *,
    cipher: str = DEFAULT_CIPHER,
    encoding: str = DEFAULT_ENCODING,
) -> str:
    """Encrypt ``plaintext`` (str as UTF-8) into the text of a JSON cipher envelope."""
    return seal_json_with_nonce(plaintext, key, cipher=cipher, encoding=encoding)[0]


def seal_json_with_nonce(
    plaintext: str | _Bytes,
    key: _Bytes,
    *,
    cipher: str = DEFAULT_CIPHER,
    encoding: str = DEFAULT_ENCODING,
) -> tuple[str, bytes]:
    """:func:`seal_json`, and the nonce it drew (a v1 link remembers it to refuse reflections)."""
    engine = _engine(cipher, key)
    encoder = _encoder(encoding)
    data = _plaintext_bytes(plaintext)
    nonce = os.urandom(engine.nonce_size)
    sealed = engine.seal_joined(nonce, data)
    del data  # large buffers are let go as soon as they are used (see open_json)
    source = memoryview(sealed) if encoding in _BUFFER_ENCODERS else sealed
    ciphertext_text, tag_text = encoder(source[:-TAG_SIZE]), encoder(source[-TAG_SIZE:])
    del source, sealed
    if encoding in _PLAIN_JSON:
        # one copy of the (large) ciphertext text, no escaping pass
        text = "".join(
            (
                '{"ciphertext": "',
                ciphertext_text,
                '", "tag": "',
                tag_text,
                '", "nonce": "',
                encoder(nonce),
                '"}',
            )
        )
        return text, nonce
    text = _ENVELOPE % (
        encode_basestring_ascii(ciphertext_text),
        encode_basestring_ascii(tag_text),
        encode_basestring_ascii(encoder(nonce)),
    )
    return text, nonce


def open_json(
    envelope: str | _Bytes | Mapping[str, Any],
    key: _Bytes,
    *,
    cipher: str = DEFAULT_CIPHER,
    encoding: str = DEFAULT_ENCODING,
) -> str:
    """Decrypt a JSON cipher envelope (text, UTF-8 bytes or parsed object) to its plaintext.

    Without a ``tag`` field, the last 16 bytes of the ciphertext are the tag.
    """
    return open_json_with_nonce(envelope, key, cipher=cipher, encoding=encoding)[0]


def open_json_with_nonce(
    envelope: str | _Bytes | Mapping[str, Any],
    key: _Bytes,
    *,
    cipher: str = DEFAULT_CIPHER,
    encoding: str = DEFAULT_ENCODING,
) -> tuple[str, bytes]:
    """:func:`open_json`, and the nonce the message authenticated with (decoded bytes, so a
    replay cannot hide behind another spelling of it)."""
    engine = _engine(cipher, key)
    decoder = _decoder(encoding)
    if isinstance(envelope, str) and encoding in _PLAIN_JSON and envelope.isascii():
        try:
            opened = _open_sealed_layout(engine, decoder, encoding, envelope.encode("ascii"))
        except InvalidEncoding:
            opened = None  # give the answer (and error) a full JSON reading gives
        if opened is not None:
            return opened
    fields = _envelope_fields(envelope)
    try:
        ciphertext_text = fields["ciphertext"]
        nonce_text = fields["nonce"]
    except KeyError as missing:
        raise InvalidPayload(f"cipher envelope lacks {missing}") from None
    tag_text = fields.get("tag")
    if not isinstance(ciphertext_text, str) or not isinstance(nonce_text, str):
        raise InvalidPayload("cipher envelope fields must be strings")
    if tag_text is None and "tag" in fields:
        raise InvalidPayload("cipher envelope field 'tag' must be a string")
    if tag_text is not None and not isinstance(tag_text, str):
        raise InvalidPayload("cipher envelope field 'tag' must be a string")
    return _open_fields(engine, decoder, encoding, ciphertext_text, tag_text, nonce_text)


def _open_fields(
    engine: _Engine,
    decoder: Callable[[bytes], bytes],
    encoding: str,
    ciphertext_text: str,
    tag_text: str | None,
    nonce_text: str,
) -> tuple[str, bytes]:
    ciphertext = decoder(_ascii(ciphertext_text, encoding))
    nonce = decoder(_ascii(nonce_text, encoding))
    if tag_text is None:
        if len(ciphertext) < TAG_SIZE:
            raise AuthenticationFailed("ciphertext too short to hold the tag")
        plaintext = engine.open_joined(nonce, ciphertext)
    else:
        plaintext = engine.open(nonce, ciphertext, decoder(_ascii(tag_text, encoding)))
    return _utf8_text(plaintext), nonce


def _utf8_text(plaintext: bytes) -> str:
    try:
        return plaintext.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidJSON("decrypted text is not UTF-8") from None


_HEAD, _TAG, _NONCE, _TAIL = b'{"ciphertext": "', b'", "tag": "', b'", "nonce": "', b'"}'


def _open_sealed_layout(
    engine: _Engine, decoder: Callable[[bytes], bytes], encoding: str, raw: bytes
) -> tuple[str, bytes] | None:
    """Open an envelope laid out exactly as :func:`seal_json` writes it with a plain-JSON
    encoding (no escapes anywhere); None for any other text.

    Such a text means what ``json.loads`` would make of it, provided the fields hold no control
    characters (the strict decoders refuse those, and the caller then reads the text as JSON).
    Finding four quotes costs a small part of parsing a large envelope as JSON, and every large
    buffer is let go as soon as it is used: at 1 MiB, holding fewer of them at once keeps glibc
    from handing the memory back to the kernel and faulting it in again on the next message,
    which cost more than the AEAD and base64 together (bench/README.md).
    """
    if not raw.startswith(_HEAD) or not raw.endswith(_TAIL) or b"\\" in raw:
        return None
    tag_at = raw.find(_TAG, len(_HEAD))
    if tag_at < 0 or raw.find(b'"', len(_HEAD), tag_at) >= 0:
        return None
    nonce_at = raw.find(_NONCE, tag_at + len(_TAG))
    if nonce_at < 0 or raw.find(b'"', tag_at + len(_TAG), nonce_at) >= 0:
        return None
    end = len(raw) - len(_TAIL)
    if end < nonce_at + len(_NONCE) or raw.find(b'"', nonce_at + len(_NONCE), end) >= 0:
        return None
    source = memoryview(raw) if encoding in _BUFFER_DECODERS else raw
    ciphertext = decoder(source[len(_HEAD) : tag_at])
    tag = decoder(source[tag_at + len(_TAG) : nonce_at])
    nonce = decoder(source[nonce_at + len(_NONCE) : end])
    del source, raw
    if len(tag) != TAG_SIZE:
        raise AuthenticationFailed("the tag must be 16 bytes")
    sealed = ciphertext + tag
    del ciphertext
    plaintext = engine.open_joined(nonce, sealed)
    del sealed
    return _utf8_text(plaintext), nonce


def seal_binary(data: _Bytes, key: _Bytes, *, cipher: str = DEFAULT_CIPHER) -> bytes:
    """Encrypt ``data`` into ``nonce || ciphertext || tag``."""
    engine = _engine(cipher, key)
    if not isinstance(data, bytes | bytearray | memoryview):
        raise InvalidArgument(f"data must be bytes, not {type(data).__name__}")
    return engine.seal_blob(os.urandom(engine.nonce_size), data)


def seal_binary_with_nonce(
    data: _Bytes, key: _Bytes, nonce: _Bytes, *, cipher: str = DEFAULT_CIPHER
) -> bytes:
    """:func:`seal_binary` with a nonce the caller chose (APIs that take one, such as the
    reference's ``encrypt_AES``); a nonce of the wrong size is InvalidKeySize. The caller must
    never reuse a nonce with the same key."""
    engine = _engine(cipher, key)
    if not isinstance(data, bytes | bytearray | memoryview):
        raise InvalidArgument(f"data must be bytes, not {type(data).__name__}")
    if not isinstance(nonce, bytes | bytearray | memoryview) or len(nonce) != engine.nonce_size:
        raise InvalidKeySize(f"{cipher} needs a {engine.nonce_size}-byte nonce")
    return engine.seal_blob(bytes(nonce), data)


def open_binary(blob: _Bytes, key: _Bytes, *, cipher: str = DEFAULT_CIPHER) -> bytes:
    """Decrypt ``nonce || ciphertext || tag`` to the data."""
    engine = _engine(cipher, key)
    if not isinstance(blob, bytes | bytearray | memoryview):
        raise InvalidArgument(f"blob must be bytes, not {type(blob).__name__}")
    if len(blob) < engine.nonce_size + TAG_SIZE:
        raise AuthenticationFailed("encrypted frame shorter than nonce and tag")
    return engine.open_blob(blob)


# --------------------------------------------------------------------------------------------
# Argument checks


def _engine(cipher: str, key: _Bytes) -> _Engine:
    try:
        sizes = _KEY_SIZES[cipher]
    except (KeyError, TypeError):
        raise UnknownCipher(f"unknown cipher {cipher!r}") from None
    if not isinstance(key, bytes):
        if not isinstance(key, bytearray | memoryview):
            raise InvalidArgument(f"key must be bytes, not {type(key).__name__}")
        key = bytes(key)
    if len(key) not in sizes:
        wanted = "/".join(str(size) for size in sizes)
        raise InvalidKeySize(f"{cipher} needs a {wanted}-byte key, not {len(key)} bytes")
    return _cached_engine(_CANONICAL_CIPHER[cipher], key)


def _encoder(encoding: str) -> Callable[[bytes], str]:
    try:
        return _ENCODERS[encoding]
    except (KeyError, TypeError):
        raise InvalidEncoding(f"unknown encoding {encoding!r}") from None


def _decoder(encoding: str) -> Callable[[bytes], bytes]:
    try:
        return _DECODERS[encoding]
    except (KeyError, TypeError):
        raise InvalidEncoding(f"unknown encoding {encoding!r}") from None


def _ascii(text: str, encoding: str) -> bytes:
    if not text.isascii():
        raise InvalidEncoding(f"{encoding}: text contains non-ASCII characters")
    return text.encode("ascii")


def _plaintext_bytes(plaintext: str | _Bytes) -> bytes | bytearray | memoryview:
    if isinstance(plaintext, str):
        try:
            return plaintext.encode("utf-8")
        except UnicodeEncodeError:
            raise InvalidArgument("plaintext is not encodable as UTF-8") from None
    if isinstance(plaintext, bytes | bytearray | memoryview):
        return plaintext
    raise InvalidArgument(f"plaintext must be str or bytes, not {type(plaintext).__name__}")


def _envelope_fields(envelope: str | _Bytes | Mapping[str, Any]) -> Mapping[str, Any]:
    if isinstance(envelope, Mapping):
        return envelope
    if isinstance(envelope, memoryview | bytearray):
        envelope = bytes(envelope)
    if not isinstance(envelope, str | bytes):
        raise InvalidArgument(f"envelope must be str, bytes or dict, not {type(envelope).__name__}")
    try:
        fields = json.loads(envelope)
    except (ValueError, RecursionError):  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise InvalidJSON("cipher envelope is not JSON") from None
    if not isinstance(fields, dict):
        raise InvalidPayload("cipher envelope is not a JSON object")
    return fields


# --------------------------------------------------------------------------------------------
# Engines: one object per (cipher, key), cached, holding whatever the key expands to.


class _Engine:
    """Seal and open with one key (an OpenSSL AEAD object); opening raises AuthenticationFailed.

    The AEAD takes ``ciphertext || tag`` in one buffer, so a blob is opened through a view of
    itself, without copying.
    """

    nonce_size: int
    __slots__ = ("_aead",)
    _aead: AESGCM | ChaCha20Poly1305

    def _check_nonce(self, nonce: bytes) -> None:
        raise NotImplementedError

    def seal_joined(self, nonce: bytes, data: _Bytes) -> bytes:
        """``ciphertext || tag``."""
        return self._aead.encrypt(nonce, data, None)

    def seal_blob(self, nonce: bytes, data: _Bytes) -> bytes:
        return nonce + self._aead.encrypt(nonce, data, None)

    def open(self, nonce: bytes, ciphertext: bytes, tag: bytes) -> bytes:
        if len(tag) != TAG_SIZE:
            raise AuthenticationFailed("the tag must be 16 bytes")
        return self.open_joined(nonce, ciphertext + tag)

    def open_joined(self, nonce: bytes, sealed: _Bytes) -> bytes:
        """Open ``ciphertext || tag``."""
        self._check_nonce(nonce)
        try:
            return self._aead.decrypt(nonce, sealed, None)
        except InvalidTag:
            raise AuthenticationFailed("message authentication failed") from None

    def open_blob(self, blob: _Bytes) -> bytes:
        view = memoryview(blob)
        size = self.nonce_size
        return self.open_joined(bytes(view[:size]), view[size:])


class _ChaCha20Poly1305(_Engine):
    """RFC 8439 ChaCha20-Poly1305 through the ``cryptography`` package (OpenSSL), one object per key.

    OpenSSL's call costs about a quarter of libsodium's through PyNaCl for small messages
    (1.0 vs 3.8 microseconds at 100 bytes, measured when the engine was chosen).
    """

    nonce_size = 12
    __slots__ = ()

    def __init__(self, key: bytes) -> None:
        self._aead = ChaCha20Poly1305(key)

    def _check_nonce(self, nonce: bytes) -> None:
        if len(nonce) != 12:
            raise AuthenticationFailed("CHACHA20-POLY1305 needs a 12-byte nonce")


class _AesGcm(_Engine):
    """AES-GCM through the ``cryptography`` package (OpenSSL), one AESGCM object per key."""

    nonce_size = 16
    __slots__ = ()

    def __init__(self, key: bytes) -> None:
        self._aead = AESGCM(key)

    def _check_nonce(self, nonce: bytes) -> None:
        if not _GCM_NONCE_SIZES[0] <= len(nonce) <= _GCM_NONCE_SIZES[1]:
            raise AuthenticationFailed("AES-GCM needs an 8- to 128-byte nonce")


# Nonce lengths OpenSSL's GCM accepts; we always send 16 bytes, as the reference does.
_GCM_NONCE_SIZES: Final = (8, 128)


@lru_cache(maxsize=32)
def _cached_engine(cipher: Cipher, key: bytes) -> _Engine:
    if cipher is Cipher.CHACHA20_POLY1305:
        return _ChaCha20Poly1305(key)
    return _AesGcm(key)


_KEY_SIZES: Final[dict[str, tuple[int, ...]]] = {
    Cipher.AES_GCM: AES_KEY_SIZES,
    Cipher.CHACHA20_POLY1305: (CHACHA20_KEY_SIZE,),
}
_CANONICAL_CIPHER: Final[dict[str, Cipher]] = {cipher.value: cipher for cipher in Cipher}
