"""The local bus, upstream: what a satellite's local bus traffic sends to its hub
(``satellite.routing.upstream_of_local`` and ``upstream_request``)."""

from __future__ import annotations

from typing import Any

import pytest

from hivemind_client import HiveMessage, HiveMessageType, Message
from hivemind_client.errors import HiveMindError, InvalidArgument
from hivemind_client.satellite.routing import upstream_of_local, upstream_request


def _kinds(found: list[HiveMessage]) -> list[tuple[HiveMessageType, str]]:
    return [(m.msg_type, m.payload.msg_type) for m in found]


@pytest.mark.parametrize("destination", ["hub-1", ["other", "hub-1"]])
def test_a_message_for_the_hub_goes_up_as_bus(destination: Any) -> None:
    reply = Message("skill.reply", {"n": 1}, {"destination": destination})
    found = upstream_of_local(reply, share_bus=False, hub_node_id="hub-1")
    assert _kinds(found) == [(HiveMessageType.BUS, "skill.reply")]
    assert found[0].payload.data == {"n": 1}


@pytest.mark.parametrize(
    ("context", "hub"),
    [({}, "hub-1"), ({"destination": "hub-2"}, "hub-1"), ({"destination": ["hub-1"]}, None),
     ({"destination": None}, "hub-1"), ({"destination": {"hub-1": 1}}, "hub-1")],
)
def test_other_local_traffic_stays_local(context: dict[str, Any], hub: str | None) -> None:
    message = Message("local", {}, context)
    assert upstream_of_local(message, share_bus=False, hub_node_id=hub) == []
    assert upstream_of_local(message.serialize(), share_bus=False, hub_node_id=hub) == []


def test_sharing_sends_every_message_and_a_reply_to_the_hub_twice() -> None:
    reply = Message("skill.reply", {}, {"destination": "hub-1"})
    found = upstream_of_local(reply.serialize(), share_bus=True, hub_node_id="hub-1")
    assert _kinds(found) == [
        (HiveMessageType.SHARED_BUS, "skill.reply"),
        (HiveMessageType.BUS, "skill.reply"),
    ]
    assert _kinds(upstream_of_local(Message("x"), share_bus=True, hub_node_id=None)) == [
        (HiveMessageType.SHARED_BUS, "x")
    ]


def test_text_that_names_no_destination_is_not_parsed_unless_sharing() -> None:
    assert upstream_of_local("not json at all", share_bus=False, hub_node_id="hub-1") == []
    with pytest.raises(HiveMindError):
        upstream_of_local("not json but hub-1", share_bus=False, hub_node_id="hub-1")
    with pytest.raises(HiveMindError):
        upstream_of_local("not json", share_bus=True, hub_node_id=None)


def test_something_that_is_not_a_message_is_refused() -> None:
    with pytest.raises(InvalidArgument):
        upstream_of_local(42, share_bus=True, hub_node_id="hub-1")


def test_an_upstream_request_becomes_the_message_it_describes() -> None:
    inner = {"type": "speak", "data": {"utterance": "hi"}, "context": {}}
    wanted = upstream_request(Message("hive.send.upstream", {"msg_type": "bus", "payload": inner}))
    assert wanted is not None and wanted.msg_type is HiveMessageType.BUS
    assert wanted.payload.msg_type == "speak"
    escalate = upstream_request(
        Message("hive.send.upstream", {"msg_type": "escalate", "payload": {"msg_type": "bus",
                                                                         "payload": inner}})
    )
    assert escalate is not None and escalate.msg_type is HiveMessageType.ESCALATE


def test_only_hubs_broadcast() -> None:
    inner = {"msg_type": "bus", "payload": {"type": "speak", "data": {}, "context": {}}}
    request = Message("hive.send.upstream", {"msg_type": "broadcast", "payload": inner})
    assert upstream_request(request) is None


@pytest.mark.parametrize(
    "data", [{}, {"payload": {}}, {"msg_type": 3, "payload": {}}, {"msg_type": "no-such-type"}]
)
def test_a_malformed_upstream_request_is_a_typed_error(data: dict[str, Any]) -> None:
    with pytest.raises(HiveMindError):
        upstream_request(Message("hive.send.upstream", data))
    with pytest.raises(InvalidArgument):
        upstream_request(object())
