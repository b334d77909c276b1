"""Issue 14 (wire part): hostile input ends as a typed error, and costs what its size allows."""

from __future__ import annotations

import json
import zlib
from typing import Any

import pytest

from hivemind_client import HiveMessage, HiveMessageType, decode_binary, decode_json
from hivemind_client.errors import (
    HiveMindError,
    InvalidArgument,
    InvalidJSON,
    InvalidPayload,
    PayloadTooLarge,
    UnknownMessageType,
)
from hivemind_client.wire.codec import encode_binary, encode_json
from hivemind_client.wire.frame import encode_frame
from hivemind_client.wire.message import (
    DEFAULT_MAX_DECODED_ITEMS,
    MAX_DATA_DEPTH,
    Message,
    json_tree_copy,
    parse_json_object,
)


def _bus_text(data_json: str) -> str:
    return '{"msg_type": "bus", "payload": {"type": "speak", "data": ' + data_json + "}}"


# -- item 1: text that cannot round-trip is refused at decode ------------------------------------
@pytest.mark.parametrize(
    "data_json",
    [
        '{"utterance": "\\ud800"}',  # a lone high surrogate
        '{"utterance": "x\\udc00y"}',  # a lone low surrogate
        '{"utterance": "\\uDBFF"}',  # upper-case hex
        '{"\\ud800": 1}',  # in a key
        '{"u": ["ok", {"deep": "\\ud83d"}]}',  # a high surrogate without its low half
        '{"u": "\\udc00\\ud800"}',  # both halves, in the wrong order
        '{"u": "\\\\\\ud800"}',  # an escaped backslash, then a real lone escape
    ],
)
def test_lone_surrogates_are_refused_by_decode_json(data_json: str) -> None:
    text = _bus_text(data_json)
    json.loads(text)  # valid JSON all the same
    with pytest.raises(InvalidJSON, match="surrogate"):
        decode_json(text)
    with pytest.raises(InvalidJSON, match="surrogate"):
        decode_json(text.encode())


@pytest.mark.parametrize(
    ("data_json", "expected"),
    [
        ('{"u": "\\ud83d\\ude00"}', "\U0001f600"),  # a pair is one code point
        ('{"u": "\\\\ud800"}', "\\ud800"),  # an escaped backslash: plain text, not an escape
        ('{"u": "caf\\u00e9 \\u2014"}', "caf\u00e9 \u2014"),
    ],
)
def test_text_that_round_trips_is_accepted(data_json: str, expected: str) -> None:
    message = decode_json(_bus_text(data_json))
    assert message.payload.data["u"] == expected
    assert decode_binary(encode_binary(message)).payload == message.payload


def test_a_literal_surrogate_in_a_str_is_refused() -> None:
    with pytest.raises(InvalidJSON, match="surrogate"):
        decode_json(_bus_text('{"u": "\ud800"}'))


@pytest.mark.parametrize("compressed", [False, True])
def test_lone_surrogates_are_refused_inside_binary_frames(compressed: bool) -> None:
    payload = b'{"type": "speak", "data": {"u": "\\ud800"}, "context": {}}'
    frame = encode_frame(HiveMessageType.BUS, b"{}", payload, compressed=compressed)
    with pytest.raises(InvalidJSON, match="surrogate"):
        decode_binary(frame)
    metadata = b'{"lang": "\\udfff"}'
    frame = encode_frame(HiveMessageType.BUS, metadata, payload.replace(b"\\ud800", b"ok"))
    with pytest.raises(InvalidJSON, match="surrogate"):
        decode_binary(frame)


# -- item 3: a decoded-size budget beside the inflation bound ------------------------------------
def _items_payload(count: int) -> bytes:
    """A BUS payload whose data holds ``count`` empty objects: the costliest text per byte."""
    return b'{"type": "x", "data": {"a": [' + b",".join([b"{}"] * count) + b"]}}"


def test_a_frame_inflating_to_millions_of_objects_is_refused_before_parsing() -> None:
    payload = _items_payload(1_000_000)  # ~3 MB of text, ~70 MB of Python objects
    frame = encode_frame(HiveMessageType.BUS, b"{}", payload, compressed=True)
    assert len(frame) < 32 * 1024  # a small frame on the wire
    with pytest.raises(PayloadTooLarge, match="JSON values"):
        decode_binary(frame)
    with pytest.raises(PayloadTooLarge):
        decode_json(b'{"msg_type": "bus", "payload": ' + payload + b"}")


