"""Outgoing websocket frames: our builder against websocket-client's ABNF, byte for byte."""

from __future__ import annotations

import importlib.util
import random
import socket
import struct
import sys
import threading
import time
from collections.abc import Callable
from types import SimpleNamespace

import pytest
import websocket
from hypothesis import given, settings
from hypothesis import strategies as st

from hivemind_client.sync import websocket_io as transport
from hivemind_client.sync.websocket_io import (
    _abnf_frame,
    _build_frame,
    _client_frame,
    _masked_frame,
)

needs_speedups = pytest.mark.skipif(
    transport._apply_mask is None, reason="websockets.speedups is not installed"
)

ABNF = websocket.ABNF
DATA_OPCODES = (ABNF.OPCODE_TEXT, ABNF.OPCODE_BINARY, ABNF.OPCODE_CONT)
CONTROL_OPCODES = (ABNF.OPCODE_PING, ABNF.OPCODE_PONG, ABNF.OPCODE_CLOSE)
_rng = random.Random(6455)
LENGTHS = sorted(
    {0, 1, 2, 3, 4, 5, 124, 125, 126, 127, 128, 1000, 65535, 65536, 65537, 1 << 20}
    | {_rng.randrange(1, 300_000) for _ in range(4)}
)
KEYS = (b"\x00\x00\x00\x00", b"\xff\xff\xff\xff", b"\x12\x34\x56\x78", bytes(_rng.randbytes(4)))


def reference(payload: bytes, opcode: int, key: bytes) -> bytes:
    """websocket-client's frame for the same payload and mask key."""
    frame = ABNF(fin=1, rsv1=0, rsv2=0, rsv3=0, opcode=opcode, mask_value=1, data=payload)
    frame.get_mask_key = lambda _n: key
    built: bytes = frame.format()
    return built


def parse(frame: bytes) -> tuple[int, int, bytes]:
    """(first byte, second byte, unmasked payload) of one masked frame, checking its length."""
    first, second = frame[0], frame[1]
    assert second & 0x80, "client frames are masked"
    length, offset = second & 0x7F, 2
    if length == 126:
        (length,), offset = struct.unpack_from("!H", frame, 2), 4
    elif length == 127:
        (length,), offset = struct.unpack_from("!Q", frame, 2), 10
    key, body = frame[offset : offset + 4], frame[offset + 4 :]
    assert len(body) == length
    return first, second, ABNF.mask(key, body)


@needs_speedups
@pytest.mark.parametrize("length", LENGTHS)
@pytest.mark.parametrize("opcode", DATA_OPCODES)
def test_data_frames_match_websocket_client(length: int, opcode: int) -> None:
    payload = _rng.randbytes(length)
    for key in KEYS:
        ours = _client_frame(payload, opcode, key)
        assert ours == reference(payload, opcode, key)
        first, _, unmasked = parse(ours)
        assert first == 0x80 | opcode
        assert unmasked == payload


@needs_speedups
@pytest.mark.parametrize("length", [0, 1, 2, 4, 5, 100, 125])
@pytest.mark.parametrize("opcode", CONTROL_OPCODES)
def test_control_frames_match_websocket_client(length: int, opcode: int) -> None:
    payload = _rng.randbytes(length)
    for key in KEYS:
        ours = _client_frame(payload, opcode, key)
        assert ours == reference(payload, opcode, key)
        assert parse(ours) == (0x80 | opcode, 0x80 | length, payload)


@needs_speedups
def test_header_lengths_at_the_boundaries() -> None:
    key = b"abcd"
    assert _client_frame(b"x" * 125, ABNF.OPCODE_BINARY, key)[:2] == b"\x82\xfd"
    assert _client_frame(b"x" * 126, ABNF.OPCODE_BINARY, key)[:4] == b"\x82\xfe\x00\x7e"
    assert _client_frame(b"x" * 65535, ABNF.OPCODE_TEXT, key)[:4] == b"\x81\xfe\xff\xff"
    assert (
        _client_frame(b"x" * 65536, ABNF.OPCODE_TEXT, key)[:10]
        == b"\x81\xff\x00\x00\x00\x00\x00\x01\x00\x00"
    )
    assert _client_frame(b"", ABNF.OPCODE_PING, key) == b"\x89\x80abcd"


@needs_speedups
@pytest.mark.parametrize("opcode", CONTROL_OPCODES)
def test_control_frames_over_125_bytes_are_refused(opcode: int) -> None:
    with pytest.raises(ValueError, match="control frame"):
        _client_frame(b"x" * 126, opcode, b"abcd")


