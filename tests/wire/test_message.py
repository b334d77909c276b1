"""Message layer: the HiveMessage/Message API, JSON and binary codecs, schema validation."""

from __future__ import annotations

import contextlib
import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hivemind_client import (
    BinaryPayloadType,
    HiveMessage,
    HiveMessageType,
    HiveMindError,
    Message,
    decode_binary,
    decode_json,
    encode_binary,
    encode_frame,
    encode_json,
)
from hivemind_client.errors import (
    FrameError,
    InvalidArgument,
    InvalidJSON,
    InvalidPayload,
    MetadataTooLarge,
    UnknownMessageType,
)
from hivemind_client.wire.message import json_encoder
from hivemind_client.wire.validation import (
    MAX_NESTING_DEPTH,
    validate_message,
    validate_message_fully,
)


class ForeignMessage:
    """Shaped like ovos_bus_client.Message, but not ours."""

    def __init__(self, msg_type: str, data: dict[str, Any], context: dict[str, Any]) -> None:
        self.msg_type = msg_type
        self.data = data
        self.context = context


def test_envelope_key_order_and_text_match_the_reference() -> None:
    message = HiveMessage(HiveMessageType.BUS, Message("speak", {"utterance": "olá"}))
    assert list(message.as_dict) == [
        "msg_type",
        "payload",
        "metadata",
        "route",
        "node",
        "target_site_id",
        "target_pubkey",
        "source_peer",
    ]
    assert message.serialize() == (
        '{"msg_type": "bus", "payload": {"type": "speak", "data": {"utterance": "olá"}, "context": {}}, '
        '"metadata": {}, "route": [], "node": null, "target_site_id": null, "target_pubkey": null, '
        '"source_peer": null}'
    )


def test_payload_views_by_type() -> None:
    bus = HiveMessage("bus", Message("speak", {"utterance": "hi"}, {"source": "s"}))
    assert bus.payload == Message("speak", {"utterance": "hi"}, {"source": "s"})
    wrapped = HiveMessage("propagate", bus, target_site_id="kitchen")
    assert isinstance(wrapped.payload, HiveMessage)
    assert wrapped.payload.payload.data == {"utterance": "hi"}
    assert wrapped.target_site_id == "kitchen"
    ping = HiveMessage("ping", {"flood_id": "f"})
    assert ping.payload == {"flood_id": "f"}
    assert ping["flood_id"] == "f"
    ping["peer"] = "p"
    assert ping.payload["peer"] == "p"


def test_ovos_like_objects_are_accepted() -> None:
    message = HiveMessage("bus", ForeignMessage("speak", {"utterance": "x"}, {"a": 1}))
    assert message.raw_payload == {"type": "speak", "data": {"utterance": "x"}, "context": {"a": 1}}


def test_message_reply_forward_response() -> None:
    original = Message(
        "ask", {"q": 1}, {"source": "sat", "destination": "hub", "session": {"session_id": "s"}}
    )
    reply = original.reply("answer", {"a": 2}, {"extra": True})
    assert reply.context["source"] == "hub"
    assert reply.context["destination"] == "sat"
    assert reply.context["extra"] is True
    assert reply.context["session"] == {"session_id": "s"}
    assert original.context["source"] == "sat"  # untouched
    forwarded = original.forward("next")
    assert forwarded.context == original.context
    assert forwarded.context is not original.context
    assert original.response().msg_type == "ask.response"
    assert Message.deserialize(original.serialize()) == original


def test_routing_helpers() -> None:
    message = HiveMessage("bus", Message("x"))
    message.update_source_peer("peer-a")
    message.add_target_peer("peer-b")
    message.update_hop_data()
    message.update_hop_data({"note": 1})
    assert message.route == [{"source": "peer-a", "targets": ["peer-b"], "note": 1}]
    message.remove_target_peer("peer-b")
    assert message.target_peers == ["peer-a"]  # none named: back where it came from
    message.replace_route([])
    assert message.route == []


