"""The application's side of a satellite, shared by every driver: the local OVOS-style bus,
the BINARY callbacks, handler registration, and what each ``wait_for_*`` waits for."""

from __future__ import annotations

import contextlib
import inspect
import logging
import threading
from collections import defaultdict
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from hivemind_client.wire.message import HiveMessage, Message, MessageLike
from hivemind_client.wire.message_types import BinaryPayloadType, HiveMessageType

__all__ = [
    "BinaryDataCallbacks",
    "Handler",
    "HandlerRegistry",
    "LocalBus",
    "deliver_binary",
    "hive_message_of_type",
    "mycroft_message_of_type",
    "payload_matcher",
    "refuse_awaitable",
    "response_matcher",
    "type_name",
]

LOG = logging.getLogger(__name__)
Handler = Callable[[Any], Any]
"""A plain function, or (asyncio client) a coroutine function."""
F = TypeVar("F", bound=Callable[..., Any])
_HIVE_TYPES = {t.value for t in HiveMessageType}
CLIENT_EVENTS = ("message", "connected", "disconnected", "failed")
"""Names a client dispatches besides the HiveMessage types."""


class LocalBus:
    """A minimal in-process OVOS-style bus: ``on``/``once``/``remove``/``emit`` by message type.

    ``on("message", handler)`` sees every message. Used when no ``internal_bus`` is given.
    """

    def __init__(self) -> None:
        self._handlers: dict[str, list[Handler]] = defaultdict(list)
        self._lock = threading.Lock()
        self.schedule: Callable[[Awaitable[Any]], None] = refuse_awaitable
        """Where a coroutine handler's awaitable goes (the asyncio client runs it as a task)."""

    def on(self, msg_type: str, handler: Handler) -> None:
        """Call ``handler(message)`` for every message of this type."""
        with self._lock:
            self._handlers[msg_type].append(handler)

    def once(self, msg_type: str, handler: Handler) -> None:
        """Call ``handler`` for the next message of this type only."""

        def wrapper(message: Any) -> Any:
            self.remove(msg_type, wrapper)
            return handler(message)

        self.on(msg_type, wrapper)

    def remove(self, msg_type: str, handler: Handler) -> None:
        """Stop calling ``handler`` for this type."""
        with self._lock, contextlib.suppress(ValueError):
            self._handlers[msg_type].remove(handler)

    def emit(self, message: Any) -> None:
        """Deliver to the handlers of its type, then to the catch-all ``message`` handlers."""
        with self._lock:
            handlers = list(self._handlers.get(message.msg_type, ())) + list(
                self._handlers.get("message", ())
            )
        for handler in handlers:
            try:
                result = handler(message)
                if inspect.isawaitable(result):
                    self.schedule(result)
            except Exception:
                LOG.exception("bus handler for %s failed", message.msg_type)


def refuse_awaitable(result: Awaitable[Any]) -> None:
    """A coroutine handler on a client that has no event loop: say so instead of dropping it
    silently (Python would only warn that it was never awaited)."""
    close = getattr(result, "close", None)
    if callable(close):
        close()
    LOG.error("a coroutine handler needs the asyncio client (hivemind_client.aio); not run")


class BinaryDataCallbacks:
    """Override the methods for the BINARY payloads a satellite cares about."""

    def handle_receive_tts(
        self, bin_data: bytes, utterance: str, lang: str, file_name: str
    ) -> None:
        """Synthesized speech arrived (TTS_AUDIO)."""

    def handle_receive_file(self, bin_data: bytes, file_name: str) -> None:
        """A file arrived (FILE)."""

    def handle_unknown(self, message: HiveMessage) -> None:
        """Any other BINARY subtype."""


def deliver_binary(callbacks: BinaryDataCallbacks, message: HiveMessage) -> None:
    """Hand a BINARY message to the callback for its subtype."""
    data, meta = message.raw_payload, message.metadata
    if not isinstance(data, bytes):  # BINARY messages always carry bytes
        return
    if message.bin_type == BinaryPayloadType.TTS_AUDIO:
        callbacks.handle_receive_tts(
            data, meta.get("utterance", ""), meta.get("lang", ""), meta.get("file_name", "")
        )
    elif message.bin_type == BinaryPayloadType.FILE:
        callbacks.handle_receive_file(data, meta.get("file_name", ""))
    else:
        callbacks.handle_unknown(message)


