"""Frame layer: known answers, round trips, the independent bit reader, and every error path."""

from __future__ import annotations

import contextlib
import zlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hivemind_client import (
    DEFAULT_MAX_INFLATED_SIZE,
    BinaryPayloadType,
    Frame,
    FrameError,
    HiveMessageType,
    decode_frame,
    encode_frame,
)
from hivemind_client._generated.hivemind_frame import HivemindFrame
from hivemind_client.errors import (
    CorruptCompression,
    InvalidArgument,
    MetadataTooLarge,
    PayloadTooLarge,
    TruncatedFrame,
    UnknownMessageType,
    UnsupportedVersion,
)
from hivemind_client.wire.frame import inflate, type_code

from .bitreader import read_naive

FRAMED_TYPES = [t for t in HiveMessageType if t is not HiveMessageType.INTERCOM]

# Known answers: the worked examples of docs/protocol.md section 4.
KNOWN = [
    ("82027b7d7b2274797065223a2274657374227d", "bus", False, b"{}", b'{"type":"test"}', 0),
    ("c042027b7d7b2274797065223a2274657374227d", "bus", True, b"{}", b'{"type":"test"}', 0),
    ("098027b7d10102", "bin", False, b"{}", b"\x01\x02", 1),
]


@pytest.mark.parametrize(
    ("frame_hex", "msg_type", "versioned", "metadata", "payload", "bin_type"), KNOWN
)
def test_known_frames(
    frame_hex: str, msg_type: str, versioned: bool, metadata: bytes, payload: bytes, bin_type: int
) -> None:
    frame = bytes.fromhex(frame_hex)
    assert (
        encode_frame(msg_type, metadata, payload, versioned=versioned, bin_type=bin_type) == frame
    )
    assert decode_frame(frame) == Frame(
        HiveMessageType(msg_type), metadata, payload, False, versioned, bin_type
    )


def test_type_codes_come_from_the_ksy() -> None:
    for member in HivemindFrame.MessageType:
        assert type_code(HiveMessageType[member.name.upper()]) == int(member)
    assert [m.name.lower() for m in BinaryPayloadType] == [m.name for m in HivemindFrame.BinaryType]
    assert [int(m) for m in BinaryPayloadType] == [int(m) for m in HivemindFrame.BinaryType]


def test_intercom_has_no_type_code() -> None:
    with pytest.raises(UnknownMessageType):
        encode_frame(HiveMessageType.INTERCOM, b"{}", b"{}")


frames = st.builds(
    lambda t, meta, payload, compressed, versioned, sub: (
        t,
        meta,
        payload,
        compressed,
        versioned,
        sub if t is HiveMessageType.BINARY else 0,
    ),
    st.sampled_from(FRAMED_TYPES),
    st.binary(max_size=255),
    st.binary(max_size=2000),
    st.booleans(),
    st.booleans(),
    st.integers(0, 15),
)


@given(frames)
def test_round_trip(case: tuple[HiveMessageType, bytes, bytes, bool, bool, int]) -> None:
    msg_type, metadata, payload, compressed, versioned, bin_type = case
    if compressed and len(zlib.compress(metadata)) > 255:
        return
    data = encode_frame(
        msg_type, metadata, payload, compressed=compressed, versioned=versioned, bin_type=bin_type
    )
    # Empty fields are never inflated, so they stay empty under the compressed flag too.
    assert decode_frame(data) == Frame(msg_type, metadata, payload, compressed, versioned, bin_type)


@given(frames)
def test_encoder_matches_an_independent_bit_reader(
    case: tuple[HiveMessageType, bytes, bytes, bool, bool, int],
) -> None:
    msg_type, metadata, payload, _, versioned, bin_type = case
    data = encode_frame(
        msg_type, metadata, payload, compressed=False, versioned=versioned, bin_type=bin_type
    )
    naive = read_naive(data)
    assert naive.type_code == type_code(msg_type)
    assert naive.versioned is versioned
    assert naive.version == (1 if versioned else None)
    assert naive.compressed is False
    assert naive.metadata == metadata
    assert naive.payload == payload
    assert naive.bin_type == (bin_type if msg_type is HiveMessageType.BINARY else None)
    # padding: exactly four zero bits for BINARY, none otherwise
    assert (data[0] >> 4 == 0) is (msg_type is HiveMessageType.BINARY)


