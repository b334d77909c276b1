"""Conformance adapter for the reference client, hivemind_bus_client (0.7.x and 1.2.x).

Run by the reference's own interpreter (an isolated venv built by scripts/oracles.py):

    .venvs/ref-0.7/bin/python conformance/adapters/reference.py

It answers the operations of conformance/README.md with the reference's public functions. Its
decoders return parsed JSON, so text fields are reported re-serialized with json.dumps; its own
exception classes are mapped to error codes where the meaning is unambiguous, every other
exception is reported as ``exception:<ClassName>`` so the comparison shows the reference's
error kinds as they are.
"""

from __future__ import annotations

import json
import sys
from importlib import import_module, metadata
from importlib.machinery import ModuleSpec
from pathlib import Path
from types import ModuleType
from typing import Any

import hivemind_bus_client.encryption as enc
from hivemind_bus_client import exceptions as exc
from hivemind_bus_client.message import HiveMessage, HiveMessageType
from hivemind_bus_client.serialization import decode_bitstring, get_bitstring


def _kit_module(name: str) -> ModuleType:
    """A module of the conformance package this file belongs to, whatever its installed name.

    The package (``conformance`` in a checkout, ``hivemind_conformance`` when installed) is
    registered without running its ``__init__`` and without putting its parent directory (a
    checkout's root or another interpreter's site-packages) on this interpreter's path.
    """
    package = "_hivemind_conformance_kit"
    if package not in sys.modules:
        spec = ModuleSpec(package, None, is_package=True)
        spec.submodule_search_locations = [str(Path(__file__).resolve().parents[1])]
        module = ModuleType(package)
        module.__spec__, module.__path__ = spec, spec.submodule_search_locations
        sys.modules[package] = module
    return import_module(f"{package}.{name}")


serve = _kit_module("adapter").serve

VERSION = metadata.version("hivemind_bus_client")
BINARY_TYPES = {
    int(t): t
    for t in __import__("hivemind_bus_client.message", fromlist=["x"]).HiveMindBinaryPayloadType
}


def _payload_text(message: HiveMessage) -> str:
    payload = message.payload
    if hasattr(payload, "serialize"):
        return payload.serialize()
    return json.dumps(payload)


def decode_frame(inputs: dict[str, Any]) -> dict[str, Any]:
    message = decode_bitstring(bytes.fromhex(inputs["frame_hex"]))
    # The reference parses metadata and payload, so it reports JSON values, not the exact text.
    out: dict[str, Any] = {
        "msg_type": str(getattr(message.msg_type, "value", message.msg_type)),
        "metadata_value": message.metadata,
    }
    if out["msg_type"] == "bin":
        payload = message.payload
        out["payload_hex"] = (
            payload.hex() if isinstance(payload, bytes) else json.dumps(payload).encode().hex()
        )
        out["bin_type"] = int(message.bin_type)
    else:
        out["payload_value"] = json.loads(_payload_text(message))
    return out


def encode_frame(inputs: dict[str, Any]) -> dict[str, Any]:
    msg_type = HiveMessageType(inputs["msg_type"])
    if "payload_hex" in inputs:
        payload: Any = bytes.fromhex(inputs["payload_hex"])
        bin_type = BINARY_TYPES.get(inputs.get("bin_type", 0), inputs.get("bin_type", 0))
    else:
        payload = inputs["payload_json"]
        bin_type = BINARY_TYPES[0]
    bits = get_bitstring(
        hive_type=msg_type,
        payload=payload,
        compressed=inputs["compressed"],
        hivemeta=inputs["metadata_json"] or {},
        binary_type=bin_type,
        versioned=inputs["versioned"],
    )
    return {"frame_hex": bits.bytes.hex()}


def decode_message_frame(inputs: dict[str, Any]) -> dict[str, Any]:
    message = decode_bitstring(bytes.fromhex(inputs["frame_hex"]))
    return {"msg_type": str(getattr(message.msg_type, "value", message.msg_type))}


def decode_message_json(inputs: dict[str, Any]) -> dict[str, Any]:
    message = HiveMessage.deserialize(inputs["text"])
    return {"msg_type": str(getattr(message.msg_type, "value", message.msg_type))}


def encode_text(inputs: dict[str, Any]) -> dict[str, Any]:
    encoded = enc.get_encoder(inputs["encoding"])(bytes.fromhex(inputs["data_hex"]))
    return {"text": encoded.decode("latin-1") if isinstance(encoded, bytes) else encoded}


