"""Conformance operations for per-link security, answered by hivemind_client.

Inputs and outputs are JSON-friendly (hex strings, text). A HiveMindError raised by the library
propagates; the ``ours`` wrapper turns it into ``OperationFailed(exc.code)``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hivemind_client.errors import InvalidArgument
from hivemind_client.security.aead import open_binary, open_json, seal_binary, seal_json
from hivemind_client.security.encodings import decode_text, encode_text
from hivemind_client.security.intercom import open_intercom
from hivemind_client.security.legacy_handshake import PasswordHandshake, RsaHandshake

__all__ = ["OPERATIONS"]


def _hex(inputs: dict[str, Any], name: str) -> bytes:
    value = inputs.get(name)
    if not isinstance(value, str):
        raise InvalidArgument(f"input {name!r} must be a hex string")
    try:
        return bytes.fromhex(value)
    except ValueError:
        raise InvalidArgument(f"input {name!r} is not hex") from None


def encode_text_op(inputs: dict[str, Any]) -> dict[str, Any]:
    """{encoding, data_hex} -> {text}"""
    return {"text": encode_text(_hex(inputs, "data_hex"), inputs["encoding"])}


def decode_text_op(inputs: dict[str, Any]) -> dict[str, Any]:
    """{encoding, text} -> {data_hex}"""
    return {"data_hex": decode_text(inputs["text"], inputs["encoding"]).hex()}


def encrypt_json_op(inputs: dict[str, Any]) -> dict[str, Any]:
    """{cipher, encoding, key_hex, plaintext} -> {envelope}"""
    envelope = seal_json(
        inputs["plaintext"],
        _hex(inputs, "key_hex"),
        cipher=inputs["cipher"],
        encoding=inputs["encoding"],
    )
    return {"envelope": envelope}


def decrypt_json_op(inputs: dict[str, Any]) -> dict[str, Any]:
    """{cipher, encoding, key_hex, envelope} -> {plaintext}"""
    plaintext = open_json(
        inputs["envelope"],
        _hex(inputs, "key_hex"),
        cipher=inputs["cipher"],
        encoding=inputs["encoding"],
    )
    return {"plaintext": plaintext}


def encrypt_binary_op(inputs: dict[str, Any]) -> dict[str, Any]:
    """{cipher, key_hex, plaintext_hex} -> {blob_hex}"""
    blob = seal_binary(
        _hex(inputs, "plaintext_hex"), _hex(inputs, "key_hex"), cipher=inputs["cipher"]
    )
    return {"blob_hex": blob.hex()}


def decrypt_binary_op(inputs: dict[str, Any]) -> dict[str, Any]:
    """{cipher, key_hex, blob_hex} -> {plaintext_hex}"""
    data = open_binary(_hex(inputs, "blob_hex"), _hex(inputs, "key_hex"), cipher=inputs["cipher"])
    return {"plaintext_hex": data.hex()}


def password_envelope_op(inputs: dict[str, Any]) -> dict[str, Any]:
    """{password, iv_hex} -> {envelope}"""
    return {"envelope": PasswordHandshake(inputs["password"], iv=_hex(inputs, "iv_hex")).envelope}


def password_verify_op(inputs: dict[str, Any]) -> dict[str, Any]:
    """{password, envelope} -> {} (a fresh random IV of our own)"""
    PasswordHandshake(inputs["password"]).verify(inputs["envelope"])
    return {}


def password_secret_op(inputs: dict[str, Any]) -> dict[str, Any]:
    """{password, own_iv_hex, peer_envelope} -> {secret_hex} (verifies the peer envelope)"""
    handshake = PasswordHandshake(inputs["password"], iv=_hex(inputs, "own_iv_hex"))
    return {"secret_hex": handshake.derive_key(inputs["peer_envelope"]).hex()}


def intercom_open_op(inputs: dict[str, Any]) -> dict[str, Any]:
    """{recipient_private_pem, sender_public_pem?, envelope} -> {plaintext, signed, verified}"""
    opened = open_intercom(
        inputs["envelope"],
        inputs["recipient_private_pem"],
        sender_public_pem=inputs.get("sender_public_pem"),
    )
    return {"plaintext": opened.plaintext, "signed": opened.signed, "verified": opened.verified}


def rsa_receive_op(inputs: dict[str, Any]) -> dict[str, Any]:
    """{client_private_pem, hub_public_pem, envelope} -> {secret_hex}"""
    handshake = RsaHandshake(inputs["client_private_pem"])
    return {"secret_hex": handshake.receive(inputs["envelope"], inputs["hub_public_pem"]).hex()}


OPERATIONS: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "encode_text": encode_text_op,
    "decode_text": decode_text_op,
    "encrypt_json": encrypt_json_op,
    "decrypt_json": decrypt_json_op,
    "encrypt_binary": encrypt_binary_op,
    "decrypt_binary": decrypt_binary_op,
    "password_envelope": password_envelope_op,
    "password_verify": password_verify_op,
    "password_secret": password_secret_op,
    "intercom_open": intercom_open_op,
    "rsa_receive": rsa_receive_op,
}