@given(st.binary(max_size=600))
def test_decode_arbitrary_bytes_raises_only_frame_errors(data: bytes) -> None:
    with contextlib.suppress(FrameError):  # anything else escaping fails the test
        decode_frame(data)


def test_auto_compression_picks_the_smaller_frame() -> None:
    small = encode_frame("bus", b"{}", b'{"type": "x"}', compressed=None)
    assert small == encode_frame("bus", b"{}", b'{"type": "x"}', compressed=False)
    text = b'{"type": "speak", "data": {"utterance": "' + b"la " * 200 + b'"}}'
    big = encode_frame("bus", b"{}", text, compressed=None)
    assert big == encode_frame("bus", b"{}", text, compressed=True)
    assert decode_frame(big).compressed


def test_auto_compression_rescues_large_metadata() -> None:
    metadata = b'{"note": "' + b"a" * 400 + b'"}'
    with pytest.raises(MetadataTooLarge):
        encode_frame("bus", metadata, b"{}", compressed=False)
    frame = encode_frame("bus", metadata, b"{}", compressed=None)
    assert decode_frame(frame).metadata == metadata


@pytest.mark.parametrize("msg_type", ["bin", "bus"])
@given(
    metadata=st.one_of(
        st.binary(max_size=700),
        st.text("ab{}", max_size=700).map(str.encode),  # compressible: both choices happen
    ),
    payload=st.binary(max_size=300),
)
def test_auto_compression_is_the_shorter_frame(
    msg_type: str, metadata: bytes, payload: bytes
) -> None:
    # compressed=None: the shorter of the two frames, uncompressed on a tie, compressed when only
    # that fits (BINARY decides on the metadata alone, with its zlib remembered)
    choices = []
    for compressed in (False, True):
        with contextlib.suppress(MetadataTooLarge):
            choices.append(encode_frame(msg_type, metadata, payload, compressed=compressed))
    if not choices:
        with pytest.raises(MetadataTooLarge):
            encode_frame(msg_type, metadata, payload, compressed=None)
        return
    expected = min(choices, key=len)  # min keeps the first (uncompressed) on a tie
    for _ in range(2):  # the second time through the metadata cache
        assert encode_frame(msg_type, metadata, payload, compressed=None) == expected


def test_metadata_too_large_even_compressed() -> None:
    import os

    with pytest.raises(MetadataTooLarge) as info:
        encode_frame("bus", os.urandom(400), b"{}", compressed=None)
    assert info.value.code == "metadata-too-large"


def test_binary_payload_is_never_compressed() -> None:
    payload = b"\x00" * 5000
    frame = encode_frame("bin", b"{}", payload, compressed=True, bin_type=1)
    assert frame.endswith(payload)
    assert decode_frame(frame).payload == payload


def test_1mib_binary_payload_stays_on_the_byte_grid() -> None:
    payload = bytes(range(256)) * 4096
    frame = encode_frame(
        "bin", b'{"sample_rate": 16000}', payload, bin_type=BinaryPayloadType.RAW_AUDIO
    )
    assert frame[-len(payload) :] == payload
    assert decode_frame(frame).payload == payload


