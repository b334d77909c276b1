"""The threaded websocket driver's I/O: the only code of the sync client that touches the network.

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

import base64
import contextlib
import functools
import hashlib
import logging
import os
import socket
import ssl
import struct
import threading
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import websocket

from hivemind_client.core.reconnect import ReconnectPolicy, Retry
from hivemind_client.core.requests import DerivePsk
from hivemind_client.errors import ConnectionFailed as ConnectionFailedError
from hivemind_client.errors import (
    HiveMindError,
    InvalidArgument,
    NotConnected,
    PayloadTooLarge,
)
from hivemind_client.identity.stores import NoiseKeyStore, PskResult, perform
from hivemind_client.satellite.core import (
    CloseConnection,
    ConnectionEnded,
    Output,
    PerformRequest,
    SatelliteCore,
    SendPing,
)
from hivemind_client.wire.message import HiveMessage

_apply_mask: Callable[[bytes, bytes], bytes] | None
try:
    from websockets.speedups import apply_mask as _apply_mask
except ImportError:  # pragma: no cover - websockets without its C extension
    _apply_mask = None

__all__ = ["DEFAULT_PORT", "ReconnectPolicy", "Transport", "build_url"]

LOG = logging.getLogger(__name__)
DEFAULT_PORT = 5678
_POLL_SECONDS = 0.2
_MESSAGE_TOO_BIG = 1009  # RFC 6455 close code
_MAX_CONTROL_FRAME = 125  # RFC 6455 5.5
_DATA_OPCODES = frozenset({websocket.ABNF.OPCODE_TEXT, websocket.ABNF.OPCODE_BINARY})
_OPCODES = frozenset(websocket.ABNF.OPCODES)


def build_url(host: str, port: int | None, useragent: str, access_key: str) -> str:
    """The hub URL with the ``authorization`` query (standard base64 of ``useragent:key``).

    ``host`` may carry a scheme (``ws://`` or ``wss://``); without one ``ws://`` is used.
    The base64 is not URL-encoded, as hubs expect; a plain-ASCII user agent keeps ``+`` out.
    """
    if ":" in useragent:
        raise InvalidArgument("the user agent must not contain ':' (it separates the access key)")
    if not useragent.isascii() or not access_key.isascii():
        raise InvalidArgument("user agent and access key must be plain ASCII")
    if "://" not in host:
        host = "ws://" + host
    parts = urlsplit(host)
    if parts.scheme not in ("ws", "wss"):
        raise InvalidArgument(f"unsupported scheme {parts.scheme!r} (use ws:// or wss://)")
    netloc = parts.hostname or ""
    if ":" in netloc:  # IPv6 literal
        netloc = f"[{netloc}]"
    port = port or parts.port or DEFAULT_PORT
    token = base64.b64encode(f"{useragent}:{access_key}".encode()).decode()
    return f"{parts.scheme}://{netloc}:{port}/?authorization={token}"


class Transport:
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
        connect_timeout: float = 10.0,
        max_message_size: int = 64 * 1024 * 1024,
        send_timeout: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.url = url
        self.core = core
        self._on_outputs = on_outputs
        self._store = store
        self._sslopt = _ssl_options(self_signed, certificate_sha256, ca_file)
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
                    _abort(ws)  # the reader thread sees the socket die and reconnects
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
                    _abort(ws)
            return outputs

    def close(self, timeout: float = 5.0) -> None:
        """Stop reconnecting, close the socket, and wait for the reader thread."""
        self._stop.set()
        ws = self._ws
        if ws is not None:
            if ws.lock.acquire(timeout=1):  # a write stuck on a hub that does not read holds it
                ws.lock.release()
                with contextlib.suppress(websocket.WebSocketException, OSError):
                    ws.close(timeout=1)
            else:
                _abort(ws)
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout)

    # -- reader thread --------------------------------------------------------------------------
    def _run(self) -> None:
        while not self._stop.is_set():
            outcome = self._one_connection()
            if not isinstance(outcome, Retry) or self._stop.is_set():
                break
            if outcome.delay > 0:
                LOG.info("reconnecting in %.2f s", outcome.delay)
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
                received = self._receive(ws)
                with self.lock:
                    now, wall = self._clock(), self._wall()
                    if received is None:  # the socket closed
                        self.core.connection_lost(None, "connection closed", now)
                    elif received:
                        self.core.receive_message(received[1], now, wall)
                    deadline = self.core.next_timer()
                    if deadline is not None and now >= deadline:
                        self.core.handle_timer(now, wall)
                    self._write_pending()
                outcome = self._pump()
        except _Closed as closed:
            outcome = self._lost(closed.code, closed.reason)
        except _MessageTooLarge as exc:
            LOG.warning("refusing a message from the hub: %s", exc)
            outcome = self._lost(
                _MESSAGE_TOO_BIG, str(exc), PayloadTooLarge(str(exc)), _MESSAGE_TOO_BIG
            )
            _close(ws, _MESSAGE_TOO_BIG)
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
            _close(ws, websocket.STATUS_NORMAL)
        if outcome is None:  # close() stopped the loop
            outcome = self._lost(1000, "closed by the client")
        return outcome

    def _open(self) -> websocket.WebSocket | None:
        """A connected websocket, or None (the core was told why)."""
        try:
            pinned = self._pinned_socket() if self._pin is not None else None
            ws = websocket.create_connection(
                self.url,
                timeout=self._connect_timeout,
                sslopt=self._sslopt,
                enable_multithread=True,
                skip_utf8_validation=False,
                socket=pinned,
            )
            _bound_frames(ws, self._max_message_size)
            # websocket-client answers pings itself, with the send that can stop mid-frame
            pong = functools.partial(self._write, ws, opcode=websocket.ABNF.OPCODE_PONG)
            setattr(ws, "pong", lambda payload=b"": pong(_as_bytes(payload)))  # noqa: B010
            return ws
        except HiveMindError as error:
            with self.lock:
                self.core.connection_failed(error, final=True)
        except (websocket.WebSocketException, OSError) as exc:
            with self.lock:
                self.core.connection_failed(
                    ConnectionFailedError(f"cannot connect to the hub: {exc}")
                )
        return None

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

    def _pump(self) -> object:
        """Carry out what the core asks for; the outcome if the connection ended, else None."""
        outcome: object = None
        while True:
            with self.lock:
                outputs = self.core.outputs()
                self._write_pending()
            if not outputs:
                return outcome
            for_client: list[Output] = []
            for output in outputs:
                if isinstance(output, PerformRequest):
                    self._perform(output)
                elif isinstance(output, SendPing):
                    with self.lock:
                        if self._ws is not None:
                            self._write(self._ws, b"", websocket.ABNF.OPCODE_PING)
                elif isinstance(output, CloseConnection):
                    ws = self._ws
                    if ws is not None:
                        _close(ws, output.code)
                elif isinstance(output, ConnectionEnded):
                    outcome = output.outcome
                    for_client.append(output)
                else:
                    for_client.append(output)
            self._on_outputs(for_client)

    def _perform(self, output: PerformRequest) -> None:
        """Fulfil a side effect off the core's lock (argon2id takes ~0.15 s)."""
        request = output.request
        try:
            result = perform(request, self._store)
        except HiveMindError as error:
            LOG.warning("could not %s: %s", type(request).__name__, error)
            return
        if isinstance(request, DerivePsk) and isinstance(result, PskResult):
            with self.lock:
                self.core.receive_psk(
                    result.psk, cached=result.cached, now=self._clock(), wall=self._wall()
                )

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

    def _receive(self, ws: websocket.WebSocket) -> tuple[int, str | bytes] | tuple[()] | None:
        # () is falsy: "nothing arrived in this poll"; None: "closed"; else (opcode, data)
        """One message, () on timeout, None when the peer closed cleanly."""
        try:
            opcode, data = ws.recv_data(control_frame=True)
        except websocket.WebSocketTimeoutException:
            return ()
        except websocket.WebSocketConnectionClosedException:
            return None
        if opcode == websocket.ABNF.OPCODE_CLOSE:
            code = int.from_bytes(data[:2], "big") if len(data) >= 2 else None
            raise _Closed(code, data[2:].decode("utf-8", "replace"))
        if opcode in (websocket.ABNF.OPCODE_PING, websocket.ABNF.OPCODE_PONG):
            return ()
        if len(data) > self._max_message_size:
            raise _Closed(
                1009,
                f"message of {len(data)} bytes exceeds the {self._max_message_size}-byte limit",
            )
        if opcode == websocket.ABNF.OPCODE_TEXT:
            return opcode, data.decode("utf-8", "replace") if isinstance(data, bytes) else data
        return opcode, bytes(data)

    def _write(self, ws: websocket.WebSocket, payload: bytes, opcode: int) -> None:
        """Write one whole frame, waiting up to ``send_timeout`` for a peer that reads slowly.

        websocket-client's own ``send`` gives up at the socket timeout (our 0.2 s poll) in the
        middle of a frame and loses the rest, which corrupts the stream. A frame we cannot
        finish in time leaves the stream unusable: the error ends the connection.
        """
        frame = _build_frame(payload, opcode)
        sock = ws.sock
        if sock is None:
            raise websocket.WebSocketConnectionClosedException("the socket is closed")
        view = memoryview(frame)
        deadline = self._clock() + self._send_timeout
        with ws.lock:
            while view:
                try:
                    sent = sock.send(view)
                except (TimeoutError, ssl.SSLWantWriteError, BlockingIOError, InterruptedError):
                    if self._clock() >= deadline or self._stop.is_set():
                        raise _SendTimeout(
                            f"the hub read nothing for {self._send_timeout:g} s"
                            f" ({len(frame) - len(view)} of {len(frame)} bytes of a frame sent)"
                        ) from None
                    continue
                view = view[sent:]

    def _pinned_socket(self) -> ssl.SSLSocket:
        """A TLS connection whose certificate matches the pin, checked before any byte of the
        websocket upgrade (which carries the access key) is sent."""
        parts = urlsplit(self.url)
        if parts.scheme != "wss" or parts.hostname is None:
            raise ConnectionFailedError("a certificate pin needs a wss:// connection")
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False  # the pin replaces CA and name checks, on purpose
        context.verify_mode = ssl.CERT_NONE
        raw = socket.create_connection(
            (parts.hostname, parts.port or DEFAULT_PORT), timeout=self._connect_timeout
        )
        try:
            tls = context.wrap_socket(raw, server_hostname=parts.hostname)
        except BaseException:
            raw.close()
            raise
        der = tls.getpeercert(binary_form=True)
        seen = hashlib.sha256(der).hexdigest() if der else "none"
        if seen != self._pin:
            tls.close()
            raise ConnectionFailedError(
                f"the hub's certificate does not match the pin (sha256 {seen})"
            )
        return tls


def _close(ws: websocket.WebSocket, status: int) -> None:
    with contextlib.suppress(websocket.WebSocketException, OSError):
        ws.close(status=status, timeout=1)


class _Closed(Exception):
    def __init__(self, code: int | None, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


class _MessageTooLarge(websocket.WebSocketException):
    """A frame (or fragmented message) announces more than ``max_message_size`` bytes."""


class _SendTimeout(websocket.WebSocketException):
    """A frame could not be written in time; part of it may be on the wire: the link is done.

    Not a WebSocketTimeoutException, which the reader takes for "nothing arrived yet"."""


class _BoundedFrameBuffer(websocket.frame_buffer):
    """websocket-client's frame reader, refusing oversized frames before reading them.

    The stock reader learns a frame's length from its header and then reads that many bytes
    into memory, whatever they are. This one checks the length first (and the total of a
    fragmented message), and stays refused afterwards, so closing the socket cannot start
    reading the frame either.
    """

    def __init__(self, recv: Callable[[int], bytes], limit: int) -> None:
        super().__init__(recv, skip_utf8_validation=False)
        self.limit = limit
        self.message_size = 0  # bytes of a fragmented data message received so far
        self.refused: str | None = None

    def recv_frame(self) -> websocket.ABNF:
        if self.refused is not None:
            raise _MessageTooLarge(self.refused)
        frame = super().recv_frame()
        if frame.opcode in _DATA_OPCODES or frame.opcode == websocket.ABNF.OPCODE_CONT:
            self.message_size = 0 if frame.fin else self.message_size + len(frame.data)
        return frame

    def recv_length(self) -> None:
        super().recv_length()
        header, length = self.header, self.length
        if header is None or length is None:  # pragma: no cover - set by super()
            return
        opcode = header[4]
        if opcode in _DATA_OPCODES or opcode == websocket.ABNF.OPCODE_CONT:
            total = length + (self.message_size if opcode == websocket.ABNF.OPCODE_CONT else 0)
            if total > self.limit:
                self.refused = (
                    f"a websocket message of {total} bytes exceeds the"
                    f" {self.limit}-byte limit (max_message_size)"
                )
                raise _MessageTooLarge(self.refused)
        elif length > _MAX_CONTROL_FRAME:
            self.refused = f"a control frame of {length} bytes (at most 125 are allowed)"
            raise websocket.WebSocketProtocolException(self.refused)


def _bound_frames(ws: websocket.WebSocket, limit: int) -> None:
    """Swap the connection's frame reader for a bounded one (nothing is buffered yet)."""
    current = ws.frame_buffer
    bounded = _BoundedFrameBuffer(current.recv, limit)
    bounded.recv_buffer = current.recv_buffer
    ws.frame_buffer = bounded


def _client_frame(payload: bytes, opcode: int, mask_key: bytes) -> bytes:
    """One whole client frame (RFC 6455 5.2): FIN set, no RSV bits, masked with ``mask_key``.

    Needs ``websockets.speedups`` (C masking). InvalidArgument for an unknown opcode, a control
    frame over 125 bytes (5.5) or a mask key that is not 4 bytes.
    """
    if _apply_mask is None:
        raise RuntimeError("websockets.speedups is not installed")
    if opcode not in _OPCODES:
        raise InvalidArgument(f"unknown websocket opcode {opcode:#x}")
    if len(mask_key) != 4:
        raise InvalidArgument("a websocket mask key is 4 bytes")
    length = len(payload)
    first = 0x80 | opcode
    if length <= _MAX_CONTROL_FRAME:
        header = struct.pack("!BB", first, 0x80 | length)
    elif opcode & 0x08:
        raise InvalidArgument(f"a control frame of {length} bytes (at most 125 are allowed)")
    elif length < 1 << 16:
        header = struct.pack("!BBH", first, 0x80 | 126, length)
    elif length < 1 << 63:
        header = struct.pack("!BBQ", first, 0x80 | 127, length)
    else:  # pragma: no cover - cannot be allocated
        raise InvalidArgument("a websocket frame is shorter than 2**63 bytes")
    return b"".join((header, mask_key, _apply_mask(payload, mask_key)))


def _masked_frame(payload: bytes, opcode: int) -> bytes:
    """:func:`_client_frame` with a fresh random mask key."""
    return _client_frame(payload, opcode, os.urandom(4))


def _abnf_frame(payload: bytes, opcode: int) -> bytes:
    """websocket-client's frame builder: the fallback, masking in pure Python (slow)."""
    frame: bytes = websocket.ABNF.create_frame(payload, opcode).format()
    return frame


# How ``Transport._write`` builds a frame: C masking when websockets.speedups is importable.
_build_frame: Callable[[bytes, int], bytes] = _abnf_frame if _apply_mask is None else _masked_frame


def _as_bytes(payload: str | bytes) -> bytes:
    return payload.encode("utf-8") if isinstance(payload, str) else bytes(payload)


def _abort(ws: websocket.WebSocket) -> None:
    """Shut the socket down at once: the reader thread's next read fails and it moves on."""
    sock = ws.sock
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)


def _ssl_options(
    self_signed: bool, certificate_sha256: str | None, ca_file: str | None
) -> dict[str, Any]:
    """Verified TLS by default; a pin or self_signed=True replaces CA verification explicitly."""
    if certificate_sha256 or self_signed:
        return {"cert_reqs": ssl.CERT_NONE, "check_hostname": False}
    options: dict[str, Any] = {"cert_reqs": ssl.CERT_REQUIRED, "check_hostname": True}
    if ca_file:
        options["ca_certs"] = ca_file
    return options
