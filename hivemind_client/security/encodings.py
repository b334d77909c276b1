"""The seven binary-to-text encodings of protocol v1 encrypted text frames.

A hub and a client agree on one of these names in the legacy handshake; every field of a JSON
cipher envelope (``ciphertext``, ``tag``, ``nonce``) is then written with it. Definitions (our
own, from ``docs/protocol.md`` section 5; byte-compatible with the reference client 0.7.0a2 and
z85base91 0.0.5):

``JSON-HEX``          lowercase base16.
``JSON-B64``          RFC 4648 base64, ``+/`` alphabet, ``=`` padding.
``JSON-URLSAFE-B64``  RFC 4648 base64, ``-_`` alphabet, ``=`` padding.
``JSON-B32``          RFC 4648 base32, uppercase, ``=`` padding.
``JSON-Z85P``         ZeroMQ Z85 of the input zero-padded to whole 32-bit words, preceded by one
                      character U+0000..U+0003 that counts the padding bytes.
``JSON-Z85B``         Z85 alphabet over little-endian 32-bit words, least significant digit
                      first, with the characters that only encode padding left out.
``JSON-B91``          basE91 (Joachim Henke).

Decoding is strict: only the text our encoder would produce for some input is accepted, so every
byte string has exactly one spelling. The reference is laxer (it accepts uppercase hex, stray
characters in base64, unused bits that are not zero, Z85 groups that overflow 32 bits, ...);
refusing those spellings makes any change to an encrypted envelope detectable before the cipher
runs, and costs nothing with peers, whose encoders only ever write the canonical form.

Z85 and base32 run as whole-buffer integer arithmetic on "lanes" (fixed-width fields packed into
one Python integer) and basE91 as the same arithmetic over windows, because per-character Python
loops are several times slower than the C decoders the reference ships.
"""

from __future__ import annotations

import binascii
import struct
from collections.abc import Callable
from functools import lru_cache

import pybase64

from hivemind_client._compat import StrEnum
from hivemind_client.errors import InvalidArgument, InvalidEncoding

__all__ = [
    "ENCODINGS",
    "TextEncoding",
    "decode_text",
    "encode_text",
]


class TextEncoding(StrEnum):
    """Wire names of the binary-to-text encodings (the values are what travels)."""

    JSON_HEX = "JSON-HEX"
    JSON_B64 = "JSON-B64"
    JSON_URLSAFE_B64 = "JSON-URLSAFE-B64"
    JSON_B32 = "JSON-B32"
    JSON_Z85B = "JSON-Z85B"
    JSON_Z85P = "JSON-Z85P"
    JSON_B91 = "JSON-B91"


#: Every encoding, in the order this library prefers them: JSON-B64 first (compact, universally
#: implemented) and JSON-B91 last (hubs pick the client's first choice, and B91 has broken
#: real deployments).
ENCODINGS: tuple[TextEncoding, ...] = (
    TextEncoding.JSON_B64,
    TextEncoding.JSON_URLSAFE_B64,
    TextEncoding.JSON_HEX,
    TextEncoding.JSON_B32,
    TextEncoding.JSON_Z85P,
    TextEncoding.JSON_Z85B,
    TextEncoding.JSON_B91,
)

_Bytes = bytes | bytearray | memoryview


def encode_text(data: _Bytes, encoding: str) -> str:
    """Encode ``data`` in the named encoding; an unknown name raises InvalidEncoding."""
    try:
        encoder = _ENCODERS[encoding]
    except (KeyError, TypeError):
        raise InvalidEncoding(f"unknown encoding {encoding!r}") from None
    if not isinstance(data, bytes):
        if not isinstance(data, bytearray | memoryview):
            raise InvalidArgument(f"data must be bytes, not {type(data).__name__}")
        data = bytes(data)
    return encoder(data)


