"""The threaded websocket driver: the only code of the sync client that touches the network.

One reader thread owns the socket. It connects, moves every websocket message and the time
into the :class:`~hivemind_client.satellite.core.SatelliteCore`, writes what the core returns,
fulfils the core's side-effect requests (argon2id, pins, the PSK cache), hands the outputs that
run application code to the client, and connects again when the core says so. Sends from
other threads take the same lock, so the core is only ever called by one thread at a time and
frames go out whole and in order.

Hostile or broken peers (see ``tests/sync/test_misbehaving_hub.py``):

- ``max_message_size`` is checked against each frame's *announced* length, before its payload
  is read (websocket-client would otherwise buffer the whole frame first), and against the
  running total of a fragmented message; control frames over 125 bytes are refused too. The
  socket is then closed with 1009 and the failure is a ``PayloadTooLarge``.
- Writes (messages, pings, and the pongs websocket-client sends by itself) never fail on the
  reader's 0.2 s poll timeout: a frame is written whole, or, after ``send_timeout`` seconds of
  a peer that does not read, the connection is dropped (a half written frame cannot be taken
  back) and ``send`` raises NotConnected after giving the message back to the core's queue.
  ``close`` does not wait for a write stuck on such a peer.
- A certificate pin is checked on the TLS socket before the websocket upgrade, which carries
  the access key, is sent.
- An exception the core should never raise is logged and reported as a
  ``connection-failed`` failure; the reader thread survives it.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import socket
import threading
import time
from collections.abc import Callable

import websocket

from hivemind_client.api.effects import ThreadedPump
from hivemind_client.core.reconnect import ReconnectPolicy, Retry
from hivemind_client.core.url import DEFAULT_PORT, build_url
from hivemind_client.errors import ConnectionFailed as ConnectionFailedError
from hivemind_client.errors import (
    HiveMindError,
    InvalidArgument,
    NotConnected,
    PayloadTooLarge,
)
from hivemind_client.identity.stores import NoiseKeyStore
from hivemind_client.satellite.core import (
    Output,
    SatelliteCore,
)
from hivemind_client.sync.websocket_io import (
    BoundedFrameBuffer,
    Closed,
    MessageTooLarge,
    abort,
    as_bytes,
    bound_frames,
    close,
    open_websocket,
    pinned_socket,
    receive,
    ssl_options,
    write_frame,
)
from hivemind_client.wire.message import HiveMessage

__all__ = ["DEFAULT_PORT", "ReconnectPolicy", "Transport", "WebsocketDriver", "build_url"]

LOG = logging.getLogger(__name__)
_POLL_SECONDS = 0.2
_MESSAGE_TOO_BIG = 1009  # RFC 6455 close code


class WebsocketDriver(ThreadedPump):
    """Drives a :class:`SatelliteCore` over websocket-client, one connection at a time."""

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
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.url = url
        self.core = core
        self._on_outputs = on_outputs
        self._store = store
        self._sslopt = ssl_options(self_signed, certificate_sha256, ca_file)
        self._pin = certificate_sha256.lower().replace(":", "") if certificate_sha256 else None
        self._connect_timeout = connect_timeout
        self._max_message_size = max_message_size
        self._send_timeout = send_timeout
        self._clock = clock
        self._wall = wall_clock
        self.lock = threading.RLock()
        """Held around every call into the core and every write: one thread at a time."""
        self._stop = threading.Event()
        self._ws: websocket.WebSocket | None = None
        self._opening: websocket.WebSocket | socket.socket | None = None
        """The websocket (or pinned TLS socket) of an attempt still connecting: close() shuts
        it down, so a hub that never answers the upgrade cannot keep the reader thread."""
        self._thread: threading.Thread | None = None

    # -- public ---------------------------------------------------------------------------------
    def start(self) -> None:
        """Start the reader thread (it connects in the background)."""
        if self._thread is not None:
            raise InvalidArgument("transport already started")
        self._thread = threading.Thread(target=self._run, name="hivemind-transport", daemon=True)
        self._thread.start()

    @property
    def ready(self) -> bool:
        """True while a session is established."""
        with self.lock:
            return self._ws is not None and self.core.ready

    def send(self, message: HiveMessage) -> None:
        """Send now, or queue in the core while the link is down.

        Raises NotConnected when the write failed (the link is then dropped and rebuilt, and
        the message waits in the core's queue), QueueFull when that queue is full.
        """
        with self.lock:
            frames = self.core.send(message)
            if not frames:
                return
            ws = self._ws
            try:
                if ws is None:
                    raise websocket.WebSocketConnectionClosedException("the socket is closed")
                self._write_all(ws, frames)
            except (websocket.WebSocketException, OSError) as exc:
                self.core.send_failed(message)
                if ws is not None:
                    abort(ws)  # the reader thread sees the socket die and reconnects
                raise NotConnected(
                    f"the connection to the hub broke while sending: {exc}"
                ) from None

    def route(self, message: HiveMessage) -> list[Output]:
        """Route one message from the hub (the client's dispatcher calls this, in order), and
        write the automatic replies it caused."""
        with self.lock:
            outputs = self.core.route(message, self._wall())
            ws = self._ws
            try:
                self._write_pending()
            except (websocket.WebSocketException, OSError) as exc:
                LOG.info("could not send an automatic reply: %s", exc)
                if ws is not None:
                    abort(ws)
            return outputs

    def drop(self) -> None:
        """Close the current socket and let the core decide what comes next (a reconnect)."""
        ws = self._ws
        if ws is not None:
            abort(ws)

    def close(self, timeout: float = 5.0) -> None:
        """Stop reconnecting, close the socket, and wait for the reader thread."""
        self._stop.set()
        self._abort_opening()
        ws = self._ws
        if ws is not None:
            if ws.lock.acquire(timeout=1):  # a write stuck on a hub that does not read holds it
                ws.lock.release()
                with contextlib.suppress(websocket.WebSocketException, OSError):
                    ws.close(timeout=1)
            else:
                abort(ws)
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            deadline = time.monotonic() + timeout
            while thread.is_alive() and (left := deadline - time.monotonic()) > 0:
                thread.join(min(left, 0.1))
                self._abort_opening()  # a connect that had not made its socket yet has one now

    # -- reader thread --------------------------------------------------------------------------
    def _run(self) -> None:
        while not self._stop.is_set():
            outcome = self._one_connection()
            if not isinstance(outcome, Retry) or self._stop.is_set():
                break
            if outcome.delay > 0:
                LOG.info(
                    "link closed (close code %s); reconnecting in %.2f s",
                    outcome.close_code,
                    outcome.delay,
                )
            if self._stop.wait(outcome.delay):
                break

    def _one_connection(self) -> object:
        """One connection's life; returns the core's outcome (Retry or GiveUp)."""
        ws = self._open()
        if ws is None:
            return self._pump()
        with self.lock:
            self._ws = ws
            self.core.connection_opened(
                self._clock(),
                pinned_hub_key=self._store.pinned_hub_key(self.core.config.hub_pin_id),
            )
        ws.settimeout(_POLL_SECONDS)
        outcome: object = None
        try:
            while outcome is None and not self._stop.is_set():
                # until the link is keyed, a much smaller bound (max_handshake_message) holds
                limit = self.core.max_incoming(self._max_message_size)
                if isinstance(ws.frame_buffer, BoundedFrameBuffer):
                    ws.frame_buffer.limit = limit
                received = receive(ws, limit)
                with self.lock:
                    now, wall = self._clock(), self._wall()
                    if received is None:  # the socket closed
                        self.core.connection_lost(None, "connection closed", now)
                    elif received and received[0] == websocket.ABNF.OPCODE_PONG:
                        self.core.pong_received(now)
                    elif received:
                        self.core.receive_message(received[1], now, wall)
                    deadline = self.core.next_timer()
                    if deadline is not None and now >= deadline:
                        self.core.handle_timer(now, wall)
                    self._write_pending()
                outcome = self._pump()
        except Closed as closed:
            outcome = self._lost(closed.code, closed.reason)
        except MessageTooLarge as exc:
            LOG.warning("refusing a message from the hub: %s", exc)
            outcome = self._lost(
                _MESSAGE_TOO_BIG, str(exc), PayloadTooLarge(str(exc)), _MESSAGE_TOO_BIG
            )
            close(ws, _MESSAGE_TOO_BIG)
        except (websocket.WebSocketException, OSError) as exc:
            outcome = self._lost(None, str(exc))
        except Exception as exc:  # a bug below us must not kill the reader thread silently
            LOG.exception("internal error while handling the hub's data")
            error = ConnectionFailedError(
                f"internal error while handling the hub's data: {type(exc).__name__}: {exc}"
            )
            outcome = self._lost(None, str(error), error)
        finally:
            with self.lock:
                self._ws = None
            close(ws, websocket.STATUS_NORMAL)
        if outcome is None:  # close() stopped the loop
            outcome = self._lost(1000, "closed by the client")
        return outcome

    def _open(self) -> websocket.WebSocket | None:
        """A connected websocket, or None (the core was told why)."""
        try:
            pinned = (
                pinned_socket(self.url, self._pin, self._connect_timeout)
                if self._pin is not None
                else None
            )
            self._opening = pinned
            if self._stop.is_set():  # close() came while the pinned socket connected
                raise ConnectionFailedError("the client is closing")
            ws = open_websocket(
                self.url,
                timeout=self._connect_timeout,
                sslopt=self._sslopt,
                socket=pinned,
                created=self._connecting,
            )
            bound_frames(ws, self._max_message_size, self._past_connection_deadline)
            # websocket-client answers pings itself, with the send that can stop mid-frame
            pong = functools.partial(self._write, ws, opcode=websocket.ABNF.OPCODE_PONG)
            setattr(ws, "pong", lambda payload=b"": pong(as_bytes(payload)))  # noqa: B010
            return ws
        except HiveMindError as error:
            with self.lock:
                self.core.connection_failed(error, final=True)
        except (websocket.WebSocketException, OSError) as exc:
            with self.lock:
                self.core.connection_failed(
                    ConnectionFailedError(f"cannot connect to the hub: {exc}")
                )
        finally:
            self._opening = None
        return None

    def _connecting(self, ws: websocket.WebSocket) -> None:
        self._opening = ws
        if self._stop.is_set():
            self._abort_opening()

    def _abort_opening(self) -> None:
        """Wake the reader thread if it waits for the hub to answer a connect or the upgrade."""
        opening = self._opening
        if isinstance(opening, websocket.WebSocket):
            abort(opening)
        elif opening is not None:
            with contextlib.suppress(OSError):
                opening.shutdown(socket.SHUT_RDWR)

    def _past_connection_deadline(self) -> bool:
        """Read from the reader thread without the lock: a float compare, and a stale value
        only delays the end by one poll."""
        deadline = self.core.connection_deadline()
        return deadline is not None and self._clock() >= deadline

    def _lost(
        self,
        code: int | None,
        reason: str,
        error: HiveMindError | None = None,
        close_code: int | None = None,
    ) -> object:
        with self.lock:
            self._ws = None  # nothing more is written to this socket
            self.core.connection_lost(
                code, reason, self._clock(), error=error, close_code=close_code
            )
        return self._pump()

    def _send_ping(self) -> None:
        with self.lock:
            if self._ws is not None:
                self._write(self._ws, b"", websocket.ABNF.OPCODE_PING)

    def _close_link(self, code: int) -> None:
        ws = self._ws
        if ws is not None:
            close(ws, code)

    def _write_produced(self) -> None:
        self._write_pending()

    def _write_pending(self) -> None:
        """Write what the core produced (under the lock), then what waited for the link."""
        ws = self._ws
        data = self.core.data_to_send()
        if ws is None:
            return
        self._write_all(ws, data)
        while (item := self.core.take_queued()) is not None:
            message, frames = item
            try:
                self._write_all(ws, frames)
            except (websocket.WebSocketException, OSError):
                self.core.requeue(message)
                raise

    def _write_all(self, ws: websocket.WebSocket, data: list[str | bytes]) -> None:
        for item in data:
            if isinstance(item, bytes):
                self._write(ws, item, websocket.ABNF.OPCODE_BINARY)
            else:
                self._write(ws, item.encode("utf-8"), websocket.ABNF.OPCODE_TEXT)

    def _write(self, ws: websocket.WebSocket, payload: bytes, opcode: int) -> None:
        write_frame(
            ws,
            payload,
            opcode,
            send_timeout=self._send_timeout,
            clock=self._clock,
            stopping=self._stop.is_set,
        )


Transport = WebsocketDriver
"""The old name (it read like a sibling of the Noise ``NoiseTransport``, which it is not)."""
