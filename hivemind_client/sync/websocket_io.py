"""websocket-client, adapted for a satellite facing hubs it may not trust.

The sync driver's socket plumbing, apart from its logic: frames are bounded before
websocket-client reads them, written whole (masked in C when ``websockets.speedups`` is
there), and a certificate pin is checked before the websocket upgrade (which carries the
access key) is sent.

Redirects are refused (:func:`open_websocket`): websocket-client follows a 3xx answer to the
upgrade on its own, to a server the user did not name and, with a certificate pin, without the
pin. A hub that redirects is a configuration to fix, not something to follow silently.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import socket
import ssl
import struct
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import websocket

from hivemind_client.core.url import DEFAULT_PORT
from hivemind_client.errors import ConnectionFailed as ConnectionFailedError
from hivemind_client.errors import InvalidArgument

_apply_mask: Callable[[bytes, bytes], bytes] | None
try:
    from websockets.speedups import apply_mask as _apply_mask
except ImportError:  # pragma: no cover - websockets without its C extension
    _apply_mask = None

__all__ = [
    "BoundedFrameBuffer",
    "Closed",
    "DeadlinePassed",
    "MessageTooLarge",
    "abort",
    "as_bytes",
    "bound_frames",
    "close",
    "open_websocket",
    "pinned_socket",
    "receive",
    "ssl_options",
    "write_frame",
]

_MAX_CONTROL_FRAME = 125  # RFC 6455 5.5
_DATA_OPCODES = frozenset({websocket.ABNF.OPCODE_TEXT, websocket.ABNF.OPCODE_BINARY})
_OPCODES = frozenset(websocket.ABNF.OPCODES)


def receive(
    ws: websocket.WebSocket, max_message_size: int
) -> tuple[int, str | bytes] | tuple[()] | None:
    # () is falsy: "nothing arrived in this poll"; None: "closed"; else (opcode, data)
    """One message (or a pong, as ``(OPCODE_PONG, b"")``), () on timeout, None when the peer
    closed cleanly."""
    try:
        opcode, data = ws.recv_data(control_frame=True)
    except websocket.WebSocketTimeoutException:
        return ()
    except websocket.WebSocketConnectionClosedException:
        return None
    if opcode == websocket.ABNF.OPCODE_CLOSE:
        code = int.from_bytes(data[:2], "big") if len(data) >= 2 else None
        raise Closed(code, data[2:].decode("utf-8", "replace"))
    if opcode == websocket.ABNF.OPCODE_PONG:
        return opcode, b""
    if opcode == websocket.ABNF.OPCODE_PING:  # websocket-client answered it already
        return ()
    if len(data) > max_message_size:
        raise Closed(
            1009,
            f"message of {len(data)} bytes exceeds the {max_message_size}-byte limit",
        )
    if opcode == websocket.ABNF.OPCODE_TEXT:
        return opcode, data.decode("utf-8", "replace") if isinstance(data, bytes) else data
    return opcode, bytes(data)


def write_frame(
    ws: websocket.WebSocket,
    payload: bytes,
    opcode: int,
    *,
    send_timeout: float,
    clock: Callable[[], float],
    stopping: Callable[[], bool],
) -> None:
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
    deadline = clock() + send_timeout
    with ws.lock:
        while view:
            try:
                sent = sock.send(view)
            except (TimeoutError, ssl.SSLWantWriteError, BlockingIOError, InterruptedError):
                if clock() >= deadline or stopping():
                    raise SendTimeout(
                        f"the hub read nothing for {send_timeout:g} s"
                        f" ({len(frame) - len(view)} of {len(frame)} bytes of a frame sent)"
                    ) from None
                continue
            view = view[sent:]


def pinned_socket(url: str, pin: str, timeout: float | None) -> ssl.SSLSocket:
    """A TLS connection whose certificate matches the pin, checked before any byte of the
    websocket upgrade (which carries the access key) is sent."""
    parts = urlsplit(url)
    if parts.scheme != "wss" or parts.hostname is None:
        raise ConnectionFailedError("a certificate pin needs a wss:// connection")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False  # the pin replaces CA and name checks, on purpose
    context.verify_mode = ssl.CERT_NONE
    raw = socket.create_connection((parts.hostname, parts.port or DEFAULT_PORT), timeout=timeout)
    try:
        tls = context.wrap_socket(raw, server_hostname=parts.hostname)
    except BaseException:
        raw.close()
        raise
    der = tls.getpeercert(binary_form=True)
    seen = hashlib.sha256(der).hexdigest() if der else "none"
    if seen != pin:
        tls.close()
        raise ConnectionFailedError(f"the hub's certificate does not match the pin (sha256 {seen})")
    return tls


_REDIRECT_STATUSES = range(300, 400)
_MAX_LOCATION_SHOWN = 200


def open_websocket(
    url: str,
    *,
    timeout: float | None,
    sslopt: dict[str, Any],
    socket: socket.socket | None = None,
    created: Callable[[websocket.WebSocket], None] | None = None,
) -> websocket.WebSocket:
    """``websocket.create_connection`` with redirects refused (ConnectionFailed).

    ``redirect_limit=0`` stops websocket-client from connecting anywhere else. The status is
    checked here too because versions differ in how they report an unfollowed redirect: 1.7+
    raise "Redirect limit exhausted", 1.6 returns it as a connected websocket (301-303) or
    raises WebSocketBadStatusException (307, 308). ``created`` is handed the websocket before
    it connects, so another thread can :func:`abort` an attempt that waits for the hub.
    """
    ws = websocket.WebSocket(sslopt=sslopt, enable_multithread=True, skip_utf8_validation=False)
    ws.settimeout(timeout)
    if created is not None:  # the caller may abort() it while connect() waits for the hub
        created(ws)
    try:
        ws.connect(url, timeout=timeout, socket=socket, redirect_limit=0)  # type: ignore[no-untyped-call]
    except websocket.WebSocketBadStatusException as exc:
        _refuse_redirect(exc.status_code, exc.resp_headers)
        raise
    except websocket.WebSocketException:
        response = ws.handshake_response
        if response is not None:
            _refuse_redirect(response.status, response.headers)
        raise
    try:
        response = ws.handshake_response
        if response is not None:
            _refuse_redirect(response.status, response.headers)
    except BaseException:
        with contextlib.suppress(websocket.WebSocketException, OSError):
            ws.shutdown()  # type: ignore[no-untyped-call]
        raise
    return ws


def _refuse_redirect(status: Any, headers: Any) -> None:
    """ConnectionFailed naming the target when ``status`` is a redirect; else nothing."""
    if not isinstance(status, int) or status not in _REDIRECT_STATUSES:
        return
    location = headers.get("location") if isinstance(headers, dict) else None
    # the hub chose this text: repr() keeps it on one line, the cut keeps it short
    target = "nowhere" if location is None else repr(str(location)[:_MAX_LOCATION_SHOWN])
    raise ConnectionFailedError(
        f"the hub answered with a redirect ({status}) to {target}; redirects are refused:"
        " connect to the hub's own address"
    )


def close(ws: websocket.WebSocket, status: int) -> None:
    with contextlib.suppress(websocket.WebSocketException, OSError):
        ws.close(status=status, timeout=1)


class Closed(Exception):
    def __init__(self, code: int | None, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


class MessageTooLarge(websocket.WebSocketException):
    """A frame (or fragmented message) announces more than ``max_message_size`` bytes."""


class SendTimeout(websocket.WebSocketException):
    """A frame could not be written in time; part of it may be on the wire: the link is done.

    Not a WebSocketTimeoutException, which the reader takes for "nothing arrived yet"."""


class BoundedFrameBuffer(websocket.frame_buffer):
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
            raise MessageTooLarge(self.refused)
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
                raise MessageTooLarge(self.refused)
        elif length > _MAX_CONTROL_FRAME:
            self.refused = f"a control frame of {length} bytes (at most 125 are allowed)"
            raise websocket.WebSocketProtocolException(self.refused)


def bound_frames(
    ws: websocket.WebSocket, limit: int, past_deadline: Callable[[], bool] | None = None
) -> None:
    """Swap the connection's frame reader for a bounded one (nothing is buffered yet).

    ``past_deadline``: checked before every socket read, so a peer that trickles a frame a
    byte at a time (each byte resetting the socket timeout) cannot hold a read past the
    connection's deadline; the read then times out and the caller ends the connection.
    """
    current = ws.frame_buffer
    recv = current.recv
    if past_deadline is not None:

        def recv(size: int, _read: Callable[[int], bytes] = current.recv) -> bytes:
            if past_deadline():
                raise DeadlinePassed("the connection's deadline passed in the middle of a frame")
            return _read(size)

    bounded = BoundedFrameBuffer(recv, limit)
    bounded.recv_buffer = current.recv_buffer
    ws.frame_buffer = bounded


class DeadlinePassed(websocket.WebSocketTimeoutException):
    """A read was refused because the connection's deadline passed (see bound_frames)."""


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


def as_bytes(payload: str | bytes) -> bytes:
    return payload.encode("utf-8") if isinstance(payload, str) else bytes(payload)


def abort(ws: websocket.WebSocket) -> None:
    """Shut the socket down at once: the reader thread's next read fails and it moves on."""
    sock = ws.sock
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)


def ssl_options(
    self_signed: bool, certificate_sha256: str | None, ca_file: str | None
) -> dict[str, Any]:
    """Verified TLS by default; a pin or self_signed=True replaces CA verification explicitly."""
    if certificate_sha256 or self_signed:
        return {"cert_reqs": ssl.CERT_NONE, "check_hostname": False}
    options: dict[str, Any] = {"cert_reqs": ssl.CERT_REQUIRED, "check_hostname": True}
    if ca_file:
        options["ca_certs"] = ca_file
    return options
