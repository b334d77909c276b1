"""The asyncio websocket driver: the only code of the asyncio client that touches the network.

One task per client runs the connections one after another. Everything else happens on the
event loop too, so the :class:`~hivemind_client.satellite.core.SatelliteCore` needs no lock:
a websocket message moves into the core, what the core asks for comes out of
:meth:`SatelliteCore.outputs`, and the core's deadlines become one ``loop.call_at`` handle,
which also ends a handshake that trickles in byte by byte (the reader may be stuck in the
middle of a frame; the timer is not).

Frames the core produces go to an outbox in the order they were encrypted (Noise nonces are
implicit counters: order is correctness, not politeness) and one writer task per connection
writes them, so no caller's cancellation can cut the stream. What cannot be written waits in
the core's queue for the next connection.

Slow side effects (argon2id, identity file writes) run in the default executor, one at a time
and in order, off the event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Callable, Coroutine
from typing import Any
from urllib.parse import urlsplit

from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed, WebSocketException
from websockets.protocol import State

from hivemind_client.aio.websocket_io import Unreachable, open_websocket, set_max_size, ssl_context
from hivemind_client.api.effects import feed_result
from hivemind_client.core.reconnect import Retry
from hivemind_client.errors import ConnectionFailed as ConnectionFailedError
from hivemind_client.errors import HiveMindError, InvalidArgument, PayloadTooLarge
from hivemind_client.identity.stores import NoiseKeyStore, perform
from hivemind_client.satellite.core import (
    CloseConnection,
    ConnectionEnded,
    Output,
    PerformRequest,
    SatelliteCore,
    SendPing,
)
from hivemind_client.wire.message import HiveMessage

__all__ = ["AsyncWebsocketDriver"]

LOG = logging.getLogger(__name__)
_MESSAGE_TOO_BIG = 1009  # RFC 6455 close code
_OUTBOX_HIGH_WATER = 1024 * 1024  # bytes; past it, send() waits for the writer (backpressure)


class AsyncWebsocketDriver:
    """Drives a :class:`SatelliteCore` over websockets' asyncio client, one connection at a time."""

    def __init__(
        self,
        url: str,
        core: SatelliteCore,
        on_outputs: Callable[[list[Output]], None],
        *,
        store: NoiseKeyStore,
        self_signed: bool = False,
        certificate_sha256: str | None = None,
        ca_file: str | None = None,
        connect_timeout: float | None = 10.0,
        max_message_size: int = 64 * 1024 * 1024,
        send_timeout: float = 10.0,
        may_read: asyncio.Event | None = None,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.url = url
        self.core = core
        self._on_outputs = on_outputs
        self._store = store
        self._tls = (
            ssl_context(self_signed, certificate_sha256, ca_file)
            if urlsplit(url).scheme == "wss"
            else None
        )
        self._pin = certificate_sha256.lower().replace(":", "") if certificate_sha256 else None
        self._connect_timeout = connect_timeout
        self._max_message_size = max_message_size
        self._send_timeout = send_timeout
        self._wall = wall_clock
        self._may_read = may_read
        """Cleared while the application's handlers are behind: reading pauses, TCP pushes back."""
        self._loop = asyncio.get_running_loop()
        self._stopping = False
        self._wake_stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._ws: ClientConnection | None = None
        self._outcome: object = None
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at: float | None = None
        self._outbox: deque[tuple[str | bytes, HiveMessage | None]] = deque()
        self._outbox_bytes = 0
        self._writable = asyncio.Event()
        self._drained = asyncio.Event()
        self._effects = asyncio.Lock()
        self._side_tasks: set[asyncio.Task[Any]] = set()

    # -- public ---------------------------------------------------------------------------------
    def start(self) -> None:
        """Start connecting in the background."""
        if self._task is not None:
            raise InvalidArgument("driver already started")
        self._task = self._loop.create_task(self._run(), name="hivemind-connection")

    @property
    def ready(self) -> bool:
        """True while a session is established."""
        return self._ws is not None and self.core.ready

    async def send(self, message: HiveMessage) -> None:
        """Send now, or queue in the core while the link is down (QueueFull when it is full).

        Returns once the frames are in the outbox, in order; waits only when the hub reads
        too slowly for the outbox to drain (backpressure)."""
        frames = self.core.send(message)
        if not frames:
            return
        if self._ws is None:  # pragma: no cover - the core is ready only while a socket is
            self.core.send_failed(message)
            return
        self._queue_frames(frames, message)
        while self._outbox_bytes > _OUTBOX_HIGH_WATER and self._ws is not None:
            self._drained.clear()
            await self._drained.wait()

    def route(self, message: HiveMessage) -> list[Output]:
        """Route one message from the hub and write the automatic replies it caused."""
        outputs = self.core.route(message, self._wall())
        self._flush()
        return outputs

    async def close(self, timeout: float = 5.0) -> None:
        """Stop reconnecting, close the socket, and wait for the connection task."""
        self._stopping = True
        self._wake_stop.set()
        ws = self._ws
        if ws is not None:
            self._spawn(self._close_socket(ws, 1000))
        task = self._task
        if task is not None and task is not asyncio.current_task():
            try:
                await asyncio.wait_for(asyncio.shield(task), timeout)
            except asyncio.TimeoutError:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        for side in list(self._side_tasks):
            side.cancel()

    # -- the connection task --------------------------------------------------------------------
    async def _run(self) -> None:
        try:
            while not self._stopping:
                outcome = await self._one_connection()
                if not isinstance(outcome, Retry) or self._stopping:
                    return
                if outcome.delay > 0:
                    LOG.info(
                        "link closed (close code %s); reconnecting in %.2f s",
                        outcome.close_code,
                        outcome.delay,
                    )
                    with contextlib.suppress(asyncio.TimeoutError):
                        await asyncio.wait_for(self._wake_stop.wait(), outcome.delay)
        finally:
            self._cancel_timer()

    async def _one_connection(self) -> object:
        """One connection's life; returns the core's outcome (Retry or GiveUp)."""
        self._outcome = None
        ws = await self._open()
        if ws is None:
            self._process()
            return self._outcome
        pinned = await self._in_executor(self._store.pinned_hub_key, self.core.config.hub_pin_id)
        if self._stopping:
            await self._close_socket(ws, 1000)
            return None
        self._ws = ws
        self._outbox.clear()
        self._outbox_bytes = 0
        self.core.connection_opened(self._loop.time(), pinned_hub_key=pinned)
        writer = self._loop.create_task(self._write_loop(ws), name="hivemind-writer")
        try:
            self._after_core()
            while self._outcome is None:
                if self._may_read is not None and not self._may_read.is_set():
                    await self._may_read.wait()
                set_max_size(ws, self.core.max_incoming(self._max_message_size))
                data = await ws.recv()
                self.core.receive_message(data, self._loop.time(), self._wall())
                self._after_core()
        except ConnectionClosed as closed:
            self._lost_from(closed)
        except Exception as exc:  # a bug below us must not end the task silently
            LOG.exception("internal error while handling the hub's data")
            error = ConnectionFailedError(
                f"internal error while handling the hub's data: {type(exc).__name__}: {exc}"
            )
            self._lost(None, str(error), error)
        finally:
            self._ws = None
            writer.cancel()
            self._requeue_outbox(0)
            self._drained.set()
            await self._close_socket(ws, 1000)
        if self._outcome is None:  # pragma: no cover - every path above decides
            self._lost(1000, "closed by the client")
        return self._outcome

    async def _open(self) -> ClientConnection | None:
        """A connected websocket, or None (the core was told why)."""
        try:
            return await open_websocket(
                self.url,
                tls=self._tls,
                pin=self._pin,
                timeout=self._connect_timeout,
                # the handshake bound from the first byte: frames are parsed as they arrive
                max_size=min(self._max_message_size, self.core.config.max_handshake_message),
            )
        except Unreachable as unreachable:
            self.core.connection_failed(unreachable.error)
        except HiveMindError as error:
            self.core.connection_failed(error, final=True)
        return None

    def _lost_from(self, closed: ConnectionClosed) -> None:
        sent = closed.sent
        if sent is not None and sent.code == _MESSAGE_TOO_BIG and closed.rcvd_then_sent is not True:
            error = PayloadTooLarge(f"the hub sent a message over the limit: {sent.reason}")
            LOG.warning("refusing a message from the hub: %s", error)
            self._lost(_MESSAGE_TOO_BIG, str(error), error, _MESSAGE_TOO_BIG)
            return
        rcvd = closed.rcvd
        if rcvd is not None:
            self._lost(rcvd.code, rcvd.reason)
        else:
            self._lost(None, "connection closed")

    def _lost(
        self,
        code: int | None,
        reason: str,
        error: HiveMindError | None = None,
        close_code: int | None = None,
    ) -> None:
        self._ws = None
        self.core.connection_lost(
            code, reason, self._loop.time(), error=error, close_code=close_code
        )
        self._process()

    # -- what the core asks for -------------------------------------------------------------------
    def _after_core(self) -> None:
        """After every call into the core: act on its outputs, write, re-arm its timer."""
        self._process()
        self._flush()
        self._arm_timer()

    def _process(self) -> None:
        for_client: list[Output] = []
        for output in self.core.outputs():
            if isinstance(output, PerformRequest):
                self._spawn(self._perform(output))
            elif isinstance(output, SendPing):
                if self._ws is not None:
                    self._spawn(self._ping(self._ws))
            elif isinstance(output, CloseConnection):
                ws = self._ws
                self._ws = None
                if ws is not None:
                    self._spawn(self._close_socket(ws, output.code))
            elif isinstance(output, ConnectionEnded):
                self._outcome = output.outcome
                for_client.append(output)
            else:
                for_client.append(output)
        if for_client:
            self._on_outputs(for_client)

    def _flush(self) -> None:
        """Move what the core produced into the outbox: protocol data, then what waited."""
        data = self.core.data_to_send()
        if self._ws is None:
            return
        self._queue_frames(data, None)
        while (item := self.core.take_queued()) is not None:
            message, frames = item
            self._queue_frames(frames, message)

    def _queue_frames(self, frames: list[str | bytes], message: HiveMessage | None) -> None:
        if frames:
            self._outbox.extend((frame, message) for frame in frames)
            self._outbox_bytes += sum(len(frame) for frame in frames)
            self._writable.set()

    async def _write_loop(self, ws: ClientConnection) -> None:
        """The one writer of this connection: frames leave in the order they were made."""
        try:
            while True:
                await self._writable.wait()
                self._writable.clear()
                while self._outbox:
                    frame, _ = self._outbox[0]
                    await asyncio.wait_for(ws.send(frame), self._send_timeout)
                    self._outbox.popleft()
                    self._outbox_bytes -= len(frame)
                    if self._outbox_bytes <= _OUTBOX_HIGH_WATER:
                        self._drained.set()
                self._drained.set()
        except asyncio.TimeoutError:
            LOG.warning("the hub read nothing for %g s: dropping the link", self._send_timeout)
        except (ConnectionClosed, OSError) as exc:
            LOG.info("could not write to the hub: %s", exc)
        self._abort(ws)

    def _requeue_outbox(self, start: int) -> None:
        """Messages whose frames did not all leave go back to the core's queue, in order."""
        messages: list[HiveMessage] = []
        for _, message in list(self._outbox)[start:]:
            if message is not None and (not messages or messages[-1] is not message):
                messages.append(message)
        self._outbox.clear()
        self._outbox_bytes = 0
        for message in reversed(messages):
            self.core.requeue(message)

    def _arm_timer(self) -> None:
        deadline = self.core.next_timer()
        if deadline == self._timer_at:
            return
        self._cancel_timer()
        if deadline is not None:
            self._timer_at = deadline
            self._timer = self._loop.call_at(deadline, self._on_timer)

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer = self._timer_at = None

    def _on_timer(self) -> None:
        self._timer = self._timer_at = None
        self.core.handle_timer(self._loop.time(), self._wall())
        self._after_core()  # a CloseConnection it caused wakes the reader through the socket

    async def _ping(self, ws: ClientConnection) -> None:
        with contextlib.suppress(ConnectionClosed, OSError):
            pong = await ws.ping()
            await pong
            if self._ws is ws:
                self.core.pong_received(self._loop.time())
                self._after_core()

    async def _perform(self, output: PerformRequest) -> None:
        """One side effect at a time, in order, in the executor (argon2id takes ~0.15 s)."""
        request = output.request
        async with self._effects:
            try:
                result = await self._in_executor(perform, request, self._store)
            except HiveMindError as error:
                LOG.warning("could not %s: %s", type(request).__name__, error)
                return
        if feed_result(self.core, result, now=self._loop.time(), wall=self._wall()):
            self._after_core()

    async def _in_executor(self, function: Callable[..., Any], *args: Any) -> Any:
        return await self._loop.run_in_executor(None, function, *args)

    async def _close_socket(self, ws: ClientConnection, code: int) -> None:
        if ws.state is State.CLOSED:
            return
        try:
            await asyncio.wait_for(ws.close(code), 2)
        except (asyncio.TimeoutError, OSError, WebSocketException):
            self._abort(ws)

    @staticmethod
    def _abort(ws: ClientConnection) -> None:
        transport = ws.transport
        if transport is not None:
            transport.abort()

    def _spawn(self, coroutine: Coroutine[Any, Any, Any]) -> None:
        task = self._loop.create_task(coroutine)
        self._side_tasks.add(task)
        task.add_done_callback(self._side_tasks.discard)
