"""Binary frames (protocol v1 "binarize") <-> bytes.

Decoding runs the reader that codegen generates from ``schema/hivemind_frame.ksy``
(``codegen/ksy_reader.py``); every error it or zlib can raise becomes one of ours. The Kaitai
compiler's parser, generated from the same file, is the second reading that tests hold this one
to. Encoding is written here by hand against the same ``.ksy`` (the Kaitai compiler available
here generates readers only) and is held to both readers by round-trip property tests, an
independent bit reader and the conformance vectors.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from functools import lru_cache

from hivemind_client._generated import hivemind_frame_reader as _reader
from hivemind_client.errors import (
    CorruptCompression,
    FrameError,
    InvalidArgument,
    MetadataTooLarge,
    PayloadTooLarge,
    TruncatedFrame,
    UnknownMessageType,
    UnsupportedVersion,
)
from hivemind_client.wire.message_types import BinaryPayloadType, HiveMessageType

__all__ = [
    "DEFAULT_MAX_INFLATED_SIZE",
    "FRAME_FORMAT_VERSION",
    "MAX_METADATA_SIZE",
    "Frame",
    "decode_frame",
    "deflate",
    "encode_frame",
    "inflate",
    "type_code",
]

FRAME_FORMAT_VERSION = 1
"""The version a versioned frame carries; decoders accept 0 and 1."""

MAX_METADATA_SIZE = 255
"""The metadata length field is 8 bits wide."""

DEFAULT_MAX_INFLATED_SIZE = 32 * 1024 * 1024
"""Largest size a compressed field may inflate to (a few minutes of base64 audio in JSON)."""

_CODE_OF_TYPE: dict[HiveMessageType, int] = {
    HiveMessageType[member.name.upper()]: int(member) for member in _reader.MessageType
}
_TYPE_OF_CODE: dict[int, HiveMessageType] = {code: t for t, code in _CODE_OF_TYPE.items()}
_BINARY_CODE = _CODE_OF_TYPE[HiveMessageType.BINARY]


@dataclass(frozen=True, slots=True)
class Frame:
    """A decoded frame: metadata and payload are the plain (inflated) bytes.

    ``bin_type`` is the raw 4-bit subtype of BINARY frames (0 for every other type); values
    the protocol does not assign yet are kept as they came.
    """

    msg_type: HiveMessageType
    metadata: bytes
    payload: bytes
    compressed: bool = False
    versioned: bool = False
    bin_type: int = 0

    @property
    def binary_type(self) -> BinaryPayloadType | int:
        """The subtype as an enum member when it is one the protocol assigns."""
        try:
            return BinaryPayloadType(self.bin_type)
        except ValueError:
            return self.bin_type


def type_code(msg_type: HiveMessageType | str) -> int:
    """The 5-bit wire code of a message type; INTERCOM has none and travels as text."""
    if isinstance(msg_type, str):  # members and their wire strings hash alike
        code = _CODE_OF_TYPE.get(msg_type)  # type: ignore[arg-type]
        if code is not None:
            return code
    try:
        return _CODE_OF_TYPE[HiveMessageType(msg_type)]
    except (KeyError, ValueError):
        raise UnknownMessageType(f"{msg_type!s} has no binary type code") from None


def inflate(data: bytes, limit: int = DEFAULT_MAX_INFLATED_SIZE) -> bytes:
    """Inflate one zlib stream, refusing more than ``limit`` bytes of output."""
    inflater = zlib.decompressobj()
    try:
        out = inflater.decompress(data, limit + 1)
    except zlib.error as exc:
        raise CorruptCompression(f"zlib stream is damaged: {exc}") from None
    if len(out) > limit:
        raise PayloadTooLarge(f"compressed field inflates beyond the {limit}-byte limit")
    if not inflater.eof:
        raise CorruptCompression("zlib stream ends early")
    if inflater.unused_data:
        raise CorruptCompression("data follows the end of the zlib stream")
    return out


def deflate(data: bytes) -> bytes:
    """One zlib stream of ``data`` (what a compressed frame field holds)."""
    if not isinstance(data, bytes | bytearray | memoryview):
        raise InvalidArgument(f"data must be bytes, not {type(data).__name__}")
    return zlib.compress(data)


def decode_frame(data: bytes, *, max_inflated_size: int = DEFAULT_MAX_INFLATED_SIZE) -> Frame:
    """Decode one binary frame; raises only :class:`~hivemind_client.errors.FrameError`."""
    if not isinstance(data, bytes):
        if not isinstance(data, bytearray | memoryview):
            raise InvalidArgument(f"a frame is bytes, not {type(data).__name__}")
        data = bytes(data)
    try:
        fields = _reader.read_hivemind_frame(data)
    except _reader.ParseError as exc:
        raise _unreadable(data, exc) from None
    if fields.frame__header__versioned and fields.frame__header__version > FRAME_FORMAT_VERSION:
        raise UnsupportedVersion(
            f"frame format version {fields.frame__header__version} (we speak 0 and 1)"
        )
    code = fields.frame__header__type_code
    msg_type = _TYPE_OF_CODE.get(code)
    if msg_type is None:
        raise UnknownMessageType(f"type code {code} is unassigned")
    padded = fields.frame__type == "padded_frame"
    if padded != (code == _BINARY_CODE):
        raise TruncatedFrame(f"{msg_type.name} frame with the wrong padding (bit length off)")
    payload = fields.frame__body__payload
    if padded:
        metadata = fields.frame__body__metadata_bytes
        bin_type = fields.frame__body__bin_type
    else:
        metadata = fields.frame__body__metadata
        bin_type = 0
    compressed = fields.frame__header__compressed
    if compressed:
        if metadata:
            metadata = inflate(metadata, max_inflated_size)
        if payload and not padded:
            payload = inflate(payload, max_inflated_size)
    return Frame(msg_type, metadata, payload, compressed, fields.frame__header__versioned, bin_type)


def _unreadable(data: bytes, exc: Exception) -> FrameError:
    """The error for a frame the reader refused, naming the most telling cause.

    A version above ours wins over the layout error the reader met: a later format may lay its
    fields out differently, so "unsupported version" is the honest answer. A frame ending inside
    the metadata says how many bytes its length field claims.
    """
    path = getattr(exc, "path", "?")
    header = _peek_header(data)
    if header is not None:
        version, metadata_length, remaining = header
        if version is not None and version > FRAME_FORMAT_VERSION:
            return UnsupportedVersion(f"frame format version {version} (we speak 0 and 1)")
        if (
            isinstance(exc, _reader.EndOfData)
            and metadata_length is not None
            and remaining is not None
            and path.endswith("/metadata")
        ):
            return TruncatedFrame(
                f"metadata_len claims {metadata_length} bytes but only {remaining} follow"
                f" ({path})"
            )
    if isinstance(exc, _reader.EndOfData):
        return TruncatedFrame(f"frame ends inside a field ({path})")
    return TruncatedFrame(f"padding bits are not zero or the start bit is missing ({path})")


def _peek_header(data: bytes) -> tuple[int | None, int | None, int | None] | None:
    """Read the header of an unreadable frame by hand, as far as it goes: the version (None
    when unversioned), the metadata length and the whole bytes after it (None past the end).
    The start bit is the first set bit of the first byte; None when that byte is zero."""
    if not data or not data[0]:
        return None
    total = len(data) * 8
    bits = int.from_bytes(data[:6], "big")
    width = min(len(data), 6) * 8

    def read(position: int, count: int) -> int | None:
        if position + count > width:
            return None
        return (bits >> (width - position - count)) & ((1 << count) - 1)

    position = 8 - data[0].bit_length() + 1  # just past the start bit
    versioned = read(position, 1)
    if versioned is None:
        return None
    position += 1
    version = None
    if versioned:
        version = read(position, 8)
        if version is None:
            return None
        position += 8
    position += 6  # type code and compression flag
    metadata_length = read(position, 8)
    remaining = (total - position - 8) // 8 if metadata_length is not None else None
    return version, metadata_length, remaining


def encode_frame(
    msg_type: HiveMessageType | str,
    metadata: bytes = b"{}",
    payload: bytes = b"",
    *,
    compressed: bool | None = False,
    versioned: bool = False,
    bin_type: int = 0,
) -> bytes:
    """Encode one binary frame from plain metadata and payload bytes.

    ``compressed=None`` picks the shorter frame (uncompressed on a tie, compressed when only
    that fits the 255-byte metadata field). BINARY payloads are never compressed.
    """
    code = type_code(msg_type)
    binary = code == _BINARY_CODE
    if not 0 <= bin_type <= 15:
        raise InvalidArgument(f"bin_type {bin_type} does not fit 4 bits")
    if bin_type and not binary:
        raise InvalidArgument("bin_type is only meaningful for BINARY frames")
    if compressed is None:
        return _encode_auto(code, metadata, payload, versioned, bin_type)
    return _assemble(code, metadata, payload, compressed, versioned, bin_type)


def _encode_auto(
    code: int, metadata: bytes, payload: bytes, versioned: bool, bin_type: int
) -> bytes:
    if code == _BINARY_CODE:
        # only the metadata can shrink: decide on its length, and assemble the frame once
        plain_fits = len(metadata) <= MAX_METADATA_SIZE
        compressed = not plain_fits or len(_deflate_metadata(metadata)) < len(metadata)
        return _assemble(code, metadata, payload, compressed, versioned, bin_type)
    try:
        plain = _assemble(code, metadata, payload, False, versioned, bin_type)
    except MetadataTooLarge:
        return _assemble(code, metadata, payload, True, versioned, bin_type)
    try:
        packed = _assemble(code, metadata, payload, True, versioned, bin_type)
    except MetadataTooLarge:
        return plain
    return plain if len(plain) <= len(packed) else packed


@lru_cache(maxsize=64)
def _deflate_cached(metadata: bytes) -> bytes:
    return zlib.compress(metadata)


def _deflate_metadata(metadata: bytes) -> bytes:
    """zlib of BINARY metadata, remembered for small ones (a stream repeats the same few)."""
    if len(metadata) <= 1024:
        return _deflate_cached(bytes(metadata))
    return zlib.compress(metadata)


def _assemble(
    code: int, metadata: bytes, payload: bytes, compressed: bool, versioned: bool, bin_type: int
) -> bytes:
    binary = code == _BINARY_CODE
    if compressed:
        metadata = _deflate_metadata(metadata) if binary else zlib.compress(metadata)
        if not binary:
            payload = zlib.compress(payload)
    size = len(metadata)
    if size > MAX_METADATA_SIZE:
        raise MetadataTooLarge(
            f"metadata is {size} bytes; the frame field holds {MAX_METADATA_SIZE}"
        )
    # start bit, versioned bit, [version], 5-bit type, compressed bit, 8-bit metadata length
    if versioned:
        header = (
            (0b11 << 22) | (FRAME_FORMAT_VERSION << 14) | (code << 9) | (compressed << 8) | size
        )
        header_size = 3
    else:
        header = (1 << 15) | (code << 9) | (compressed << 8) | size
        header_size = 2
    if not binary:
        return header.to_bytes(header_size, "big") + metadata + payload
    # Four leading zero bits, then header, metadata and the subtype: a whole number of bytes,
    # so the payload that follows is back on the byte grid.
    prefix = (header << (8 * size + 4)) | (int.from_bytes(metadata, "big") << 4) | bin_type
    return prefix.to_bytes(header_size + size + 1, "big") + payload
