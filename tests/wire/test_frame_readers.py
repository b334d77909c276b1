"""Two readers generated from one .ksy must agree: Kaitai's parser and our straight-line reader."""

from __future__ import annotations

from io import BytesIO
from typing import Any

import kaitaistruct
from hypothesis import example, given
from hypothesis import strategies as st
from kaitaistruct import KaitaiStream

from hivemind_client import encode_frame
from hivemind_client._generated import hivemind_frame_reader as fast
from hivemind_client._generated.hivemind_frame import HivemindFrame


def kaitai_reading(data: bytes) -> tuple[str, Any]:
    try:
        frame = HivemindFrame(KaitaiStream(BytesIO(data))).frame
    except kaitaistruct.ValidationFailedError:
        return "invalid", None
    except EOFError:
        return "eof", None
    header = frame.header
    padded = isinstance(frame, HivemindFrame.PaddedFrame)
    fields: dict[str, Any] = {
        "padded": padded,
        "versioned": header.versioned,
        "version": header.version if header.versioned else None,
        "type_code": int(header.type_code),
        "compressed": header.compressed,
    }
    if header.is_v1:
        body = frame.body
        fields["metadata"] = bytes(body.metadata_bytes) if padded else body.metadata
        fields["bin_type"] = int(body.bin_type) if padded else None
        fields["payload"] = body.payload
    return "ok", fields


def fast_reading(data: bytes) -> tuple[str, Any]:
    try:
        f = fast.read_hivemind_frame(data)
    except fast.ValidationFailed:
        return "invalid", None
    except fast.EndOfData:
        return "eof", None
    padded = f.frame__type == "padded_frame"
    fields: dict[str, Any] = {
        "padded": padded,
        "versioned": f.frame__header__versioned,
        "version": f.frame__header__version,
        "type_code": f.frame__header__type_code,
        "compressed": f.frame__header__compressed,
    }
    if f.frame__header__is_v1:
        fields["metadata"] = f.frame__body__metadata_bytes if padded else f.frame__body__metadata
        fields["bin_type"] = f.frame__body__bin_type if padded else None
        fields["payload"] = f.frame__body__payload
    return "ok", fields


@given(st.binary(max_size=64))
@example(b"")
@example(bytes.fromhex("098027b7d10102"))
@example(bytes.fromhex("c042027b7d7b7d"))
@example(bytes.fromhex("c0c2027b7d7b7d"))  # version 3: no body
def test_readers_agree_on_arbitrary_bytes(data: bytes) -> None:
    assert fast_reading(data) == kaitai_reading(data)


@given(
    st.sampled_from(["bus", "bin", "ping", "propagate", "3rdparty", "shake"]),
    st.binary(max_size=255),
    st.binary(max_size=100),
    st.booleans(),
    st.integers(0, 15),
)
def test_readers_agree_on_encoded_frames(
    kind: str, metadata: bytes, payload: bytes, versioned: bool, bin_type: int
) -> None:
    frame = encode_frame(
        kind, metadata, payload, versioned=versioned, bin_type=bin_type if kind == "bin" else 0
    )
    outcome = fast_reading(frame)
    assert outcome[0] == "ok"
    assert outcome == kaitai_reading(frame)


def test_enums_agree() -> None:
    assert [(m.name, int(m)) for m in fast.MessageType] == [
        (m.name, int(m)) for m in HivemindFrame.MessageType
    ]
    assert [(m.name, int(m)) for m in fast.BinaryType] == [
        (m.name, int(m)) for m in HivemindFrame.BinaryType
    ]
