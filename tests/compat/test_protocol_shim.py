"""``hivemind_bus_client.protocol.CascadeAggregator``: the reference's one-window collector,
driven by a timer thread (the library's own aggregator is sans-I/O, tests/satellite)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest

from hivemind_client import HiveMessage, HiveMessageType, compat
from hivemind_client.errors import InvalidArgument


@pytest.fixture
def aggregator_class() -> Iterator[Any]:
    assert compat.install() is True
    from hivemind_bus_client.protocol import CascadeAggregator

    yield CascadeAggregator
    compat.uninstall()


def _answer(text: str) -> HiveMessage:
    inner = {"msg_type": "bus", "payload": {"type": "speak", "data": {"utterance": text}}}
    return HiveMessage(HiveMessageType.CASCADE, payload=inner)


def test_the_expected_count_closes_the_window_on_the_adding_thread(aggregator_class: Any) -> None:
    seen: list[list[HiveMessage]] = []
    emitted: list[HiveMessage] = []

    def pick_last(answers: list[HiveMessage]) -> HiveMessage:
        seen.append(list(answers))
        return answers[-1]

    aggregator = aggregator_class(60.0, pick_last, emitted.append, expected_responses=2)
    first, second = _answer("one"), _answer("two")
    aggregator.add_response(first)
    assert emitted == []
    aggregator.add_response(second)
    assert seen == [[first, second]] and emitted == [second]
    aggregator.add_response(_answer("late"))
    assert emitted == [second] and len(seen) == 1


def test_the_timeout_closes_the_window(aggregator_class: Any) -> None:
    done = threading.Event()
    emitted: list[HiveMessage] = []

    def emit(message: HiveMessage) -> None:
        emitted.append(message)
        done.set()

    aggregator = aggregator_class(0.05, lambda answers: answers[0], emit)
    answer = _answer("one")
    aggregator.add_response(answer)
    assert done.wait(10)
    assert emitted == [answer]


def test_cancel_selects_nothing_and_closes_for_good(aggregator_class: Any) -> None:
    emitted: list[HiveMessage] = []
    aggregator = aggregator_class(0.05, lambda answers: answers[0], emitted.append)
    aggregator.add_response(_answer("one"))
    aggregator.cancel()
    aggregator.add_response(_answer("two"))
    threading.Event().wait(0.3)  # past the timeout: a timer left running would emit now
    assert emitted == [] and aggregator.responses == []


def test_a_callback_may_use_the_aggregator_without_deadlocking(aggregator_class: Any) -> None:
    """Callbacks run outside the lock: an emit callback that adds or cancels returns."""
    emitted: list[HiveMessage] = []
    holder: list[Any] = []

    def emit(message: HiveMessage) -> None:
        emitted.append(message)
        holder[0].add_response(_answer("from the callback"))
        holder[0].cancel()

    aggregator = aggregator_class(60.0, lambda answers: answers[0], emit, expected_responses=1)
    holder.append(aggregator)
    worker = threading.Thread(target=aggregator.add_response, args=(_answer("one"),))
    worker.start()
    worker.join(10)
    assert not worker.is_alive() and len(emitted) == 1


def test_a_select_that_returns_none_emits_nothing(aggregator_class: Any) -> None:
    emitted: list[HiveMessage] = []
    aggregator = aggregator_class(60.0, lambda answers: None, emitted.append, expected_responses=1)
    aggregator.add_response(_answer("one"))
    assert emitted == []


def test_answers_are_bounded(aggregator_class: Any) -> None:
    seen: list[int] = []
    aggregator = aggregator_class(
        60.0, lambda answers: seen.append(len(answers)), lambda m: None, max_responses=3
    )
    for index in range(10):
        aggregator.add_response(_answer(str(index)))
    assert len(aggregator.responses) == 3
    aggregator.cancel()


@pytest.mark.parametrize(
    ("timeout", "expected"), [(-1, None), ("5", None), (True, None), (1.0, 0), (1.0, 2.5)]
)
def test_bad_arguments_are_refused(aggregator_class: Any, timeout: Any, expected: Any) -> None:
    with pytest.raises(InvalidArgument):
        aggregator_class(timeout, None, lambda m: None, expected_responses=expected)


class _Recorder:
    def __init__(self) -> None:
        self.emitted: list[HiveMessage] = []

    def emit(self, message: HiveMessage) -> None:
        self.emitted.append(message)


def test_the_internal_protocol_bridges_a_bus_it_is_given() -> None:
    assert compat.install() is True
    try:
        from hivemind_bus_client.protocol import HiveMindSlaveInternalProtocol
    finally:
        compat.uninstall()
    from hivemind_client import Message
    from hivemind_client.api.handlers import LocalBus

    bus, hub = LocalBus(), _Recorder()
    bridge = HiveMindSlaveInternalProtocol(hm_bus=hub, bus=bus, node_id="hub-1")
    bridge.register_bus_handlers()
    bus.emit(Message("local.only"))
    bus.emit(Message("skill.reply", {"n": 1}, {"destination": "hub-1"}))
    inner = {"type": "asked", "data": {}, "context": {}}
    bus.emit(Message("hive.send.upstream", {"msg_type": "bus", "payload": inner}))
    assert [(m.msg_type, m.payload.msg_type) for m in hub.emitted] == [
        (HiveMessageType.BUS, "skill.reply"),
        (HiveMessageType.BUS, "asked"),
    ]
    sharing = HiveMindSlaveInternalProtocol(hm_bus=_Recorder(), share_bus=True)
    sharing.handle_outgoing_mycroft(Message("speak", {"utterance": "hi"}).serialize())
    assert [m.msg_type for m in sharing.hm_bus.emitted] == [HiveMessageType.SHARED_BUS]
    with pytest.raises(InvalidArgument):
        HiveMindSlaveInternalProtocol(hm_bus=hub).register_bus_handlers()
