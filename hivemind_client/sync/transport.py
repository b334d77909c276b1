"""The websocket transport: the only code that touches the network.

One reader thread owns the socket: it connects, feeds every websocket message to a fresh
:class:`~hivemind_client.core.session.ClientSession`, fires the session's timers, sends keepalive
pings, writes what the session returns, and reconnects with capped exponential backoff and
jitter after an established session drops. Events go to a callback on the reader thread (the
client hands them to its dispatcher at once); sends from other threads take a lock.

Hostile or broken peers (see ``tests/sync/test_misbehaving_hub.py``):

- ``max_message_size`` is checked against each frame's *announced* length, before its payload
  is read (websocket-client would otherwise buffer the whole frame first), and against the
  running total of a fragmented message; control frames over 125 bytes are refused too. The
  socket is then closed with 1009 and the driver reports ``ConnectionFailed(PayloadTooLarge)``.
- Writes (messages, pings, and the pongs websocket-client sends by itself) never fail on the
  reader's 0.2 s poll timeout: a frame is written whole, or, after ``send_timeout`` seconds of
  a peer that does not read, the connection is dropped (a half written frame cannot be taken
  back) and ``send`` raises NotConnected, so the client queues the message for the next
  connection. Socket errors in ``send`` become NotConnected as well; ``close`` does not wait
  for a write stuck on such a peer.
- A certificate pin is checked on the TLS socket before the websocket upgrade, which carries
  the access key, is sent.
- An exception the session should never raise is logged and reported as a
  ``ConnectionFailed(connection-failed)``; the reader thread survives it.
- A handshake that times out after the link was up once is retried with backoff (a hub that
  restarts can be slow); a wrong password is not.
"""

from __future__ import annotations

import base64
import contextlib
import functools
import hashlib
import logging
import os
import random
import socket
import ssl
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import websocket

from hivemind_client.core.events import (
    ConnectionClosed,
    ConnectionFailed,
    Event,
    HandshakeCompleted,
)
from hivemind_client.core.session import ClientSession
from hivemind_client.errors import ConnectionFailed as ConnectionFailedError
from hivemind_client.errors import (
    HandshakeFailed,
    HiveMindError,
    InvalidArgument,
    NotConnected,
    PayloadTooLarge,
)
from hivemind_client.wire.message import HiveMessage

_apply_mask: Callable[[bytes, bytes], bytes] | None
try:
    from websockets.speedups import apply_mask as _apply_mask
except ImportError:  # pragma: no cover - websockets without its C extension
    _apply_mask = None

__all__ = ["DEFAULT_PORT", "ReconnectPolicy", "Transport", "build_url"]

LOG = logging.getLogger("hivemind_client.sync.transport")
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


@dataclass(frozen=True)
class ReconnectPolicy:
    """Capped exponential backoff with jitter: delay n = min(cap, first * factor**n) +- jitter."""

    first_delay: float = 0.5
    max_delay: float = 30.0
    factor: float = 2.0
    jitter: float = 0.25
    max_attempts: int | None = None
    stable_after: float = 10.0
    """A session must last this long before the backoff starts again from ``first_delay``."""

    def delay(self, attempt: int, rng: random.Random) -> float:
        """Seconds to wait before reconnect attempt number ``attempt`` (0-based)."""
        base = min(self.max_delay, self.first_delay * self.factor**attempt)
        return max(0.0, base * (1 + rng.uniform(-self.jitter, self.jitter)))