def decode_text(inputs: dict[str, Any]) -> dict[str, Any]:
    text = inputs["text"]
    decoded = enc.get_decoder(inputs["encoding"])(
        text.encode("latin-1") if isinstance(text, str) else text
    )
    return {"data_hex": bytes(decoded).hex()}


def encrypt_json(inputs: dict[str, Any]) -> dict[str, Any]:
    envelope = enc.encrypt_as_json(
        bytes.fromhex(inputs["key_hex"]),
        inputs["plaintext"],
        cipher=inputs["cipher"],
        encoding=inputs["encoding"],
    )
    return {"envelope": envelope}


def decrypt_json(inputs: dict[str, Any]) -> dict[str, Any]:
    plaintext = enc.decrypt_from_json(
        bytes.fromhex(inputs["key_hex"]),
        inputs["envelope"],
        cipher=inputs["cipher"],
        encoding=inputs["encoding"],
    )
    return {"plaintext": plaintext.decode("utf-8") if isinstance(plaintext, bytes) else plaintext}


def encrypt_binary(inputs: dict[str, Any]) -> dict[str, Any]:
    blob = enc.encrypt_bin(
        bytes.fromhex(inputs["key_hex"]),
        bytes.fromhex(inputs["plaintext_hex"]),
        cipher=inputs["cipher"],
    )
    return {"blob_hex": blob.hex()}


def decrypt_binary(inputs: dict[str, Any]) -> dict[str, Any]:
    plaintext = enc.decrypt_bin(
        bytes.fromhex(inputs["key_hex"]), bytes.fromhex(inputs["blob_hex"]), cipher=inputs["cipher"]
    )
    return {"plaintext_hex": plaintext.hex()}


def intercom_open(inputs: dict[str, Any]) -> dict[str, Any]:
    plaintext = enc.hybrid_decrypt(inputs["recipient_private_pem"], inputs["envelope"])
    return {"plaintext": plaintext.decode("utf-8"), "signed": "signature" in inputs["envelope"]}


def _password_ops() -> dict[str, Any]:
    try:
        from poorman_handshake.symmetric.utils import create_hsub, iv_from_hsub, match_hsub
    except ImportError:  # newer releases moved or renamed the helpers
        return {}
    import hashlib

    def password_envelope(inputs: dict[str, Any]) -> dict[str, Any]:
        return {"envelope": create_hsub(inputs["password"], bytes.fromhex(inputs["iv_hex"]))}

    def password_verify(inputs: dict[str, Any]) -> dict[str, Any]:
        if not match_hsub(inputs["envelope"], inputs["password"]):
            raise exc.HiveMindException("envelope does not match the password")  # its answer: False
        return {}

    def password_secret(inputs: dict[str, Any]) -> dict[str, Any]:
        own, peer = bytes.fromhex(inputs["own_iv_hex"]), iv_from_hsub(inputs["peer_envelope"])
        salt = bytes(a ^ b for a, b in zip(own, peer, strict=False))
        return {
            "secret_hex": hashlib.pbkdf2_hmac(
                "sha256", inputs["password"].encode(), salt, 100000
            ).hex()
        }

    return {
        "password_envelope": password_envelope,
        "password_verify": password_verify,
        "password_secret": password_secret,
    }


def error_code(error: BaseException) -> str | None:
    """Codes for the reference's own exception classes whose meaning is unambiguous."""
    table = [
        ("UnsupportedProtocolVersion", "unsupported-version"),
        ("MetadataTooLarge", "metadata-too-large"),
        ("InvalidEncoding", "invalid-encoding"),
        ("Z85DecodeError", "invalid-encoding"),
        ("InvalidCipher", "unknown-cipher"),
        ("InvalidKeySize", "invalid-key-size"),
        ("DecryptionKeyError", "authentication-failed"),
        ("WrongEncryptionKey", "authentication-failed"),
    ]
    names = {cls.__name__ for cls in type(error).__mro__}
    for name, code in table:
        if name in names and hasattr(exc, name):
            return code
    if type(error) is exc.HiveMindException and "does not match the password" in str(error):
        return "handshake-failed"
    return None


OPERATIONS = {
    "decode_frame": decode_frame,
    "encode_frame": encode_frame,
    "decode_message_frame": decode_message_frame,
    "decode_message_json": decode_message_json,
    "encode_text": encode_text,
    "decode_text": decode_text,
    "encrypt_json": encrypt_json,
    "decrypt_json": decrypt_json,
    "encrypt_binary": encrypt_binary,
    "decrypt_binary": decrypt_binary,
    "intercom_open": intercom_open,
    **_password_ops(),
}

if __name__ == "__main__":
    serve(f"hivemind_bus_client {VERSION}", OPERATIONS, error_code)