def decode_text(text: str | bytes, encoding: str) -> bytes:
    """Decode ``text`` (str, or its ASCII bytes) written in the named encoding.

    Raises InvalidEncoding for an unknown name and for any text that is not the canonical
    spelling of some byte string in that encoding.
    """
    try:
        decoder = _DECODERS[encoding]
    except (KeyError, TypeError):
        raise InvalidEncoding(f"unknown encoding {encoding!r}") from None
    if isinstance(text, str):
        if not text.isascii():
            raise InvalidEncoding(f"{encoding}: text contains non-ASCII characters")
        raw = text.encode("ascii")
    elif isinstance(text, bytes | bytearray | memoryview):
        raw = bytes(text)
    else:
        raise InvalidArgument(f"text must be str or bytes, not {type(text).__name__}")
    return decoder(raw)


# --------------------------------------------------------------------------------------------
# Shared helpers


def _fail(encoding: str, why: str) -> InvalidEncoding:
    return InvalidEncoding(f"{encoding}: {why}")


def _lanes(pattern: bytes, count: int) -> int:
    """An integer made of ``count`` copies of ``pattern`` (big-endian): a per-lane mask."""
    if count <= _CACHED_LANES:
        return _cached_lanes(pattern, count)
    return int.from_bytes(pattern * count, "big")


_CACHED_LANES = 1024


@lru_cache(maxsize=512)
def _cached_lanes(pattern: bytes, count: int) -> int:
    return int.from_bytes(pattern * count, "big")


def _decode_table(alphabet: bytes) -> bytes:
    """A bytes.translate table mapping each alphabet character to its digit, others to 255."""
    table = bytearray(b"\xff" * 256)
    for digit, char in enumerate(alphabet):
        table[char] = digit
    return bytes(table)


def _encode_table(alphabet: bytes) -> bytes:
    """A bytes.translate table mapping digit values to alphabet characters."""
    return bytes(alphabet) + bytes(256 - len(alphabet))


# --------------------------------------------------------------------------------------------
# Base16 (binascii) and base64 (pybase64: SIMD, 50-70x binascii at 1 MiB), made strict


def _hex_encode(data: bytes) -> str:
    return data.hex()


def _hex_decode(raw: bytes) -> bytes:
    try:
        data = binascii.unhexlify(raw)
    except (binascii.Error, ValueError):
        raise _fail("JSON-HEX", "not an even number of hex digits") from None
    if data.hex().encode("ascii") != raw:
        raise _fail("JSON-HEX", "only lowercase hex digits are allowed")
    return data


def _b64_encode(data: bytes) -> str:
    return pybase64.b64encode_as_string(data)


def _b64_canonical(data: bytes, size: int, tail: bytes) -> bool:
    """Whether a text of ``size`` characters ending in ``tail`` (its last four, standard
    alphabet) is the one spelling of ``data``, given that it decoded to it.

    Only the length and the last quantum can differ (surplus ``=``, unused bits set), so
    re-encoding the final 1-3 bytes decides it without re-encoding the whole field.
    """
    if size != (len(data) + 2) // 3 * 4:
        return False
    return not data or binascii.b2a_base64(data[-(len(data) % 3 or 3) :], newline=False) == tail


def _b64_decode(raw: bytes) -> bytes:
    try:
        data = pybase64.b64decode(raw, validate=True)
    except (binascii.Error, ValueError):
        raise _fail("JSON-B64", "malformed base64") from None
    if not _b64_canonical(data, len(raw), raw[-4:]):
        raise _fail("JSON-B64", "non-canonical base64 (unused bits set)")
    return data


_URL_TO_STD = bytes.maketrans(b"-_", b"+/")


def _urlsafe_b64_encode(data: bytes) -> str:
    return pybase64.b64encode(data, altchars=b"-_").decode("ascii")


