"""Per-link security suites: ``text-encoding``, ``cipher-json``, ``cipher-binary``,
``password-handshake``, ``intercom`` and ``rsa-handshake``.

Every check goes through ``impl.call`` only, so the same checkers drive any implementation. A
vector with ``error`` is negative: the operation must fail with exactly that code.
"""

from __future__ import annotations

import json
from typing import Any

from ..impl import Implementation, VectorFailed, expect_error

__all__ = ["SUITES"]

_NONCE_SIZES = {"AES-GCM": 16, "CHACHA20-POLY1305": 12}
_TAG_SIZE = 16
_ENVELOPE_KEYS = ["ciphertext", "tag", "nonce"]


def _same(what: str, have: object, want: object) -> None:
    if have != want:
        raise VectorFailed(f"{what}: got {_short(have)}, expected {_short(want)}")


def _short(value: object, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} chars)"


def check_text_encoding(vector: dict[str, Any], impl: Implementation) -> None:
    """encode(data) == text and decode(text) == data; invalid text fails to decode."""
    encoding, text = vector["encoding"], vector["text"]
    if "error" in vector:
        expect_error(impl, "decode_text", {"encoding": encoding, "text": text}, vector["error"])
        return
    encoded = impl.call("encode_text", {"encoding": encoding, "data_hex": vector["data_hex"]})
    _same("encode", encoded.get("text"), text)
    decoded = impl.call("decode_text", {"encoding": encoding, "text": text})
    _same("decode", decoded.get("data_hex"), vector["data_hex"])


def check_cipher_json(vector: dict[str, Any], impl: Implementation) -> None:
    """The envelope opens to the plaintext (or fails with the code); seal+open round-trips.

    The implementation's own envelopes must have the reference's shape (keys ciphertext, tag,
    nonce in that order) and a fresh nonce each time.
    """
    fields = {name: vector[name] for name in ("cipher", "encoding", "key_hex")}
    if "error" in vector:
        expect_error(
            impl, "decrypt_json", {**fields, "envelope": vector["envelope"]}, vector["error"]
        )
        return
    opened = impl.call("decrypt_json", {**fields, "envelope": vector["envelope"]})
    _same("decrypt", opened.get("plaintext"), vector["plaintext"])
    envelopes = []
    for _ in range(2):
        sealed = impl.call("encrypt_json", {**fields, "plaintext": vector["plaintext"]})
        envelope = sealed.get("envelope")
        if not isinstance(envelope, str):
            raise VectorFailed(f"encrypt: envelope is {_short(envelope)}, not text")
        try:
            keys = list(json.loads(envelope))
        except (ValueError, TypeError):
            raise VectorFailed(
                f"encrypt: envelope is not a JSON object: {_short(envelope)}"
            ) from None
        _same("encrypt: envelope keys", keys, _ENVELOPE_KEYS)
        again = impl.call("decrypt_json", {**fields, "envelope": envelope})
        _same("round trip", again.get("plaintext"), vector["plaintext"])
        envelopes.append(envelope)
    if envelopes[0] == envelopes[1]:
        raise VectorFailed("encrypt: the same plaintext sealed twice gave the same envelope")


