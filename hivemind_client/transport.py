"""The websocket transport: the only code that touches the network.

One reader thread owns the socket: it connects, feeds every websocket message to a fresh
:class:`~hivemind_client.session.ClientSession`, fires the session's timers, sends keepalive
pings, writes what the session returns, and reconnects with capped exponential backoff and
jitter after an established session drops. Events go to a callback on the reader thread (the
client hands them to its dispatcher at once); sends from other threads take a lock.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import logging
import random
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import websocket

from hivemind_client.errors import ConnectionFailed as ConnectionFailedError
from hivemind_client.errors import HandshakeFailed, HiveMindError, InvalidArgument, NotConnected
from hivemind_client.events import ConnectionClosed, ConnectionFailed, Event, HandshakeCompleted
from hivemind_client.message import HiveMessage
from hivemind_client.session import ClientSession

__all__ = ["DEFAULT_PORT", "ReconnectPolicy", "Transport", "build_url"]

LOG = logging.getLogger("hivemind_client.transport")
DEFAULT_PORT = 5678
_POLL_SECONDS = 0.2


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
        """Send now; raises NotConnected when no session is established."""
        with self._lock:
            if self._session is None or self._ws is None:
                raise NotConnected("not connected to the hub")
            self._session.send(message)
            self._flush()

    def close(self, timeout: float = 5.0) -> None:
        """Stop reconnecting, close the socket, and wait for the reader thread."""
        self._stop.set()
        with self._lock:
            ws = self._ws
        if ws is not None:
            with contextlib.suppress(websocket.WebSocketException, OSError):
                ws.close(timeout=1)
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
            ws = websocket.create_connection(
                self.url,
                timeout=self._connect_timeout,
                sslopt=self._sslopt,
                enable_multithread=True,
                skip_utf8_validation=False,
            )
            self._check_pin(ws)
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
                if session.ready and now - last_traffic >= self._ping_interval:
                    ws.ping()
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
        except (websocket.WebSocketException, OSError) as exc:
            session.connection_lost(None, str(exc), self._clock())
        finally:
            with self._lock:
                self._ws, self._session = None, None
            with contextlib.suppress(websocket.WebSocketException, OSError):
                ws.close(timeout=1)
        if not fatal and not self._stop.is_set() and session.state.value != "closed":
            session.connection_lost(None, "connection closed", self._clock())
        events = session.events()
        for event in events:
            self._emit(event)
        if self._stop.is_set():
            self._emit(ConnectionClosed(1000, "closed by the client"))
            return "stop"
        failures = [e for e in events if isinstance(e, ConnectionFailed)]
        if fatal or (failures and not self.established_once):
            return "stop"
        if failures and isinstance(failures[0].error, HandshakeFailed):
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
                ws.send_binary(data)
            else:
                ws.send(data)

    def _emit(self, event: Event) -> None:
        try:
            self._on_event(event)
        except Exception:  # a broken callback must not kill the reader thread
            LOG.exception("event callback failed for %s", type(event).__name__)

    def _check_pin(self, ws: websocket.WebSocket) -> None:
        if self._pin is None:
            return
        sock = getattr(ws, "sock", None)
        der = sock.getpeercert(binary_form=True) if isinstance(sock, ssl.SSLSocket) else None
        if der is None:
            ws.close()
            raise ConnectionFailedError("a certificate pin needs a wss:// connection")
        seen = hashlib.sha256(der).hexdigest()
        if seen != self._pin:
            ws.close()
            raise ConnectionFailedError(
                f"the hub's certificate does not match the pin (sha256 {seen})"
            )


class _Closed(Exception):
    def __init__(self, code: int | None, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


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