def test_construction_errors_are_ours() -> None:
    with pytest.raises(UnknownMessageType):
        HiveMessage("nonsense", {})
    with pytest.raises(InvalidArgument):
        HiveMessage("bin", {"not": "bytes"})
    with pytest.raises(InvalidArgument):
        HiveMessage("bus", ["not", "an", "object"])  # type: ignore[arg-type]
    with pytest.raises(InvalidArgument):
        HiveMessage("bus", {}, bin_type=1)
    with pytest.raises(InvalidArgument):
        HiveMessage("bin", b"x").as_dict  # noqa: B018
    with pytest.raises(InvalidArgument):
        encode_json("not a message")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("not json", InvalidJSON),
        (b"\xff\xfe", InvalidJSON),
        ("[" * 60_000, InvalidJSON),  # nests past the recursion limit, within the item budget
        ("[]", InvalidPayload),
        ('{"payload": {}}', InvalidPayload),
        ('{"msg_type": 7}', InvalidPayload),
        ('{"msg_type": "nope"}', UnknownMessageType),
        ('{"msg_type": "bus", "payload": {"data": {}}}', InvalidPayload),
        ('{"msg_type": "bus", "payload": "text"}', InvalidPayload),
        (
            '{"msg_type": "bus", "payload": {"type": "x"}, "route": [{"targets": []}]}',
            InvalidPayload,
        ),
        ('{"msg_type": "propagate", "payload": {"msg_type": "zzz"}}', UnknownMessageType),
        (
            '{"msg_type": "propagate", "payload": {"msg_type": "bus", "payload": {"type": 1}}}',
            InvalidPayload,
        ),
        ('{"msg_type": "ping", "payload": {}}', InvalidPayload),
        ('{"msg_type": "intercom", "payload": {"signature": "x"}}', InvalidPayload),
        ('{"msg_type": "bin", "payload": {}}', InvalidPayload),
        ('{"msg_type": "hello", "payload": {"pubkey": 5}}', InvalidPayload),
    ],
)
def test_decode_json_errors(text: str | bytes, error: type[HiveMindError]) -> None:
    with pytest.raises(error):
        decode_json(text)


def test_nesting_is_bounded() -> None:
    message: dict[str, Any] = {"msg_type": "bus", "payload": {"type": "x"}}
    for _ in range(MAX_NESTING_DEPTH + 2):
        message = {"msg_type": "propagate", "payload": message}
    with pytest.raises(InvalidPayload):
        decode_json(json.dumps(message))


def test_binary_frames_carry_type_metadata_and_payload_only() -> None:
    inner = HiveMessage(
        "bus", Message("speak", {"utterance": "hi"}), route=[{"source": "a", "targets": []}]
    )
    outer = HiveMessage("broadcast", inner, metadata={"k": "v"}, target_site_id="kitchen", node="n")
    decoded = decode_binary(encode_binary(outer))
    assert decoded.msg_type is HiveMessageType.BROADCAST
    assert decoded.metadata == {"k": "v"}
    assert decoded.payload == inner
    assert decoded.target_site_id is None  # outer routing fields do not travel in binary frames
    assert decoded.node_id is None


def test_binary_message_round_trip() -> None:
    audio = bytes(range(256)) * 10
    message = HiveMessage(
        "bin", audio, bin_type=BinaryPayloadType.TTS_AUDIO, metadata={"sample_rate": 16000}
    )
    decoded = decode_binary(encode_binary(message, versioned=True))
    assert decoded == message
    assert decoded.bin_type is BinaryPayloadType.TTS_AUDIO


def test_intercom_never_goes_binary() -> None:
    with pytest.raises(UnknownMessageType):
        encode_binary(HiveMessage("intercom", {"ciphertext": "x"}))


def test_metadata_too_large_for_a_binary_frame() -> None:
    import os

    message = HiveMessage("bus", Message("x"), metadata={"blob": os.urandom(300).hex()})
    with pytest.raises(MetadataTooLarge):
        encode_binary(message, compress=False)


def test_empty_metadata_block_decodes_as_empty_object() -> None:
    # 0.7.0a2 crashes on this frame (json.loads("")); newer clients read it as {}.
    decoded = decode_binary(bytes.fromhex("8200") + b'{"type": "x"}')
    assert decoded.metadata == {}


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)
json_objects = st.dictionaries(st.text(max_size=10), json_values, max_size=5)
bus_payloads = st.builds(
    lambda t, d, c: {"type": t, "data": d, "context": c},
    st.text(min_size=1, max_size=30),
    json_objects,
    json_objects,
)


@st.composite
def hive_messages(draw: st.DrawFn, depth: int = 0) -> HiveMessage:
    kinds = ["bus", "shared_bus", "ping", "hello", "3rdparty", "bin"]
    if depth < 2:
        kinds += ["broadcast", "propagate", "escalate", "query", "cascade"]
    kind = draw(st.sampled_from(kinds))
    metadata = draw(
        st.dictionaries(st.text(max_size=6), st.integers() | st.text(max_size=10), max_size=3)
    )
    if kind == "bin":
        return HiveMessage(
            "bin",
            draw(st.binary(max_size=300)),
            bin_type=draw(st.integers(0, 15)),
            metadata=metadata,
        )
    if kind in ("bus", "shared_bus"):
        payload: Any = draw(bus_payloads)
    elif kind == "ping":
        payload = {"flood_id": draw(st.text(max_size=10)), "peer": draw(st.text(max_size=10))}
    elif kind == "hello":
        payload = {"pubkey": draw(st.text(max_size=30))}
    elif kind == "3rdparty":
        payload = draw(json_objects)
    else:
        payload = draw(hive_messages(depth + 1))
        if payload.msg_type is HiveMessageType.BINARY:
            payload = HiveMessage("bus", {"type": "x", "data": {}, "context": {}})
    return HiveMessage(kind, payload, metadata=metadata)


