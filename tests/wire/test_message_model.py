"""The message model as both reference clients define it (issue 15): each test fails on the
model before the change."""

from __future__ import annotations

import json

import pytest

from hivemind_client.errors import (
    InvalidArgument,
    InvalidPayload,
    UnknownMessageType,
    WrongArgumentType,
)
from hivemind_client.satellite.routing import origin_of
from hivemind_client.wire import message as message_module
from hivemind_client.wire.message import HiveMessage, Message

BUS = {"type": "speak", "data": {"utterance": "hi"}, "context": {}}


def test_deserialize_drops_per_hop_fields() -> None:
    text = json.dumps(
        {"msg_type": "bus", "payload": BUS, "node": "forged-node", "source_peer": "forged-peer"}
    )
    message = HiveMessage.deserialize(text)
    assert message.node_id is None
    assert message.source_peer is None


def test_from_wire_keeps_per_hop_fields() -> None:
    frame = {"msg_type": "bus", "payload": BUS, "node": "n", "source_peer": "p"}
    message = HiveMessage.from_wire(frame)
    assert (message.node_id, message.source_peer) == ("n", "p")
    with pytest.raises(InvalidPayload):
        HiveMessage.from_wire(["not", "an", "object"])  # type: ignore[arg-type]


def test_origin_ignores_a_source_peer_written_inside_the_payload() -> None:
    inner = {"msg_type": "bus", "payload": BUS, "source_peer": "claimed-by-sender"}
    message = HiveMessage.deserialize({"msg_type": "propagate", "payload": inner})
    assert origin_of(message) is None
    message.update_source_peer("hub")
    assert origin_of(message) == "hub"


def test_route_keeps_only_hops_with_a_source() -> None:
    hops = [{"source": "a", "targets": []}, {"targets": ["x"]}, "junk", {"source": "b"}]
    message = HiveMessage("bus", BUS, route=hops)  # type: ignore[arg-type]
    assert message.route == [{"source": "a", "targets": []}, {"source": "b"}]
    assert message.as_dict["route"] == message.route


def test_target_peers_fall_back_to_the_source_peer() -> None:
    message = HiveMessage("bus", BUS, source_peer="hub")
    assert message.target_peers == ["hub"]
    message.add_target_peer("other")
    assert message.target_peers == ["other"]
    assert HiveMessage("bus", BUS).target_peers == []


def test_str_is_the_json_envelope() -> None:
    message = HiveMessage("bus", BUS)
    assert json.loads(str(message)) == message.as_dict
    assert str(HiveMessage("bin", b"abc")) == "HiveMessage(BINARY:3)"


def test_unknown_type_is_a_value_error_with_its_code() -> None:
    with pytest.raises(ValueError) as caught:
        HiveMessage("no-such-type")
    assert isinstance(caught.value, UnknownMessageType)
    assert caught.value.code == "unknown-message-type"


def test_forward_copies_every_field_unless_named() -> None:
    original = HiveMessage(
        "propagate",
        HiveMessage("bus", BUS),
        target_site_id="kitchen",
        metadata={"flood_id": "f"},
        route=[{"source": "a", "targets": []}],
    )
    copy = original.forward()
    assert copy == original and copy is not original
    assert copy.metadata is not original.metadata
    dropped = original.forward(target_site_id=None)
    assert dropped.target_site_id is None and dropped.metadata == {"flood_id": "f"}


def test_bus_payload_is_the_ovos_message_when_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    class OvosMessage:  # stands in for ovos_bus_client.message.Message
        def __init__(self, msg_type: str, data: dict, context: dict) -> None:  # type: ignore[type-arg]
            self.msg_type, self.data, self.context = msg_type, data, context

    monkeypatch.setattr(message_module, "_OVOS_MESSAGE", [OvosMessage])
    payload = HiveMessage("bus", BUS).payload
    assert isinstance(payload, OvosMessage)
    assert (payload.msg_type, payload.data) == ("speak", {"utterance": "hi"})
    monkeypatch.setattr(message_module, "_OVOS_MESSAGE", [None])
    assert isinstance(HiveMessage("bus", BUS).payload, Message)