def check_cipher_binary(vector: dict[str, Any], impl: Implementation) -> None:
    """The blob opens to the data (or fails with the code); seal+open round-trips."""
    fields = {"cipher": vector["cipher"], "key_hex": vector["key_hex"]}
    if "error" in vector:
        expect_error(
            impl, "decrypt_binary", {**fields, "blob_hex": vector["blob_hex"]}, vector["error"]
        )
        return
    opened = impl.call("decrypt_binary", {**fields, "blob_hex": vector["blob_hex"]})
    _same("decrypt", opened.get("plaintext_hex"), vector["plaintext_hex"])
    sealed = impl.call("encrypt_binary", {**fields, "plaintext_hex": vector["plaintext_hex"]})
    blob_hex = sealed.get("blob_hex")
    if not isinstance(blob_hex, str):
        raise VectorFailed(f"encrypt: blob is {_short(blob_hex)}, not hex")
    expected_size = _NONCE_SIZES.get(vector["cipher"], 0) + len(vector["plaintext_hex"]) // 2
    _same("encrypt: blob size", len(blob_hex) // 2, expected_size + _TAG_SIZE)
    again = impl.call("decrypt_binary", {**fields, "blob_hex": blob_hex})
    _same("round trip", again.get("plaintext_hex"), vector["plaintext_hex"])


def check_password_handshake(vector: dict[str, Any], impl: Implementation) -> None:
    """Envelopes from the fixed IVs, mutual verification, the same key on both sides.

    An implementation's envelope has 48 hex digits; a vector's may be longer (48..80 are valid
    on receipt), so the first 48 are compared.

    Negative vectors: with ``client_iv_hex``, deriving the key from ``server_envelope`` must
    fail (reflection needs our own IV to be seen); without it, verifying must fail.
    """
    password = vector["password"]
    if "error" in vector:
        if "client_iv_hex" in vector:
            inputs = {
                "password": password,
                "own_iv_hex": vector["client_iv_hex"],
                "peer_envelope": vector["server_envelope"],
            }
            expect_error(impl, "password_secret", inputs, vector["error"])
        else:
            inputs = {"password": password, "envelope": vector["server_envelope"]}
            expect_error(impl, "password_verify", inputs, vector["error"])
        return
    sides = (("client", "server"), ("server", "client"))
    for own, _ in sides:
        made = impl.call(
            "password_envelope", {"password": password, "iv_hex": vector[f"{own}_iv_hex"]}
        )
        # envelopes are sent with 48 digits; a vector may carry a longer one (up to 80)
        expected = vector[f"{own}_envelope"][:48]
        _same(f"{own} envelope", made.get("envelope"), expected)
    for own, peer in sides:
        impl.call("password_verify", {"password": password, "envelope": vector[f"{peer}_envelope"]})
        secret = impl.call(
            "password_secret",
            {
                "password": password,
                "own_iv_hex": vector[f"{own}_iv_hex"],
                "peer_envelope": vector[f"{peer}_envelope"],
            },
        )
        _same(f"{own} key", secret.get("secret_hex"), vector["secret_hex"])


def check_intercom(vector: dict[str, Any], impl: Implementation) -> None:
    """The envelope opens to the plaintext; a signed one verifies with the sender key."""
    inputs = {
        "recipient_private_pem": vector["recipient_private_pem"],
        "envelope": vector["envelope"],
    }
    if "sender_public_pem" in vector:
        inputs["sender_public_pem"] = vector["sender_public_pem"]
    if "error" in vector:
        expect_error(impl, "intercom_open", inputs, vector["error"])
        return
    opened = impl.call("intercom_open", inputs)
    _same("plaintext", opened.get("plaintext"), vector["plaintext"])
    signed = bool(vector.get("signed", False))
    _same("signed", opened.get("signed"), signed)
    if signed and "sender_public_pem" in vector:
        _same("verified", opened.get("verified"), True)


def check_rsa_handshake(vector: dict[str, Any], impl: Implementation) -> None:
    """The client recovers the hub's secret from its signed envelope, or refuses it."""
    inputs = {name: vector[name] for name in ("client_private_pem", "hub_public_pem", "envelope")}
    if "error" in vector:
        expect_error(impl, "rsa_receive", inputs, vector["error"])
        return
    received = impl.call("rsa_receive", inputs)
    _same("key", received.get("secret_hex"), vector["secret_hex"])


SUITES = {
    "text-encoding": check_text_encoding,
    "cipher-json": check_cipher_json,
    "cipher-binary": check_cipher_binary,
    "password-handshake": check_password_handshake,
    "intercom": check_intercom,
    "rsa-handshake": check_rsa_handshake,
}
