"""INTERCOM hybrid encryption: round trips, signatures, the legacy shape, tampering, errors.

Agreement with the reference's ``hybrid_encrypt``/``hybrid_decrypt`` (0.7.0a2) is checked by the
``intercom`` conformance vectors (conformance/vectors/intercom.json, made by the reference with
fixed keys, run by tests/conformance/test_vectors.py).
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
from Crypto.Cipher import AES, PKCS1_OAEP
from Crypto.Hash import SHA256
from Crypto.PublicKey import RSA
from Crypto.Signature import pss
from hypothesis import given, settings
from hypothesis import strategies as st

from hivemind_client.errors import (
    AuthenticationFailed,
    InvalidArgument,
    InvalidEncoding,
    InvalidJSON,
    InvalidPayload,
)
from hivemind_client.security.intercom import IntercomOpened, open_intercom, seal_intercom

ROOT = Path(__file__).resolve().parents[2]
MESSAGE = json.dumps(
    {"msg_type": "bus", "payload": {"type": "speak", "data": {"utterance": "olá"}}}
)


@pytest.fixture(scope="module")
def keys() -> dict[str, str]:
    """recipient, sender and stranger: private PEMs; *_public: their public halves."""
    path = ROOT / "conformance" / "vectors" / "intercom.json"
    vectors = json.loads(path.read_text(encoding="utf-8"))["vectors"]
    pems: list[str] = []
    for vector in vectors:
        if vector["recipient_private_pem"] not in pems:
            pems.append(vector["recipient_private_pem"])
    pems += [RSA.generate(2048).export_key().decode() for _ in range(3 - len(pems))]
    found = {"recipient": pems[0], "sender": pems[1], "stranger": pems[2]}
    for name in list(found):
        found[f"{name}_public"] = RSA.import_key(found[name]).public_key().export_key().decode()
    return found


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def unb64(text: str) -> bytes:
    return base64.b64decode(text, validate=True)


# ---------------------------------------------------------------------------------------------
# Round trips


@settings(max_examples=20)  # RSA operations are slow
@given(plaintext=st.text(max_size=3000), signed=st.booleans())
def test_round_trip(keys: dict[str, str], plaintext: str, signed: bool) -> None:
    envelope = seal_intercom(
        plaintext, keys["recipient_public"], sender_private_pem=keys["sender"] if signed else None
    )
    opened = open_intercom(envelope, keys["recipient"], sender_public_pem=keys["sender_public"])
    assert opened == IntercomOpened(plaintext, signed, signed)


def test_envelope_shape(keys: dict[str, str]) -> None:
    envelope = seal_intercom(MESSAGE, keys["recipient_public"], sender_private_pem=keys["sender"])
    assert list(envelope) == ["encrypted_key", "ciphertext", "tag", "nonce", "signature"]
    assert all(isinstance(value, str) for value in envelope.values())
    assert len(unb64(envelope["encrypted_key"])) == 256  # RSA-2048
    assert len(unb64(envelope["nonce"])) == 16
    assert len(unb64(envelope["tag"])) == 16
    assert len(unb64(envelope["ciphertext"])) == len(MESSAGE.encode())
    assert len(unb64(envelope["signature"])) == 256
    unsigned = seal_intercom(MESSAGE, keys["recipient_public"])
    assert list(unsigned) == ["encrypted_key", "ciphertext", "tag", "nonce"]


def test_envelope_opens_with_pycryptodome_directly(keys: dict[str, str]) -> None:
    # OAEP with SHA-1, AES-256-GCM, PSS-SHA256 over the raw ciphertext: no library glue
    envelope = seal_intercom(MESSAGE, keys["recipient_public"], sender_private_pem=keys["sender"])
    key = PKCS1_OAEP.new(RSA.import_key(keys["recipient"])).decrypt(
        unb64(envelope["encrypted_key"])
    )
    assert len(key) == 32
    gcm = AES.new(key, AES.MODE_GCM, nonce=unb64(envelope["nonce"]))
    data = gcm.decrypt_and_verify(unb64(envelope["ciphertext"]), unb64(envelope["tag"]))
    assert data.decode() == MESSAGE
    pss.new(RSA.import_key(keys["sender_public"])).verify(
        SHA256.new(unb64(envelope["ciphertext"])), unb64(envelope["signature"])
    )


def test_fresh_key_and_nonce_each_time(keys: dict[str, str]) -> None:
    first = seal_intercom(MESSAGE, keys["recipient_public"])
    second = seal_intercom(MESSAGE, keys["recipient_public"])
    assert first["nonce"] != second["nonce"]
    assert first["ciphertext"] != second["ciphertext"]


def test_signed_without_a_sender_key_is_signed_but_not_verified(keys: dict[str, str]) -> None:
    envelope = seal_intercom(MESSAGE, keys["recipient_public"], sender_private_pem=keys["sender"])
    assert open_intercom(envelope, keys["recipient"]) == IntercomOpened(MESSAGE, True, False)


def test_unsigned_with_a_sender_key_is_not_verified(keys: dict[str, str]) -> None:
    envelope = seal_intercom(MESSAGE, keys["recipient_public"])
    opened = open_intercom(envelope, keys["recipient"], sender_public_pem=keys["sender_public"])
    assert opened == IntercomOpened(MESSAGE, False, False)


@pytest.mark.parametrize("signed", [False, True])
def test_legacy_shape(keys: dict[str, str], signed: bool) -> None:
    # hubs up to 4.12: {ciphertext: b64(RSA-OAEP(recipient, plaintext)), signature}
    ciphertext = PKCS1_OAEP.new(RSA.import_key(keys["recipient_public"])).encrypt(MESSAGE.encode())
    envelope = {"ciphertext": b64(ciphertext)}
    if signed:
        signature = pss.new(RSA.import_key(keys["sender"])).sign(SHA256.new(ciphertext))
        envelope["signature"] = b64(signature)
    opened = open_intercom(envelope, keys["recipient"], sender_public_pem=keys["sender_public"])
    assert opened == IntercomOpened(MESSAGE, signed, signed)
    with pytest.raises(AuthenticationFailed):
        open_intercom(envelope, keys["stranger"])


# ---------------------------------------------------------------------------------------------
# Refusals


def test_signature_by_another_key_is_refused(keys: dict[str, str]) -> None:
    envelope = seal_intercom(MESSAGE, keys["recipient_public"], sender_private_pem=keys["stranger"])
    with pytest.raises(AuthenticationFailed):
        open_intercom(envelope, keys["recipient"], sender_public_pem=keys["sender_public"])


def test_wrong_recipient_is_refused(keys: dict[str, str]) -> None:
    envelope = seal_intercom(MESSAGE, keys["recipient_public"])
    with pytest.raises(AuthenticationFailed):
        open_intercom(envelope, keys["stranger"])


@pytest.mark.parametrize("field", ["ciphertext", "tag", "nonce"])
def test_every_single_bit_flip_of_the_symmetric_fields_is_refused(
    keys: dict[str, str], field: str
) -> None:
    envelope = seal_intercom("short message", keys["recipient_public"])
    raw = unb64(envelope[field])
    for index in range(len(raw)):
        for bit in range(8):
            changed = bytearray(raw)
            changed[index] ^= 1 << bit
            with pytest.raises(AuthenticationFailed):
                open_intercom({**envelope, field: b64(bytes(changed))}, keys["recipient"])


@settings(max_examples=25)
@given(
    field=st.sampled_from(["encrypted_key", "signature", "ciphertext"]),
    position=st.integers(0),
    bit=st.integers(0, 7),
)
def test_bit_flips_of_signed_envelopes_are_refused(
    keys: dict[str, str], field: str, position: int, bit: int
) -> None:
    envelope = seal_intercom(MESSAGE, keys["recipient_public"], sender_private_pem=keys["sender"])
    raw = bytearray(unb64(envelope[field]))
    raw[position % len(raw)] ^= 1 << bit
    with pytest.raises(AuthenticationFailed):
        open_intercom(
            {**envelope, field: b64(bytes(raw))},
            keys["recipient"],
            sender_public_pem=keys["sender_public"],
        )


@settings(max_examples=40)
@given(
    field=st.sampled_from(["encrypted_key", "ciphertext", "tag", "nonce"]),
    position=st.integers(0),
    bit=st.integers(0, 7),
)
def test_bit_flips_of_the_base64_text_are_refused(
    keys: dict[str, str], field: str, position: int, bit: int
) -> None:
    # at the text level a flip either breaks the base64 or changes the bytes
    envelope = seal_intercom(MESSAGE, keys["recipient_public"])
    text = bytearray(envelope[field].encode())
    text[position % len(text)] ^= 1 << bit
    with pytest.raises((AuthenticationFailed, InvalidEncoding)):
        open_intercom({**envelope, field: text.decode("latin-1")}, keys["recipient"])


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"nonce": None}, InvalidPayload),
        ({"tag": 5}, InvalidPayload),
        ({"encrypted_key": ["x"]}, InvalidPayload),
        ({"nonce": "not base64!"}, InvalidEncoding),
        ({"tag": "QR=="}, InvalidEncoding),  # non-canonical base64
        ({"nonce": ""}, AuthenticationFailed),
        ({"tag": b64(bytes(12))}, AuthenticationFailed),
        ({"signature": 7}, InvalidPayload),
    ],
)
def test_malformed_fields(
    keys: dict[str, str], change: dict[str, Any], error: type[Exception]
) -> None:
    envelope: dict[str, Any] = dict(seal_intercom(MESSAGE, keys["recipient_public"]))
    envelope.update(change)
    if change.get("nonce", 0) is None:
        del envelope["nonce"]
    with pytest.raises(error):
        open_intercom(envelope, keys["recipient"], sender_public_pem=keys["sender_public"])


def test_missing_and_wrong_shapes(keys: dict[str, str]) -> None:
    envelope = seal_intercom(MESSAGE, keys["recipient_public"])
    for name in ("encrypted_key", "ciphertext", "tag", "nonce"):
        partial = {k: v for k, v in envelope.items() if k != name}
        with pytest.raises((InvalidPayload, AuthenticationFailed)) as caught:
            open_intercom(partial, keys["recipient"])
        # without encrypted_key the envelope reads as the legacy shape, which does not decrypt
        expected = AuthenticationFailed if name == "encrypted_key" else InvalidPayload
        assert caught.type is expected
    for not_a_mapping in (["a"], "text", None, 5):
        with pytest.raises(InvalidPayload):
            open_intercom(not_a_mapping, keys["recipient"])  # type: ignore[arg-type]


def test_wrapped_key_of_a_wrong_size_is_refused(keys: dict[str, str]) -> None:
    envelope = seal_intercom(MESSAGE, keys["recipient_public"])
    rsa = PKCS1_OAEP.new(RSA.import_key(keys["recipient_public"]))
    with pytest.raises(AuthenticationFailed):
        open_intercom({**envelope, "encrypted_key": b64(rsa.encrypt(bytes(20)))}, keys["recipient"])


def test_plaintext_that_is_not_utf8_is_invalid_json(keys: dict[str, str]) -> None:
    key, nonce = bytes(range(32)), bytes(16)
    ciphertext, tag = AES.new(key, AES.MODE_GCM, nonce=nonce).encrypt_and_digest(b"\xff\xfe")
    wrapped = PKCS1_OAEP.new(RSA.import_key(keys["recipient_public"])).encrypt(key)
    envelope = {
        "encrypted_key": b64(wrapped),
        "ciphertext": b64(ciphertext),
        "tag": b64(tag),
        "nonce": b64(nonce),
    }
    with pytest.raises(InvalidJSON):
        open_intercom(envelope, keys["recipient"])


def test_key_and_plaintext_arguments(keys: dict[str, str]) -> None:
    envelope = seal_intercom(MESSAGE, keys["recipient_public"])
    with pytest.raises(InvalidArgument):
        open_intercom(envelope, keys["recipient_public"])  # not a private key
    with pytest.raises(InvalidArgument):
        open_intercom(envelope, "-----BEGIN RSA PRIVATE KEY-----\ngarbage")
    with pytest.raises(InvalidArgument):
        open_intercom(envelope, keys["recipient"], sender_public_pem="nope")
    with pytest.raises(InvalidArgument):
        seal_intercom(MESSAGE, "nope")
    with pytest.raises(InvalidArgument):
        seal_intercom(MESSAGE, keys["recipient_public"], sender_private_pem=keys["sender_public"])
    with pytest.raises(InvalidArgument):
        seal_intercom(b"bytes", keys["recipient_public"])  # type: ignore[arg-type]
    with pytest.raises(InvalidArgument):
        seal_intercom("\udc80", keys["recipient_public"])
    # a private key is acceptable where only its public half is needed
    sealed = seal_intercom(MESSAGE, keys["recipient"].encode())
    assert open_intercom(sealed, keys["recipient"]).plaintext == MESSAGE
