"""Public-key text helpers shared by routing (trust checks) and the identity store."""

from __future__ import annotations

import hashlib

__all__ = ["normalize_public_key", "public_key_fingerprint"]


def normalize_public_key(pem: str) -> str:
    """A PEM text with uniform line endings and no stray whitespace, for comparisons."""
    return "\n".join(line.strip() for line in pem.strip().splitlines() if line.strip())


def public_key_fingerprint(pem: str) -> str:
    """A short stable label for a public key: ``key:`` and 12 hex digits of its SHA-256."""
    digest = hashlib.sha256(normalize_public_key(pem).encode()).hexdigest()
    return f"key:{digest[:12]}"