@given(hive_messages(), st.sampled_from([None, True, False]), st.booleans())
def test_binary_round_trip_for_arbitrary_messages(
    message: HiveMessage, compress: bool | None, versioned: bool
) -> None:
    try:
        frame = encode_binary(message, compress=compress, versioned=versioned)
    except MetadataTooLarge:
        return
    decoded = decode_binary(frame)
    assert decoded.msg_type is message.msg_type
    assert decoded.metadata == message.metadata
    assert decoded.raw_payload == message.raw_payload or decoded.payload == message.payload


@given(hive_messages())
def test_json_round_trip_for_arbitrary_messages(message: HiveMessage) -> None:
    if message.msg_type is HiveMessageType.BINARY:
        return
    assert decode_json(encode_json(message)) == message


@given(st.binary(max_size=400))
def test_decode_binary_raises_only_hivemind_errors(data: bytes) -> None:
    with contextlib.suppress(HiveMindError):  # anything else escaping fails the test
        decode_binary(data)


envelopes = st.fixed_dictionaries(
    {"msg_type": st.sampled_from([t.value for t in HiveMessageType] + ["zzz"])},
    optional={
        "payload": json_objects
        | bus_payloads
        | st.just({"flood_id": "f"})
        | st.just({"ciphertext": "c"}),
        "metadata": json_objects | st.integers(),
        "route": st.lists(
            st.dictionaries(st.sampled_from(["source", "targets"]), st.text(max_size=3)), max_size=2
        ),
        "node": st.none() | st.text(max_size=5) | st.integers(),
    },
)


@given(envelopes)
def test_fast_validation_equals_the_whole_schema(envelope: dict[str, Any]) -> None:
    outcomes = []
    for validate in (validate_message, validate_message_fully):
        try:
            validate(envelope)
            outcomes.append("ok")
        except (InvalidPayload, UnknownMessageType):
            outcomes.append("refused")
    assert outcomes[0] == outcomes[1], envelope


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


@pytest.mark.parametrize("ensure_ascii", [False, True])
@pytest.mark.parametrize("c_encoder", [True, False])
@given(value=JSON_VALUES)
def test_json_encoder_writes_what_json_dumps_writes(
    ensure_ascii: bool, c_encoder: bool, value: Any
) -> None:
    with pytest.MonkeyPatch.context() as patch:
        if not c_encoder:  # an interpreter without the _json module
            patch.setattr(json.encoder, "c_make_encoder", None)
        encode = json_encoder(ensure_ascii=ensure_ascii)
    assert encode(value) == json.dumps(value, ensure_ascii=ensure_ascii)


@pytest.mark.parametrize("c_encoder", [True, False])
def test_data_that_is_not_json_is_an_invalid_argument(c_encoder: bool) -> None:
    cyclic: dict[str, Any] = {}
    cyclic["self"] = cyclic
    with pytest.MonkeyPatch.context() as patch:
        if not c_encoder:
            patch.setattr(json.encoder, "c_make_encoder", None)
        encode = json_encoder(ensure_ascii=False)
    for bad in ({"a": object()}, cyclic, {(1, 2): 3}, [b"bytes"]):
        with pytest.raises(InvalidArgument):
            encode(bad)
    with pytest.raises(InvalidArgument):
        HiveMessage("bus", Message("speak", {"a": {1, 2}})).serialize()


def test_a_lone_surrogate_cannot_be_binarized_and_says_so_in_our_terms() -> None:
    # "\ud800" is a valid JSON escape but not UTF-8: the binary frame refuses it with a typed
    # error (it escaped as a bare UnicodeEncodeError), the JSON text form stays ASCII-safe
    from hivemind_client.errors import InvalidArgument
    from hivemind_client.wire.codec import encode_binary

    message = HiveMessage("bus", Message("x\ud800"))
    with pytest.raises(InvalidArgument, match="UTF-8"):
        encode_binary(message)


@pytest.mark.parametrize(
    ("metadata", "payload"),
    [(b"xx", b'{"type":"t"}'), (b"{}", b"\xff\xfe"), (b"{}", b"not json"), (b"\xff", b"{}")],
)
def test_json_inside_a_binary_frame_that_does_not_parse_is_a_frame_error(
    metadata: bytes, payload: bytes
) -> None:
    frame = encode_frame(HiveMessageType.BUS, metadata, payload, compressed=False)
    with pytest.raises(FrameError) as caught:
        decode_binary(frame)
    assert isinstance(caught.value, InvalidJSON)
    assert caught.value.code == "invalid-json"
