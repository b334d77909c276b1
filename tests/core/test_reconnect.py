"""The reconnect decisions as pure values: time and randomness in, Retry or GiveUp out."""

from __future__ import annotations

import random

import pytest

from hivemind_client.core.reconnect import (
    ConnectionEnd,
    GiveUp,
    ReconnectPolicy,
    ReconnectSchedule,
    Retry,
)
from hivemind_client.errors import ConnectionFailed, HandshakeFailed

NO_JITTER = ReconnectPolicy(first_delay=0.5, max_delay=4.0, factor=2.0, jitter=0.0)
DROPPED = ConnectionEnd(established=True, lasted=1.0)


def _schedule(policy: ReconnectPolicy | None = NO_JITTER) -> ReconnectSchedule:
    return ReconnectSchedule(policy)


def test_the_first_connection_failing_is_final() -> None:
    error = ConnectionFailed("refused")
    assert _schedule().decide(ConnectionEnd(failure=error), random.Random(0)) == GiveUp(error)


def test_one_immediate_retry_when_the_session_says_it_can_succeed() -> None:
    schedule = _schedule()
    stale = ConnectionFailed("the cached PSK was dropped")
    end = ConnectionEnd(failure=stale, retry_now=True, close_code=1008)
    assert schedule.decide(end, random.Random(0)) == Retry(0.0, stale, 1008)
    assert schedule.decide(end, random.Random(0)) == GiveUp(stale, 1008)  # only once


def test_a_dropped_link_backs_off_exponentially_up_to_the_cap() -> None:
    schedule = _schedule()
    schedule.decide(DROPPED, random.Random(0))
    delays = [schedule.decide(ConnectionEnd(), random.Random(0)) for _ in range(5)]
    assert [outcome.delay for outcome in delays if isinstance(outcome, Retry)] == [
        1.0,
        2.0,
        4.0,
        4.0,
        4.0,
    ]


def test_jitter_comes_from_the_random_source_passed_in() -> None:
    policy = ReconnectPolicy(first_delay=1.0, jitter=0.25)
    first = ReconnectSchedule(policy).decide(DROPPED, random.Random(7))
    again = ReconnectSchedule(policy).decide(DROPPED, random.Random(7))
    assert isinstance(first, Retry) and first == again and 0.75 <= first.delay <= 1.25


def test_a_session_that_lasted_resets_the_backoff() -> None:
    schedule = _schedule(ReconnectPolicy(first_delay=0.5, jitter=0.0, stable_after=10.0))
    schedule.decide(DROPPED, random.Random(0))
    schedule.decide(ConnectionEnd(), random.Random(0))
    long_lived = ConnectionEnd(established=True, lasted=11.0)
    outcome = schedule.decide(long_lived, random.Random(0))
    assert isinstance(outcome, Retry) and outcome.delay == 0.5


@pytest.mark.parametrize(
    "end",
    [
        ConnectionEnd(failure=HandshakeFailed("wrong password")),
        ConnectionEnd(failure=ConnectionFailed("a broken v3 link"), fatal=True),
    ],
)
def test_after_a_reconnect_a_refusal_is_final(end: ConnectionEnd) -> None:
    schedule = _schedule()
    schedule.decide(DROPPED, random.Random(0))
    assert isinstance(schedule.decide(end, random.Random(0)), GiveUp)


def test_a_handshake_that_timed_out_after_a_restart_is_retried() -> None:
    schedule = _schedule()
    schedule.decide(DROPPED, random.Random(0))
    slow = ConnectionEnd(failure=HandshakeFailed("no answer in 10 s"), fatal=True, timed_out=True)
    assert isinstance(schedule.decide(slow, random.Random(0)), Retry)


def test_max_attempts_gives_up_with_a_reason() -> None:
    schedule = _schedule(ReconnectPolicy(jitter=0.0, max_attempts=2))
    outcomes = [schedule.decide(DROPPED, random.Random(0))]
    outcomes += [schedule.decide(ConnectionEnd(), random.Random(0)) for _ in range(2)]
    assert [type(outcome) for outcome in outcomes] == [Retry, Retry, GiveUp]
    reason = outcomes[-1].reason
    assert isinstance(reason, ConnectionFailed) and "gave up after 2" in str(reason)


def test_no_policy_never_reconnects_and_stopping_always_stops() -> None:
    schedule = _schedule(None)
    assert schedule.decide(DROPPED, random.Random(0)) == GiveUp(None)
    assert _schedule().decide(ConnectionEnd(stopping=True), random.Random(0)) == GiveUp(None)


def test_a_persistent_schedule_retries_before_the_first_session() -> None:
    """A client started in the background (``run_in_thread``) keeps trying a hub that is not
    up yet, with the backoff; ``connect()``'s schedule still fails at once (above)."""
    schedule = ReconnectSchedule(NO_JITTER, persistent=True)
    unreachable = ConnectionFailed("connection refused")
    end = ConnectionEnd(failure=unreachable)
    rng = random.Random(0)
    assert [schedule.decide(end, rng) for _ in range(3)] == [
        Retry(0.5, unreachable),
        Retry(1.0, unreachable),
        Retry(2.0, unreachable),
    ]
    timed_out = HandshakeFailed("the hub did not complete the handshake within 10 s")
    assert schedule.decide(ConnectionEnd(failure=timed_out, timed_out=True), rng) == Retry(
        4.0, timed_out
    )


@pytest.mark.parametrize(
    "end",
    [
        ConnectionEnd(failure=HandshakeFailed("wrong password")),
        ConnectionEnd(failure=ConnectionFailed("invalid api key"), close_code=1008),
        ConnectionEnd(failure=ConnectionFailed("pin mismatch"), fatal=True),
    ],
)
def test_a_persistent_schedule_still_stops_on_a_refusal(end: ConnectionEnd) -> None:
    schedule = ReconnectSchedule(NO_JITTER, persistent=True)
    assert isinstance(schedule.decide(end, random.Random(0)), GiveUp)


def test_a_persistent_schedule_without_a_policy_never_reconnects() -> None:
    schedule = ReconnectSchedule(None, persistent=True)
    error = ConnectionFailed("refused")
    assert schedule.decide(ConnectionEnd(failure=error), random.Random(0)) == GiveUp(error)
