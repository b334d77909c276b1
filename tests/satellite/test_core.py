"""The satellite core without sockets: the scripted v1 hub of tests/core is its partner.

Everything a driver relies on is checked here once, for every driver: the outputs in order,
the queue and its bound, waiters, keepalive, side-effect requests and the end of a connection.
"""

from __future__ import annotations

import random
from typing import Any

import pytest

from hivemind_client import HiveMessage, Message
from hivemind_client.core.events import ConnectionClosed
from hivemind_client.core.reconnect import GiveUp, ReconnectPolicy, Retry
from hivemind_client.errors import (
    HandshakeFailed,
    InvalidArgument,
    NotConnected,
    QueueFull,
    TooManyWaiters,
)
from hivemind_client.satellite.core import (
    CloseConnection,
    Connected,
    ConnectionEnded,
    MessageArrived,
    Output,
    RunHandlers,
    SatelliteConfig,
    SatelliteCore,
    SendPing,
    WaiterMatched,
)
from hivemind_client.satellite.routing import DeliverToBus

from ..core.scripted_hub import ScriptedHub

FAST = ReconnectPolicy(first_delay=0.1, jitter=0.0)


class _Partner:
    """Lets the scripted hub (written for a ClientSession) talk to a SatelliteCore."""

    def __init__(self, core: SatelliteCore) -> None:
        self.core = core

    def receive_message(self, data: str | bytes, now: float) -> None:
        self.core.receive_message(data, now, 1_700_000_000.0 + now)

    def messages_to_send(self) -> list[str | bytes]:
        return self.core.data_to_send()


def _core(**options: Any) -> SatelliteCore:
    options.setdefault("password", "hub-password")
    options.setdefault("reconnect", FAST)
    return SatelliteCore(SatelliteConfig(**options), rng=random.Random(0))


def _connected(**options: Any) -> tuple[SatelliteCore, ScriptedHub, list[Output]]:
    core = _core(**options)
    hub = ScriptedHub(password=core.config.password or "")
    core.connection_opened(0.0)
    hub.greet(_Partner(core))  # type: ignore[arg-type]
    hub.answer(_Partner(core))  # type: ignore[arg-type]
    assert core.ready
    return core, hub, core.outputs()


def test_the_handshake_ends_in_connected_then_the_connected_handlers() -> None:
    core, hub, outputs = _connected(site_id="den")
    assert isinstance(outputs[0], Connected)
    assert outputs[0].info.protocol_version == 1 and outputs[0].info.hub_node_id
    assert outputs[1] == RunHandlers("connected", outputs[0].info)
    assert hub.received[0].msg_type.value == "hello"
    assert hub.received[0].raw_payload["site_id"] == "den"  # type: ignore[call-overload]


def test_our_hello_goes_out_before_anything_the_application_sends() -> None:
    core = _core()
    hub = ScriptedHub()
    core.connection_opened(0.0)
    hub.greet(_Partner(core))  # type: ignore[arg-type]
    # the hub's answer arrives; the driver has not drained data_to_send yet when emit() runs
    request = core.data_to_send()
    hub.take(request[0], _Partner(core))  # type: ignore[arg-type]
    frames = core.send(HiveMessage("bus", Message("early")))
    for data in frames:
        hub.take(data)
    assert [m.msg_type.value for m in hub.received] == ["hello", "bus"]


def test_emit_before_any_connection_is_refused_and_while_down_is_queued_in_order() -> None:
    core = _core(max_queue=2)
    with pytest.raises(NotConnected):
        core.send(HiveMessage("bus", Message("too early")))
    core, hub, _ = _connected(max_queue=2)
    core.connection_lost(1001, "hub restarting", 5.0)
    assert core.send(HiveMessage("bus", Message("one"))) == []
    assert core.send(HiveMessage("bus", Message("two"))) == []
    with pytest.raises(QueueFull):
        core.send(HiveMessage("bus", Message("three")))
    assert core.queued == 2