class HandlerRegistry:
    """Handler registration and the decorators of the reference client's API.

    Handlers for HiveMessage types (and ``message``, ``connected``, ``disconnected``,
    ``failed``) are kept here; any other name is an OVOS message type, registered on
    ``internal_bus``.
    """

    internal_bus: Any

    def __init__(self) -> None:
        self._handlers: dict[str, list[Handler]] = defaultdict(list)
        self._handlers_lock = threading.Lock()

    def _handlers_for(self, name: str) -> list[Handler]:
        with self._handlers_lock:
            return list(self._handlers.get(name, ()))

    def _call_handlers(
        self, name: str, argument: Any, handlers: list[Handler] | None = None
    ) -> None:
        """Run the handlers for ``name`` now (on the dispatcher thread); one failing does not stop the rest."""
        for handler in self._handlers_for(name) if handlers is None else handlers:
            try:
                result = handler(argument)
                if inspect.isawaitable(result):
                    self._schedule_handler(result)
            except Exception:
                LOG.exception("handler for %s failed", name)

    def _schedule_handler(self, result: Awaitable[Any]) -> None:
        """A handler returned an awaitable: the asyncio client runs it; others refuse it."""
        refuse_awaitable(result)

    def on(self, event_name: str | HiveMessageType, func: Handler) -> None:
        """Handle a HiveMessageType (wire string or enum) or, for any other name, an OVOS message type."""
        name = type_name(event_name)
        if name in _HIVE_TYPES or name in CLIENT_EVENTS:
            with self._handlers_lock:
                self._handlers[name].append(func)
        else:
            self.on_mycroft(name, func)

    def once(self, event_name: str | HiveMessageType, func: Handler) -> None:
        """Like ``on``, for the next occurrence only."""

        def wrapper(argument: Any) -> Any:
            self.remove(event_name, wrapper)
            return func(argument)

        self.on(event_name, wrapper)

    def remove(self, event_name: str | HiveMessageType, func: Handler) -> None:
        """Undo ``on``/``once``."""
        name = type_name(event_name)
        with self._handlers_lock, contextlib.suppress(ValueError):
            self._handlers[name].remove(func)
        if name not in _HIVE_TYPES:
            self.internal_bus.remove(name, func)

    def on_mycroft(self, mycroft_msg_type: str, func: Handler) -> None:
        """Handle OVOS messages of this type arriving from the hub (on the internal bus)."""
        self.internal_bus.on(mycroft_msg_type, func)

    def _decorator(self, name: str) -> Callable[[F], F]:
        def register(func: F) -> F:
            self.on(name, func)
            return func

        return register

    def on_mycroft_message(self, msg_type: str) -> Callable[[F], F]:
        """Decorator: ``@client.on_mycroft_message("speak")``."""
        return self._decorator(msg_type)

    def on_hive_message(self, msg_type: str | HiveMessageType = "message") -> Callable[[F], F]:
        """Decorator for a HiveMessageType (or every message with no argument)."""
        return self._decorator(
            str(msg_type.value if isinstance(msg_type, HiveMessageType) else msg_type)
        )

    def on_broadcast(self) -> Callable[[F], F]:
        """Decorator for BROADCAST messages."""
        return self._decorator("broadcast")

    def on_propagate(self) -> Callable[[F], F]:
        """Decorator for PROPAGATE messages."""
        return self._decorator("propagate")

    def on_escalate(self) -> Callable[[F], F]:
        """Decorator for ESCALATE messages."""
        return self._decorator("escalate")

    def on_query(self) -> Callable[[F], F]:
        """Decorator for QUERY messages."""
        return self._decorator("query")

    def on_cascade(self) -> Callable[[F], F]:
        """Decorator for CASCADE messages."""
        return self._decorator("cascade")

    def on_ping(self) -> Callable[[F], F]:
        """Decorator for PING messages."""
        return self._decorator("ping")

    def on_shared_bus(self) -> Callable[[F], F]:
        """Decorator for SHARED_BUS messages."""
        return self._decorator("shared_bus")


def type_name(message_type: str | HiveMessageType) -> str:
    """The wire name of a HiveMessage type given as a string or the enum."""
    return str(message_type.value if isinstance(message_type, HiveMessageType) else message_type)


def hive_message_of_type(message_type: str | HiveMessageType) -> Callable[[Any], bool]:
    """``wait_for_message``: the next HiveMessage of this type."""
    wanted = type_name(message_type)
    return lambda m: isinstance(m, HiveMessage) and m.msg_type.value == wanted


def mycroft_message_of_type(mycroft_msg_type: str) -> Callable[[Any], bool]:
    """``wait_for_mycroft``: the next OVOS message of this type from the hub."""
    return lambda m: isinstance(m, Message) and m.msg_type == mycroft_msg_type


def response_matcher(
    message: HiveMessage | MessageLike, reply_type: str | None = None
) -> Callable[[Any], bool]:
    """``wait_for_response``: ``<type>.response`` (or ``reply_type``) for an OVOS message, the
    same HiveMessage type (or ``reply_type``) for a HiveMessage."""
    if isinstance(message, HiveMessage):
        return hive_message_of_type(reply_type or message.msg_type.value)
    return mycroft_message_of_type(reply_type or f"{message.msg_type}.response")


def payload_matcher(
    message_type: str | HiveMessageType, payload_type: str
) -> Callable[[Any], bool]:
    """``wait_for_payload``: a HiveMessage of ``message_type`` whose payload has ``msg_type``
    or ``type`` equal to ``payload_type``."""
    wanted = type_name(message_type)
    return (
        lambda m: isinstance(m, HiveMessage)
        and m.msg_type.value == wanted
        and _payload_kind(m) == payload_type
    )


def _payload_kind(message: HiveMessage) -> Any:
    payload = message.raw_payload
    if not isinstance(payload, dict):
        return None
    return payload.get("msg_type", payload.get("type"))