def _urlsafe_b64_decode(raw: bytes) -> bytes:
    # with altchars, pybase64 also takes the standard alphabet's "+/": refuse those first
    if b"+" in raw or b"/" in raw:
        raise _fail("JSON-URLSAFE-B64", "standard-alphabet base64")
    try:
        data = pybase64.b64decode(raw, altchars=b"-_", validate=True)
    except (binascii.Error, ValueError):
        raise _fail("JSON-URLSAFE-B64", "malformed base64") from None
    if not _b64_canonical(data, len(raw), raw[-4:].translate(_URL_TO_STD)):
        raise _fail("JSON-URLSAFE-B64", "non-canonical base64 (unused bits set)")
    return data


# --------------------------------------------------------------------------------------------
# Base32: each 5-byte block sits in a 64-bit lane; three shift-and-mask steps move its eight
# 5-bit groups into the eight bytes of the lane (and back).

_B32_ALPHABET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
_B32_ENCODE = _encode_table(_B32_ALPHABET)
_B32_DECODE = _decode_table(_B32_ALPHABET)
# (lane pattern of the bits that move, distance) for each spreading step
_B32_STEPS = (
    (bytes.fromhex("000000fffff00000"), 12),
    (bytes.fromhex("000ffc00000ffc00"), 6),
    (bytes.fromhex("03e003e003e003e0"), 3),
)
# characters written for a final block holding 0..4 data bytes (0 = a full block)
_B32_CHARS_FOR_REST = (8, 2, 4, 5, 7)
# data bytes in a final block ending in 0..7 '=' characters (None: impossible count)
_B32_BYTES_FOR_PADDING = (5, 4, None, 3, 2, None, 1, None)