def test_a_queued_message_that_cannot_be_encoded_is_dropped_and_the_rest_flow() -> None:
    core, hub, _ = _connected()
    core.connection_lost(1001, "hub restarting", 5.0)
    core.send(HiveMessage("bus", Message("before")))
    core.send(HiveMessage("bus", Message("poison \ud800")))  # a lone surrogate: not UTF-8
    core.send(HiveMessage("bus", Message("after")))
    hub = ScriptedHub()
    core.connection_opened(6.0)
    hub.greet(_Partner(core))  # type: ignore[arg-type]
    hub.answer(_Partner(core))  # type: ignore[arg-type]
    sent = []
    while (item := core.take_queued()) is not None:
        sent.append(item[0].payload.msg_type)
        for data in item[1]:
            hub.take(data)
    assert sent == ["before", "after"] and core.queued == 0
    with pytest.raises(InvalidArgument):  # sent directly, the caller hears of it
        core.send(HiveMessage("bus", Message("poison \ud800")))


def test_a_failed_write_puts_the_message_back_first_in_line() -> None:
    core, hub, _ = _connected()
    core.connection_lost(1001, "restart", 1.0)
    core.send(HiveMessage("bus", Message("a")))
    core.send(HiveMessage("bus", Message("b")))
    hub = ScriptedHub()
    core.connection_opened(2.0)
    hub.greet(_Partner(core))  # type: ignore[arg-type]
    hub.answer(_Partner(core))  # type: ignore[arg-type]
    item = core.take_queued()
    assert item is not None
    core.requeue(item[0])  # the socket broke while writing it
    assert [core.take_queued()[0].payload.msg_type for _ in range(2)] == ["a", "b"]  # type: ignore[index]


def test_messages_are_routed_where_the_driver_says_and_wake_waiters() -> None:
    core, hub, _ = _connected()
    waiter = core.add_waiter(lambda m: isinstance(m, Message) and m.msg_type == "speak")
    hub_message = HiveMessage("bus", Message("speak", {"utterance": "hi"}))
    _Partner(core).receive_message(hub.seal(hub_message), 1.0)
    outputs = core.outputs()
    assert len(outputs) == 1 and isinstance(outputs[0], MessageArrived)
    routed = core.route(outputs[0].message, 1_700_000_001.0)
    kinds = [type(output) for output in routed]
    assert kinds == [DeliverToBus, WaiterMatched, RunHandlers, RunHandlers]
    assert waiter.matched and waiter.result.data == {"utterance": "hi"}
    assert [o.name for o in routed if isinstance(o, RunHandlers)] == ["bus", "message"]
    core.remove_waiter(waiter)
    assert core.waiters() == ()


def test_a_ping_is_answered_through_data_to_send() -> None:
    core, hub, _ = _connected()
    ping = HiveMessage(
        "propagate",
        HiveMessage("ping", {"flood_id": "f1", "peer": "far", "timestamp": 1.0}),
    )
    _Partner(core).receive_message(hub.seal(ping), 1.0)
    (arrived,) = core.outputs()
    assert isinstance(arrived, MessageArrived)
    core.route(arrived.message, 1_700_000_001.0)
    for data in core.data_to_send():
        hub.take(data)
    answers = [m for m in hub.received if m.msg_type.value == "propagate"]
    assert len(answers) == 1 and answers[0].payload.payload["flood_id"] == "f1"


def test_waiters_are_bounded_and_a_failing_predicate_does_not_match() -> None:
    core, hub, _ = _connected(max_waiters=2)

    def broken(message: Any) -> bool:
        raise KeyError("boom")

    core.add_waiter(broken)
    core.add_waiter(lambda m: True)
    with pytest.raises(TooManyWaiters):
        core.add_waiter(lambda m: True)
    _Partner(core).receive_message(hub.seal(HiveMessage("bus", Message("x"))), 1.0)
    (arrived,) = core.outputs()
    routed = core.route(arrived.message, 0.0)  # type: ignore[union-attr]
    assert sum(isinstance(output, WaiterMatched) for output in routed) == 1


def test_keepalive_is_scheduled_from_the_last_traffic() -> None:
    core, hub, _ = _connected(ping_interval=20.0, pong_timeout=None)
    assert core.next_timer() == 20.0
    _Partner(core).receive_message(hub.seal(HiveMessage("bus", Message("x"))), 5.0)
    core.outputs()
    assert core.next_timer() == 25.0
    core.handle_timer(24.9, 0.0)
    assert core.outputs() == []
    core.handle_timer(25.0, 0.0)
    assert core.outputs() == [SendPing()]
    assert core.next_timer() == 45.0


