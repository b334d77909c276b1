"""A hub that answers the websocket upgrade with a redirect is refused, not followed.

websocket-client follows 301/302/303/307/308 on its own: to a server the user did not name and,
with a certificate pin, without the pin (the pinned socket is used for the first hop only).
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import http.server
import socketserver
import threading
from collections.abc import Iterator

import pytest
import websocket

from hivemind_client.errors import ConnectionFailed
from hivemind_client.sync.websocket_io import open_websocket, ssl_options

_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"  # RFC 6455 1.3
_LIFETIME = 10.0  # seconds a test server may live, whatever the test does


class _Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, handler: type[http.server.BaseHTTPRequestHandler]) -> None:
        super().__init__(("127.0.0.1", 0), handler)
        self.requests_seen: list[str] = []

    @property
    def port(self) -> int:
        port: int = self.server_address[1]
        return port


@contextlib.contextmanager
def _serve(handler: type[http.server.BaseHTTPRequestHandler]) -> Iterator[_Server]:
    server = _Server(handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    stopper = threading.Timer(_LIFETIME, server.shutdown)  # bounded even if the test hangs
    stopper.daemon = True
    stopper.start()
    try:
        yield server
    finally:
        stopper.cancel()
        server.shutdown()
        server.server_close()
        thread.join(5)


class _Accepting(http.server.BaseHTTPRequestHandler):
    """The redirect's target: completes the websocket upgrade, records who came."""

    def do_GET(self) -> None:
        self.server.requests_seen.append(self.path)  # type: ignore[attr-defined]
        key = self.headers.get("Sec-WebSocket-Key", "")
        accept = base64.b64encode(hashlib.sha1((key + _GUID).encode()).digest()).decode()
        self.send_response(101, "Switching Protocols")
        self.send_header("Upgrade", "websocket")
        self.send_header("Connection", "Upgrade")
        self.send_header("Sec-WebSocket-Accept", accept)
        self.end_headers()
        self.wfile.flush()
        self.close_connection = True

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def target() -> Iterator[_Server]:
    with _serve(_Accepting) as server:
        yield server


def _redirecting(status: int, location: str | None) -> type[http.server.BaseHTTPRequestHandler]:
    class Redirecting(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.server.requests_seen.append(self.path)  # type: ignore[attr-defined]
            self.send_response(status)
            if location is not None:
                self.send_header("Location", location)
            self.send_header("Content-Length", "0")
            self.end_headers()
            self.close_connection = True

        def log_message(self, *args: object) -> None:
            pass

    return Redirecting


def _connect(url: str) -> websocket.WebSocket:
    return open_websocket(url, timeout=5.0, sslopt=ssl_options(False, None, None))


def test_plain_create_connection_follows_the_redirect(target: _Server) -> None:
    """What websocket-client does by itself (why the wrapper exists)."""
    with _serve(_redirecting(301, f"ws://127.0.0.1:{target.port}/elsewhere")) as server:
        ws = websocket.create_connection(f"ws://127.0.0.1:{server.port}/", timeout=5.0)
        try:
            assert ws.connected
        finally:
            ws.shutdown()
        assert server.requests_seen == ["/"]
    assert target.requests_seen == ["/elsewhere"]


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_a_redirect_is_refused_and_its_target_never_contacted(target: _Server, status: int) -> None:
    location = f"ws://127.0.0.1:{target.port}/elsewhere"
    with _serve(_redirecting(status, location)) as server:
        with pytest.raises(ConnectionFailed) as caught:
            _connect(f"ws://127.0.0.1:{server.port}/")
        assert server.requests_seen == ["/"]
    message = str(caught.value)
    assert f"redirect ({status}) to {location!r}" in message
    assert "redirects are refused" in message
    assert caught.value.code == "connection-failed"
    assert target.requests_seen == []


def test_a_hostile_location_is_shown_on_one_short_line(target: _Server) -> None:
    location = f"ws://127.0.0.1:{target.port}/" + "x" * 5000 + "\tforged"
    with (
        _serve(_redirecting(302, location)) as server,
        pytest.raises(ConnectionFailed) as caught,
    ):
        _connect(f"ws://127.0.0.1:{server.port}/")
    message = str(caught.value)
    assert "\t" not in message and "forged" not in message
    assert len(message) < 400
    assert target.requests_seen == []


def test_a_redirect_without_location_is_refused() -> None:
    with (
        _serve(_redirecting(301, None)) as server,
        pytest.raises(ConnectionFailed, match=r"redirect \(301\) to nowhere"),
    ):
        _connect(f"ws://127.0.0.1:{server.port}/")


def test_a_hub_that_upgrades_is_connected(target: _Server) -> None:
    ws = _connect(f"ws://127.0.0.1:{target.port}/")
    try:
        assert ws.connected
        assert ws.gettimeout() == 5.0
    finally:
        ws.shutdown()
    assert target.requests_seen == ["/"]


def test_the_client_refuses_a_redirecting_hub(target: _Server) -> None:
    from hivemind_client.core.reconnect import ReconnectPolicy
    from hivemind_client.sync.client import HiveMessageBusClient

    location = f"ws://127.0.0.1:{target.port}/elsewhere"
    with _serve(_redirecting(301, location)) as server:
        client = HiveMessageBusClient(
            key="redirect-key",
            password="redirect-password",
            host="127.0.0.1",
            port=server.port,
            reconnect=ReconnectPolicy(first_delay=0.05, max_delay=0.2, jitter=0.0),
            handshake_timeout=2.0,
        )
        try:
            with pytest.raises(ConnectionFailed) as caught:
                client.connect(timeout=5)
        finally:
            client.close()
    assert "redirects are refused" in str(caught.value)
    assert target.requests_seen == []
