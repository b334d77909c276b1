"""``hivemind_bus_client.encryption``: AEAD envelopes, encodings and the INTERCOM hybrid
envelope through :mod:`hivemind_client.security`."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from hivemind_client._compat import StrEnum
from hivemind_client.errors import InvalidEncoding as _InvalidEncoding
from hivemind_client.errors import InvalidKeySize, UnknownCipher
from hivemind_client.security import aead, intercom
from hivemind_client.security.encodings import TextEncoding, decode_text, encode_text

__all__ = [
    "AES_KEY_SIZES",
    "AES_NONCE_SIZE",
    "AES_TAG_SIZE",
    "CHACHA20_KEY_SIZE",
    "SupportedCiphers",
    "SupportedEncodings",
    "cpu_supports_AES",
    "decrypt_AES_128",
    "decrypt_ChaCha20_Poly1305",
    "decrypt_bin",
    "decrypt_from_json",
    "encrypt_AES",
    "encrypt_ChaCha20_Poly1305",
    "encrypt_as_json",
    "encrypt_bin",
    "get_decoder",
    "get_encoder",
    "hybrid_decrypt",
    "hybrid_encrypt",
    "optimal_ciphers",
]

AES_KEY_SIZES = list(aead.AES_KEY_SIZES)
AES_NONCE_SIZE = aead.nonce_size(aead.Cipher.AES_GCM)
AES_TAG_SIZE = aead.TAG_SIZE
CHACHA20_KEY_SIZE = aead.CHACHA20_KEY_SIZE
CHACHA20_NONCE_SIZE = aead.nonce_size(aead.Cipher.CHACHA20_POLY1305)

SupportedEncodings = TextEncoding


class SupportedCiphers(StrEnum):
    """The reference's cipher names (the library's :class:`~hivemind_client.security.aead.Cipher`)."""

    AES_GCM = aead.Cipher.AES_GCM.value
    CHACHA20_POLY1305 = aead.Cipher.CHACHA20_POLY1305.value


AES_CIPHERS = {SupportedCiphers.AES_GCM}
BLOCK_CIPHERS = AES_CIPHERS


def cpu_supports_AES() -> bool:
    """Whether the CPU has AES instructions."""
    return aead.cpu_has_aes()


def optimal_ciphers() -> list[SupportedCiphers]:
    """Ciphers in the order this machine runs them fastest."""
    return [SupportedCiphers(c.value) for c in aead.preferred_ciphers()]


def _key(key: str | bytes) -> bytes:
    return key.encode("utf-8") if isinstance(key, str) else bytes(key)


def _norm_cipher(cipher: Any) -> SupportedCiphers:
    try:
        return SupportedCiphers(cipher)
    except ValueError:
        raise UnknownCipher(f"unknown cipher {cipher!r}") from None


def _norm_encoding(encoding: Any) -> TextEncoding:
    try:
        return TextEncoding(encoding)
    except ValueError:
        raise _InvalidEncoding(f"unknown encoding {encoding!r}") from None


def get_encoder(encoding: Any) -> Callable[[bytes], bytes]:
    """bytes -> encoded bytes in ``encoding``."""
    name = _norm_encoding(encoding)
    return lambda data: encode_text(data, name).encode("ascii")


def get_decoder(encoding: Any) -> Callable[[bytes], bytes]:
    """encoded bytes (or text) in ``encoding`` -> bytes."""
    name = _norm_encoding(encoding)
    return lambda data: decode_text(data, name)


def _plaintext(data: Any) -> str | bytes:
    if isinstance(data, dict):
        from hivemind_client.wire.message import encode_utf8_json

        return encode_utf8_json(data)
    return data  # type: ignore[no-any-return]


def encrypt_as_json(
    key: str | bytes,
    plaintext: Any,
    cipher: Any = SupportedCiphers.AES_GCM,
    encoding: Any = SupportedEncodings.JSON_HEX,
) -> str:
    """A JSON cipher envelope of ``plaintext`` (str, bytes or a dict as JSON)."""
    return aead.seal_json(
        _plaintext(plaintext),
        _key(key),
        cipher=_norm_cipher(cipher),
        encoding=_norm_encoding(encoding),
    )


def decrypt_from_json(
    key: str | bytes,
    ciphertext_json: Any,
    cipher: Any = SupportedCiphers.AES_GCM,
    encoding: Any = SupportedEncodings.JSON_HEX,
) -> str:
    """The plaintext of a JSON cipher envelope."""
    return aead.open_json(
        ciphertext_json, _key(key), cipher=_norm_cipher(cipher), encoding=_norm_encoding(encoding)
    )


def encrypt_bin(key: str | bytes, plaintext: str | bytes, cipher: Any) -> bytes:
    """``nonce || ciphertext || tag``."""
    data = plaintext.encode("utf-8") if isinstance(plaintext, str) else plaintext
    return aead.seal_binary(data, _key(key), cipher=_norm_cipher(cipher))


def decrypt_bin(key: str | bytes, ciphertext: str | bytes, cipher: Any) -> bytes:
    """The data of ``nonce || ciphertext || tag``."""
    blob = ciphertext.encode("latin-1") if isinstance(ciphertext, str) else ciphertext
    return aead.open_binary(blob, _key(key), cipher=_norm_cipher(cipher))


def _split(
    cipher: str, key: bytes, text: str | bytes, nonce: bytes | None
) -> tuple[bytes, bytes, bytes]:
    data = text.encode("utf-8") if isinstance(text, str) else text
    size = aead.nonce_size(cipher)
    if nonce is not None and len(nonce) != size:
        raise InvalidKeySize(f"{cipher} needs a {size}-byte nonce")
    nonce = nonce if nonce is not None else os.urandom(size)
    blob = aead.seal_binary_with_nonce(data, key, nonce, cipher=cipher)
    return blob[size : -aead.TAG_SIZE], blob[-aead.TAG_SIZE :], nonce


def encrypt_AES(
    key: str | bytes, text: str | bytes, nonce: bytes | None = None
) -> tuple[bytes, bytes, bytes]:
    """``(ciphertext, tag, nonce)`` under AES-GCM."""
    return _split(aead.Cipher.AES_GCM, _key(key), text, nonce)


def decrypt_AES_128(key: str | bytes, ciphertext: bytes, tag: bytes, nonce: bytes) -> bytes:
    """The data of an AES-GCM ``(ciphertext, tag, nonce)``."""
    return aead.open_binary(nonce + ciphertext + tag, _key(key), cipher=aead.Cipher.AES_GCM)


def encrypt_ChaCha20_Poly1305(
    key: str | bytes, text: str | bytes, nonce: bytes | None = None
) -> tuple[bytes, bytes, bytes]:
    """``(ciphertext, tag, nonce)`` under ChaCha20-Poly1305."""
    return _split(aead.Cipher.CHACHA20_POLY1305, _key(key), text, nonce)


def decrypt_ChaCha20_Poly1305(
    key: str | bytes, ciphertext: bytes, tag: bytes, nonce: bytes
) -> bytes:
    """The data of a ChaCha20-Poly1305 ``(ciphertext, tag, nonce)``."""
    return aead.open_binary(
        nonce + ciphertext + tag, _key(key), cipher=aead.Cipher.CHACHA20_POLY1305
    )


def _pem(key: Any, private: bool) -> str | bytes:
    if hasattr(key, "export_key"):
        return key.export_key()  # type: ignore[no-any-return]
    return key  # type: ignore[no-any-return]


def hybrid_encrypt(public_key: Any, plaintext: str | bytes, sign_key: Any = None) -> dict[str, str]:
    """The INTERCOM hybrid envelope (RSA-OAEP wrapped AES-GCM key), signed with ``sign_key``."""
    text = plaintext.decode("utf-8") if isinstance(plaintext, bytes) else plaintext
    return intercom.seal_intercom(
        text,
        _pem(public_key, False),
        sender_private_pem=None if sign_key is None else _pem(sign_key, True),
    )


def hybrid_decrypt(private_key: Any, envelope: dict[str, Any], verify_key: Any = None) -> bytes:
    """The plaintext bytes of an INTERCOM envelope (its signature checked with ``verify_key``)."""
    opened = intercom.open_intercom(
        envelope,
        _pem(private_key, True),
        sender_public_pem=None if verify_key is None else _pem(verify_key, False),
    )
    return opened.plaintext.encode("utf-8")
