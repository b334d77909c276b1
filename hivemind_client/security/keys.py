"""Public-key helpers shared by routing (trust checks), the handshakes and the identity store."""

from __future__ import annotations

import hashlib
from functools import lru_cache

from Crypto.PublicKey import RSA

from hivemind_client.errors import InvalidArgument

__all__ = ["import_rsa_key", "normalize_public_key", "public_key_fingerprint"]


def normalize_public_key(pem: str) -> str:
    """A PEM text with uniform line endings and no stray whitespace, for comparisons."""
    return "\n".join(line.strip() for line in pem.strip().splitlines() if line.strip())


def public_key_fingerprint(pem: str) -> str:
    """A short stable label for a public key: ``key:`` and 12 hex digits of its SHA-256."""
    digest = hashlib.sha256(normalize_public_key(pem).encode()).hexdigest()
    return f"key:{digest[:12]}"


@lru_cache(maxsize=16)
def _import_cached(pem: bytes) -> RSA.RsaKey:
    return RSA.import_key(pem)


def import_rsa_key(pem: str | bytes, *, private: bool) -> RSA.RsaKey:
    """An RSA key from PEM; InvalidArgument if it is not one (or not private when needed).

    Parsed keys are cached by their text: importing a private key runs two primality tests
    (about 50 ms), and every client on one identity loads the same key.
    """
    if isinstance(pem, str):
        pem = pem.encode("utf-8", "surrogateescape")
    if not isinstance(pem, bytes):
        raise InvalidArgument("an RSA key must be PEM text")
    try:
        key = _import_cached(pem)
    except (ValueError, IndexError, TypeError):
        raise InvalidArgument("not an RSA key in PEM form") from None
    if private and not key.has_private():
        raise InvalidArgument("an RSA private key is needed")
    return key
