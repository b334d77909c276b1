"""The asyncio HiveMind client: the threaded client's behaviour on one event loop, no threads.

Everything runs on the loop that called :meth:`AsyncHiveMessageBusClient.connect`: messages
are routed as they arrive, in order; a plain handler runs there and then, a coroutine handler
becomes a task (so it may ``await client.wait_for_response(...)`` without blocking the routing
of the answer). Running handler tasks are bounded by ``max_pending_handlers``: past it, the
client stops reading the socket until some finish, and TCP pushes back on the hub.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any

from hivemind_client.aio.driver import AsyncWebsocketDriver
from hivemind_client.api.base import ClientBase, lifecycle_events
from hivemind_client.api.handlers import (
    LocalBus,
    hive_message_of_type,
    mycroft_message_of_type,
    payload_matcher,
    response_matcher,
)
from hivemind_client.core.reconnect import GiveUp
from hivemind_client.errors import ConnectionFailed as ConnectionFailedError
from hivemind_client.errors import HiveMindError, InvalidArgument, NotConnected, QueueFull
from hivemind_client.satellite import rendezvous
from hivemind_client.satellite.core import (
    Connected,
    ConnectionEnded,
    ConnectionInfo,
    MessageArrived,
    Output,
    Waiter,
)
from hivemind_client.satellite.routing import UPSTREAM_REQUEST, upstream_request
from hivemind_client.wire.message import HiveMessage, Message, MessageLike
from hivemind_client.wire.message_types import BinaryPayloadType, HiveMessageType

__all__ = ["AsyncHiveMessageBusClient"]

LOG = logging.getLogger(__name__)
_END = object()  # ends a messages() iteration


class AsyncHiveMessageBusClient(ClientBase):
    """A HiveMind satellite connection on asyncio: handshake, messages both ways, reconnects.

    Same constructor, options, bounds and errors as
    :class:`~hivemind_client.sync.client.HiveMessageBusClient`; the I/O methods are coroutines.
    """

    def _init_driver(self) -> None:
        self._driver: AsyncWebsocketDriver | None = None
        self._first: asyncio.Future[ConnectionInfo] | None = None
        self._handler_tasks: set[asyncio.Task[Any]] = set()
        self._handlers_done: asyncio.Event | None = None
        self._streams: list[asyncio.Queue[Any]] = []
        self._rendezvous: asyncio.Lock | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        if isinstance(self.internal_bus, LocalBus):
            self.internal_bus.schedule = self._schedule_handler
        self._listen_to(self.internal_bus)

    @property
    def connected(self) -> bool:
        """True while the session is established."""
        return self._driver is not None and self._driver.ready

    async def connect(self, site_id: str | None = None, timeout: float = 15.0) -> ConnectionInfo:
        """Connect and complete the handshake; raise a clear HiveMindError if that fails.

        Cancelling it (or its timeout) stops the connection attempt; nothing keeps running.
        """
        if self._driver is not None:
            raise InvalidArgument("already connected; close() first")
        if site_id:
            self.site_id = site_id
        loop = self._loop = asyncio.get_running_loop()
        noise_key = await loop.run_in_executor(None, self._noise_private_key)  # may read a file
        self._core.config = self._satellite_config(noise_key)
        self._core.start()
        self._first = loop.create_future()
        self._handlers_done = asyncio.Event()
        self._handlers_done.set()
        self._driver = AsyncWebsocketDriver(
            self.url,
            self._core,
            self._on_outputs,
            store=self.noise_store,
            self_signed=self.self_signed,
            certificate_sha256=self.certificate_sha256,
            connect_timeout=self.connect_timeout or None,
            may_read=self._handlers_done,
        )
        self._driver.start()
        try:
            return await asyncio.wait_for(asyncio.shield(self._first), timeout)
        except asyncio.TimeoutError:
            await self._stop_driver()
            raise ConnectionFailedError(
                f"no session with {self.host} within {timeout:g} s"
            ) from None
        except BaseException:  # a refusal, or the caller cancelled us
            await self._stop_driver()
            raise

    async def close(self) -> None:
        """Close the connection, wake every waiter and end every ``messages()`` iteration."""
        self._core.stop()
        await self._stop_driver()
        for waiter in self._core.waiters():
            _wake(waiter.token)
        for stream in self._streams:
            _offer(stream, _END)
        tasks = list(self._handler_tasks)
        for task in tasks:
            if task is not asyncio.current_task():
                task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _stop_driver(self) -> None:
        driver, self._driver = self._driver, None
        if driver is not None:
            await driver.close()

    async def __aenter__(self) -> AsyncHiveMessageBusClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # -- what the core asks for -----------------------------------------------------------------
    def _on_outputs(self, outputs: list[Output]) -> None:
        for output in outputs:
            for event, args in lifecycle_events(output):
                self.emitter.emit(event, *args)
            if isinstance(output, Connected):
                self.connected_event.set()
                if self._first is not None and not self._first.done():
                    self._first.set_result(output.info)
            elif isinstance(output, ConnectionEnded):
                self.connected_event.clear()
                outcome = output.outcome
                first = self._first
                if isinstance(outcome, GiveUp) and first is not None and not first.done():
                    first.set_exception(
                        outcome.reason or ConnectionFailedError("the connection ended")
                    )
            elif isinstance(output, MessageArrived):
                driver = self._driver
                routed = driver.route(output.message) if driver is not None else []
                self._run_routed(routed)
                for stream in self._streams:
                    _offer(stream, output.message)
            else:
                self._run_routed([output])

    def _wake_waiter(self, waiter: Waiter) -> None:
        _wake(waiter.token)

    def _schedule_handler(self, result: Awaitable[Any]) -> None:
        """Run a coroutine handler as a task, bounded by ``max_pending_handlers``."""
        task = asyncio.ensure_future(result)
        self._handler_tasks.add(task)
        task.add_done_callback(self._handler_finished)
        if len(self._handler_tasks) >= self._max_pending_handlers and self._handlers_done:
            self._handlers_done.clear()
            LOG.debug("%d handlers running: reading paused", len(self._handler_tasks))

    def _handler_finished(self, task: asyncio.Task[Any]) -> None:
        self._handler_tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            LOG.error("handler failed", exc_info=task.exception())
        if len(self._handler_tasks) < self._max_pending_handlers and self._handlers_done:
            self._handlers_done.set()

    # -- sending ----------------------------------------------------------------------------------
    async def emit(
        self, message: HiveMessage | MessageLike, binary_type: BinaryPayloadType | int | None = None
    ) -> None:
        """Send a HiveMessage, or an OVOS message as BUS (routing context added as the reference does)."""
        loop = asyncio.get_running_loop()
        await self._send(
            self._core.prepare(message, binary_type, now=loop.time(), wall=time.time())
        )

    async def emit_mycroft(self, message: MessageLike) -> None:
        """Send an OVOS message as BUS."""
        await self.emit(message)

    async def emit_intercom(self, message: HiveMessage | MessageLike, pubkey: str) -> None:
        """Send ``message`` end-to-end encrypted for the node whose RSA public key is ``pubkey``."""
        await self._send(self._core.intercom(message, pubkey))

    async def _send(self, message: HiveMessage) -> None:
        driver = self._driver
        if driver is None:
            raise NotConnected("connect() first")
        await driver.send(message)

    def _forward_local(self, message: Any) -> None:
        """Every local bus message: shared with the hub (``share_bus``), or sent to it as BUS
        when its destination is the hub (a reply to something the hub injected)."""
        driver = self._driver
        if driver is None:
            return
        try:
            upstream = self._core.upstream_of_local(message, share_bus=self.share_bus)
        except HiveMindError as exc:
            LOG.warning("not forwarding a local bus message to the hub: %s", exc)
            return
        for item in upstream:
            self._on_loop(functools.partial(self._schedule_upstream, item, prepare=False))

    def _send_upstream(self, message: Any) -> None:
        """A ``hive.send.upstream`` request on the local bus."""
        try:
            wanted = upstream_request(message)
        except HiveMindError as exc:
            LOG.warning("ignoring a malformed %s: %s", UPSTREAM_REQUEST, exc)
            return
        if wanted is not None:
            self._on_loop(functools.partial(self._schedule_upstream, wanted, prepare=True))

    def _schedule_upstream(self, message: HiveMessage, *, prepare: bool) -> None:
        self._schedule_handler(self._emit_upstream(message, prepare=prepare))

    async def _emit_upstream(self, message: HiveMessage, *, prepare: bool = False) -> None:
        try:
            await (self.emit(message) if prepare else self._send(message))
        except (NotConnected, QueueFull) as exc:
            LOG.warning("a message from the local bus was not sent to the hub: %s", exc)

    def _on_loop(self, call: Callable[[], None]) -> None:
        """Run ``call`` on the client's loop: an OVOS FakeBus runs local handlers on whichever
        thread emitted."""
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            call()
        else:
            loop.call_soon_threadsafe(call)

    # -- receiving ---------------------------------------------------------------------------------
    async def messages(self, max_buffered: int = 1000) -> AsyncIterator[HiveMessage]:
        """Every HiveMessage from the hub, in order, for as long as the client is open.

        Buffers up to ``max_buffered`` messages for a slow consumer; past that the oldest are
        dropped with a warning (handlers and waiters still see every message).
        """
        stream: asyncio.Queue[Any] = asyncio.Queue(max_buffered)
        self._streams.append(stream)
        try:
            while True:
                item = await stream.get()
                if item is _END:
                    return
                yield item
        finally:
            self._streams.remove(stream)

    # -- waiting ----------------------------------------------------------------------------------
    async def _wait(
        self,
        matches: Callable[[Any], bool],
        timeout: float,
        send: HiveMessage | MessageLike | None = None,
    ) -> Any:
        token: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        waiter = self._core.add_waiter(matches, token)
        try:
            if send is not None:
                await self.emit(send)
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(token, timeout)
            return waiter.result
        finally:
            self._core.remove_waiter(waiter)

    async def wait_for_message(
        self, message_type: str | HiveMessageType, timeout: float = 3.0
    ) -> HiveMessage | None:
        """The next HiveMessage of this type, or None after ``timeout`` seconds."""
        found = await self._wait(hive_message_of_type(message_type), timeout)
        return found if isinstance(found, HiveMessage) else None

    async def wait_for_mycroft(self, mycroft_msg_type: str, timeout: float = 3.0) -> Message | None:
        """The next OVOS message of this type arriving from the hub, or None."""
        found = await self._wait(mycroft_message_of_type(mycroft_msg_type), timeout)
        return found if isinstance(found, Message) else None

    async def wait_for_response(
        self,
        message: HiveMessage | MessageLike,
        reply_type: str | None = None,
        timeout: float = 3.0,
    ) -> Message | HiveMessage | None:
        """Send ``message`` and wait for its reply (default ``<type>.response``, or the same HiveMessageType)."""
        found = await self._wait(response_matcher(message, reply_type), timeout, message)
        return found if isinstance(found, Message | HiveMessage) else None

    async def wait_for_payload(
        self,
        payload_type: str,
        message_type: str | HiveMessageType = HiveMessageType.THIRDPRTY,
        timeout: float = 3.0,
    ) -> HiveMessage | None:
        """The next HiveMessage of ``message_type`` whose payload has ``msg_type`` or ``type`` == ``payload_type``."""
        found = await self._wait(payload_matcher(message_type, payload_type), timeout)
        return found if isinstance(found, HiveMessage) else None

    async def wait_for_payload_response(
        self,
        message: HiveMessage,
        payload_type: str,
        message_type: str | HiveMessageType = HiveMessageType.THIRDPRTY,
        timeout: float = 3.0,
    ) -> HiveMessage | None:
        """Send ``message`` and wait as ``wait_for_payload`` does."""
        found = await self._wait(payload_matcher(message_type, payload_type), timeout, message)
        return found if isinstance(found, HiveMessage) else None

    # -- RENDEZVOUS (a hub holding mailboxes: hivemind-rendezvous) -----------------------------
    async def _rendezvous_exchange(
        self, request: HiveMessage, timeout: float
    ) -> HiveMessage | None:
        if self._rendezvous is None:
            self._rendezvous = asyncio.Lock()  # one request at a time: replies carry no id
        async with self._rendezvous:
            found = await self._wait(rendezvous.is_reply, timeout, request)
        return found if isinstance(found, HiveMessage) else None

    async def rendezvous_deposit(
        self, target_key: str, intercom: HiveMessage, ttl: int | None = None, timeout: float = 10.0
    ) -> str:
        """Leave ``intercom`` (an INTERCOM message) in ``target_key``'s mailbox; the deposit id."""
        request = rendezvous.deposit_request(target_key, intercom, ttl)
        return rendezvous.read_deposit(await self._rendezvous_exchange(request, timeout))

    async def rendezvous_collect(self, timeout: float = 10.0) -> list[rendezvous.Mail]:
        """The mail waiting in our mailbox, kept there until :meth:`rendezvous_ack`."""
        return rendezvous.read_collect(
            await self._rendezvous_exchange(rendezvous.collect_request(), timeout)
        )

    async def rendezvous_ack(self, deposit_ids: Sequence[str], timeout: float = 10.0) -> int:
        """Drop the deposits we received; how many the hub dropped."""
        request = rendezvous.ack_request(deposit_ids)
        return rendezvous.read_ack(await self._rendezvous_exchange(request, timeout))


def _wake(token: Any) -> None:
    if isinstance(token, asyncio.Future) and not token.done():
        token.set_result(None)


def _offer(stream: asyncio.Queue[Any], item: Any) -> None:
    """Put without blocking; a full buffer loses its oldest message, never the end marker."""
    while True:
        try:
            stream.put_nowait(item)
            return
        except asyncio.QueueFull:
            dropped = stream.get_nowait()
            if dropped is _END:  # pragma: no cover - nothing follows the end
                stream.put_nowait(dropped)
                return
            LOG.warning("messages(): the consumer fell behind; dropped the oldest message")