def test_without_keepalive_nothing_is_pinged_and_silence_is_not_fatal() -> None:
    """An HTTP polling driver has no ping/pong: the core must neither ask for one nor tear
    down a quiet link waiting for a pong that cannot come."""
    core, _, _ = _connected(keepalive=False, ping_interval=20.0, pong_timeout=10.0)
    assert core.next_timer() is None
    for now in (20.0, 30.0, 1000.0):
        core.handle_timer(now, 0.0)
        assert core.outputs() == []
    assert core.ready and core.connection_deadline() is None


def test_a_refused_handshake_closes_the_socket_and_gives_up() -> None:
    core = _core(password="not-the-password")
    hub = ScriptedHub()
    core.connection_opened(0.0)
    hub.greet(_Partner(core))  # type: ignore[arg-type]
    hub.answer(_Partner(core))  # type: ignore[arg-type]
    outputs = core.outputs()
    failed = [o for o in outputs if isinstance(o, RunHandlers) and o.name == "failed"]
    assert len(failed) == 1 and isinstance(failed[0].argument, HandshakeFailed)
    assert CloseConnection(1000) in outputs
    (ended,) = [o for o in outputs if isinstance(o, ConnectionEnded)]
    assert isinstance(ended.outcome, GiveUp) and ended.outcome.reason is failed[0].argument


def test_a_dropped_link_says_disconnected_then_retry() -> None:
    core, _, _ = _connected()
    core.connection_lost(1001, "going away", 3.0)
    outputs = core.outputs()
    assert outputs[0] == RunHandlers("disconnected", ConnectionClosed(1001, "going away"))
    assert outputs[1] == ConnectionEnded(Retry(0.1, None, 1001))
    assert not core.ready


def test_stopping_says_closed_by_the_client_once_and_never_retries() -> None:
    core, _, _ = _connected()
    core.stop()
    core.connection_lost(None, "connection closed", 3.0)
    outputs = core.outputs()
    closed = [o for o in outputs if isinstance(o, RunHandlers) and o.name == "disconnected"]
    assert closed == [RunHandlers("disconnected", ConnectionClosed(1000, "closed by the client"))]
    assert outputs[-1] == ConnectionEnded(GiveUp(None, None))


def test_the_drivers_own_reason_replaces_the_sessions() -> None:
    from hivemind_client.errors import PayloadTooLarge

    core, _, _ = _connected()
    too_big = PayloadTooLarge("a 100 MiB frame")
    core.connection_lost(1009, "too big", 3.0, error=too_big, close_code=1009)
    failed = [
        o.argument for o in core.outputs() if isinstance(o, RunHandlers) and o.name == "failed"
    ]
    assert failed == [too_big]


def test_a_ping_left_unanswered_tears_the_link_down_and_retries() -> None:
    core, _, _ = _connected(ping_interval=20.0, pong_timeout=10.0)
    core.handle_timer(20.0, 0.0)
    assert core.outputs() == [SendPing()]
    assert core.connection_deadline() == 30.0 and core.next_timer() == 30.0
    core.handle_timer(29.9, 0.0)
    assert core.outputs() == []
    core.handle_timer(30.0, 0.0)
    outputs = core.outputs()
    failed = [o.argument for o in outputs if isinstance(o, RunHandlers) and o.name == "failed"]
    assert len(failed) == 1 and "ping" in str(failed[0])
    assert CloseConnection(1001) in outputs
    assert isinstance(outputs[-1], ConnectionEnded) and isinstance(outputs[-1].outcome, Retry)


def test_a_pong_or_any_message_keeps_the_link() -> None:
    core, hub, _ = _connected(ping_interval=20.0, pong_timeout=10.0)
    core.handle_timer(20.0, 0.0)
    core.pong_received(21.0)
    assert core.connection_deadline() is None
    core.handle_timer(30.0, 0.0)
    assert core.ready
    core.handle_timer(40.0, 0.0)  # 20 s since the last ping: ping again
    assert core.outputs()[-1] == SendPing()
    _Partner(core).receive_message(hub.seal(HiveMessage("bus", Message("x"))), 45.0)
    assert core.connection_deadline() is None and core.ready


def test_no_pong_timeout_means_no_liveness_check() -> None:
    core, _, _ = _connected(ping_interval=20.0, pong_timeout=None)
    core.handle_timer(20.0, 0.0)
    core.handle_timer(1000.0, 0.0)
    assert core.ready


def test_the_handshake_deadline_is_the_connection_deadline() -> None:
    core = _core(handshake_timeout=10.0)
    core.connection_opened(5.0)
    assert core.connection_deadline() == 15.0


