"""Collect the answers to a CASCADE (or QUERY) over a time window, then pick among them.

Answers are QUERY/CASCADE messages whose metadata holds ``query_id``, ``responder_peer`` and
``is_response``; each responder streams BUS chunks and ends with a BUS ``hive.query.complete``
(hivemind-core 5.x). Answers are keyed by query id and responder (AGENT-1 §4.3): one responder's
chunks form one :class:`CascadeAnswer`.

A window opens when the query is sent (:meth:`CascadeAggregator.start`) or, failing that, when
its first answer arrives, and closes ``timeout`` seconds later, or earlier once every node the
:class:`~hivemind_client.satellite.hivemap.HiveMapper` knows has finished answering (or every responder
passed to ``start(expected=...)``). A pluggable selector then picks the answers to use
(:func:`select_all` by default, :func:`select_first`). Time is whatever ``now`` the caller
passes; nothing here reads a clock or starts a timer: call :meth:`CascadeAggregator.poll` when
:meth:`CascadeAggregator.next_deadline` is due.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from typing import Literal

from hivemind_client.errors import InvalidArgument, TooManyPendingAggregations
from hivemind_client.satellite.hivemap import HiveMapper
from hivemind_client.wire.message import HiveMessage, Message
from hivemind_client.wire.message_types import HiveMessageType

__all__ = [
    "DEFAULT_CASCADE_TIMEOUT",
    "DEFAULT_MAX_PENDING",
    "QUERY_COMPLETE",
    "CascadeAggregator",
    "CascadeAnswer",
    "CascadeResult",
    "Selector",
    "TooManyPendingAggregations",
    "select_all",
    "select_first",
]

QUERY_COMPLETE = "hive.query.complete"
"""BUS type that ends one responder's answer stream."""

DEFAULT_CASCADE_TIMEOUT = 5.0
"""Seconds a window stays open."""

DEFAULT_MAX_PENDING = 64
"""Windows open at once."""

_ANSWER_TYPES = frozenset({HiveMessageType.CASCADE, HiveMessageType.QUERY})
_MAX_ID_LENGTH = 2048


@dataclass(frozen=True, slots=True)
class CascadeAnswer:
    """One responder's answer: its messages in arrival order, and whether its stream ended."""

    responder: str
    messages: tuple[HiveMessage, ...]
    complete: bool
    first_at: float

    def bus_messages(self) -> list[Message]:
        """The OVOS messages of the answer, without the end-of-stream marker."""
        found: list[Message] = []
        for message in self.messages:
            inner = _inner_bus(message)
            if inner is not None and inner.msg_type != QUERY_COMPLETE:
                found.append(inner)
        return found


@dataclass(frozen=True, slots=True)
class CascadeResult:
    """A closed window: every answer, the selected ones, and why it closed."""

    query_id: str
    answers: tuple[CascadeAnswer, ...]
    selected: tuple[CascadeAnswer, ...]
    reason: Literal["complete", "timeout", "cancelled"]

    def selected_messages(self) -> list[Message]:
        """The OVOS messages of the selected answers, in order."""
        return [message for answer in self.selected for message in answer.bus_messages()]


Selector = Callable[[Sequence[CascadeAnswer]], Sequence[CascadeAnswer]]
"""Picks the answers to use from those collected (in order of first arrival)."""


def select_all(answers: Sequence[CascadeAnswer]) -> Sequence[CascadeAnswer]:
    """Use every answer."""
    return tuple(answers)


def select_first(answers: Sequence[CascadeAnswer]) -> Sequence[CascadeAnswer]:
    """Use one answer: the first that completed, else the first that started."""
    for answer in answers:
        if answer.complete:
            return (answer,)
    return tuple(answers[:1])


@dataclass(slots=True)
class _Window:
    query_id: str
    deadline: float
    expected: frozenset[str] | None
    answers: OrderedDict[str, _Collecting] = field(default_factory=OrderedDict)
    message_count: int = 0


@dataclass(slots=True)
class _Collecting:
    responder: str
    first_at: float
    messages: list[HiveMessage] = field(default_factory=list)
    complete: bool = False


