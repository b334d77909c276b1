"""The seven binary-to-text encodings: known answers, models, round trips and strict decoding.

The fast implementations (lane arithmetic, windows) are held to plain per-character models
written here from the definitions in docs/protocol.md section 5. Agreement with the
reference client byte for byte is checked by the ``text-encoding`` conformance vectors
(conformance/vectors/text-encoding.json, run by tests/conformance/test_vectors.py).
"""

from __future__ import annotations

import base64
import struct
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from hivemind_client.errors import InvalidArgument, InvalidEncoding
from hivemind_client.security import encodings
from hivemind_client.security.encodings import ENCODINGS, TextEncoding, decode_text, encode_text

Z85 = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#"
B91 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789!#$%&()*+,./:;<=>?@[]^_`{|}~"'
ALPHABETS = {
    "JSON-HEX": "0123456789abcdef",
    "JSON-B64": "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=",
    "JSON-URLSAFE-B64": "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_=",
    "JSON-B32": "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567=",
    "JSON-Z85B": Z85,
    "JSON-Z85P": Z85 + "\x00\x01\x02\x03",
    "JSON-B91": B91,
}


# ---------------------------------------------------------------------------------------------
# Models: one character at a time, straight from the definitions.


def model_z85p(data: bytes) -> str:
    padding = (4 - len(data) % 4) % 4
    padded = data + bytes(padding)
    out = [chr(padding)]
    for (word,) in struct.iter_unpack(">I", padded):
        out.extend(Z85[(word // 85**power) % 85] for power in (4, 3, 2, 1, 0))
    return "".join(out)


def model_z85b(data: bytes) -> str:
    padding = [0, 3, 2, 1][len(data) % 4]
    padded = data + bytes(padding)
    out = []
    for (word,) in struct.iter_unpack("<I", padded):
        out.extend(Z85[(word // 85**power) % 85] for power in range(5))
    return "".join(out[: len(out) - padding])


def model_b91(data: bytes) -> str:
    bits = count = 0
    out = []
    for byte in data:
        bits |= byte << count
        count += 8
        if count > 13:
            value = bits & 8191
            if value > 88:
                bits >>= 13
                count -= 13
            else:
                value = bits & 16383
                bits >>= 14
                count -= 14
            out += [B91[value % 91], B91[value // 91]]
    if count:
        out.append(B91[bits % 91])
        if count > 7 or bits > 90:
            out.append(B91[bits // 91])
    return "".join(out)


def model_b91_decode(text: str) -> bytes:
    """Henke's decoder, lenient like the reference: accepts non-canonical text."""
    value, bits, count = -1, 0, 0
    out = bytearray()
    for char in text:
        digit = B91.index(char)
        if value < 0:
            value = digit
            continue
        value += digit * 91
        bits |= value << count
        count += 13 if (value & 8191) > 88 else 14
        while count > 7:
            out.append(bits & 255)
            bits >>= 8
            count -= 8
        value = -1
    if value >= 0:
        out.append((bits | value << count) & 255)
    return bytes(out)


MODELS = {
    "JSON-HEX": lambda data: data.hex(),
    "JSON-B64": lambda data: base64.b64encode(data).decode(),
    "JSON-URLSAFE-B64": lambda data: base64.urlsafe_b64encode(data).decode(),
    "JSON-B32": lambda data: base64.b32encode(data).decode(),
    "JSON-Z85P": model_z85p,
    "JSON-Z85B": model_z85b,
    "JSON-B91": model_b91,
}


# ---------------------------------------------------------------------------------------------
# Known answers, each with its source


RFC4648_SAMPLES = [b"", b"f", b"fo", b"foo", b"foob", b"fooba", b"foobar"]
# RFC 4648 section 10 ("Test Vectors"), BASE64 / BASE32 / BASE16 (lowercased: JSON-HEX is
# binascii.hexlify's lowercase).
RFC4648_B64 = ["", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"]
RFC4648_B32 = ["", "MY======", "MZXQ====", "MZXW6===", "MZXW6YQ=", "MZXW6YTB", "MZXW6YTBOI======"]
RFC4648_B16 = ["", "66", "666f", "666f6f", "666f6f62", "666f6f6261", "666f6f626172"]


@pytest.mark.parametrize(
    ("encoding", "expected"),
    [
        ("JSON-B64", RFC4648_B64),
        ("JSON-URLSAFE-B64", RFC4648_B64),
        ("JSON-B32", RFC4648_B32),
        ("JSON-HEX", RFC4648_B16),
    ],
)
def test_rfc4648_vectors(encoding: str, expected: list[str]) -> None:
    for data, text in zip(RFC4648_SAMPLES, expected, strict=True):
        assert encode_text(data, encoding) == text
        assert decode_text(text, encoding) == data


def test_urlsafe_alphabet() -> None:
    # RFC 4648 section 5: 62 and 63 are '-' and '_' (standard base64 of fbff is '+/8=')
    assert encode_text(b"\xfb\xff", "JSON-URLSAFE-B64") == "-_8="
    assert decode_text("-_8=", "JSON-URLSAFE-B64") == b"\xfb\xff"
    assert encode_text(b"\xfb\xff", "JSON-B64") == "+/8="


def test_z85_known_answers() -> None:
    # The Z85 check value: bytes 86 4F D2 6F B5 59 F7 5B. The Z85P body
    # is ZeroMQ RFC 32's own example ("HelloWorld").
    data = bytes.fromhex("864FD26FB559F75B")
    assert encode_text(data, "JSON-Z85P") == "\x00HelloWorld"
    assert decode_text("\x00HelloWorld", "JSON-Z85P") == data
    assert encode_text(data, "JSON-Z85B") == "oB?{zdpzLt"
    assert decode_text("oB?{zdpzLt", "JSON-Z85B") == data


def test_z85_padding_known_answers() -> None:
    # z85base91 0.0.5 (the reference's library) outputs, recorded with the oracle interpreter:
    # Z85P.encode(b"\x00") == b"\x0300000", Z85B.encode(b"\x00") == b"00",
    # Z85P.encode(b"\xff" * 3) == b"\x01%nS90", Z85B.encode(b"\xff" * 3) == b"09rr".
    assert encode_text(b"\x00", "JSON-Z85P") == "\x0300000"
    assert encode_text(b"\x00", "JSON-Z85B") == "00"
    assert encode_text(b"\xff" * 3, "JSON-Z85P") == "\x01%nS90"
    assert encode_text(b"\xff" * 3, "JSON-Z85B") == "09rr"
    assert encode_text(b"", "JSON-Z85P") == "\x00"
    assert encode_text(b"", "JSON-Z85B") == ""


def test_b91_known_answers() -> None:
    # z85base91 0.0.5 B91 (the reference's basE91), recorded with the oracle interpreter:
    # encode(b"HelloWorld") == b">OwJh>c{KUVzB", decode(b"fPNKd") == b"test",
    # encode(b"\x00") == b"AA", encode(b"\xff" * 3) == b'B"tW'.
    assert encode_text(b"HelloWorld", "JSON-B91") == ">OwJh>c{KUVzB"
    assert decode_text("fPNKd", "JSON-B91") == b"test"
    assert encode_text(b"\x00", "JSON-B91") == "AA"
    assert encode_text(b"\xff" * 3, "JSON-B91") == 'B"tW'
    assert decode_text("AAA", "JSON-B91") == b"\x00\x00"  # 14-bit pair, then one final char


# ---------------------------------------------------------------------------------------------
# The public surface


def test_encoding_names_and_preference() -> None:
    assert {encoding.value for encoding in TextEncoding} == set(ALPHABETS)
    assert set(ENCODINGS) == set(TextEncoding)
    assert len(ENCODINGS) == 7
    assert ENCODINGS[0] is TextEncoding.JSON_B64
    assert ENCODINGS[-1] is TextEncoding.JSON_B91


@pytest.mark.parametrize("name", ["JSON-B85", "json-b64", "", "B64", None, 3])
def test_unknown_encoding(name: object) -> None:
    with pytest.raises(InvalidEncoding):
        encode_text(b"x", name)  # type: ignore[arg-type]
    with pytest.raises(InvalidEncoding):
        decode_text("eA==", name)  # type: ignore[arg-type]


def test_enum_members_and_strings_are_interchangeable() -> None:
    for encoding in TextEncoding:
        assert encode_text(b"\x01\x02", encoding) == encode_text(b"\x01\x02", encoding.value)


def test_argument_types() -> None:
    with pytest.raises(InvalidArgument):
        encode_text("text", "JSON-B64")  # type: ignore[arg-type]
    with pytest.raises(InvalidArgument):
        decode_text(12, "JSON-B64")  # type: ignore[arg-type]
    assert encode_text(bytearray(b"ab"), "JSON-HEX") == "6162"
    assert encode_text(memoryview(b"ab"), "JSON-HEX") == "6162"
    assert decode_text(b"6162", "JSON-HEX") == b"ab"


# ---------------------------------------------------------------------------------------------
# Models, round trips, strictness


@pytest.mark.parametrize("encoding", list(ALPHABETS))
@given(data=st.binary(max_size=700))
@example(data=b"")
@example(data=bytes(300))
@example(data=b"\xff" * 300)
def test_matches_model_and_round_trips(encoding: str, data: bytes) -> None:
    text = encode_text(data, encoding)
    assert text == MODELS[encoding](data)
    assert decode_text(text, encoding) == data


@pytest.mark.parametrize("encoding", list(ALPHABETS))
@pytest.mark.parametrize(
    "size", [*range(0, 70), 127, 128, 129, 1023, 1024, 1025, 1300, 2047, 2048, 2049, 5000]
)
def test_every_length_near_block_and_window_edges(encoding: str, size: int) -> None:
    data = bytes((index * 151 + size) & 0xFF for index in range(size))
    text = encode_text(data, encoding)
    assert text == MODELS[encoding](data)
    assert decode_text(text, encoding) == data


@given(
    data=st.lists(
        st.sampled_from([b"\x00" * 7, b"\x00", b"\xff", b"\x01\x00", b"\x00\x00\x40"]),
        max_size=600,
    ).map(b"".join)
)
@example(data=bytes(3000))
def test_b91_inputs_dense_with_long_pairs(data: bytes) -> None:
    # zeros make every pair a 14-bit pair: the fast path must hand over to the plain loop
    text = encode_text(data, "JSON-B91")
    assert text == model_b91(data)
    assert decode_text(text, "JSON-B91") == data


@pytest.mark.parametrize("encoding", list(ALPHABETS))
@given(text=st.text(max_size=60))
def test_arbitrary_text_decodes_canonically_or_raises_invalid_encoding(
    encoding: str, text: str
) -> None:
    try:
        data = decode_text(text, encoding)
    except InvalidEncoding:
        return
    assert encode_text(data, encoding) == text  # only the one canonical spelling decodes


@pytest.mark.parametrize("encoding", list(ALPHABETS))
@given(raw=st.binary(max_size=60))
def test_arbitrary_bytes_decode_canonically_or_raise_invalid_encoding(
    encoding: str, raw: bytes
) -> None:
    try:
        data = decode_text(raw, encoding)
    except InvalidEncoding:
        return
    assert encode_text(data, encoding).encode("ascii") == raw


@pytest.mark.parametrize("encoding", list(ALPHABETS))
@given(data=st.data())
def test_alphabet_text_decodes_canonically_or_raises_invalid_encoding(
    encoding: str, data: st.DataObject
) -> None:
    # text made of the encoding's own characters reaches the deep checks (lengths, padding,
    # overflow, unused bits) far more often than arbitrary text
    text = data.draw(st.text(alphabet=ALPHABETS[encoding], max_size=80))
    try:
        decoded = decode_text(text, encoding)
    except InvalidEncoding:
        return
    assert encode_text(decoded, encoding) == text


@given(text=st.text(alphabet=B91, max_size=40))
def test_b91_strict_decoder_accepts_exactly_the_canonical_texts(text: str) -> None:
    lenient = model_b91_decode(text)
    canonical = model_b91(lenient) == text
    if canonical:
        assert decode_text(text, "JSON-B91") == lenient
    else:
        with pytest.raises(InvalidEncoding):
            decode_text(text, "JSON-B91")


def test_b91_strictness_exhaustive_for_short_texts() -> None:
    # every text of up to two characters (8,372 texts): accepted iff canonical
    texts = [""] + list(B91) + [a + b for a in B91 for b in B91]
    for text in texts:
        lenient = model_b91_decode(text)
        if model_b91(lenient) == text:
            assert decode_text(text, "JSON-B91") == lenient, text
        else:
            with pytest.raises(InvalidEncoding):
                decode_text(text, "JSON-B91")


@pytest.mark.parametrize(
    ("encoding", "text"),
    [
        ("JSON-HEX", "ABCD"),  # uppercase: the reference accepts it
        ("JSON-HEX", "abc"),
        ("JSON-HEX", "ab cd"),
        ("JSON-B64", "QR=="),  # unused bits set: the reference accepts it
        ("JSON-B64", "QQ"),
        ("JSON-B64", "QUJD\nREVG"),
        ("JSON-B64", "-_-_"),
        ("JSON-URLSAFE-B64", "+/+/"),
        ("JSON-URLSAFE-B64", "Q-=="),
        ("JSON-B32", "MF======"),
        ("JSON-B32", "me======"),
        ("JSON-B32", "M======="),
        ("JSON-B32", "ME=====A"),
        ("JSON-Z85P", ""),
        ("JSON-Z85P", "HelloWorld"),
        ("JSON-Z85P", "\x04HelloWorld"),
        ("JSON-Z85P", "\x00%nSc1"),  # above 2**32 - 1
        ("JSON-Z85P", "\x01HelloWorld"),  # the dropped padding byte is 0x5b
        ("JSON-Z85P", "\x01"),
        ("JSON-Z85B", "o"),
        ("JSON-Z85B", "#####"),  # 85**5 - 1
        ("JSON-Z85B", "zz"),  # worth more than one byte
        ("JSON-Z85B", "oB ?{zdpzLt"),
        ("JSON-B91", "A"),
        ("JSON-B91", "~~"),
        ("JSON-B91", "AA~"),
        ("JSON-B91", "A-"),
        ("JSON-B91", "é"),
    ],
)
def test_non_canonical_and_malformed_text_is_refused(encoding: str, text: str) -> None:
    with pytest.raises(InvalidEncoding):
        decode_text(text, encoding)


@pytest.mark.parametrize("encoding", list(ALPHABETS))
@given(data=st.binary(min_size=1, max_size=60), position=st.integers(0), bit=st.integers(0, 7))
def test_single_bit_change_of_text_never_decodes_to_the_same_bytes(
    encoding: str, data: bytes, position: int, bit: int
) -> None:
    raw = bytearray(encode_text(data, encoding).encode("ascii"))
    raw[position % len(raw)] ^= 1 << bit
    try:
        changed = decode_text(bytes(raw), encoding)
    except InvalidEncoding:
        return
    assert changed != data


def test_internal_window_sizes_stay_consistent() -> None:
    # the lane masks are sized for the largest window; a change to one constant must not
    # silently outgrow them
    assert encodings._B91_WINDOW_BITS // 13 // 8 < encodings._B91_MAX_BLOCKS
    assert encodings._B91_WINDOW_PAIRS // 8 <= encodings._B91_MAX_BLOCKS


B64_ANY = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/-_=\n "


@pytest.mark.parametrize(
    ("encoding", "model"),
    [("JSON-B64", base64.b64encode), ("JSON-URLSAFE-B64", base64.urlsafe_b64encode)],
)
@given(text=st.text(alphabet=B64_ANY, max_size=24))
@example(text="QUJD====")
@example(text="QUJDRA==QQ==")
@example(text="Q-==")
@example(text="+/+/")
def test_base64_decodes_exactly_the_canonical_spelling(
    encoding: str, model: Any, text: str
) -> None:
    # both alphabets, padding and whitespace mixed: accepted iff the stdlib model writes it
    try:
        lenient = base64.b64decode(text.replace("-", "+").replace("_", "/") + "==")
    except ValueError:
        lenient = None
    if lenient is not None and model(lenient).decode() == text:
        assert decode_text(text, encoding) == lenient
    else:
        with pytest.raises(InvalidEncoding):
            decode_text(text, encoding)