def test_the_item_budget_is_configurable_and_exact_enough() -> None:
    # 10 objects + 1 array + the data and payload objects, 9 commas between the items
    payload = _items_payload(10)
    frame = encode_frame(HiveMessageType.BUS, b"{}", payload, compressed=True)
    assert decode_binary(frame, max_decoded_items=100).payload.data == {"a": [{}] * 10}
    with pytest.raises(PayloadTooLarge):
        decode_binary(frame, max_decoded_items=20)
    text = '{"msg_type": "bus", "payload": ' + payload.decode() + "}"
    assert decode_json(text, max_decoded_items=100)
    with pytest.raises(PayloadTooLarge):
        decode_json(text, max_decoded_items=20)
    # each '{}' and each ',' counts: the default admits half as many empty objects
    big = _items_payload(DEFAULT_MAX_DECODED_ITEMS // 2 - 16)
    assert decode_binary(encode_frame(HiveMessageType.BUS, b"{}", big, compressed=True))


def test_long_text_without_many_values_is_not_refused() -> None:
    text = _bus_text(json.dumps({"audio": "A" * (4 * DEFAULT_MAX_DECODED_ITEMS)}))
    assert decode_json(text).payload.data["audio"].startswith("AAA")


# -- item 11 (a): the copy made for delivery is bounded -------------------------------------------
@pytest.mark.parametrize("depth", [MAX_DATA_DEPTH + 1, 600, 990])
def test_too_deep_trees_are_a_typed_error(depth: int) -> None:
    tree: Any = {}
    for _ in range(depth):
        tree = {"a": [tree]}  # two levels per step
    with pytest.raises(InvalidPayload, match="nests too deeply"):
        json_tree_copy(tree)


def test_decoded_deep_bus_data_copy_is_a_typed_error() -> None:
    text = _bus_text('{"a": ' + "[" * 900 + "]" * 900 + "}")
    message = decode_json(text)  # the decoder takes it
    with pytest.raises(InvalidPayload):
        json_tree_copy(message.payload.data)


def test_trees_within_the_bound_are_copied() -> None:
    tree: Any = "leaf"
    for _ in range(MAX_DATA_DEPTH):
        tree = [tree]
    copied = json_tree_copy(tree)
    assert copied == tree and copied is not tree


# -- item 11 (b): a wrapping type's payload must be a message -------------------------------------
@pytest.mark.parametrize(
    ("payload", "error"),
    [
        ({"type": "alert"}, InvalidPayload),
        ({"msg_type": 5}, InvalidPayload),
        ({"msg_type": "zzz"}, UnknownMessageType),
        ({"msg_type": "propagate", "payload": {"type": "alert"}}, InvalidPayload),
        ({"msg_type": "propagate", "payload": "text"}, InvalidPayload),
        ({"msg_type": "bus", "payload": {"type": "x"}, "route": 5}, InvalidPayload),
        ('{"type": "alert"}', InvalidPayload),
        # a bus Message is our caller's mistake, never a peer's (no wire carries the object)
        (Message("alert"), InvalidArgument),
    ],
)
@pytest.mark.parametrize("msg_type", ["broadcast", "propagate", "escalate", "query", "cascade"])
def test_wrapping_types_refuse_a_payload_that_is_not_a_message(
    msg_type: str, payload: Any, error: type[HiveMindError]
) -> None:
    with pytest.raises(error):
        HiveMessage(msg_type, payload)
    message = HiveMessage(msg_type, {"msg_type": "bus", "payload": {"type": "x"}})
    with pytest.raises(error):
        message.payload = payload
    assert message.payload.msg_type is HiveMessageType.BUS  # unchanged


def test_every_wrapper_that_can_be_built_encodes_and_decodes() -> None:
    message = HiveMessage("broadcast", {"msg_type": "bus", "payload": {"type": "alert"}})
    assert message.payload.payload.msg_type == "alert"
    assert decode_json(encode_json(message)) == message
    assert decode_binary(encode_binary(message)).payload == message.payload


def test_a_decoded_wrapper_without_payload_raises_nothing_untyped() -> None:
    message = decode_json('{"msg_type": "broadcast"}')  # the schema allows it
    assert message.payload is None
    for encode in (encode_json, encode_binary):
        with pytest.raises(InvalidArgument, match="wraps nothing"):
            encode(message)
    with pytest.raises(InvalidPayload):
        HiveMessage.from_dict({"payload": {}})


def test_route_must_be_a_list() -> None:
    with pytest.raises(InvalidArgument):
        HiveMessage("bus", {"type": "x"}, route=5)  # type: ignore[arg-type]


def test_parse_json_object_budget_counts_bytes_and_text_alike() -> None:
    text = "{" + ",".join(f'"k{i}": []' for i in range(50)) + "}"
    assert parse_json_object(text, max_items=200) == parse_json_object(text.encode(), max_items=200)
    for value in (text, text.encode(), zlib.decompress(zlib.compress(text.encode()))):
        with pytest.raises(PayloadTooLarge):
            parse_json_object(value, max_items=60)