def _b32_encode(data: bytes) -> str:
    if not data:
        return ""
    blocks = -(-len(data) // 5)
    padded = data + bytes(5 * blocks - len(data))
    lanes = bytearray(8 * blocks)
    for index in range(5):
        lanes[3 + index :: 8] = padded[index::5]
    value = int.from_bytes(lanes, "big")
    for pattern, distance in _B32_STEPS:
        moving = value & _lanes(pattern, blocks)
        value ^= moving
        value |= moving << distance
    text = value.to_bytes(8 * blocks, "big").translate(_B32_ENCODE)
    padding = 8 - _B32_CHARS_FOR_REST[len(data) % 5]
    if padding:
        text = text[:-padding] + b"=" * padding
    return text.decode("ascii")


def _b32_decode(raw: bytes) -> bytes:
    if not raw:
        return b""
    if len(raw) % 8:
        raise _fail("JSON-B32", "length is not a multiple of 8")
    body = raw.rstrip(b"=")
    padding = len(raw) - len(body)
    data_in_last = _B32_BYTES_FOR_PADDING[padding] if padding < 8 else None
    if data_in_last is None:
        raise _fail("JSON-B32", "impossible amount of '=' padding")
    digits = body.translate(_B32_DECODE) + bytes(len(raw) - len(body))
    if 255 in digits:
        raise _fail("JSON-B32", "character outside the base32 alphabet")
    blocks = len(raw) // 8
    value = int.from_bytes(digits, "big")
    for pattern, distance in reversed(_B32_STEPS):
        moving = value & (_lanes(pattern, blocks) << distance)
        value ^= moving
        value |= moving >> distance
    lanes = value.to_bytes(8 * blocks, "big")
    data = bytearray(5 * blocks)
    for index in range(5):
        data[index::5] = lanes[3 + index :: 8]
    unused = 5 - data_in_last
    if unused:
        if any(data[-unused:]):
            raise _fail("JSON-B32", "non-canonical base32 (unused bits set)")
        del data[-unused:]
    return bytes(data)


# --------------------------------------------------------------------------------------------
# Z85: big-endian 32-bit words in 64-bit lanes; the five base-85 digits come out of four
# lane-parallel divisions by 85 done as multiply-and-shift (exact for every 32-bit word:
# 85 * ceil(2**38 / 85) - 2**38 = 21, and 21 * 2**32 < 2**38). Decoding is Horner's rule on
# 40-bit lanes, one lane per five digits, which hold any value below 85**5 < 2**33.

_Z85_ALPHABET = (
    b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#"
)
_Z85_ENCODE = _encode_table(_Z85_ALPHABET)
_Z85_ENCODE_PLUS1 = _encode_table(b"\x00" + _Z85_ALPHABET)
_Z85_PLUS1 = bytes.fromhex("0000000101010101")
_Z85_DECODE = _decode_table(_Z85_ALPHABET)
_Z85_MAGIC = (1 << 38) // 85 + 1
_Z85_QUOTIENT = bytes.fromhex("0000000003ffffff")  # a quotient is below 2**26
_Z85_DIGIT = bytes.fromhex("00000000ff")
_Z85_OVERFLOW = bytes.fromhex("ff00000000")


def _z85_encode_words(words: bytes) -> bytes:
    """Z85 digits (as alphabet bytes) of whole big-endian 32-bit words."""
    count = len(words) // 4
    if not count:
        return b""
    lanes = bytearray(8 * count)
    for index in range(4):
        lanes[4 + index :: 8] = words[index::4]
    value = int.from_bytes(lanes, "big")
    quotient_mask = _lanes(_Z85_QUOTIENT, count)
    digits = 0
    for shift in (0, 8, 16, 24):
        quotient = ((value * _Z85_MAGIC) >> 38) & quotient_mask
        digits |= (value - quotient * 85) << shift
        value = quotient
    digits |= value << 32
    # digits + 1, so that translate can drop the three zero bytes of each lane
    digits += _lanes(_Z85_PLUS1, count)
    return digits.to_bytes(8 * count, "big").translate(_Z85_ENCODE_PLUS1, b"\x00")


def _z85_decode_words(digits: bytes, encoding: str) -> bytearray:
    """Big-endian 32-bit words from digit values (0..84), five digits per word."""
    count = len(digits) // 5
    if not count:
        return bytearray()
    packed = int.from_bytes(digits, "big")
    digit_mask = _lanes(_Z85_DIGIT, count)
    value = (packed >> 32) & digit_mask
    for shift in (24, 16, 8, 0):
        value = value * 85 + ((packed >> shift) & digit_mask)
    if value & _lanes(_Z85_OVERFLOW, count):
        raise _fail(encoding, "a group of five characters exceeds 32 bits")
    out = bytearray(value.to_bytes(5 * count, "big"))
    del out[0::5]
    return out


def _z85_digits(raw: bytes, encoding: str) -> bytes:
    digits = raw.translate(_Z85_DECODE)
    if 255 in digits:
        raise _fail(encoding, "character outside the Z85 alphabet")
    return digits


def _z85p_encode(data: bytes) -> str:
    padding = -len(data) % 4
    body = _z85_encode_words(data + bytes(padding))
    return chr(padding) + body.decode("ascii")


def _z85p_decode(raw: bytes) -> bytes:
    if not raw or raw[0] > 3:
        raise _fail("JSON-Z85P", "missing padding count U+0000..U+0003")
    padding = raw[0]
    if (len(raw) - 1) % 5:
        raise _fail("JSON-Z85P", "length is not 1 + a multiple of 5")
    if padding and len(raw) == 1:
        raise _fail("JSON-Z85P", "padding count without data")
    words = _z85_decode_words(_z85_digits(raw[1:], "JSON-Z85P"), "JSON-Z85P")
    if padding:
        if any(words[-padding:]):
            raise _fail("JSON-Z85P", "padding bytes are not zero")
        del words[-padding:]
    return bytes(words)


# Z85B is Z85 of the reversed input, reversed: reversing a buffer of little-endian words gives
# the big-endian words in reverse order, and reversing their most-significant-first digits gives
# each word's digits least significant first, in the original word order.
_Z85B_PADDING = (0, 3, 2, 1)
_Z85B_DROPPED = (0, None, 3, 2, 1)  # bytes to drop for text length % 5 (None: impossible)


def _z85b_encode(data: bytes) -> str:
    padding = _Z85B_PADDING[len(data) % 4]
    padded = data + bytes(padding)
    text = _z85_encode_words(padded[::-1])[::-1]
    if padding:
        text = text[:-padding]
    return text.decode("ascii")


def _z85b_decode(raw: bytes) -> bytes:
    dropped = _Z85B_DROPPED[len(raw) % 5]
    if dropped is None:
        raise _fail("JSON-Z85B", "length leaves a single character in the last group")
    digits = _z85_digits(raw, "JSON-Z85B") + bytes(dropped)
    words = _z85_decode_words(digits[::-1], "JSON-Z85B")
    words.reverse()
    if dropped:
        if any(words[-dropped:]):
            raise _fail("JSON-Z85B", "last group encodes more bytes than the text length allows")
        del words[-dropped:]
    return bytes(words)


# --------------------------------------------------------------------------------------------
# basE91. The bit stream is read least significant bit first; a character pair carries the
# next 13 bits, or 14 when those 13 bits are worth 88 or less (a "long pair": about 1 pair in 92
# on random data); a final one or two characters carry what is left.
#
# Fast path, per window of the bit stream: one set of shifts marks every bit position where a
# long pair would start; walking the pair boundaries then only visits the long pairs. Deleting
# each long pair's 14th bit leaves all pairs 13 bits apart: every 13 bytes then hold exactly 8
# pairs, so struct packing plus three shift-and-mask steps put each pair into a 32-bit lane,
# where the two digits (value % 91, value // 91) come out of a multiply-and-shift division.
# Decoding runs the same steps backwards. Short inputs, and streams dense with long pairs (runs
# of zero bytes, crafted text), go through a plain loop, so the cost stays linear in every case.

_B91_ALPHABET = (
    b'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789!#$%&()*+,./:;<=>?@[]^_`{|}~"'
)
_B91_DECODE = _decode_table(_B91_ALPHABET)
_B91_ENCODE = _encode_table(_B91_ALPHABET)
_B91_CHARS = tuple(chr(char) for char in _B91_ALPHABET)
_B91_ENCODE_PLUS1 = _encode_table(b"\x00" + _B91_ALPHABET)
_B91_SMALL = 48  # inputs of at most this many bytes (or pairs) use the plain loop
_B91_WINDOW_BITS = 8192  # bit positions examined per window when encoding
_B91_WINDOW_PAIRS = 512  # character pairs per window when decoding
_B91_MAX_LONG = 24  # long pairs per window before falling back to the plain loop
_B91_LOOP_PAIRS = 512  # pairs the plain loop then handles before the fast path is retried
_B91_MAX_BLOCKS = 80  # 8-pair blocks in the largest window (8192 / 13 / 8 < 80)
_B91_MAGIC = 11523  # ceil(2**20 / 91): (v * 11523) >> 20 == v // 91 for every v below 2**14
_B91_LOW8 = _lanes(bytes.fromhex("000000ff"), 8 * _B91_MAX_BLOCKS)
_B91_LOW13 = _lanes(bytes.fromhex("00001fff"), 8 * _B91_MAX_BLOCKS)
_LANE_ONE = bytes.fromhex("00000001")
_LANE_0101 = bytes.fromhex("00000101")


def _b91_block_steps() -> tuple[tuple[int, int, int], ...]:
    """(mask, distance, mask moved) spreading 8 x 13 bits to 8 x 32 bits in 256-bit lanes."""
    ones52, ones26, ones13 = (1 << 52) - 1, (1 << 26) - 1, (1 << 13) - 1
    steps = (
        (ones52 << 52, 76),
        ((ones26 << 26) | (ones26 << 154), 38),
        (sum(ones13 << (13 + 64 * quarter) for quarter in range(4)), 19),
    )
    result = []
    for mask, distance in steps:
        lanes = _lanes(mask.to_bytes(32, "big"), _B91_MAX_BLOCKS)
        result.append((lanes, distance, lanes << distance))
    return tuple(result)


_B91_BLOCK_STEPS = _b91_block_steps()


@lru_cache(maxsize=64)
def _b91_block_layouts(blocks: int) -> tuple[struct.Struct, struct.Struct]:
    """Structs splitting ``blocks`` runs of 13 bytes, and placing each at a 32-byte boundary."""
    return struct.Struct("13s" * blocks), struct.Struct("13s19x" * blocks)


def _every_13th_bit() -> tuple[int, ...]:
    """For each residue r: bits r, r + 13, r + 26, ... below _B91_WINDOW_BITS + 26."""
    count = _B91_WINDOW_BITS // 13 + 2
    repeat = ((1 << (13 * count)) - 1) // ((1 << 13) - 1)
    return tuple(repeat << residue for residue in range(13))


_EVERY_13TH_BIT = _every_13th_bit()


def _b91_long_starts(value: int, span: int) -> int:
    """Bit q set (for q < span) iff the 13 bits of ``value`` from bit q are worth 88 or less."""
    high = value >> 7  # bits 7..12 must all be clear
    any2 = high | (high >> 1)
    any6 = any2 | (any2 >> 2) | (any2 >> 4)
    low3 = (value >> 2) | (value >> 1) | value
    at_least_89 = (value >> 6) & ((value >> 5) | ((value >> 4) & (value >> 3) & low3))
    # (bits 0..6 worth 89 = 0b1011001 or more)
    window = (1 << span) - 1
    return window ^ ((any6 | at_least_89) & window)


def _b91_encode(data: bytes) -> str:
    if len(data) <= _B91_SMALL:
        return _b91_encode_small(data)
    total = 8 * len(data)
    out: list[bytes] = []
    base = 0  # bits already encoded
    while total - base > 13:
        span = min(_B91_WINDOW_BITS, total - 13 - base)  # pairs may start below `span`
        start = base >> 3
        window = int.from_bytes(
            data[start : start + ((base & 7) + span + 13 + 7) // 8], "little"
        ) >> (base & 7)
        starts = _b91_long_starts(window, span)
        longs: list[int] = []
        position = 0
        while starts:
            candidates = (starts & _EVERY_13TH_BIT[position % 13]) >> position
            if not candidates:
                break
            position += (candidates & -candidates).bit_length() - 1
            longs.append(position)
            position += 14
            if len(longs) == _B91_MAX_LONG or position >= span:
                break
        if len(longs) == _B91_MAX_LONG:
            end = position
        else:
            end = position + 13 * max(0, (span - position + 12) // 13)
        pairs = (end - len(longs)) // 13
        uniform = window
        for at in reversed(longs):  # delete each long pair's 14th bit
            cut = at + 13
            uniform = (uniform & ((1 << cut) - 1)) | ((uniform >> (cut + 1)) << cut)
        blocks = (pairs + 7) >> 3
        runs, spaced = _b91_block_layouts(blocks)
        packed = (uniform & ((1 << (13 * pairs)) - 1)).to_bytes(13 * blocks, "little")
        lanes = int.from_bytes(spaced.pack(*runs.unpack(packed)), "little")
        for mask, distance, _ in _B91_BLOCK_STEPS:
            moving = lanes & mask
            lanes ^= moving
            lanes |= moving << distance
        for index, at in enumerate(longs):
            if (window >> (at + 13)) & 1:
                lanes |= 1 << (32 * ((at - index) // 13) + 13)
        # value // 91 and value % 91 in each lane; digits + 1 so translate drops the zero bytes
        quotient = ((lanes * _B91_MAGIC) >> 20) & _B91_LOW8
        digits = (lanes - quotient * 91) | (quotient << 8)
        digits += _lanes(_LANE_0101, pairs)
        out.append(digits.to_bytes(4 * pairs, "little").translate(_B91_ENCODE_PLUS1, b"\x00"))
        base += end
        if len(longs) == _B91_MAX_LONG:
            chars, base = _b91_encode_loop(data, base, _B91_LOOP_PAIRS)
            out.append(chars)
    out.append(_b91_tail(data, base))
    return b"".join(out).decode("ascii")


def _b91_encode_small(data: bytes) -> str:
    """Encode a short input one pair at a time."""
    chars = _B91_CHARS
    value = int.from_bytes(data, "little")
    end = 8 * len(data) - 13  # a pair needs more than 13 bits left
    bit = 0
    out: list[str] = []
    append = out.append
    while bit < end:
        pair = (value >> bit) & 8191
        if pair > 88:
            bit += 13
        else:
            pair = (value >> bit) & 16383
            bit += 14
        append(chars[pair % 91])
        append(chars[pair // 91])
    if bit < end + 13:
        rest = value >> bit
        append(chars[rest % 91])
        if end + 13 - bit > 7 or rest > 90:
            append(chars[rest // 91])
    return "".join(out)


def _b91_encode_loop(data: bytes, position: int, count: int) -> tuple[bytes, int]:
    """Encode at most ``count`` pairs from bit ``position`` one at a time."""
    start = position >> 3
    window = int.from_bytes(data[start : start + (14 * count + 7) // 8 + 2], "little")
    bit = position & 7
    end = 8 * len(data) - (start << 3) - 13  # a pair needs more than 13 bits left
    digits = bytearray()
    append = digits.append
    while bit < end and count:
        value = (window >> bit) & 8191
        if value > 88:
            bit += 13
        else:
            value = (window >> bit) & 16383
            bit += 14
        append(value % 91)
        append(value // 91)
        count -= 1
    return digits.translate(_B91_ENCODE), (start << 3) + bit


def _b91_tail(data: bytes, position: int) -> bytes:
    """The one or two characters for the last (at most 13) bits, from bit ``position``."""
    remaining = 8 * len(data) - position
    if not remaining:
        return b""
    value = int.from_bytes(data[position >> 3 :], "little") >> (position & 7)
    if remaining > 7 or value > 90:
        return bytes((_B91_ALPHABET[value % 91], _B91_ALPHABET[value // 91]))
    return bytes((_B91_ALPHABET[value],))


def _b91_decode(raw: bytes) -> bytes:
    digits = raw.translate(_B91_DECODE)
    if 255 in digits:
        raise _fail("JSON-B91", "character outside the basE91 alphabet")
    pairs = len(digits) // 2
    if pairs <= _B91_SMALL:
        bits = nbits = 0
        it = iter(digits)
        for low, high in zip(it, it, strict=False):  # a final odd character is left over
            value = low + 91 * high
            bits |= value << nbits
            nbits += 13 if (value & 8191) > 88 else 14
        return _b91_finish([], bits, nbits, digits)
    out: list[bytes] = []
    carry = 0  # decoded bits not yet written as bytes
    carry_bits = 0
    for first in range(0, pairs, _B91_WINDOW_PAIRS):
        count = min(_B91_WINDOW_PAIRS, pairs - first)
        chunk = digits[2 * first : 2 * (first + count)]
        bits, nbits = _b91_decode_window(chunk, count)
        carry |= bits << carry_bits
        carry_bits += nbits
        whole = carry_bits >> 3
        out.append((carry & ((1 << (8 * whole)) - 1)).to_bytes(whole, "little"))
        carry >>= 8 * whole
        carry_bits &= 7
    return _b91_finish(out, carry, carry_bits, digits)


def _b91_finish(out: list[bytes], bits: int, nbits: int, digits: bytes) -> bytes:
    """Append the last bytes (with the final odd character, if any) after canonical checks."""
    whole, rest = divmod(nbits, 8)
    if len(digits) % 2:
        last = digits[-1]
        # the encoder writes a single final character only for 1..7 leftover bits
        if not rest or last >> (8 - rest):
            raise _fail("JSON-B91", "non-canonical final character")
        bits |= last << nbits
        whole += 1
    elif bits >> (8 * whole):
        raise _fail("JSON-B91", "non-canonical final pair (unused bits set)")
    elif len(digits) >= 2:
        # the encoder writes a final pair only for more than 7 bits, or a value above 90
        value = digits[-2] + 91 * digits[-1]
        carried = (13 if (value & 8191) > 88 else 14) - rest  # bits it adds to whole bytes
        if carried <= 7 and value <= 90:
            raise _fail("JSON-B91", "non-canonical final pair (one character would do)")
    out.append(bits.to_bytes(whole, "little"))
    return b"".join(out)


def _b91_decode_window(chunk: bytes, count: int) -> tuple[int, int]:
    """Bits (least significant first) and their number, for ``count`` character pairs."""
    lanes_bytes = bytearray(4 * count)
    lanes_bytes[0::4] = chunk[0::2]
    lanes_bytes[1::4] = chunk[1::2]
    packed_digits = int.from_bytes(lanes_bytes, "little")
    values = packed_digits - 165 * ((packed_digits >> 8) & _B91_LOW8)  # c0 + 91 * c1
    low = values & _B91_LOW13
    ones = _lanes(_LANE_ONE, count)
    longs = ones ^ (((low + 8103 * ones) >> 13) & ones)  # + 8103 carries into bit 13 iff >= 89
    if longs.bit_count() > _B91_MAX_LONG:
        return _b91_decode_loop(chunk)
    for _, distance, moved in reversed(_B91_BLOCK_STEPS):
        moving = low & moved
        low ^= moving
        low |= moving >> distance
    blocks = (count + 7) >> 3
    _, spaced = _b91_block_layouts(blocks)
    bits = int.from_bytes(b"".join(spaced.unpack(low.to_bytes(32 * blocks, "little"))), "little")
    nbits = 13 * count
    while longs:
        # highest first, so the insertion points below stay where they are
        top = longs.bit_length() - 1
        longs ^= 1 << top
        lane = top >> 5
        at = 13 * (lane + 1)
        extra = (values >> (32 * lane + 13)) & 1
        bits = (bits & ((1 << at) - 1)) | (extra << at) | ((bits >> at) << (at + 1))
        nbits += 1
    return bits, nbits


def _b91_decode_loop(digits: bytes) -> tuple[int, int]:
    """Decode character pairs one at a time (a final odd character is left to the caller)."""
    bits = 0
    nbits = 0
    it = iter(digits)
    for low, high in zip(it, it, strict=False):
        value = low + 91 * high
        bits |= value << nbits
        nbits += 13 if (value & 8191) > 88 else 14
    return bits, nbits


# --------------------------------------------------------------------------------------------

_ENCODERS: dict[str, Callable[[bytes], str]] = {
    TextEncoding.JSON_HEX: _hex_encode,
    TextEncoding.JSON_B64: _b64_encode,
    TextEncoding.JSON_URLSAFE_B64: _urlsafe_b64_encode,
    TextEncoding.JSON_B32: _b32_encode,
    TextEncoding.JSON_Z85B: _z85b_encode,
    TextEncoding.JSON_Z85P: _z85p_encode,
    TextEncoding.JSON_B91: _b91_encode,
}

_DECODERS: dict[str, Callable[[bytes], bytes]] = {
    TextEncoding.JSON_HEX: _hex_decode,
    TextEncoding.JSON_B64: _b64_decode,
    TextEncoding.JSON_URLSAFE_B64: _urlsafe_b64_decode,
    TextEncoding.JSON_B32: _b32_decode,
    TextEncoding.JSON_Z85B: _z85b_decode,
    TextEncoding.JSON_Z85P: _z85p_decode,
    TextEncoding.JSON_B91: _b91_decode,
}
