"""AEAD envelopes: known answers, round trips, tamper detection, and every error path.

Interoperability with the reference client (both directions, every cipher, key size and
encoding) is checked by the ``cipher-json`` and ``cipher-binary`` conformance vectors
(conformance/vectors/, run by tests/conformance/test_vectors.py).
"""

from __future__ import annotations

import json
import os
from typing import Any

import pytest
from Crypto.Cipher import AES, ChaCha20_Poly1305
from hypothesis import given
from hypothesis import strategies as st

from hivemind_client.errors import (
    AuthenticationFailed,
    InvalidArgument,
    InvalidEncoding,
    InvalidJSON,
    InvalidKeySize,
    InvalidPayload,
    UnknownCipher,
)
from hivemind_client.security import aead as crypto
from hivemind_client.security.aead import (
    CIPHERS,
    Cipher,
    cpu_has_aes,
    nonce_size,
    open_binary,
    open_json,
    preferred_ciphers,
    seal_binary,
    seal_json,
)
from hivemind_client.security.encodings import ENCODINGS, decode_text, encode_text

KEY_SIZES = {Cipher.AES_GCM: (16, 24, 32), Cipher.CHACHA20_POLY1305: (32,)}
CIPHER_KEYS = [(cipher, size) for cipher in CIPHERS for size in KEY_SIZES[cipher]]

# JarbasHiveMind/HiveMind-js test/vectors.json (commit 5b8f640f751a8429b35ad05a21c7ccf06573f396),
# "aes_gcm": the key is that file's PBKDF2 vector, the nonce is 16 bytes, no AAD.
JS_KEY = bytes.fromhex("b0e2f9ac3479409d6e6c03adf0ec8b5b398faed914c4c520acc6986c5246bc7e")
JS_PLAINTEXT = '{"msg_type":"bus","payload":"test"}'
JS_NONCE = bytes.fromhex("00112233445566778899aabbccddeeff")
JS_CIPHERTEXT = bytes.fromhex(
    "b047e2a2679dfed698b2fdd8c80a36eed427d7bee172e22fd96dbc3e0ee211126ea32d"
)
JS_TAG = bytes.fromhex("7cbdd1106901fef79e50e70e8159d275")


def _envelope(encoding: str, ciphertext: bytes, tag: bytes, nonce: bytes) -> str:
    return json.dumps(
        {
            "ciphertext": encode_text(ciphertext, encoding),
            "tag": encode_text(tag, encoding),
            "nonce": encode_text(nonce, encoding),
        }
    )


# ---------------------------------------------------------------------------------------------
# Known answers


def test_hivemind_js_aes_gcm_vector_opens() -> None:
    blob = JS_NONCE + JS_CIPHERTEXT + JS_TAG
    assert open_binary(blob, JS_KEY, cipher="AES-GCM") == JS_PLAINTEXT.encode()
    for encoding in ENCODINGS:
        envelope = _envelope(encoding, JS_CIPHERTEXT, JS_TAG, JS_NONCE)
        assert open_json(envelope, JS_KEY, cipher="AES-GCM", encoding=encoding) == JS_PLAINTEXT


def test_hivemind_js_aes_gcm_vector_seals() -> None:
    # the engine behind seal_json/seal_binary, with the vector's fixed nonce
    sealed = crypto._AesGcm(JS_KEY).seal_joined(JS_NONCE, JS_PLAINTEXT.encode())
    assert sealed == JS_CIPHERTEXT + JS_TAG


# ---------------------------------------------------------------------------------------------
# Our AES-GCM engine (OpenSSL via cryptography) against an independent one (PyCryptodome)


@given(
    key_size=st.sampled_from([16, 24, 32]),
    nonce=st.one_of(st.binary(min_size=16, max_size=16), st.binary(min_size=8, max_size=40)),
    data=st.one_of(st.binary(max_size=300), st.binary(min_size=4000, max_size=4300)),
    seed=st.binary(min_size=32, max_size=32),
)
def test_aes_gcm_matches_pycryptodome(
    key_size: int, nonce: bytes, data: bytes, seed: bytes
) -> None:
    key = seed[:key_size]
    engine = crypto._AesGcm(key)
    expected = AES.new(key, AES.MODE_GCM, nonce=nonce, mac_len=16).encrypt_and_digest(data)
    assert engine.seal_joined(nonce, data) == b"".join(expected)
    assert engine.open(nonce, *expected) == data


