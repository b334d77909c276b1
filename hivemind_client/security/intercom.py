"""INTERCOM: end-to-end encryption between two nodes' RSA identities, through any relays.

Hybrid envelope (hivemind-core >= 4.13, reference client 0.7.0a2 ``hybrid_encrypt``): a random
32-byte AES-GCM key encrypts the UTF-8 plaintext (16-byte nonce, 16-byte tag); RSA-OAEP
(SHA-1, MGF1-SHA-1) wraps that key for the recipient; the sender may sign the raw ciphertext
with RSA-PSS (SHA-256, MGF1-SHA-256, 32-byte salt). Every field is standard base64::

    {"encrypted_key": ..., "ciphertext": ..., "tag": ..., "nonce": ..., "signature": ...}

Legacy envelope (hubs up to 4.12), accepted when opening only: ``{"ciphertext":
b64(RSA-OAEP(recipient, plaintext)), "signature": b64(PSS over that ciphertext)}``.

Opening reports whether the envelope was signed and whether the signature was verified. A
signature that does not verify against a sender key we were given is an AuthenticationFailed;
a signature we have no key for is reported as signed but not verified, and the caller decides
(hubs from Core 4.10 drop unsigned or unverifiable INTERCOM).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from Crypto.Cipher import AES, PKCS1_OAEP
from Crypto.Hash import SHA256
from Crypto.Signature import pss

from hivemind_client.errors import (
    AuthenticationFailed,
    InvalidArgument,
    InvalidJSON,
    InvalidPayload,
)
from hivemind_client.security.encodings import TextEncoding, decode_text, encode_text
from hivemind_client.security.keys import import_rsa_key

__all__ = ["IntercomOpened", "open_intercom", "seal_intercom"]

_KEY_SIZE = 32
_NONCE_SIZE = 16
_TAG_SIZE = 16
_B64 = TextEncoding.JSON_B64


@dataclass(frozen=True)
class IntercomOpened:
    """An opened INTERCOM envelope."""

    plaintext: str
    signed: bool  # the envelope carries a signature
    verified: bool  # ... and it verified with the sender key we were given


def seal_intercom(
    plaintext: str,
    recipient_public_pem: str | bytes,
    *,
    sender_private_pem: str | bytes | None = None,
) -> dict[str, str]:
    """A hybrid envelope of ``plaintext`` for the recipient, signed when a sender key is given."""
    if not isinstance(plaintext, str):
        raise InvalidArgument("the INTERCOM plaintext must be str")
    try:
        data = plaintext.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidArgument("the INTERCOM plaintext is not encodable as UTF-8") from None
    recipient = import_rsa_key(recipient_public_pem, private=False)
    sender = None if sender_private_pem is None else import_rsa_key(sender_private_pem, private=True)
    key = os.urandom(_KEY_SIZE)
    nonce = os.urandom(_NONCE_SIZE)
    ciphertext, tag = AES.new(key, AES.MODE_GCM, nonce=nonce, mac_len=_TAG_SIZE).encrypt_and_digest(
        data
    )
    envelope = {
        "encrypted_key": encode_text(PKCS1_OAEP.new(recipient).encrypt(key), _B64),
        "ciphertext": encode_text(ciphertext, _B64),
        "tag": encode_text(tag, _B64),
        "nonce": encode_text(nonce, _B64),
    }
    if sender is not None:
        envelope["signature"] = encode_text(pss.new(sender).sign(SHA256.new(ciphertext)), _B64)
    return envelope


def open_intercom(
    envelope: Mapping[str, Any],
    recipient_private_pem: str | bytes,
    *,
    sender_public_pem: str | bytes | None = None,
) -> IntercomOpened:
    """Decrypt a hybrid (or legacy) envelope with our private key, checking its signature.

    AuthenticationFailed when the envelope was not made for our key, was tampered with, or is
    signed but the signature does not verify with ``sender_public_pem``. InvalidPayload for
    missing or non-string fields, InvalidEncoding for fields that are not base64, InvalidJSON
    when the plaintext is not UTF-8.
    """
    recipient = import_rsa_key(recipient_private_pem, private=True)
    sender = None if sender_public_pem is None else import_rsa_key(sender_public_pem, private=False)
    if not isinstance(envelope, Mapping):
        raise InvalidPayload("an INTERCOM envelope must be a JSON object")
    ciphertext = _field(envelope, "ciphertext")
    signature = _field(envelope, "signature") if "signature" in envelope else None
    verified = False
    if signature is not None and sender is not None:
        try:
            pss.new(sender).verify(SHA256.new(ciphertext), signature)
        except (ValueError, TypeError):
            raise AuthenticationFailed("the INTERCOM signature does not verify") from None
        verified = True
    oaep = PKCS1_OAEP.new(recipient)
    if "encrypted_key" in envelope:
        wrapped_key = _field(envelope, "encrypted_key")
        tag = _field(envelope, "tag")
        nonce = _field(envelope, "nonce")
        try:
            key = oaep.decrypt(wrapped_key)
        except (ValueError, TypeError):
            raise AuthenticationFailed("the INTERCOM key was not wrapped for our key") from None
        if len(key) not in (16, 24, 32) or not nonce or len(tag) != _TAG_SIZE:
            raise AuthenticationFailed("the INTERCOM envelope has a malformed key, nonce or tag")
        try:
            data = AES.new(key, AES.MODE_GCM, nonce=nonce, mac_len=_TAG_SIZE).decrypt_and_verify(
                ciphertext, tag
            )
        except ValueError:
            raise AuthenticationFailed("the INTERCOM ciphertext does not authenticate") from None
    else:
        try:
            data = oaep.decrypt(ciphertext)
        except (ValueError, TypeError):
            raise AuthenticationFailed(
                "the INTERCOM message was not encrypted for our key"
            ) from None
    try:
        plaintext = data.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidJSON("the INTERCOM plaintext is not UTF-8") from None
    return IntercomOpened(plaintext, signature is not None, verified)


def _field(envelope: Mapping[str, Any], name: str) -> bytes:
    value = envelope.get(name)
    if value is None and name not in envelope:
        raise InvalidPayload(f"the INTERCOM envelope lacks {name!r}")
    if not isinstance(value, str):
        raise InvalidPayload(f"the INTERCOM field {name!r} must be a base64 string")
    return decode_text(value, _B64)