@pytest.mark.parametrize(
    ("frame_hex", "error"),
    [
        ("", TruncatedFrame),
        ("82", TruncatedFrame),  # header cut short
        ("8205", TruncatedFrame),  # metadata runs past the end
        ("c0", TruncatedFrame),  # inside the version byte
        ("00", TruncatedFrame),  # no start bit
        ("0000000000", TruncatedFrame),
        ("098027b7d1"[:8], TruncatedFrame),  # BINARY without its subtype
        ("0802027b7d7b7d", TruncatedFrame),  # BUS with BINARY's padding
        ("9802027b7d7b7d", TruncatedFrame),  # BINARY code without the padding (bit length off)
        ("9a027b7d7b7d", UnknownMessageType),  # code 13
        ("be027b7d7b7d", UnknownMessageType),  # code 31
        ("c082027b7d7b7d", UnsupportedVersion),  # version 2
        ("ffc2027b7d7b7d", UnsupportedVersion),  # version 255
        ("8302ffff7b7d", CorruptCompression),
    ],
)
def test_bad_frames(frame_hex: str, error: type[FrameError]) -> None:
    with pytest.raises(error):
        decode_frame(bytes.fromhex(frame_hex))


def test_version_zero_is_accepted() -> None:
    assert decode_frame(bytes.fromhex("c002027b7d7b7d")).versioned


def test_zlib_bomb_is_refused() -> None:
    bomb = zlib.compress(b"\x00" * (DEFAULT_MAX_INFLATED_SIZE + 1), 9)
    frame = bytes([0x83, 0x00]) + bomb  # BUS, compressed, no metadata, the bomb as payload
    with pytest.raises(PayloadTooLarge):
        decode_frame(frame)
    assert (
        decode_frame(frame, max_inflated_size=DEFAULT_MAX_INFLATED_SIZE + 1).payload.count(0)
        == DEFAULT_MAX_INFLATED_SIZE + 1
    )


@pytest.mark.parametrize(
    "stream",
    [zlib.compress(b"hello")[:-3], zlib.compress(b"hello") + b"junk", b"\x78\x9c\xff\xff"],
)
def test_inflate_rejects_damaged_streams(stream: bytes) -> None:
    with pytest.raises(CorruptCompression):
        inflate(stream)


def test_bad_bin_type_arguments() -> None:
    with pytest.raises(InvalidArgument):
        encode_frame("bin", b"{}", b"", bin_type=16)
    with pytest.raises(InvalidArgument):
        encode_frame("bus", b"{}", b"{}", bin_type=1)


def test_unassigned_binary_subtype_is_kept() -> None:
    frame = decode_frame(encode_frame("bin", b"{}", b"x", bin_type=9))
    assert frame.bin_type == 9
    assert frame.binary_type == 9


def test_deflate_round_trips_through_inflate() -> None:
    from hivemind_client.errors import InvalidArgument
    from hivemind_client.wire.frame import deflate, inflate

    assert inflate(deflate(b"abc" * 100)) == b"abc" * 100
    with pytest.raises(InvalidArgument):
        deflate("text")  # type: ignore[arg-type]


def _bits_to_frame(bits: str) -> bytes:
    """Bits MSB first, zero bits prepended to a whole number of bytes (as encoders pad)."""
    bits = "0" * (-len(bits) % 8) + bits
    return int(bits, 2).to_bytes(len(bits) // 8, "big")


def test_a_later_version_wins_over_the_layout_error() -> None:
    # start bit, versioned, version 99, type 1: fifteen bits, so one zero bit of padding that
    # the v1 layout does not allow; the version is the first thing a decoder can tell
    frame = _bits_to_frame("1" + "1" + f"{99:08b}" + f"{1:05b}")
    with pytest.raises(UnsupportedVersion, match="version 99"):
        decode_frame(frame)


def test_a_metadata_length_past_the_end_is_named() -> None:
    frame = _bits_to_frame("1" + "0" + f"{1:05b}" + "0" + f"{200:08b}") + b"{}"
    with pytest.raises(TruncatedFrame, match="metadata_len claims 200 bytes but only 2 follow"):
        decode_frame(frame)


def test_an_unassigned_type_code_says_so() -> None:
    frame = _bits_to_frame("1" + "0" + f"{13:05b}" + "0" + f"{2:08b}") + b"{}{}"
    with pytest.raises(UnknownMessageType, match="unassigned"):
        decode_frame(frame)