@pytest.mark.parametrize("nonce_size", [0, 7, 129])
def test_aes_gcm_refuses_nonce_sizes_openssl_cannot_take(nonce_size: int) -> None:
    with pytest.raises(AuthenticationFailed):
        crypto._AesGcm(bytes(32)).open(bytes(nonce_size), b"data", bytes(16))


@given(
    data=st.binary(max_size=500),
    nonce=st.binary(min_size=12, max_size=12),
    key=st.binary(min_size=32, max_size=32),
)
def test_chacha_matches_pycryptodome(data: bytes, nonce: bytes, key: bytes) -> None:
    # libsodium (PyNaCl) against PyCryptodome's independent ChaCha20-Poly1305
    ciphertext, tag = ChaCha20_Poly1305.new(key=key, nonce=nonce).encrypt_and_digest(data)
    assert open_binary(nonce + ciphertext + tag, key, cipher="CHACHA20-POLY1305") == data
    engine = crypto._cached_engine(Cipher.CHACHA20_POLY1305, key)
    assert engine.seal_joined(nonce, data) == ciphertext + tag


# ---------------------------------------------------------------------------------------------
# Round trips


@pytest.mark.parametrize(("cipher", "key_size"), CIPHER_KEYS)
@pytest.mark.parametrize("encoding", list(ENCODINGS))
@given(plaintext=st.text(max_size=400), seed=st.binary(min_size=32, max_size=32))
def test_json_round_trip(
    cipher: Cipher, key_size: int, encoding: str, plaintext: str, seed: bytes
) -> None:
    key = seed[:key_size]
    envelope = seal_json(plaintext, key, cipher=cipher, encoding=encoding)
    assert open_json(envelope, key, cipher=cipher, encoding=encoding) == plaintext
    assert open_json(envelope.encode(), key, cipher=cipher, encoding=encoding) == plaintext
    assert open_json(json.loads(envelope), key, cipher=cipher, encoding=encoding) == plaintext


@pytest.mark.parametrize(("cipher", "key_size"), CIPHER_KEYS)
@given(data=st.binary(max_size=5000), seed=st.binary(min_size=32, max_size=32))
def test_binary_round_trip(cipher: Cipher, key_size: int, data: bytes, seed: bytes) -> None:
    key = seed[:key_size]
    blob = seal_binary(data, key, cipher=cipher)
    assert len(blob) == nonce_size(cipher) + len(data) + 16
    assert open_binary(blob, key, cipher=cipher) == data
    assert open_binary(bytearray(blob), key, cipher=cipher) == data
    assert open_binary(memoryview(blob), key, cipher=cipher) == data


@pytest.mark.parametrize("cipher", CIPHERS)
def test_one_mebibyte_binary_round_trip(cipher: Cipher) -> None:
    data = os.urandom(1 << 20)
    key = os.urandom(32)
    assert open_binary(seal_binary(data, key, cipher=cipher), key, cipher=cipher) == data


@pytest.mark.parametrize("cipher", CIPHERS)
@pytest.mark.parametrize("encoding", list(ENCODINGS))
def test_envelope_is_the_reference_shape(cipher: Cipher, encoding: str) -> None:
    # key order ciphertext, tag, nonce; json.dumps defaults: ", " and ": ", non-ASCII escaped
    key = bytes(32)
    envelope = seal_json('{"a": "é"}', key, cipher=cipher, encoding=encoding)
    fields = json.loads(envelope)
    assert list(fields) == ["ciphertext", "tag", "nonce"]
    assert json.dumps(fields) == envelope
    assert envelope.isascii()
    assert len(decode_text(fields["nonce"], encoding)) == nonce_size(cipher)
    assert len(decode_text(fields["tag"], encoding)) == 16
    assert len(decode_text(fields["ciphertext"], encoding)) == len('{"a": "é"}'.encode())


@pytest.mark.parametrize("cipher", CIPHERS)
def test_nonces_are_fresh(cipher: Cipher) -> None:
    key = bytes(32)
    nonces = {json.loads(seal_json("x", key, cipher=cipher))["nonce"] for _ in range(50)}
    assert len(nonces) == 50
    blobs = {seal_binary(b"x", key, cipher=cipher)[: nonce_size(cipher)] for _ in range(50)}
    assert len(blobs) == 50


