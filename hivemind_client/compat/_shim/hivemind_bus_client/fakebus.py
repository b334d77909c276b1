"""``hivemind_bus_client.fakebus``: an in-process stand-in for the asyncio client.

:class:`AsyncFakeHiveMessageBus` has the asyncio client's surface (``connect``, ``emit``,
``on``/``once``/``remove``, ``wait_for_*``) and no socket, handshake, encryption or encoding:
an emitted message is recorded in ``emitted`` and handed straight to the handlers registered
for it. It is for testing code written against the reference's asyncio client.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any

from hivemind_client.wire.message import HiveMessage, Message
from hivemind_client.wire.message_types import HiveMessageType

__all__ = ["AsyncFakeHiveMessageBus", "HandlerTable"]

Handler = Callable[[Any], Any]
_HIVE_TYPES = {member.value for member in HiveMessageType}


def _key(event: HiveMessageType | str) -> str:
    return event.value if isinstance(event, HiveMessageType) else str(event)


def _is_hive_event(event: HiveMessageType | str) -> bool:
    return isinstance(event, HiveMessageType) or event in _HIVE_TYPES


class HandlerTable:
    """Handlers by event name, in registration order (``listeners`` as pyee spells it)."""

    def __init__(self) -> None:
        self._handlers: dict[str, list[tuple[Handler, bool]]] = {}

    def on(self, event: HiveMessageType | str, func: Handler) -> None:
        self._handlers.setdefault(_key(event), []).append((func, False))

    def once(self, event: HiveMessageType | str, func: Handler) -> None:
        self._handlers.setdefault(_key(event), []).append((func, True))

    def remove_listener(self, event: HiveMessageType | str, func: Handler) -> None:
        entries = self._handlers.get(_key(event), [])
        for index, (known, _once) in enumerate(entries):
            if known == func:
                del entries[index]
                return

    def listeners(self, event: HiveMessageType | str) -> list[Handler]:
        return [func for func, _once in self._handlers.get(_key(event), [])]

    def emit(self, event: HiveMessageType | str, message: Any) -> None:
        entries = self._handlers.get(_key(event), [])
        for func, once in list(entries):
            if once:
                with contextlib.suppress(ValueError):
                    entries.remove((func, once))
            func(message)


class AsyncFakeHiveMessageBus:
    """The asyncio client's surface over an in-process dispatch (see the module docstring)."""

    def __init__(
        self,
        *,
        session_id: str = "fake-hivemind-session",
        site_id: str = "fake-site",
        useragent: str = "AsyncFakeHiveMessageBus",
        internal_bus: Any = None,
    ) -> None:
        self.session_id = session_id
        self.site_id = site_id
        self.useragent = useragent
        self.emitter = HandlerTable()
        self.internal_bus = internal_bus if internal_bus is not None else HandlerTable()
        self.connected_event = asyncio.Event()
        self.handshake_event = asyncio.Event()
        self.emitted: list[HiveMessage] = []
        self.crypto_key: str | None = None
        self.compress = False
        self.binarize = False

    async def connect(self, bus: Any = None, protocol: Any = None, site_id: str | None = None) -> None:
        """Mark the fake connected (and handshaken)."""
        del bus, protocol
        if site_id is not None:
            self.site_id = site_id
        self.connected_event.set()
        self.handshake_event.set()

    async def close(self) -> None:
        """Mark the fake disconnected."""
        self.connected_event.clear()
        self.handshake_event.clear()

    async def wait_for_handshake(self, timeout: float = 5.0, max_retries: int = 15) -> None:
        """Return once connected; RuntimeError after ``timeout`` seconds."""
        del max_retries
        try:
            await asyncio.wait_for(self.handshake_event.wait(), timeout)
        except asyncio.TimeoutError:
            raise RuntimeError("the fake bus was never connected") from None

    # -- handlers ----------------------------------------------------------------------------
    def on(self, event_name: HiveMessageType | str, func: Handler) -> None:
        """A hive message type goes to ``emitter``, anything else to the internal bus."""
        (self.emitter if _is_hive_event(event_name) else self.internal_bus).on(
            _key(event_name), func
        )

    def once(self, event_name: HiveMessageType | str, func: Handler) -> None:
        """As :meth:`on`, for one message."""
        (self.emitter if _is_hive_event(event_name) else self.internal_bus).once(
            _key(event_name), func
        )

    def remove(self, event_name: HiveMessageType | str, func: Handler) -> None:
        """Unregister ``func``."""
        target: Any = self.emitter if _is_hive_event(event_name) else self.internal_bus
        remover = getattr(target, "remove_listener", None) or target.remove
        remover(_key(event_name), func)

    def on_mycroft(self, mycroft_msg_type: str, func: Handler) -> None:
        """A handler for bus messages of ``mycroft_msg_type`` (as :meth:`on` with that name)."""
        self.internal_bus.on(mycroft_msg_type, func)

    # -- emitting ----------------------------------------------------------------------------
    def _stamp(self, message: Any) -> None:
        """The routing context the real client adds; what the caller set stays."""
        context = message.context
        context.setdefault("source", self.useragent)
        context.setdefault("platform", self.useragent)
        context.setdefault("destination", "HiveMind")
        session = context.setdefault("session", {})
        session.setdefault("session_id", self.session_id)
        session.setdefault("site_id", self.site_id)

    async def emit(self, message: HiveMessage | Any, binary_type: Any = None) -> None:
        """Record ``message`` (a bus message goes wrapped in BUS) and dispatch it."""
        del binary_type
        if not isinstance(message, HiveMessage):
            self._stamp(message)
            message = HiveMessage(HiveMessageType.BUS, payload=message)
        elif message.msg_type == HiveMessageType.BUS and hasattr(message.payload, "context"):
            self._stamp(message.payload)
        self.emitted.append(message)
        self.emitter.emit(_key(message.msg_type), message)
        if message.msg_type == HiveMessageType.BUS:
            inner = message.payload
            inner_type = getattr(inner, "msg_type", None)
            if inner_type:
                self.internal_bus.emit(inner_type, inner)

    async def emit_mycroft(self, message: Any) -> None:
        """Emit a bus message (wrapped in BUS)."""
        await self.emit(message)

    async def emit_intercom(self, message: Any, pubkey: Any) -> None:
        """Record an INTERCOM message; nothing is sealed (there is no peer)."""
        del pubkey
        payload = message.as_dict if isinstance(message, Message | HiveMessage) else message
        await self.emit(HiveMessage(HiveMessageType.INTERCOM, payload=payload))

    # -- waiting -----------------------------------------------------------------------------
    async def _wait(
        self, event: HiveMessageType | str, accept: Callable[[Any], bool], timeout: float,
        before: Callable[[], Any] | None = None,
    ) -> Any:
        loop = asyncio.get_running_loop()
        found: asyncio.Future[Any] = loop.create_future()

        def receive(message: Any) -> None:
            if not found.done() and accept(message):
                found.set_result(message)

        self.emitter.on(event, receive)
        try:
            if before is not None:
                await before()
            return await asyncio.wait_for(found, timeout)
        except asyncio.TimeoutError:
            return None
        finally:
            self.emitter.remove_listener(event, receive)

    async def wait_for_message(
        self, message_type: HiveMessageType | str, timeout: float = 3.0
    ) -> HiveMessage | None:
        """The next hive message of ``message_type``, or None."""
        return await self._wait(message_type, lambda _m: True, timeout)  # type: ignore[no-any-return]

    async def wait_for_payload(
        self,
        payload_type: str,
        message_type: HiveMessageType | str = HiveMessageType.BUS,
        timeout: float = 3.0,
    ) -> HiveMessage | None:
        """The next ``message_type`` message whose payload is a ``payload_type`` message."""

        def accept(message: Any) -> bool:
            return getattr(message.payload, "msg_type", None) == payload_type

        return await self._wait(message_type, accept, timeout)  # type: ignore[no-any-return]

    async def wait_for_mycroft(self, mycroft_msg_type: str, timeout: float = 3.0) -> HiveMessage | None:
        """The next BUS message carrying a ``mycroft_msg_type`` bus message."""
        return await self.wait_for_payload(mycroft_msg_type, HiveMessageType.BUS, timeout)

    async def wait_for_response(
        self, message: Any, reply_type: HiveMessageType | str | None = None, timeout: float = 3.0
    ) -> HiveMessage | None:
        """Emit ``message`` and wait for a reply: a hive message of ``reply_type`` (default:
        the same type), or for a bus message a BUS message carrying ``reply_type``."""

        async def send() -> None:
            await self.emit(message)

        if isinstance(message, HiveMessage):
            wanted = reply_type if reply_type is not None else message.msg_type
            return await self._wait(wanted, lambda _m: True, timeout, send)  # type: ignore[no-any-return]
        inner = reply_type if reply_type is not None else message.msg_type

        def accept(reply: Any) -> bool:
            return getattr(reply.payload, "msg_type", None) == inner

        return await self._wait(HiveMessageType.BUS, accept, timeout, send)  # type: ignore[no-any-return]
