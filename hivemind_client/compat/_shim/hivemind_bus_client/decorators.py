"""``hivemind_bus_client.decorators``: handler registration on a client's own registry."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hivemind_client.api.handlers import payload_matcher
from hivemind_client.wire.message_types import HiveMessageType

__all__ = [
    "HiveMessageListener", "HivePayloadListener", "on_broadcast", "on_cascade", "on_escalate",
    "on_handshake", "on_hello", "on_hive_message", "on_mycroft_message", "on_payload", "on_ping",
    "on_propagate", "on_query", "on_rendezvous", "on_shared_bus",
]


class HiveMessageListener:
    """Calls its handlers for every message of one type that ``bus`` receives."""

    def __init__(self, bus: Any, message_type: HiveMessageType | str,
                 handler: Callable[..., Any] | None = None) -> None:
        self.bus = bus
        self.message_type = message_type
        self.handlers: list[Callable[..., Any]] = [handler] if handler else []
        self._listening = False

    def _handler(self, message: Any) -> None:
        for handler in list(self.handlers):
            handler(message)

    def listen(self) -> HiveMessageListener:
        """Start receiving; returns self."""
        if not self._listening:
            self.bus.on(self.message_type, self._handler)
            self._listening = True
        return self

    def add_handler(self, handler: Callable[..., Any]) -> None:
        """Call ``handler`` too."""
        self.handlers.append(handler)

    def clear_handlers(self) -> None:
        """Call nothing."""
        self.handlers.clear()

    def shutdown(self) -> None:
        """Stop receiving."""
        if self._listening:
            self.bus.remove(self.message_type, self._handler)
            self._listening = False


class HivePayloadListener(HiveMessageListener):
    """A listener for one payload type inside one message type."""

    def __init__(self, payload_type: HiveMessageType | str, bus: Any,
                 message_type: HiveMessageType | str = HiveMessageType.BUS,
                 handler: Callable[..., Any] | None = None) -> None:
        super().__init__(bus, message_type, handler)
        self.payload_type = payload_type
        self._matches = payload_matcher(message_type, str(getattr(payload_type, "value", payload_type)))

    def _handler(self, message: Any) -> None:
        if self._matches(message):
            super()._handler(message)


def on_hive_message(message_type: HiveMessageType | str, bus: Any) -> Callable[..., Any]:
    """Decorator: call the function for every ``message_type`` message on ``bus``."""
    def wrapped(func: Callable[..., Any]) -> Callable[..., Any]:
        HiveMessageListener(bus, message_type, func).listen()
        return func
    return wrapped


def on_payload(message_type: HiveMessageType | str, payload_type: str,
               bus: Any) -> Callable[..., Any]:
    """Decorator: call the function for ``payload_type`` payloads inside ``message_type``."""
    def wrapped(func: Callable[..., Any]) -> Callable[..., Any]:
        HivePayloadListener(payload_type, bus, message_type, func).listen()
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