def test_message_arrived_carries_its_wire_size() -> None:
    core, hub, _ = _connected()
    sealed = hub.seal(HiveMessage("bus", Message("x", {"pad": "y" * 1000})))
    _Partner(core).receive_message(sealed, 1.0)
    (arrived,) = core.outputs()
    assert isinstance(arrived, MessageArrived) and arrived.size == len(sealed)


def test_dropped_frames_are_warned_about_at_a_bounded_rate(
    caplog: pytest.LogCaptureFixture,
) -> None:
    core, _, _ = _connected(dropped_frame_warnings=3)
    caplog.set_level("WARNING", logger="hivemind_client")
    for n in range(50):
        _Partner(core).receive_message('{"not": "sealed"}', 1.0 + n / 100)
    warned = [r for r in caplog.records if "dropped a frame" in r.getMessage()]
    assert len(warned) == 3
    _Partner(core).receive_message('{"not": "sealed"}', 62.0)  # a new minute: the summary
    assert any("dropped 47 more frames" in r.getMessage() for r in caplog.records)


def test_the_hardening_options_reach_the_session_and_the_router() -> None:
    core, _, _ = _connected(
        min_protocol_version=1,
        max_handshake_message=32_000,
        nonce_window=7,
        max_decoded_items=1234,
        accept_untrusted_intercom=True,
    )
    assert core.session is not None
    config = core.session.config
    assert (config.min_protocol_version, config.max_handshake_message) == (1, 32_000)
    assert (config.nonce_window, config.max_decoded_items) == (7, 1234)
    link = core.session.link
    assert getattr(link, "max_decoded_items", None) == 1234
    assert core.router is not None and core.router.accepts_untrusted_intercom
    assert core.max_incoming(10**9) == 10**9  # keyed: the full websocket bound holds
    fresh = _core(max_handshake_message=5_000)
    fresh.connection_opened(0.0)
    assert fresh.max_incoming(10**9) == 5_000


def test_a_hub_silent_after_the_socket_opened_is_given_up_on_after_first_frame_timeout() -> None:
    """The websocket upgrade answered, then nothing (no HELLO): the attempt ends after
    ``first_frame_timeout``, well before ``handshake_timeout``, and is retried when the run is
    persistent."""
    core = _core(handshake_timeout=10.0, first_frame_timeout=0.5)
    core.start(persistent=True)
    core.connection_opened(5.0)
    assert core.connection_deadline() == 5.5 and core.next_timer() == 5.5
    core.handle_timer(5.4, 0.0)
    assert core.outputs() == []
    core.handle_timer(5.5, 0.0)
    outputs = core.outputs()
    failed = [o.argument for o in outputs if isinstance(o, RunHandlers) and o.name == "failed"]
    assert len(failed) == 1 and "sent nothing within 0.5 s" in str(failed[0])
    assert CloseConnection(1001) in outputs
    assert isinstance(outputs[-1], ConnectionEnded) and isinstance(outputs[-1].outcome, Retry)


def test_a_hub_that_sent_something_has_the_handshake_timeout() -> None:
    core = _core(handshake_timeout=10.0, first_frame_timeout=0.5)
    hub = ScriptedHub(password="hub-password")
    core.connection_opened(5.0)
    hub.greet(_Partner(core), 5.2)  # type: ignore[arg-type]
    core.outputs()
    assert core.connection_deadline() == 15.0
    core.handle_timer(6.0, 0.0)
    assert core.session is not None and not core.session.closed


def test_connect_gives_up_on_a_hub_silent_after_the_socket_opened() -> None:
    core = _core(first_frame_timeout=0.5)
    core.start()
    core.connection_opened(0.0)
    core.handle_timer(0.5, 0.0)
    outputs = core.outputs()
    assert isinstance(outputs[-1], ConnectionEnded) and isinstance(outputs[-1].outcome, GiveUp)


def test_a_first_frame_timeout_not_shorter_than_the_handshakes_changes_nothing() -> None:
    core = _core(handshake_timeout=10.0, first_frame_timeout=10.0)
    core.connection_opened(0.0)
    assert core.connection_deadline() == 10.0
    core.handle_timer(10.0, 0.0)
    failed = [
        o.argument for o in core.outputs() if isinstance(o, RunHandlers) and o.name == "failed"
    ]
    assert len(failed) == 1 and isinstance(failed[0], HandshakeFailed)