# -- 1.2.12a1's constructor and views (each fails on the model before the change) -----------------
def test_a_text_payload_is_refused_not_parsed() -> None:
    with pytest.raises(InvalidPayload, match="from_wire"):
        HiveMessage("bus", json.dumps(BUS))
    with pytest.raises(InvalidPayload):
        HiveMessage("ping", b'{"flood_id": "x"}')
    message = HiveMessage("ping", {"flood_id": "x"})
    with pytest.raises(InvalidPayload):
        message.payload = '{"flood_id": "forged"}'
    assert message.raw_payload == {"flood_id": "x"}


@pytest.mark.parametrize("msg_type", ["broadcast", "propagate", "escalate", "query", "cascade"])
def test_a_bus_message_in_a_wrapping_type_is_the_callers_mistake(msg_type: str) -> None:
    with pytest.raises(InvalidArgument, match="msg_type") as caught:
        HiveMessage(msg_type, Message("speak", {"utterance": "hi"}))
    assert not isinstance(caught.value, InvalidPayload)  # not a malformed wire value
    wrapped = HiveMessage(msg_type, HiveMessage("bus", Message("speak")))
    assert wrapped.payload.payload.msg_type == "speak"


def test_constructor_errors_say_what_was_expected() -> None:
    with pytest.raises(UnknownMessageType, match="Unknown HiveMessage.msg_type 'nope'"):
        HiveMessage("nope", {})
    with pytest.raises(InvalidArgument, match="bin_type can only be set for BINARY"):
        HiveMessage("bus", BUS, bin_type=1)
    with pytest.raises(InvalidArgument, match="expected 'bytes', got str"):
        HiveMessage("bin", "not bytes")


def test_the_payload_view_is_one_object_and_changes_through_it_are_sent() -> None:
    message = HiveMessage("bus", Message("t", {"a": 1}, {}))
    assert message.payload is message.payload
    message.payload.context["session"] = "s-1"
    message.payload.data["b"] = 2
    assert message.payload.context["session"] == "s-1"
    assert message.raw_payload["context"] == {"session": "s-1"}
    assert json.loads(message.serialize())["payload"]["data"] == {"a": 1, "b": 2}
    wrapper = HiveMessage("propagate", {"msg_type": "bus", "payload": {"type": "t"}})
    assert wrapper.payload is wrapper.payload
    assert "data" not in wrapper.payload.raw_payload  # reading adds nothing to what is sent


def test_replacing_the_payload_or_an_item_renews_the_view() -> None:
    message = HiveMessage("bus", Message("t"))
    assert message.payload.msg_type == "t"
    message.payload = Message("u")
    assert message.payload.msg_type == "u"
    message["type"] = "v"
    assert message.payload.msg_type == "v"


def test_item_access_on_bytes_is_a_type_error() -> None:
    message = HiveMessage("bin", b"\x00")
    with pytest.raises(TypeError):
        _ = message["key"]
    with pytest.raises(WrongArgumentType):
        message["key"] = "value"


def test_update_hop_data_tolerates_a_route_entry_that_is_not_a_hop() -> None:
    message = HiveMessage("ping", {}, route=["junk"], source_peer="a", target_peers=["b"])
    message.update_hop_data()
    assert message._route == ["junk", {"source": "a", "targets": ["b"]}]


def test_deserialize_reads_a_bare_bus_message_as_bus() -> None:
    message = HiveMessage.deserialize({**BUS, "target_site_id": "kitchen"})
    assert message.msg_type == "bus"
    assert message.payload.data == {"utterance": "hi"}
    assert message.target_site_id == "kitchen"
    with pytest.raises(InvalidPayload):
        HiveMessage.deserialize({"random_key": "value"})
    with pytest.raises(InvalidPayload):  # the wire decoder takes envelopes only
        message_module.decode_json(json.dumps(BUS))
