"""Protocol behaviours of hivemind_bus_client 1.2 and hub 5.3, driven through the sans-I/O core:
QUERY/CASCADE answers on the bus and the answer timer, the session-state round trip,
``hive.policy.denied``, and close code 4003."""

from __future__ import annotations

from typing import Any

from hivemind_client import HiveMessage, Message
from hivemind_client.api.base import lifecycle_events
from hivemind_client.core.reconnect import Retry
from hivemind_client.satellite.core import (
    ConnectionEnded,
    MessageArrived,
    Output,
    SatelliteCore,
)
from hivemind_client.satellite.routing import DeliverToBus

from .test_core import _connected, _Partner

WALL = 1_700_000_000.0


def _from_hub(core: SatelliteCore, hub: Any, message: HiveMessage, now: float) -> list[Output]:
    """The hub sends ``message`` at ``now``; what routing it produces."""
    _Partner(core).receive_message(hub.seal(message), now)
    arrived = [o for o in core.outputs() if isinstance(o, MessageArrived)]
    assert len(arrived) == 1
    return core.route(arrived[0].message, WALL + now)


def _bus(outputs: list[Output]) -> list[Message]:
    return [o.message for o in outputs if isinstance(o, DeliverToBus)]


def _answer(kind: str, inner: Message, query_id: str = "q1") -> HiveMessage:
    return HiveMessage(kind, HiveMessage("bus", inner), metadata={"query_id": query_id})


def test_query_and_cascade_answers_reach_the_bus_but_not_the_end_marker() -> None:
    core, hub, _ = _connected()
    for kind in ("query", "cascade"):
        spoken = _bus(
            _from_hub(core, hub, _answer(kind, Message("speak", {"utterance": kind})), 1.0)
        )
        assert [(m.msg_type, m.data) for m in spoken] == [("speak", {"utterance": kind})]
        assert _bus(_from_hub(core, hub, _answer(kind, Message("hive.query.complete")), 1.0)) == []


def test_an_unanswered_query_times_out_on_the_bus() -> None:
    core, hub, _ = _connected(query_timeout=5.0)
    core.prepare(
        HiveMessage("query", HiveMessage("bus", Message("recognizer_loop:utterance"))), now=10.0
    )
    assert core.next_timer() == 15.0
    core.handle_timer(15.0, WALL + 15.0)
    timeouts = [o.message for o in core.outputs() if isinstance(o, DeliverToBus)]
    assert [(m.msg_type, m.data) for m in timeouts] == [
        ("hive.query.timeout", {"query_id": "", "error": "no_answer"})
    ]
    assert core.next_timer() != 15.0


def test_every_answer_chunk_restarts_the_timer_and_the_end_stops_it() -> None:
    core, hub, _ = _connected(query_timeout=5.0)
    core.prepare(
        HiveMessage("query", HiveMessage("bus", Message("recognizer_loop:utterance"))), now=10.0
    )
    _from_hub(core, hub, _answer("query", Message("speak", {"utterance": "part 1"}), "q7"), 14.0)
    assert core.next_timer() == 19.0
    core.handle_timer(15.0, WALL + 15.0)
    assert not [o for o in core.outputs() if isinstance(o, DeliverToBus)]
    _from_hub(core, hub, _answer("query", Message("hive.query.complete"), "q7"), 16.0)
    core.handle_timer(30.0, WALL + 30.0)
    assert not [o for o in core.outputs() if isinstance(o, DeliverToBus)]


def test_the_timer_names_the_query_it_was_waiting_for() -> None:
    core, hub, _ = _connected(query_timeout=5.0)
    core.prepare(
        HiveMessage("query", HiveMessage("bus", Message("recognizer_loop:utterance"))), now=10.0
    )
    _from_hub(core, hub, _answer("query", Message("speak", {"utterance": "part 1"}), "q7"), 11.0)
    core.handle_timer(16.0, WALL + 16.0)
    (timeout,) = [o.message for o in core.outputs() if isinstance(o, DeliverToBus)]
    assert timeout.data == {"query_id": "q7", "error": "no_answer"}


def test_the_hubs_session_state_is_kept_and_sent_back() -> None:
    core, hub, _ = _connected(site_id="kitchen")
    ours = core.config.session_id
    state = {
        "session_id": ours,
        "active_handlers": ["skill.a"],
        "converse_handlers": ["skill.b"],
        "response_mode": {"skill_id": "skill.b", "expires_at": WALL + 100},
        "intent_context": {"frame": 1},
        "pipeline": ["not ours to keep"],
    }
    speak = Message("speak", {"utterance": "x"}, {"session": state})
    _from_hub(core, hub, HiveMessage("bus", speak), 1.0)
    assert core.hub_session == {
        "active_handlers": ["skill.a"],
        "converse_handlers": ["skill.b"],
        "response_mode": {"skill_id": "skill.b", "expires_at": WALL + 100},
        "intent_context": {"frame": 1},
        "session_id": ours,
        "site_id": "kitchen",
    }
    sent = core.prepare(Message("recognizer_loop:utterance", {"utterances": ["y"]}), wall=WALL)
    assert sent.payload.context["session"] == core.hub_session
    # an expired response mode is not sent back; a session given by the caller is kept
    later = core.prepare(Message("recognizer_loop:utterance"), wall=WALL + 200)
    assert "response_mode" not in later.payload.context["session"]
    own = core.prepare(Message("x", {}, {"session": {"session_id": "mine"}}), wall=WALL)
    assert own.payload.context["session"]["session_id"] == "mine"
    assert "active_handlers" not in own.payload.context["session"]


def test_another_sessions_state_is_not_kept() -> None:
    core, hub, _ = _connected()
    speak = Message(
        "speak", {}, {"session": {"session_id": "someone-else", "active_handlers": ["a"]}}
    )
    _from_hub(core, hub, HiveMessage("bus", speak), 1.0)
    assert core.hub_session is None


def test_policy_denied_reaches_the_bus_for_the_application() -> None:
    core, hub, _ = _connected()
    denied = Message(
        "hive.policy.denied",
        {"denied_type": "recognizer_loop:utterance", "code": "blocked", "reason": "r"},
        {"source": "hivemind-core", "destination": "peer"},
    )
    (delivered,) = _bus(_from_hub(core, hub, HiveMessage("bus", denied), 1.0))
    assert delivered.msg_type == "hive.policy.denied"
    assert delivered.data["code"] == "blocked"


def test_close_code_4003_on_a_session_reconnects_and_is_no_credential_refusal() -> None:
    """hivemind-core 5.x kicks a client that sent an illegal message with 4003: the
    credentials were accepted, so the client reconnects."""
    core, _, _ = _connected()
    core.connection_lost(4003, "illegal message", 3.0)
    (ended,) = [o for o in core.outputs() if isinstance(o, ConnectionEnded)]
    assert isinstance(ended.outcome, Retry)
    assert ended.outcome.close_code == 4003  # the hub's code is kept for the driver's log
    assert [name for name, _ in lifecycle_events(ended)] == ["close", "reconnecting"]