class CascadeAggregator:
    """Windows of CASCADE/QUERY answers keyed by query id and responder (module docstring).

    ``max_pending`` bounds open windows (beyond it, :class:`TooManyPendingAggregations`);
    ``max_messages`` bounds the messages kept per window (extra ones are ignored). Answers for
    a query that already closed are ignored, for the last ``max_pending * 4`` query ids.
    """

    def __init__(
        self,
        *,
        timeout: float = DEFAULT_CASCADE_TIMEOUT,
        selector: Selector = select_all,
        mapper: HiveMapper | None = None,
        max_pending: int = DEFAULT_MAX_PENDING,
        max_messages: int = 256,
    ) -> None:
        if isinstance(timeout, bool) or not isinstance(timeout, int | float):
            raise InvalidArgument("timeout must be a number of seconds")
        if not math.isfinite(timeout) or timeout <= 0:
            raise InvalidArgument("timeout must be a positive number of seconds")
        for name, value in (("max_pending", max_pending), ("max_messages", max_messages)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise InvalidArgument(f"{name} must be an int >= 1")
        self._timeout = float(timeout)
        self._selector = selector
        self._mapper = mapper
        self._max_pending = max_pending
        self._max_messages = max_messages
        self._windows: OrderedDict[str, _Window] = OrderedDict()
        self._closed: OrderedDict[str, None] = OrderedDict()

    @property
    def timeout(self) -> float:
        """Seconds a window stays open."""
        return self._timeout

    @property
    def pending(self) -> int:
        """How many windows are open."""
        return len(self._windows)

    def is_pending(self, query_id: str) -> bool:
        """Whether a window for ``query_id`` is open."""
        return query_id in self._windows

    def start(self, query_id: str, now: float, *, expected: Collection[str] | None = None) -> None:
        """Open the window for a query we just sent; ``expected`` overrides the mapper's nodes."""
        if not _is_id(query_id):
            raise InvalidArgument("a query id must be a non-empty string")
        if query_id in self._windows:
            return
        self._closed.pop(query_id, None)
        self._open(query_id, now, None if expected is None else frozenset(expected))

    def add(self, message: HiveMessage, now: float) -> CascadeResult | None:
        """Take one answer; returns the result when it closes the window (early resolution).

        Messages that are not QUERY/CASCADE answers with a query id, and answers for windows
        already closed, are ignored (None). A window past its deadline is closed first (its
        result is returned, without this late answer).
        """
        if not isinstance(message, HiveMessage) or message.msg_type not in _ANSWER_TYPES:
            return None
        metadata = message.metadata
        query_id = metadata.get("query_id")
        if not _is_id(query_id) or metadata.get("is_response") is False:
            return None
        assert isinstance(query_id, str)
        window = self._windows.get(query_id)
        if window is not None and now >= window.deadline:
            return self._close(window, "timeout")
        if window is None:
            if query_id in self._closed:
                return None
            window = self._open(query_id, now, None)
        if window.message_count >= self._max_messages:
            return None
        responder = _responder(message)
        collecting = window.answers.get(responder)
        if collecting is None:
            collecting = window.answers[responder] = _Collecting(responder, now)
        collecting.messages.append(message)
        window.message_count += 1
        inner = _inner_bus(message)
        if inner is not None and inner.msg_type == QUERY_COMPLETE:
            collecting.complete = True
            if self._everyone_answered(window):
                return self._close(window, "complete")
        return None

    def poll(self, now: float) -> list[CascadeResult]:
        """Close every window whose deadline has passed; their results, oldest first."""
        due = [window for window in self._windows.values() if now >= window.deadline]
        return [self._close(window, "timeout") for window in due]

    def next_deadline(self) -> float | None:
        """When :meth:`poll` next has work, or None when no window is open."""
        return min((window.deadline for window in self._windows.values()), default=None)

    def cancel(self, query_id: str) -> CascadeResult | None:
        """Close a window now, selecting nothing; None when it was not open."""
        window = self._windows.get(query_id)
        if window is None:
            return None
        return self._close(window, "cancelled")

    # -- internals ----------------------------------------------------------------------------
    def _open(self, query_id: str, now: float, expected: frozenset[str] | None) -> _Window:
        if len(self._windows) >= self._max_pending:
            raise TooManyPendingAggregations(
                f"{len(self._windows)} CASCADE/QUERY windows are already open "
                f"(max_pending={self._max_pending})"
            )
        window = _Window(query_id, now + self._timeout, expected)
        self._windows[query_id] = window
        return window

    def _everyone_answered(self, window: _Window) -> bool:
        done = {answer.responder for answer in window.answers.values() if answer.complete}
        if window.expected is not None:
            expected: Collection[str] = window.expected
        elif self._mapper is not None:
            expected = list(self._mapper.nodes)
        else:
            return False
        if not expected:
            return False
        if self._mapper is None:
            return all(name in done for name in expected)
        mapper = self._mapper
        resolved_done = {mapper.resolve(name) for name in done}
        for name in done:  # hubs answer as their public key, which a node record carries
            node = mapper.node_for(name)
            if node is not None:
                resolved_done.add(node.peer)
        return all(name in done or mapper.resolve(name) in resolved_done for name in expected)

    def _close(
        self, window: _Window, reason: Literal["complete", "timeout", "cancelled"]
    ) -> CascadeResult:
        del self._windows[window.query_id]
        self._closed[window.query_id] = None
        while len(self._closed) > self._max_pending * 4:
            self._closed.popitem(last=False)
        answers = tuple(
            CascadeAnswer(c.responder, tuple(c.messages), c.complete, c.first_at)
            for c in window.answers.values()
        )
        selected: tuple[CascadeAnswer, ...] = ()
        if reason != "cancelled" and answers:
            selected = tuple(self._selector(answers))
        return CascadeResult(window.query_id, answers, selected, reason)

    def __repr__(self) -> str:
        return f"CascadeAggregator(pending={len(self._windows)}, timeout={self._timeout:g})"


def _is_id(value: object) -> bool:
    return isinstance(value, str) and 0 < len(value) <= _MAX_ID_LENGTH


def _responder(message: HiveMessage) -> str:
    responder = message.metadata.get("responder_peer")
    if _is_id(responder):
        assert isinstance(responder, str)
        return responder
    for hop in message.route:
        source = hop.get("source") if isinstance(hop, dict) else None
        if _is_id(source):
            assert isinstance(source, str)
            return source
    return message.source_peer or "unknown"


def _inner_bus(message: HiveMessage) -> Message | None:
    """The OVOS message a QUERY/CASCADE answer wraps, or None."""
    raw = message.raw_payload
    if not isinstance(raw, dict) or raw.get("msg_type") != HiveMessageType.BUS.value:
        return None
    payload = raw.get("payload")
    if not isinstance(payload, dict) or not isinstance(payload.get("type"), str):
        return None
    data = payload.get("data")
    context = payload.get("context")
    return Message(
        payload["type"],
        data if isinstance(data, dict) else None,
        context if isinstance(context, dict) else None,
    )
