"""Legacy key exchange: password envelopes and keys, the RSA exchange, cipher negotiation.

Byte-for-byte agreement with poorman_handshake 1.0.1 (the reference's handshake library) is
checked by the ``password-handshake`` and ``rsa-handshake`` conformance vectors
(conformance/vectors/, run by tests/conformance/test_vectors.py).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from Crypto.Cipher import PKCS1_OAEP
from Crypto.Hash import SHA256
from Crypto.PublicKey import RSA
from Crypto.Signature import pss
from hypothesis import given, settings
from hypothesis import strategies as st

from hivemind_client.errors import HandshakeFailed, InvalidArgument
from hivemind_client.security.aead import Cipher
from hivemind_client.security.encodings import TextEncoding
from hivemind_client.security.legacy_handshake import (
    HandshakeState,
    Negotiation,
    PasswordHandshake,
    RsaHandshake,
    client_handshake_payload,
    negotiate,
)

ROOT = Path(__file__).resolve().parents[2]

# JarbasHiveMind/HiveMind-js test/vectors.json (commit 5b8f640f751a8429b35ad05a21c7ccf06573f396);
# the derivation is described in docs/protocol.md section 6.
JS_PASSWORD = "test-password-123"
JS_IV = bytes.fromhex("deadbeefcafebabe")
JS_HSUB = "deadbeefcafebabe47f0753a5a76dd104638641f6f108805"  # "hsub"
JS_SALT = bytes.fromhex("0102030405060708")  # "pbkdf2"
JS_KEY = bytes.fromhex("b0e2f9ac3479409d6e6c03adf0ec8b5b398faed914c4c520acc6986c5246bc7e")


@pytest.fixture(scope="module")
def keys() -> dict[str, str]:
    """Three fixed RSA-2048 private keys (PEM), taken from the committed intercom vectors."""
    path = ROOT / "conformance" / "vectors" / "intercom.json"
    vectors = json.loads(path.read_text(encoding="utf-8"))["vectors"]
    pems: list[str] = []
    for vector in vectors:
        if vector["recipient_private_pem"] not in pems:
            pems.append(vector["recipient_private_pem"])
    pems += [RSA.generate(2048).export_key().decode() for _ in range(3 - len(pems))]
    return {"client": pems[0], "hub": pems[1], "stranger": pems[2]}


def public(pem: str) -> str:
    return RSA.import_key(pem).public_key().export_key().decode()


# ---------------------------------------------------------------------------------------------
# Password: known answers


def test_hivemind_js_hsub_vector() -> None:
    handshake = PasswordHandshake(JS_PASSWORD, iv=JS_IV)
    assert handshake.envelope == JS_HSUB
    assert handshake.iv == JS_IV


def test_hivemind_js_pbkdf2_vector() -> None:
    # salt = iv_self XOR iv_peer, so an all-zero own IV makes the peer's IV the salt
    peer = PasswordHandshake(JS_PASSWORD, iv=JS_SALT)
    mine = PasswordHandshake(JS_PASSWORD, iv=bytes(8))
    assert mine.derive_key(peer.envelope) == JS_KEY
    assert mine.key == JS_KEY
    assert mine.state is HandshakeState.COMPLETE


def test_envelope_definition() -> None:
    iv = bytes(range(8))
    handshake = PasswordHandshake("pässword", iv=iv)
    full = (iv + hashlib.sha256(iv + "pässword".encode()).digest()).hex()
    assert handshake.envelope == full[:48]


# ---------------------------------------------------------------------------------------------
# Password: both sides


@settings(max_examples=10)  # 2 x PBKDF2 (100,000 iterations) per example
@given(
    password=st.text(min_size=1, max_size=50),  # hypothesis text has no lone surrogates
    client_iv=st.binary(min_size=8, max_size=8),
    hub_iv=st.binary(min_size=8, max_size=8),
)
def test_both_sides_derive_the_same_key(password: str, client_iv: bytes, hub_iv: bytes) -> None:
    if client_iv == hub_iv:
        hub_iv = bytes([hub_iv[0] ^ 1]) + hub_iv[1:]
    client = PasswordHandshake(password, iv=client_iv)
    hub = PasswordHandshake(password, iv=hub_iv)
    key = client.derive_key(hub.envelope)
    assert len(key) == 32
    assert hub.derive_key(client.envelope) == key
    salt = bytes(a ^ b for a, b in zip(client_iv, hub_iv, strict=True))
    assert key == hashlib.pbkdf2_hmac("sha256", password.encode(), salt, 100_000)


def test_wrong_password_fails_and_the_handshake_is_spent() -> None:
    client = PasswordHandshake("right", iv=bytes(8))
    hub = PasswordHandshake("wrong", iv=b"\x01" * 8)
    with pytest.raises(HandshakeFailed):
        client.verify(hub.envelope)
    assert client.state is HandshakeState.FAILED
    with pytest.raises(HandshakeFailed):  # even with the right envelope now
        client.verify(PasswordHandshake("right", iv=b"\x01" * 8).envelope)
    with pytest.raises(HandshakeFailed):
        _ = client.key


def test_reflected_envelope_is_refused() -> None:
    # our own envelope sent back verifies trivially and would make the salt zero
    client = PasswordHandshake("secret", iv=b"\x07" * 8)
    with pytest.raises(HandshakeFailed):
        client.derive_key(client.envelope)
    other = PasswordHandshake("secret", iv=b"\x07" * 8)  # a hub that drew the same IV
    with pytest.raises(HandshakeFailed):
        PasswordHandshake("secret", iv=b"\x07" * 8).verify(other.envelope)


def test_envelope_lengths_48_to_80_are_accepted() -> None:
    hub_iv = b"\x02" * 8
    full = (hub_iv + hashlib.sha256(hub_iv + b"pw").digest()).hex()
    for length in range(48, 81):
        PasswordHandshake("pw", iv=bytes(8)).verify(full[:length])
    for length in (0, 16, 47, 81):
        candidate = full[:length] if length <= 80 else full + "0"
        with pytest.raises(HandshakeFailed):
            PasswordHandshake("pw", iv=bytes(8)).verify(candidate)


@pytest.mark.parametrize(
    "envelope",
    [
        None,
        5,
        b"deadbeefcafebabe47f0753a5a76dd104638641f6f108805",
        JS_HSUB.upper(),
        " " + JS_HSUB[1:],
        JS_HSUB[:-1] + "g",
        JS_HSUB[:20] + " " + JS_HSUB[21:],
        ["x"],
    ],
)
def test_malformed_envelopes_are_refused(envelope: Any) -> None:
    with pytest.raises(HandshakeFailed):
        PasswordHandshake(JS_PASSWORD, iv=bytes(8)).verify(envelope)


def test_every_single_bit_change_of_the_peer_envelope_is_refused() -> None:
    hub = PasswordHandshake(JS_PASSWORD, iv=JS_IV)
    PasswordHandshake(JS_PASSWORD, iv=bytes(8)).verify(hub.envelope)  # unchanged: accepted
    raw = hub.envelope.encode("ascii")
    for index in range(len(raw)):
        for bit in range(8):
            changed = bytearray(raw)
            changed[index] ^= 1 << bit
            with pytest.raises(HandshakeFailed):
                PasswordHandshake(JS_PASSWORD, iv=bytes(8)).verify(bytes(changed).decode("latin-1"))


@pytest.mark.parametrize(
    ("password", "iv"),
    [
        ("", None),
        (None, None),
        (b"bytes", None),
        ("\udc80", None),
        ("pw", b"short"),
        ("pw", bytes(9)),
        ("pw", "8 chars!"),
    ],
)
def test_password_handshake_arguments(password: Any, iv: Any) -> None:
    with pytest.raises(InvalidArgument):
        PasswordHandshake(password, iv=iv)


def test_random_iv_and_state() -> None:
    first, second = PasswordHandshake("pw"), PasswordHandshake("pw")
    assert first.iv != second.iv
    assert len(first.envelope) == 48
    assert first.envelope[:16] == first.iv.hex()
    assert first.state is HandshakeState.STARTED
    with pytest.raises(HandshakeFailed):
        _ = first.key


# ---------------------------------------------------------------------------------------------
# RSA


def test_rsa_exchange_loopback(keys: dict[str, str]) -> None:
    client = RsaHandshake(keys["client"])
    hub = RsaHandshake(keys["hub"])
    assert client.state is HandshakeState.STARTED
    envelope, secret = hub.offer(client.public_pem)
    assert len(bytes.fromhex(envelope)) == 512  # signature (hub key) || ciphertext (client key)
    assert client.receive(envelope, hub.public_pem) == secret
    assert client.key == secret
    assert client.state is HandshakeState.COMPLETE
    with pytest.raises(HandshakeFailed):  # one envelope per exchange
        client.receive(envelope, hub.public_pem)


def test_rsa_envelope_layout(keys: dict[str, str]) -> None:
    # hex(PSS-SHA256 signature over C || C = OAEP-SHA1(client key, S)), checked with
    # PyCryptodome directly
    secret = bytes(range(32))
    envelope, _ = RsaHandshake(keys["hub"]).offer(public(keys["client"]), secret=secret)
    blob = bytes.fromhex(envelope)
    signature, ciphertext = blob[:256], blob[256:]
    pss.new(RSA.import_key(public(keys["hub"]))).verify(SHA256.new(ciphertext), signature)
    assert PKCS1_OAEP.new(RSA.import_key(keys["client"])).decrypt(ciphertext) == secret


def test_rsa_envelope_made_with_pycryptodome(keys: dict[str, str]) -> None:
    secret = bytes(range(100, 132))
    ciphertext = PKCS1_OAEP.new(RSA.import_key(public(keys["client"]))).encrypt(secret)
    signature = pss.new(RSA.import_key(keys["hub"])).sign(SHA256.new(ciphertext))
    envelope = (signature + ciphertext).hex().upper()  # unhexlify accepts either case
    assert RsaHandshake(keys["client"]).receive(envelope, public(keys["hub"])) == secret


def test_rsa_forged_signature_is_refused(keys: dict[str, str]) -> None:
    client = RsaHandshake(keys["client"])
    envelope, _ = RsaHandshake(keys["stranger"]).offer(client.public_pem)
    with pytest.raises(HandshakeFailed):
        client.receive(envelope, public(keys["hub"]))
    assert client.state is HandshakeState.FAILED
    with pytest.raises(HandshakeFailed):
        _ = client.key


def test_rsa_misaddressed_envelope_is_refused(keys: dict[str, str]) -> None:
    envelope, _ = RsaHandshake(keys["hub"]).offer(public(keys["stranger"]))
    with pytest.raises(HandshakeFailed):
        RsaHandshake(keys["client"]).receive(envelope, public(keys["hub"]))


def test_rsa_secret_of_the_wrong_size_is_refused(keys: dict[str, str]) -> None:
    ciphertext = PKCS1_OAEP.new(RSA.import_key(public(keys["client"]))).encrypt(bytes(16))
    signature = pss.new(RSA.import_key(keys["hub"])).sign(SHA256.new(ciphertext))
    with pytest.raises(HandshakeFailed):
        RsaHandshake(keys["client"]).receive((signature + ciphertext).hex(), public(keys["hub"]))


def test_rsa_single_bit_changes_are_refused(keys: dict[str, str]) -> None:
    envelope, _ = RsaHandshake(keys["hub"]).offer(public(keys["client"]))
    hub_public = public(keys["hub"])
    blob = bytes.fromhex(envelope)
    for index in range(0, len(blob), 7):  # every 7th byte, all its bits: signature and ciphertext
        for bit in range(8):
            changed = bytearray(blob)
            changed[index] ^= 1 << bit
            with pytest.raises(HandshakeFailed):
                RsaHandshake(keys["client"]).receive(bytes(changed).hex(), hub_public)


@pytest.mark.parametrize("change", ["truncate", "extend", "not-hex", "space", "not-str"])
def test_rsa_malformed_envelopes(keys: dict[str, str], change: str) -> None:
    envelope, _ = RsaHandshake(keys["hub"]).offer(public(keys["client"]))
    changed: Any = {
        "truncate": envelope[:-2],
        "extend": envelope + "00",
        "not-hex": "zz" + envelope[2:],
        "space": envelope[:10] + " " + envelope[10:],
        "not-str": bytes.fromhex(envelope),
    }[change]
    with pytest.raises(HandshakeFailed):
        RsaHandshake(keys["client"]).receive(changed, public(keys["hub"]))


def test_rsa_key_arguments(keys: dict[str, str]) -> None:
    with pytest.raises(InvalidArgument):
        RsaHandshake("not a pem")
    with pytest.raises(InvalidArgument):
        RsaHandshake(public(keys["client"]))  # a public key cannot decrypt
    with pytest.raises(InvalidArgument):
        RsaHandshake(keys["client"]).receive("00", "garbage")
    with pytest.raises(InvalidArgument):
        RsaHandshake(keys["hub"]).offer(public(keys["client"]), secret=bytes(31))
    handshake = RsaHandshake(keys["client"].encode())
    assert handshake.private_pem.startswith("-----BEGIN RSA PRIVATE KEY-----")
    assert handshake.public_pem == public(keys["client"])


# ---------------------------------------------------------------------------------------------
# Negotiation and the client's HANDSHAKE


ALL_CIPHERS = ["CHACHA20-POLY1305", "AES-GCM"]  # hivemind-core's default order
ALL_ENCODINGS = [
    "JSON-B64",
    "JSON-URLSAFE-B64",
    "JSON-B32",
    "JSON-HEX",
    "JSON-Z85P",
    "JSON-Z85B",
    "JSON-B91",
]


def test_preference_follows_the_cpu_not_the_hub() -> None:
    with_aes = negotiate(ALL_CIPHERS, ALL_ENCODINGS, aes_hardware=True)
    without = negotiate(ALL_CIPHERS, ALL_ENCODINGS, aes_hardware=False)
    assert with_aes.ciphers == (Cipher.AES_GCM, Cipher.CHACHA20_POLY1305)
    assert without.ciphers == (Cipher.CHACHA20_POLY1305, Cipher.AES_GCM)
    assert with_aes.encodings[0] is TextEncoding.JSON_B64
    assert with_aes.encodings[-1] is TextEncoding.JSON_B91
    assert set(with_aes.encodings) == set(TextEncoding)


@given(
    ciphers=st.lists(st.sampled_from([*ALL_CIPHERS, "AES-CBC", "ROT13"]), unique=True),
    encodings=st.lists(st.sampled_from([*ALL_ENCODINGS, "JSON-B85"]), unique=True),
    aes_hardware=st.booleans(),
)
def test_negotiation_offers_only_what_the_hub_allows(
    ciphers: list[str], encodings: list[str], aes_hardware: bool
) -> None:
    known_ciphers = [c for c in ciphers if c in ALL_CIPHERS]
    known_encodings = [e for e in encodings if e in ALL_ENCODINGS]
    if not known_ciphers or not known_encodings:
        with pytest.raises(HandshakeFailed):
            negotiate(ciphers, encodings, aes_hardware=aes_hardware)
        return
    offer = negotiate(ciphers, encodings, aes_hardware=aes_hardware)
    assert set(offer.ciphers) == set(known_ciphers)
    assert set(offer.encodings) == set(known_encodings)
    if TextEncoding.JSON_B91 in offer.encodings and len(offer.encodings) > 1:
        assert offer.encodings[0] is not TextEncoding.JSON_B91
    if len(offer.ciphers) == 2:
        assert (offer.ciphers[0] is Cipher.AES_GCM) == aes_hardware


def test_hub_without_lists_knows_only_the_defaults() -> None:
    # hivemind-core 3.0.x sends no "ciphers"/"encodings": AES-GCM with JSON-HEX only
    # and the first 16 bytes of the key (AES-128): docs/protocol.md section 6 (3.0.x hubs)
    offer = negotiate(None, None)
    assert offer == Negotiation((Cipher.AES_GCM,), (TextEncoding.JSON_HEX,), 16)
    assert negotiate(ALL_CIPHERS, ALL_ENCODINGS).key_size == 32


@pytest.mark.parametrize("lists", [("AES-GCM", ["JSON-HEX"]), (["AES-GCM"], 5), ({"a": 1}, None)])
def test_offer_lists_must_be_lists(lists: tuple[Any, Any]) -> None:
    with pytest.raises(HandshakeFailed):
        negotiate(*lists)


def test_hub_answer() -> None:
    offer = negotiate(ALL_CIPHERS, ALL_ENCODINGS, aes_hardware=False)
    assert offer.accept(
        {"envelope": "..", "cipher": "CHACHA20-POLY1305", "encoding": "JSON-B64"}
    ) == (Cipher.CHACHA20_POLY1305, TextEncoding.JSON_B64)
    assert offer.accept({"envelope": ".."}) == (Cipher.AES_GCM, TextEncoding.JSON_HEX)
    assert offer.accept({"cipher": None, "encoding": ""}) == (Cipher.AES_GCM, TextEncoding.JSON_HEX)
    for answer in (
        {"cipher": "AES-CBC"},
        {"encoding": "JSON-B85"},
        {"cipher": ["AES-GCM"]},
        {"encoding": 3},
    ):
        with pytest.raises(HandshakeFailed):
            offer.accept(answer)
    with pytest.raises(HandshakeFailed):
        offer.accept(["not", "a", "mapping"])  # type: ignore[arg-type]


def test_hub_answer_outside_our_offer_is_refused() -> None:
    # one acceptance rule for the session and the handshake objects: named or defaulted (a
    # missing field is AES-GCM / JSON-HEX), the choice must be one we offered
    offer = Negotiation((Cipher.CHACHA20_POLY1305,), (TextEncoding.JSON_B64,))
    for answer in ({"cipher": "AES-GCM"}, {"encoding": "JSON-HEX"}, {}):
        with pytest.raises(HandshakeFailed, match="did not offer"):
            offer.accept(answer)
    assert offer.accept({"cipher": "CHACHA20-POLY1305", "encoding": "JSON-B64"}) == (
        Cipher.CHACHA20_POLY1305,
        TextEncoding.JSON_B64,
    )
    assert Negotiation((Cipher.AES_GCM,), (TextEncoding.JSON_HEX,)).accept({}) == (
        Cipher.AES_GCM,
        TextEncoding.JSON_HEX,
    )


def test_client_handshake_payload() -> None:
    offer = negotiate(ALL_CIPHERS, ALL_ENCODINGS, aes_hardware=True)
    password = client_handshake_payload(offer, binarize=True, envelope=JS_HSUB)
    assert password == {
        "binarize": True,
        "encodings": [
            "JSON-B64",
            "JSON-URLSAFE-B64",
            "JSON-HEX",
            "JSON-B32",
            "JSON-Z85P",
            "JSON-Z85B",
            "JSON-B91",
        ],
        "ciphers": ["AES-GCM", "CHACHA20-POLY1305"],
        "envelope": JS_HSUB,
    }
    json.dumps(password)  # plain JSON values, no enum members needed
    assert all(type(value) is str for value in password["encodings"] + password["ciphers"])
    rsa = client_handshake_payload(offer, binarize=False, pubkey="PEM")
    assert rsa["pubkey"] == "PEM"
    assert "envelope" not in rsa
    assert rsa["binarize"] is False
    with pytest.raises(InvalidArgument):
        client_handshake_payload(offer, binarize=False)
    with pytest.raises(InvalidArgument):
        client_handshake_payload(offer, binarize=False, envelope="e", pubkey="p")