@needs_speedups
def test_bad_opcodes_and_mask_keys_are_refused() -> None:
    with pytest.raises(ValueError, match="opcode"):
        _client_frame(b"x", 0x3, b"abcd")
    for key in (b"", b"abc", b"abcde"):
        with pytest.raises(ValueError, match="mask key"):
            _client_frame(b"x", ABNF.OPCODE_BINARY, key)


@needs_speedups
@settings(max_examples=150, deadline=None)
@given(
    payload=st.binary(max_size=70_000),
    opcode=st.sampled_from(DATA_OPCODES),
    key=st.binary(min_size=4, max_size=4),
)
def test_any_payload_round_trips_and_matches(payload: bytes, opcode: int, key: bytes) -> None:
    ours = _client_frame(payload, opcode, key)
    assert ours == reference(payload, opcode, key)
    assert parse(ours)[::2] == (0x80 | opcode, payload)


@needs_speedups
def test_the_fast_builder_is_chosen_and_masks_with_fresh_random_keys() -> None:
    assert _build_frame is _masked_frame
    payload = b"hello hub" * 50
    frames = [_masked_frame(payload, ABNF.OPCODE_BINARY) for _ in range(8)]
    assert len({frame[4:8] for frame in frames}) > 1, "a new mask key each frame"
    for frame in frames:
        assert parse(frame) == (0x82, 0xFE, payload)
        assert frame == reference(payload, ABNF.OPCODE_BINARY, frame[4:8])


@pytest.mark.parametrize("length", [0, 1, 125, 126, 65535, 65536])
@pytest.mark.parametrize("opcode", DATA_OPCODES + CONTROL_OPCODES)
def test_the_fallback_builds_valid_frames(length: int, opcode: int) -> None:
    if opcode & 0x08 and length > 125:
        return
    payload = _rng.randbytes(length)
    frame = _abnf_frame(payload, opcode)
    first, _, unmasked = parse(frame)
    assert (first, unmasked) == (0x80 | opcode, payload)
    key_at = 2 if length < 126 else 4 if length < 1 << 16 else 10
    assert frame == reference(payload, opcode, frame[key_at : key_at + 4])


def test_a_pure_python_install_falls_back_to_websocket_client(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # a separate copy of the module, imported as if websockets had no C extension
    monkeypatch.setitem(sys.modules, "websockets.speedups", None)
    spec = importlib.util.spec_from_file_location("_transport_no_speedups", transport.__file__)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, module)  # dataclasses look the module up
    spec.loader.exec_module(module)
    assert module._apply_mask is None
    assert module._build_frame is module._abnf_frame
    assert parse(module._build_frame(b"hi", ABNF.OPCODE_TEXT)) == (0x81, 0x82, b"hi")
    with pytest.raises(RuntimeError, match="speedups"):
        module._client_frame(b"x", ABNF.OPCODE_BINARY, b"abcd")


@pytest.mark.parametrize(
    "builder",
    [
        pytest.param(_masked_frame, marks=needs_speedups, id="speedups"),
        pytest.param(_abnf_frame, id="fallback"),
    ],
)
def test_write_sends_frames_websocket_client_can_read(
    monkeypatch: pytest.MonkeyPatch, builder: Callable[[bytes, int], bytes]
) -> None:
    monkeypatch.setattr(transport, "_build_frame", builder)
    ours, peer = socket.socketpair()
    ours.settimeout(0.2)  # the reader's poll timeout: _write keeps going through it
    received: list[tuple[int, str | bytes]] = []

    def read() -> None:
        frames = websocket.frame_buffer(peer.recv, skip_utf8_validation=False)
        time.sleep(0.3)  # a slow reader: the first send times out (0.2 s) before it drains
        for _ in range(len(messages)):
            frame = frames.recv_frame()
            received.append((frame.opcode, frame.data))

    messages = [
        (ABNF.OPCODE_BINARY, _rng.randbytes(1 << 20)),
        (ABNF.OPCODE_TEXT, "héllo".encode()),
        (ABNF.OPCODE_PING, b""),
        (ABNF.OPCODE_PONG, b"p" * 125),
        (ABNF.OPCODE_BINARY, b""),
    ]
    reader = threading.Thread(target=read)
    reader.start()
    try:
        ws = SimpleNamespace(sock=ours, lock=threading.Lock())
        for opcode, payload in messages:
            transport.write_frame(
                ws,  # type: ignore[arg-type]
                payload,
                opcode,
                send_timeout=10.0,
                clock=time.monotonic,
                stopping=lambda: False,
            )
        reader.join(10)
    finally:
        ours.close()
        peer.close()
    assert received == messages