@pytest.mark.parametrize("cipher", CIPHERS)
@pytest.mark.parametrize("encoding", ["JSON-B64", "JSON-HEX"])
def test_tag_appended_to_ciphertext_is_accepted(cipher: Cipher, encoding: str) -> None:
    # Web Crypto returns ciphertext || tag; such senders leave the tag field out
    key = os.urandom(32)
    fields = json.loads(seal_json("hello", key, cipher=cipher, encoding=encoding))
    joined = decode_text(fields["ciphertext"], encoding) + decode_text(fields["tag"], encoding)
    envelope = {"ciphertext": encode_text(joined, encoding), "nonce": fields["nonce"]}
    assert open_json(envelope, key, cipher=cipher, encoding=encoding) == "hello"
    short = {"ciphertext": encode_text(joined[:15], encoding), "nonce": fields["nonce"]}
    with pytest.raises(AuthenticationFailed):
        open_json(short, key, cipher=cipher, encoding=encoding)


def test_twelve_byte_aes_nonce_is_accepted() -> None:
    # GCM's standard 96-bit nonce (what a Web Crypto sender may use); the reference accepts it
    key, nonce = os.urandom(32), os.urandom(12)
    ciphertext, tag = AES.new(key, AES.MODE_GCM, nonce=nonce).encrypt_and_digest(b"hi")
    with pytest.raises(AuthenticationFailed):  # binary frames always carry a 16-byte nonce
        open_binary(nonce + ciphertext + tag, key, cipher="AES-GCM")
    envelope = _envelope("JSON-B64", ciphertext, tag, nonce)
    assert open_json(envelope, key, cipher="AES-GCM", encoding="JSON-B64") == "hi"


# ---------------------------------------------------------------------------------------------
# Tampering: any single-bit change is refused


