"""The message model as both reference clients define it (issue 15): each test fails on the
model before the change."""

from __future__ import annotations

import json

import pytest

from hivemind_client.errors import InvalidPayload, UnknownMessageType
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