class Transport:
    """Drives one session at a time over websocket-client, reconnecting when told to."""

    def __init__(
        self,
        url: str,
        session_factory: Callable[[float], ClientSession],
        on_event: Callable[[Event], None],
        *,
        self_signed: bool = False,
        certificate_sha256: str | None = None,
        ca_file: str | None = None,
        connect_timeout: float = 10.0,
        ping_interval: float = 20.0,
        reconnect: ReconnectPolicy | None = None,
        max_message_size: int = 64 * 1024 * 1024,
        send_timeout: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.url = url
        self._session_factory = session_factory
        self._on_event = on_event
        self._sslopt = _ssl_options(self_signed, certificate_sha256, ca_file)
        self._pin = certificate_sha256.lower().replace(":", "") if certificate_sha256 else None
        self._connect_timeout = connect_timeout
        self._ping_interval = ping_interval
        self._reconnect = reconnect  # None: never reconnect
        self._max_message_size = max_message_size
        self._send_timeout = send_timeout
        self._clock = clock
        self._rng = random.Random()
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._ws: websocket.WebSocket | None = None
        self._session: ClientSession | None = None
        self._thread: threading.Thread | None = None
        self.established_once = False

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
        with self._lock:
            return self._session is not None and self._session.ready

    @property
    def session(self) -> ClientSession | None:
        """The current session (None between connections)."""
        return self._session

    def send(self, message: HiveMessage) -> None:
        """Send now; raises NotConnected when no session is established or the link broke.

        On NotConnected the message was not (completely) written: the caller may queue it.
        """
        with self._lock:
            ws = self._ws
            if self._session is None or ws is None:
                raise NotConnected("not connected to the hub")
            self._session.send(message)
            try:
                self._flush()
            except (websocket.WebSocketException, OSError) as exc:
                _abort(ws)  # the reader thread sees the socket die and reconnects
                raise NotConnected(
                    f"the connection to the hub broke while sending: {exc}"
                ) from None

    def close(self, timeout: float = 5.0) -> None:
        """Stop reconnecting, close the socket, and wait for the reader thread."""
        self._stop.set()
        with self._lock:
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
        attempt = 0
        while not self._stop.is_set():
            started = self._clock()
            outcome = self._one_connection()
            if outcome == "stop" or self._stop.is_set() or self._reconnect is None:
                break
            if outcome == "established" and self._clock() - started >= self._reconnect.stable_after:
                attempt = 0  # a hub that drops us right after each handshake keeps backing off
            policy = self._reconnect
            if policy.max_attempts is not None and attempt >= policy.max_attempts:
                self._emit(
                    ConnectionFailed(
                        ConnectionFailedError(f"gave up after {attempt} reconnect attempts")
                    )
                )
                break
            delay = policy.delay(attempt, self._rng)
            attempt += 1
            LOG.info("reconnecting in %.2f s (attempt %d)", delay, attempt)
            if self._stop.wait(delay):
                break

    def _one_connection(self) -> str:
        """One connection's life; returns 'established', 'retry' or 'stop'."""
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
        except HiveMindError as error:
            self._emit(ConnectionFailed(error))
            return "stop"
        except (websocket.WebSocketException, OSError) as exc:
            LOG.info("cannot connect: %s", exc)
            if not self.established_once:
                self._emit(
                    ConnectionFailed(ConnectionFailedError(f"cannot connect to the hub: {exc}"))
                )
                return "stop"
            return "retry"
        session = self._session_factory(self._clock())
        with self._lock:
            self._ws, self._session = ws, session
        ws.settimeout(_POLL_SECONDS)
        established = False
        fatal = False
        timed_out = False
        refused: HiveMindError | None = None  # our own reason to end the connection
        close_status = websocket.STATUS_NORMAL
        last_traffic = self._clock()
        try:
            while not self._stop.is_set():
                now = self._clock()
                received = self._receive(ws)
                if received is None:  # the socket closed
                    break
                if received:
                    last_traffic = now
                    session.receive_message(received[1], now)
                deadline = session.next_timer()
                if deadline is not None and now >= deadline:
                    session.handle_timer(now)
                    timed_out = not session.ready
                if session.ready and now - last_traffic >= self._ping_interval:
                    with self._lock:
                        self._write(ws, b"", websocket.ABNF.OPCODE_PING)
                    last_traffic = now
                with self._lock:
                    self._flush()
                for event in session.events():
                    if isinstance(event, HandshakeCompleted):
                        established = True
                        self.established_once = True
                    if isinstance(event, ConnectionFailed):
                        fatal = True
                    self._emit(event)
                if fatal:
                    break
        except _Closed as closed:
            session.connection_lost(closed.code, closed.reason, self._clock())
        except _MessageTooLarge as exc:
            LOG.warning("refusing a message from the hub: %s", exc)
            refused, close_status = PayloadTooLarge(str(exc)), _MESSAGE_TOO_BIG
            session.connection_lost(_MESSAGE_TOO_BIG, str(exc), self._clock())
        except (websocket.WebSocketException, OSError) as exc:
            session.connection_lost(None, str(exc), self._clock())
        except Exception as exc:  # a bug below us must not kill the reader thread silently
            LOG.exception("internal error while handling the hub's data")
            refused = ConnectionFailedError(
                f"internal error while handling the hub's data: {type(exc).__name__}: {exc}"
            )
            session.connection_lost(None, str(refused), self._clock())
        finally:
            with self._lock:
                self._ws, self._session = None, None
            with contextlib.suppress(websocket.WebSocketException, OSError):
                ws.close(status=close_status, timeout=1)
        if not fatal and not self._stop.is_set() and session.state.value != "closed":
            session.connection_lost(None, "connection closed", self._clock())
        events = session.events()
        if refused is not None:  # our reason replaces the session's "connection lost" one
            events = [ConnectionFailed(refused)] + [
                e for e in events if not isinstance(e, ConnectionFailed)
            ]
        for event in events:
            self._emit(event)
        if self._stop.is_set():
            self._emit(ConnectionClosed(1000, "closed by the client"))
            return "stop"
        failures = [e for e in events if isinstance(e, ConnectionFailed)]
        if (fatal or failures) and not self.established_once:
            return "stop"
        if timed_out:
            return "retry"  # a slow hub after a restart: try again (the link was up before)
        if fatal or (failures and isinstance(failures[0].error, HandshakeFailed)):
            return "stop"  # wrong password after a reconnect: retrying cannot help
        return "established" if established else "retry"

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

    def _flush(self) -> None:
        session, ws = self._session, self._ws
        if session is None or ws is None:
            return
        for data in session.messages_to_send():
            if isinstance(data, bytes):
                self._write(ws, data, websocket.ABNF.OPCODE_BINARY)
            else:
                self._write(ws, data.encode("utf-8"), websocket.ABNF.OPCODE_TEXT)

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

    def _emit(self, event: Event) -> None:
        try:
            self._on_event(event)
        except Exception:  # a broken callback must not kill the reader thread
            LOG.exception("event callback failed for %s", type(event).__name__)

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