def _classify(changed: bytes, encoding: str) -> type[Exception]:
    """The error a changed envelope must raise, worked out independently of open_json.

    Not UTF-8 or not JSON: InvalidJSON. Not an object, or ciphertext/nonce missing or not a
    string, or tag present but not a string: InvalidPayload. A field that does not decode in
    the encoding: InvalidEncoding. Everything else is well formed, so the AEAD must refuse it:
    AuthenticationFailed.
    """
    try:
        fields = json.loads(changed.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return InvalidJSON
    if not isinstance(fields, dict):
        return InvalidPayload
    names = ["ciphertext", "nonce"] + (["tag"] if "tag" in fields else [])
    if any(not isinstance(fields.get(name), str) for name in names):
        return InvalidPayload
    for name in names:
        try:
            decode_text(fields[name], encoding)
        except InvalidEncoding:
            return InvalidEncoding
    return AuthenticationFailed


@pytest.mark.parametrize("cipher", CIPHERS)
@pytest.mark.parametrize("encoding", list(ENCODINGS))
def test_every_single_bit_flip_of_a_json_envelope_is_refused(cipher: Cipher, encoding: str) -> None:
    key = os.urandom(32)
    envelope = seal_json('{"type": "ping"}', key, cipher=cipher, encoding=encoding).encode()
    seen: set[type[Exception]] = set()
    for index in range(len(envelope)):
        for bit in range(8):
            changed = bytearray(envelope)
            changed[index] ^= 1 << bit
            expected = _classify(bytes(changed), encoding)
            with pytest.raises(expected):
                open_json(bytes(changed), key, cipher=cipher, encoding=encoding)
            seen.add(expected)
    # structural flips, field-text flips and value flips all occurred
    assert {InvalidJSON, AuthenticationFailed} <= seen


@pytest.mark.parametrize("cipher", CIPHERS)
def test_every_single_bit_flip_of_a_binary_blob_is_refused(cipher: Cipher) -> None:
    key = os.urandom(32)
    blob = seal_binary(b"binary frame payload", key, cipher=cipher)
    for index in range(len(blob)):
        for bit in range(8):
            changed = bytearray(blob)
            changed[index] ^= 1 << bit
            with pytest.raises(AuthenticationFailed):
                open_binary(bytes(changed), key, cipher=cipher)


@pytest.mark.parametrize(("cipher", "key_size"), CIPHER_KEYS)
@given(
    data=st.binary(max_size=2000),
    position=st.integers(0),
    bit=st.integers(0, 7),
    seed=st.binary(min_size=32, max_size=32),
)
def test_random_bit_flip_of_any_blob_is_refused(
    cipher: Cipher, key_size: int, data: bytes, position: int, bit: int, seed: bytes
) -> None:
    key = seed[:key_size]
    blob = bytearray(seal_binary(data, key, cipher=cipher))
    blob[position % len(blob)] ^= 1 << bit
    with pytest.raises(AuthenticationFailed):
        open_binary(bytes(blob), key, cipher=cipher)


@pytest.mark.parametrize("cipher", CIPHERS)
@pytest.mark.parametrize("encoding", list(ENCODINGS))
@given(plaintext=st.text(min_size=1, max_size=200), position=st.integers(0), bit=st.integers(0, 7))
def test_random_bit_flip_of_any_envelope_is_refused(
    cipher: Cipher, encoding: str, plaintext: str, position: int, bit: int
) -> None:
    key = bytes(32)
    envelope = bytearray(seal_json(plaintext, key, cipher=cipher, encoding=encoding).encode())
    envelope[position % len(envelope)] ^= 1 << bit
    with pytest.raises(_classify(bytes(envelope), encoding)):
        open_json(bytes(envelope), key, cipher=cipher, encoding=encoding)


@pytest.mark.parametrize(("cipher", "key_size"), CIPHER_KEYS)
def test_wrong_key_is_refused(cipher: Cipher, key_size: int) -> None:
    key = os.urandom(key_size)
    other = bytes([key[0] ^ 1]) + key[1:]
    with pytest.raises(AuthenticationFailed):
        open_json(seal_json("x", key, cipher=cipher), other, cipher=cipher)
    with pytest.raises(AuthenticationFailed):
        open_binary(seal_binary(b"x", key, cipher=cipher), other, cipher=cipher)


def test_envelope_of_the_other_cipher_is_refused() -> None:
    key = os.urandom(32)
    aes = seal_json("x", key, cipher="AES-GCM", encoding="JSON-B64")
    chacha = seal_json("x", key, cipher="CHACHA20-POLY1305", encoding="JSON-B64")
    with pytest.raises(AuthenticationFailed):  # 16-byte nonce: not a ChaCha20-Poly1305 nonce
        open_json(aes, key, cipher="CHACHA20-POLY1305", encoding="JSON-B64")
    with pytest.raises(AuthenticationFailed):
        open_json(chacha, key, cipher="AES-GCM", encoding="JSON-B64")


@pytest.mark.parametrize(
    ("cipher", "size"),
    [("AES-GCM", n) for n in (0, 1, 15, 16, 31)]
    + [("CHACHA20-POLY1305", n) for n in (0, 1, 11, 12, 27)],
)
def test_blob_shorter_than_nonce_and_tag_is_refused(cipher: str, size: int) -> None:
    with pytest.raises(AuthenticationFailed):
        open_binary(bytes(size), bytes(32), cipher=cipher)


def test_empty_aes_nonce_and_bad_tag_sizes_are_refused() -> None:
    key = bytes(32)
    fields = json.loads(seal_json("x", key, cipher="AES-GCM", encoding="JSON-HEX"))
    for change in ({"nonce": ""}, {"tag": fields["tag"][:-2]}, {"tag": fields["tag"] + "00"}):
        with pytest.raises(AuthenticationFailed):
            open_json({**fields, **change}, key, cipher="AES-GCM", encoding="JSON-HEX")


# ---------------------------------------------------------------------------------------------
# Argument and envelope errors


@pytest.mark.parametrize(
    ("cipher", "size"),
    [("AES-GCM", n) for n in (0, 8, 15, 17, 31, 33, 64)]
    + [("CHACHA20-POLY1305", n) for n in (0, 16, 24, 31, 33)],
)
def test_bad_key_size(cipher: str, size: int) -> None:
    key = bytes(size)
    with pytest.raises(InvalidKeySize):
        seal_json("x", key, cipher=cipher)
    with pytest.raises(InvalidKeySize):
        open_json('{"ciphertext": "", "tag": "", "nonce": ""}', key, cipher=cipher)
    with pytest.raises(InvalidKeySize):
        seal_binary(b"x", key, cipher=cipher)
    with pytest.raises(InvalidKeySize):
        open_binary(bytes(64), key, cipher=cipher)


@pytest.mark.parametrize("cipher", ["AES-CBC", "aes-gcm", "CHACHA20", "", None, 7, ["AES-GCM"]])
def test_unknown_cipher(cipher: Any) -> None:
    for call in (
        lambda: seal_json("x", bytes(32), cipher=cipher),
        lambda: open_json("{}", bytes(32), cipher=cipher),
        lambda: seal_binary(b"x", bytes(32), cipher=cipher),
        lambda: open_binary(bytes(64), bytes(32), cipher=cipher),
        lambda: nonce_size(cipher),
    ):
        with pytest.raises(UnknownCipher):
            call()


@pytest.mark.parametrize("encoding", ["JSON-B85", "JSON-b64", "", None, 1])
def test_unknown_encoding(encoding: Any) -> None:
    with pytest.raises(InvalidEncoding):
        seal_json("x", bytes(32), encoding=encoding)
    with pytest.raises(InvalidEncoding):
        open_json(seal_json("x", bytes(32)), bytes(32), encoding=encoding)


def test_argument_types() -> None:
    with pytest.raises(InvalidArgument):
        seal_json("x", "a string key of 32 characters!!!")  # type: ignore[arg-type]
    with pytest.raises(InvalidArgument):
        seal_json(12, bytes(32))  # type: ignore[arg-type]
    with pytest.raises(InvalidArgument):
        seal_json("\udc80", bytes(32))  # lone surrogate: not UTF-8
    with pytest.raises(InvalidArgument):
        seal_binary("text", bytes(32))  # type: ignore[arg-type]
    with pytest.raises(InvalidArgument):
        open_binary("text", bytes(32))  # type: ignore[arg-type]
    with pytest.raises(InvalidArgument):
        open_json(12, bytes(32))  # type: ignore[arg-type]
    assert open_json(seal_json(b"raw", bytearray(32)), memoryview(bytes(32))) == "raw"


@pytest.mark.parametrize(
    ("envelope", "error"),
    [
        ("", InvalidJSON),
        ("{", InvalidJSON),
        (b"\xff\xfe{}", InvalidJSON),
        ('{"ciphertext": "00"', InvalidJSON),
        ("[1, 2]", InvalidPayload),
        ('"text"', InvalidPayload),
        ("{}", InvalidPayload),
        ('{"ciphertext": "00", "tag": "00"}', InvalidPayload),
        ('{"nonce": "00", "tag": "00"}', InvalidPayload),
        ('{"ciphertext": 1, "tag": "00", "nonce": "00"}', InvalidPayload),
        ('{"ciphertext": "00", "tag": null, "nonce": "00"}', InvalidPayload),
        ('{"ciphertext": "00", "tag": ["00"], "nonce": "00"}', InvalidPayload),
        ('{"ciphertext": "0", "tag": "00", "nonce": "00"}', InvalidEncoding),
        ('{"ciphertext": "00", "tag": "00", "nonce": "é0"}', InvalidEncoding),
        ("[" * 100_000 + "]" * 100_000, InvalidJSON),
    ],
)
def test_malformed_envelopes(envelope: str | bytes, error: type[Exception]) -> None:
    with pytest.raises(error):
        open_json(envelope, bytes(32), cipher="AES-GCM", encoding="JSON-HEX")


def test_plaintext_that_is_not_utf8_is_invalid_json() -> None:
    key = bytes(32)
    with pytest.raises(InvalidJSON):
        open_json(seal_json(b"\xff\xfe", key), key)


# ---------------------------------------------------------------------------------------------
# Cipher preference


def test_preferred_ciphers() -> None:
    assert preferred_ciphers(aes_hardware=True) == (Cipher.AES_GCM, Cipher.CHACHA20_POLY1305)
    assert preferred_ciphers(aes_hardware=False) == (Cipher.CHACHA20_POLY1305, Cipher.AES_GCM)
    assert preferred_ciphers() == preferred_ciphers(aes_hardware=cpu_has_aes())


def test_cpu_flag_parsing() -> None:
    x86 = "processor\t: 0\nflags\t\t: fpu vme sse2 aes avx2\n"
    arm = "processor\t: 0\nFeatures\t: fp asimd evtstrm aes pmull sha1\n"
    plain = "processor\t: 0\nflags\t\t: fpu vme sse2 avx2 vaes_like\n"
    assert crypto._lists_aes(x86.splitlines())
    assert crypto._lists_aes(arm.splitlines())
    assert not crypto._lists_aes(plain.splitlines())
    assert not crypto._lists_aes([])
    with open("/proc/cpuinfo", encoding="utf-8") as info:
        assert cpu_has_aes() == (" aes " in " ".join(info.read().split()) + " ")


def test_names() -> None:
    assert [cipher.value for cipher in CIPHERS] == ["AES-GCM", "CHACHA20-POLY1305"]
    assert nonce_size("AES-GCM") == 16
    assert nonce_size(Cipher.CHACHA20_POLY1305) == 12
    assert crypto.DEFAULT_CIPHER == "AES-GCM"
    assert crypto.DEFAULT_ENCODING == "JSON-HEX"


def _outcome(envelope: str | dict[str, Any], key: bytes, encoding: str) -> object:
    try:
        return open_json(envelope, key, encoding=encoding)
    except (InvalidEncoding, InvalidJSON, InvalidPayload, AuthenticationFailed) as exc:
        return type(exc)


EDITS = st.sampled_from(
    ['"', "\\", "\\u0041", "\x00", "\x1f", "\x7f", " ", "}", ",", "é", "=", "A"]
)


@pytest.mark.parametrize("encoding", ["JSON-B64", "JSON-HEX", "JSON-Z85B"])
@given(
    plaintext=st.text(max_size=60),
    edits=st.lists(st.tuples(st.integers(0), st.integers(0, 2), EDITS), max_size=3),
)
def test_envelope_text_reads_as_its_json_does(
    encoding: str, plaintext: str, edits: list[tuple[int, int, str]]
) -> None:
    # open_json reads the layout seal_json writes without a JSON pass; any text must still
    # give exactly what reading it as JSON first gives (the value, or the error class)
    key = bytes(range(32))
    text = seal_json(plaintext, key, encoding=encoding)
    for position, action, edit in edits:
        at = position % (len(text) + 1)
        if action == 0:
            text = text[:at] + edit + text[at:]
        elif action == 1:
            text = text[:at] + edit + text[at + 1 :]
        else:
            text = text[:at] + text[at + 1 :]
    try:
        parsed: object = json.loads(text)
    except ValueError:
        parsed = InvalidJSON
    expected = _outcome(parsed, key, encoding) if isinstance(parsed, dict) else parsed
    if not isinstance(parsed, dict) and parsed is not InvalidJSON:
        expected = InvalidPayload
    assert _outcome(text, key, encoding) == expected
    if not edits:
        assert expected == plaintext


def test_envelope_with_tag_appended_and_escapes_reads_as_json() -> None:
    key = bytes(range(32))
    text = seal_json("hello", key, encoding="JSON-B64")
    fields = json.loads(text)
    escaped = text.replace('"tag"', '"t\\u0061g"')
    assert open_json(escaped, key, encoding="JSON-B64") == "hello"
    # a nonce field cut short at the closing quote is not read as empty
    cut = text[: text.index('"nonce": "') + len('"nonce": "')] + "}"
    with pytest.raises(InvalidJSON):
        open_json(cut, key, encoding="JSON-B64")
    assert open_json(fields, key, encoding="JSON-B64") == "hello"


def test_seal_binary_with_a_chosen_nonce() -> None:
    from hivemind_client.security.aead import seal_binary_with_nonce

    key = bytes(range(32))
    for cipher, size in (("AES-GCM", 16), ("CHACHA20-POLY1305", 12)):
        nonce = bytes([7]) * size
        blob = seal_binary_with_nonce(b"data", key, nonce, cipher=cipher)
        assert blob[:size] == nonce
        assert open_binary(blob, key, cipher=cipher) == b"data"
        with pytest.raises(InvalidKeySize):
            seal_binary_with_nonce(b"data", key, nonce[:-1], cipher=cipher)
