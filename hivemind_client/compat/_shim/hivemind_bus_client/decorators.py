"""``hivemind_bus_client.decorators``: handler registration on a client's own registry."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hivemind_client.wire.message_types import HiveMessageType

__all__ = [
    "HiveMessageListener",
    "HivePayloadListener",
    "on_broadcast",
    "on_cascade",
    "on_escalate",
    "on_handshake",
    "on_hello",
    "on_hive_message",
    "on_mycroft_message",
    "on_payload",
    "on_ping",
    "on_propagate",
    "on_query",
    "on_rendezvous",
    "on_shared_bus",
]


class HiveMessageListener:
    """Calls its handlers for every message of one type that ``bus`` receives (re-armed with
    ``bus.once`` after each, as the reference does, so any bus with ``once``/``remove`` works)."""

    def __init__(self, bus: Any, message_type: HiveMessageType | str) -> None:
        self.bus = bus
        self.message_type = message_type
        self._handlers: list[Callable[..., Any]] = []

    def _dispatch(self, argument: Any) -> None:
        for handler in list(self._handlers):
            handler(argument)

    def _handler(self, message: Any) -> None:
        self._dispatch(message)
        self.bus.once(self.message_type, self._handler)

    def listen(self) -> HiveMessageListener:
        """Start receiving; returns self."""
        self.bus.once(self.message_type, self._handler)
        return self

    def add_handler(self, handler: Callable[..., Any]) -> None:
        """Call ``handler`` too."""
        self._handlers.append(handler)

    def clear_handlers(self) -> None:
        """Call nothing."""
        self._handlers = []

    def shutdown(self) -> None:
        """Stop receiving."""
        self.bus.remove(self.message_type, self._handler)


class HivePayloadListener(HiveMessageListener):
    """A listener for one payload type inside one message type; handlers get the payload."""

    def __init__(self, payload_type: HiveMessageType | str, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.payload_type = payload_type

    def _handler(self, message: Any) -> None:
        payload = getattr(message, "payload", None)
        if getattr(payload, "msg_type", None) == self.payload_type:
            self._dispatch(payload)
        self.bus.once(self.message_type, self._handler)


def on_hive_message(message_type: HiveMessageType | str, bus: Any) -> Callable[..., Any]:
    """Decorator: call the function for every ``message_type`` message on ``bus``."""

    def wrapped(func: Callable[..., Any]) -> Callable[..., Any]:
        bus.on(message_type, func)
        return func

    return wrapped


def on_payload(
    message_type: HiveMessageType | str, payload_type: str, bus: Any
) -> Callable[..., Any]:
    """Decorator: call the function for ``payload_type`` payloads inside ``message_type``."""

    def wrapped(func: Callable[..., Any]) -> Callable[..., Any]:
        listener = HivePayloadListener(payload_type, bus=bus, message_type=message_type)
        listener.add_handler(func)
        listener.listen()
        func.shutdown = listener.shutdown  # type: ignore[attr-defined]  # stop it again
        return func

    return wrapped


def _for(message_type: HiveMessageType) -> Callable[[str, Any], Callable[..., Any]]:
    def decorator(payload_type: str, bus: Any) -> Callable[..., Any]:
        return on_payload(message_type, payload_type, bus)

    decorator.__doc__ = f"Decorator: ``payload_type`` payloads inside {message_type.name}."
    return decorator


on_mycroft_message = _for(HiveMessageType.BUS)
on_shared_bus = _for(HiveMessageType.SHARED_BUS)
on_broadcast = _for(HiveMessageType.BROADCAST)
on_ping = _for(HiveMessageType.PING)
on_propagate = _for(HiveMessageType.PROPAGATE)
on_escalate = _for(HiveMessageType.ESCALATE)
on_handshake = _for(HiveMessageType.HANDSHAKE)
on_hello = _for(HiveMessageType.HELLO)
on_query = _for(HiveMessageType.QUERY)
on_cascade = _for(HiveMessageType.CASCADE)
on_rendezvous = _for(HiveMessageType.RENDEZVOUS)
